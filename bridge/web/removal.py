"""Card removal over HTTP (the capability itself: bridge/sessions/removal.py; docs/card.md).

    POST /cps/removed   {"capability": "…"}  from the workstation's card agent when the login card left its reader
                        200 {ended: true} · 404 unknown_capability · 410 session_ended · 409 card_changed

No cookie and no CSRF token: the capability is the authority, and it can only end the session it was issued for.
The page that hands it to the agent (`watch_page`) is the answer to the card login's proof POST.
"""
from __future__ import annotations

import json

from flask import Blueprint, jsonify, make_response, render_template, request

from bridge import events
from bridge.i18n import N_, translated
from bridge.web.context import bridge
from bridge.web.i18n import current_lang
from bridge.web.limits import client_ip

bp = Blueprint("card_removal", __name__)
MAX_BODY = 1024   # {"capability": 43 characters}: anything larger is not a notice
READER_MAX = 200  # a PC/SC reader name (e.g. "Gemalto PC Twin Reader 00 00"), only passed on to the agent
# The interstitial's script posts to the agent on the workstation: this page may connect there, like the PIN page.
CSP = ("default-src 'self'; connect-src 'self' {agent}; img-src 'self' data:; style-src 'self'; "
       "frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
ANSWERS = {   # Use.outcome -> (status, error, message)
    "unknown": (404, "unknown_capability", N_("Cette capacité de retrait est inconnue : falsifiée, déjà utilisée "
                                              "ou expirée.")),
    "session_ended": (410, "session_ended", N_("La session de cette carte est déjà terminée.")),
    "card_changed": (409, "card_changed", N_("La session a été rouverte depuis avec une autre carte ou un autre "
                                             "moyen : le retrait de cette carte ne la ferme pas.")),
}


def _answer(status: int, **body):
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def _capability(raw: bytes):
    """The notice's capability, or None when the body is not a JSON object holding one."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return body.get("capability") if isinstance(body, dict) else None


@bp.post("/cps/removed")
def removed():
    declared = request.content_length
    raw = b"" if declared is not None and declared > MAX_BODY else request.stream.read(MAX_BODY + 1)
    if (declared is not None and declared > MAX_BODY) or len(raw) > MAX_BODY:
        return _answer(413, error="request_too_large", message=f"At most {MAX_BODY} bytes.")
    capability = _capability(raw)
    if not isinstance(capability, str):
        return _answer(400, error="bad_request", message='Expected a JSON body {"capability": "…"}.')
    b = bridge()
    use = b.removals.use(capability)
    events.card_removed(b, use, remote_addr=client_ip())
    if use.outcome == "ended":
        return _answer(200, ended=True)
    status, error, text = ANSWERS[use.outcome]
    return _answer(status, error=error, message=translated(text, current_lang()))


def watch_page(next_url: str, capability: str, reader: str = ""):
    """The card login succeeded and its card is to be watched: a page whose script hands the capability to the
    agent (POST {agent}/v1/watch), then goes on to `next_url` (the app's code, or the activity choice) whatever
    the agent answered, within 3 s; without JavaScript, at once (noscript refresh) or by its « Continuer » link."""
    agent = bridge().settings.agent_url
    response = make_response(render_template("card_watch.html", next_url=next_url, capability=capability,
                                             reader=reader[:READER_MAX], agent_url=agent))
    response.headers["Content-Security-Policy"] = CSP.format(agent=agent)
    return response
