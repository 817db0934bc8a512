"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0, Authlib's EndSessionEndpoint).

An explicit logout ends the SSO session (back-channel logout to every app of it) and, per ANS guidance, the Pro
Santé Connect session too; idle or absolute expiry never does. Without a valid id_token_hint the user confirms
first (CSRF-protected form) and there is no redirect back to the app.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets

from authlib.oauth2 import OAuth2Error
from flask import Blueprint, make_response, redirect, render_template, request

from bridge.logs import log
from bridge.sessions import COOKIE
from bridge.transactions import BROWSER_COOKIE
from bridge.web import bridge
from bridge.web.errors import error_page
from bridge.web.security import browser_secret, cookie_args

bp = Blueprint("logout", __name__)
PARAMS = ("id_token_hint", "post_logout_redirect_uri", "state", "client_id", "logout_hint", "ui_locales")


def _csrf(browser: str) -> str:
    key = bridge().settings.secret_key.encode()
    return hmac.new(key, f"logout|{browser}".encode(), hashlib.sha256).hexdigest()


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    b = bridge()
    try:
        end = b.server.validate_endpoint_request("end_session")
    except OAuth2Error as error:
        return error_page("invalid_logout", 400, detail=f"{error.error}: {error.description or ''}")
    if end.needs_confirmation:
        secret, new = browser_secret()
        if request.method == "GET" or not hmac.compare_digest(request.form.get("csrf", "").encode(), _csrf(secret).encode()):
            response = make_response(render_template(
                "logout_confirm.html", csrf=_csrf(secret), params={k: request.values[k] for k in PARAMS
                                                                  if request.values.get(k)}))
            if new:
                response.set_cookie(BROWSER_COOKIE, secret, **cookie_args())
            return response
    session = b.sessions.load(request.cookies.get(COOKIE))
    psc_url = None
    if session:
        b.sessions.end(session.sid, "logout", session)
        log.info("logout", kind="rp_initiated", mie=session.authn.mie,
                 client=end.client.client_id if end.client else "")
        upstream = session.authn.upstream_session
        if session.authn.upstream == "psc" and upstream.get("id_token"):
            state = secrets.token_urlsafe(16)
            b.store.set_json(f"logout:{state}", {"target": end.redirect_uri}, 600)
            psc_url = b.psc.logout_url(upstream["id_token"], f"{b.settings.public_url}/logout/done", state)
    if psc_url:
        response = redirect(psc_url)
    elif end.redirect_uri:
        response = redirect(end.redirect_uri)
    else:
        response = make_response(render_template("logged_out.html"))
    response.delete_cookie(COOKIE, path="/")
    return response


@bp.get("/logout/done")
def logout_done():
    """Back from PSC's end_session. PSC may drop `state` (ANS note): then show our page instead of redirecting."""
    state = request.args.get("state")
    pending = bridge().store.consume_json(f"logout:{state}") if state else None
    if pending and pending.get("target"):
        return redirect(pending["target"])
    return render_template("logged_out.html")
