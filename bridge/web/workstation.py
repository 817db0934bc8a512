"""Shared workstations (docs/shared-workstations.md): the browser's mark, and the bar every page shows.

    GET  /poste-partage?actif=1[&application=<client_id>]   marks this browser as a shared workstation: cookie
         `bridge_shared`, 1 year, HttpOnly, SameSite=Lax, Secure and __Host- in production; then the status page,
         or the registered home page of `application` (a kiosk's start URL)
    GET  /poste-partage[?actif=0]                           the status page (with a form to remove the mark)
    POST /poste-partage  actif=0, csrf                      removes the mark (a link from another site cannot)

Shared mode = the browser's mark, or a service with `shared_workstation: true` in the login pending on the page
or among the session's applications. In shared mode every page shows « Poste partagé », who is logged in and a
one-click logout of every application. Wherever a session exists and a login is pending on the page, it also
offers « Changer d'utilisateur » (/switch). The name is never shown on the pages of a login still pending: the
person at the keyboard may not be the session's owner.
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, g, make_response, redirect, render_template, request, url_for

from bridge.audit import AuditUnavailable
from bridge.login.transactions import BROWSER_COOKIE
from bridge.sessions import COOKIE
from bridge.store import StoreUnavailable
from bridge.web.context import bridge
from bridge.web.errors import client_home, error_page
from bridge.web.logout import logout_csrf
from bridge.web.pending import bound_txn
from bridge.web.security import SHARED_COOKIE, browser_secret, cookie_args, form_token, form_token_ok

bp = Blueprint("workstation", __name__)
MARK_AGE = 365 * 24 * 3600
UNMARK = "unmark-workstation"
PARIS = ZoneInfo("Europe/Paris")


def person_label(authn) -> str:
    """Who is logged in, as the notice says it: first name and name (never an identifier)."""
    identity = authn.identity
    return " ".join(part for part in (identity.given_name, identity.family_name) if part)


def marked() -> bool:
    return request.cookies.get(SHARED_COOKIE) == "1"


def shared(session, txn) -> bool:
    """Shared mode: the browser's mark, or a shared_workstation service in the pending login or the session."""
    if marked():
        return True
    policies = bridge().policies
    names = {txn.service} if txn is not None else set()
    for client_id in session.clients if session is not None else ():
        found = policies.client(client_id)
        if found:
            names.add(found[0].service)
    return any(policies.services[name].shared_workstation for name in names if name in policies.services)


@bp.get("/poste-partage")
def mark():
    active = request.args.get("actif")
    if active not in (None, "0", "1"):
        return error_page("invalid_request", 400, detail="actif=1 (marquer) ou actif=0 (retirer la marque)")
    application = request.args.get("application")
    found = bridge().policies.client(application) if application else None
    if application and found is None:
        return error_page("invalid_client", 400, client_id="")
    if active != "1":   # removing the mark weakens the workstation: only a confirmed same-origin POST does it
        return _status_page(changed=False)
    home = client_home(found[1]) if found else None
    response = redirect(home) if home else _status_page(changed=True, now_marked=True)
    response.set_cookie(SHARED_COOKIE, "1", **cookie_args(MARK_AGE))
    return response


@bp.post("/poste-partage")
def unmark():
    secret = request.cookies.get(BROWSER_COOKIE, "")
    if request.form.get("actif") != "0" or not form_token_ok(UNMARK, secret, request.form.get("csrf")):
        return error_page("csrf", 403)
    response = _status_page(changed=True, now_marked=False)
    response.delete_cookie(SHARED_COOKIE, path="/")
    return response


def _status_page(changed: bool, now_marked: bool | None = None):
    secret, new = browser_secret()
    now_marked = marked() if now_marked is None else now_marked
    response = make_response(render_template("workstation.html", marked=now_marked, changed=changed,
                                             csrf=form_token(UNMARK, secret)))
    if new:
        response.set_cookie(BROWSER_COOKIE, secret, **cookie_args())
    return response


def _named_txn() -> str:
    """The pending login a page belongs to (`txn` in its query or its form), as the error pages find it."""
    try:
        return request.args.get("txn") or (request.form.get("txn") if request.method == "POST" else "") or ""
    except Exception:  # an unreadable or oversized body: the page still renders, without the bar's links
        return ""


def page_session(session) -> None:
    """The session this response leaves the browser with, when the request changed it (a login just opened,
    replaced or ended one): the bar then shows it rather than the one the request's cookie named."""
    g.bridge_page_session = session


def _session():
    if "bridge_page_session" in g:
        return g.bridge_page_session
    cookie = request.cookies.get(COOKIE)
    return bridge().sessions.load(cookie) if cookie else None


def _bar() -> dict | None:
    session = _session()
    named = _named_txn()
    txn = bound_txn(named) if isinstance(named, str) and named else None
    is_shared = shared(session, txn)
    switching = (request.endpoint or "").startswith("switch.")
    switch_url = url_for("switch.confirm", txn=txn.id) if session and txn and not switching else None
    if not is_shared and switch_url is None:
        return None
    pending = txn is not None and not txn.authenticated
    return {"shared": is_shared, "signed_in": session is not None,
            "person": person_label(session.authn) if session is not None and not pending else "",
            "logout_csrf": logout_csrf() if session is not None else None, "switch_url": switch_url}


def home_session() -> dict | None:
    """What the home page of a shared workstation shows: {} without a session, else who, since when (Paris
    time), which applications, and the logout token; None when the workstation is not shared."""
    b = bridge()
    cookie = request.cookies.get(COOKIE)
    session = b.sessions.load(cookie) if cookie else None
    if not shared(session, None):
        return None
    if session is None:
        return {}
    apps = [found[1].name or found[0].name for found in map(b.policies.client, session.clients) if found]
    since = datetime.fromtimestamp(session.created, PARIS).strftime("%H:%M")
    return {"person": person_label(session.authn), "since": since, "apps": sorted(apps), "csrf": logout_csrf()}


@bp.app_context_processor
def session_bar() -> dict:
    try:
        return {"session_bar": _bar()}
    except (StoreUnavailable, AuditUnavailable):   # the error page of an outage must still render
        return {"session_bar": None}
