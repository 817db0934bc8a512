"""Logout: end the SSO session; an explicit logout also ends the Pro Santé Connect session (ANS guidance)."""
from __future__ import annotations

import secrets

from flask import Blueprint, make_response, redirect, render_template, request

from bridge.logs import log
from bridge.sessions import COOKIE
from bridge.web import bridge

bp = Blueprint("logout", __name__)


def _registered_post_logout(uri: str | None, client_id: str | None) -> str | None:
    if not uri:
        return None
    for service in bridge().policies.services.values():
        for client in service.clients:
            if uri in client.post_logout_redirect_uris and client_id in (None, client.client_id):
                return uri
    return None


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    b = bridge()
    target = _registered_post_logout(request.values.get("post_logout_redirect_uri"), request.values.get("client_id"))
    state = request.values.get("state")
    session = b.sessions.load(request.cookies.get(COOKIE))
    if session:
        b.sessions.end(session.secret)
        log.info("logout", kind="explicit", mie=session.authn.mie)
    if target and state:
        from authlib.common.urls import add_params_to_uri

        target = add_params_to_uri(target, [("state", state)])
    psc_url = None
    if session and session.authn.upstream == "psc" and session.authn.upstream_session.get("id_token"):
        return_state = secrets.token_urlsafe(16)
        b.store.set_json(f"logout:{return_state}", {"target": target}, 600)
        psc_url = b.psc.logout_url(session.authn.upstream_session["id_token"],
                                   f"{b.settings.public_url}/logout/done", return_state)
    response = make_response(redirect(psc_url) if psc_url else
                             (redirect(target) if target else render_template("logged_out.html")))
    response.delete_cookie(COOKIE, path="/")
    return response


@bp.get("/logout/done")
def logout_done():
    """Back from PSC's end_session. PSC may drop `state` (ANS note): then show the page instead of redirecting."""
    state = request.args.get("state")
    pending = bridge().store.consume_json(f"logout:{state}") if state else None
    if pending and pending.get("target"):
        return redirect(pending["target"])
    return render_template("logged_out.html")
