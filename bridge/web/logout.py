"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0, Authlib's EndSessionEndpoint).

An explicit logout ends the SSO session (back-channel logout to every app of it, and front-channel logout to the
apps that registered it: hidden iframes on the "logged out" page) and, per ANS guidance, the Pro Santé Connect
session too; idle or absolute expiry never does.

Logout CSRF: the session ends without a question only when the id_token_hint names *this* browser's session
(its `sid`); any other hint (another user's token, an old session's) or none gets the confirmation page with a
CSRF token (RP-Initiated Logout §6). The way back to the app is bound to the browser (cookie), not to PSC's
`state`, which PSC-like issuers may drop on their redirect back.
"""
from __future__ import annotations

import hmac
import secrets

from authlib.oauth2 import OAuth2Error
from flask import Blueprint, make_response, redirect, render_template, request

from bridge.login.transactions import BROWSER_COOKIE, browser_hash
from bridge.logs import log
from bridge.provider import frontchannel
from bridge.sessions import COOKIE
from bridge.web.context import bridge, server
from bridge.web.envelope import SECURITY_HEADERS
from bridge.web.errors import error_page
from bridge.web.security import browser_secret, cookie_args, form_token

bp = Blueprint("logout", __name__)
PARAMS = ("id_token_hint", "post_logout_redirect_uri", "state", "client_id", "logout_hint", "ui_locales")
PENDING_TTL = 600  # seconds the browser has to come back from PSC's logout
CSP = dict(SECURITY_HEADERS)["Content-Security-Policy"]  # the "logged out" page adds its front-channel frame-src


def _csrf(browser: str) -> str:
    return form_token("logout", browser)


def logout_csrf() -> str | None:
    """The token a same-origin logout form of this browser carries (the shared-workstation notice), or None when
    the browser has no binding cookie yet (the logout then asks for confirmation)."""
    browser = request.cookies.get(BROWSER_COOKIE, "")
    return _csrf(browser) if len(browser) >= 32 else None


def end_upstream(session, target: str | None, secret: str) -> str | None:
    """An explicit end (logout, user switch) also ends the Pro Santé Connect session: PSC's end_session URL, which
    comes back to /logout/done and from there to `target` (bound to this browser, not to PSC's `state`); None when
    the session did not come from PSC or PSC has no end_session endpoint."""
    b = bridge()
    upstream = session.authn.upstream_session
    if session.authn.upstream != "psc" or not upstream.get("id_token"):
        return None
    state = secrets.token_urlsafe(16)
    b.store.set_json(f"logout:{browser_hash(secret)}", {"target": target, "state": state}, PENDING_TTL)
    return b.psc.logout_url(upstream["id_token"], f"{b.settings.public_url}/logout/done", state)


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    b = bridge()
    try:
        end = server().validate_endpoint_request("end_session")
    except OAuth2Error as error:
        return error_page("invalid_logout", 400, detail=f"{error.error}: {error.description or ''}")
    session = b.sessions.load(request.cookies.get(COOKIE))
    secret, new = browser_secret()
    names_this_session = bool(session and end.id_token_claims and end.id_token_claims.get("sid") == session.sid)
    if session and not names_this_session and not _confirmed(secret):
        response = make_response(render_template(
            "logout_confirm.html", csrf=_csrf(secret), cancel_url=_cancel_url(end),
            params={k: request.values[k] for k in PARAMS if request.values.get(k)}))
        if new:
            response.set_cookie(BROWSER_COOKIE, secret, **cookie_args())
        return response
    psc_url, frames = None, []
    if session:
        frames = front_channel(session)
        b.sessions.end(session.sid, "logout", session)
        log.info("logout", kind="rp_initiated", mie=session.authn.mie,
                 client=end.client.client_id if end.client else "")
        psc_url = end_upstream(session, end.redirect_uri, secret)
    response = logged_out(frames, psc_url or end.redirect_uri)
    if psc_url and new:
        response.set_cookie(BROWSER_COOKIE, secret, **cookie_args())
    response.delete_cookie(COOKIE, path="/")
    return response


def front_channel(session) -> list[frontchannel.Frame]:
    """The front-channel iframes of `session`'s apps; read before the session ends (its activity goes with it)."""
    b = bridge()
    return frontchannel.frames(b.policies, b.settings.issuer, session)


def logged_out(frames: list[frontchannel.Frame], next_url: str | None):
    """The one answer after a session ended in the browser (logout, user switch, back from PSC's logout).

    Without front-channel apps: straight to `next_url` (PSC's logout, the app, the fresh login), else the "logged
    out" page. With them: the page, one hidden iframe per app (OIDC Front-Channel Logout 1.0 §3), `frame-src`
    limited to exactly their origins, and, when there is a `next_url`, a link the page's script follows once the
    iframes have loaded (or after a few seconds)."""
    if not frames:
        return redirect(next_url) if next_url else make_response(render_template("logged_out.html"))
    response = make_response(render_template("logged_out.html", frames=frames, continue_url=next_url))
    origins = " ".join(dict.fromkeys(frame.origin for frame in frames))
    response.headers["Content-Security-Policy"] = f"{CSP}; frame-src {origins}"
    return response


def _cancel_url(end) -> str:
    """« Annuler »: back to the app at its post_logout_redirect_uri when it is one the client registered, without
    `state` (an app must not read the cancel as its logout response); else the bridge's root."""
    uri = request.values.get("post_logout_redirect_uri")
    if end.client is not None and uri in end.client.client.post_logout_redirect_uris:
        return uri
    return "/"


def _confirmed(secret: str) -> bool:
    return request.method == "POST" and hmac.compare_digest(request.form.get("csrf", "").encode(),
                                                            _csrf(secret).encode())


@bp.get("/logout/done")
def logout_done():
    """Back from PSC's end_session: to the app's post_logout_redirect_uri (with its state) recorded for this
    browser. PSC may drop `state`; a `state` that is present must be ours."""
    pending = bridge().store.consume_json(f"logout:{browser_hash(request.cookies.get(BROWSER_COOKIE))}") \
        if request.cookies.get(BROWSER_COOKIE) else None
    returned = request.args.get("state")
    if pending and pending.get("target") and (returned is None or hmac.compare_digest(returned, pending["state"])):
        return redirect(pending["target"])
    return logged_out([], None)
