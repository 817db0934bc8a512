"""« Changer d'utilisateur » (domain: bridge/login/switch.py; docs/shared-workstations.md).

    GET  /switch?txn=<pending login>            from the bridge's pages (chooser, PIN page, activity choice)
    GET  /switch?client_id=…&redirect_uri=…&…   from an application: its /authorize parameters, as for /authorize
         with a session: the confirmation page (POST form with a CSRF token); without: straight to the fresh login
    POST /switch   csrf, and txn or the /authorize parameters
         ends the session (reason `switch`, back-channel logout to its apps; front-channel iframes on the "logged
         out" page for those that registered it), clears the cookie, then the pending login's chooser, or
         /authorize?<params>&prompt=login; through PSC's end_session first for a PSC session

A GET never ends a session: a link or an image elsewhere must not log anyone out (logout CSRF).
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, make_response, redirect, render_template, request, url_for

from bridge.login import switch as domain
from bridge.login.transactions import BROWSER_COOKIE, LoginTransaction
from bridge.logs import log
from bridge.sessions import COOKIE
from bridge.web.context import bridge
from bridge.web.errors import client_home, error_page
from bridge.web.logout import end_upstream, front_channel, logged_out
from bridge.web.pending import bound_txn, login_entry
from bridge.web.security import browser_secret, cookie_args, form_token, form_token_ok
from bridge.web.workstation import person_label

bp = Blueprint("switch", __name__)


@dataclass
class Target:
    """What comes after the switch: the pending login `txn`, or the app's /authorize with `params`."""
    txn: LoginTransaction | None = None
    params: dict | None = None
    cancel_url: str = "/"

    def fresh_login(self) -> str:
        if self.txn is not None:
            return login_entry(domain.restart(bridge().transactions, self.txn))
        return f"{url_for('oidc.authorize')}?{domain.fresh_authorize_query(self.params or {})}"


def _target():
    """The request's Target, or an error page."""
    values = request.values
    if values.get("txn"):
        txn = bound_txn(values.get("txn"))
        if txn is None:
            return error_page("txn_invalid", 400)
        return Target(txn=txn, cancel_url=login_entry(txn))
    client_id = values.get("client_id")
    found = bridge().policies.client(client_id) if isinstance(client_id, str) and client_id else None
    if found is None:
        return error_page("invalid_client" if client_id else "invalid_request", 400,
                          detail="/switch needs txn, or the application's /authorize parameters (client_id…)")
    return Target(params=domain.authorize_params(values), cancel_url=client_home(found[1]) or "/")


@bp.get("/switch")
def confirm():
    target = _target()
    if not isinstance(target, Target):
        return target
    session = bridge().sessions.load(request.cookies.get(COOKIE))
    if session is None:   # nobody to log out: the fresh login at once
        return redirect(target.fresh_login())
    secret, new = browser_secret()
    params = {} if target.txn else target.params
    response = make_response(render_template(
        "switch_confirm.html", person=person_label(session.authn), csrf=form_token("switch", secret),
        txn=target.txn, params=params, cancel_url=target.cancel_url))
    if new:
        response.set_cookie(BROWSER_COOKIE, secret, **cookie_args())
    return response


@bp.post("/switch")
def switch():
    b = bridge()
    target = _target()
    if not isinstance(target, Target):
        return target
    secret, new = browser_secret()
    if new or not form_token_ok("switch", secret, request.form.get("csrf")):
        return error_page("csrf", 403)
    session = b.sessions.load(request.cookies.get(COOKIE))
    next_url = target.fresh_login()
    psc_url, frames = None, []
    if session is not None:
        frames = front_channel(session)
        domain.end_session(b.sessions, session)
        log.info("user_switch", mie=session.authn.mie, pending_login=target.txn is not None)
        psc_url = end_upstream(session, next_url, secret)
    response = logged_out(frames, psc_url or next_url)
    response.delete_cookie(COOKIE, path="/")
    return response
