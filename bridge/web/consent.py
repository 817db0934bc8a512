"""Consent to a third-party client (policy `consent: required`, bridge.login.consent): the page a login shows
before such a client's first code, and « Mes autorisations » where the professional lists and withdraws them.

The consent page is a step of the login transaction (its CSRF token is the transaction's, as on the activity
page); « Mes autorisations » needs the browser's SSO session and its forms carry a token bound to the browser
(bridge.web.security.form_token)."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from authlib.oidc.core.errors import ConsentRequiredError
from flask import Blueprint, make_response, redirect, render_template, request, url_for

from bridge import events
from bridge.login.complete import consent_given
from bridge.login.transactions import BROWSER_COOKIE
from bridge.sessions import COOKIE
from bridge.web.answers import issue_code, return_error_to_app, start_login
from bridge.web.completion import render_outcome
from bridge.web.context import bridge, server
from bridge.web.errors import error_page
from bridge.web.pending import bound_txn
from bridge.web.security import browser_secret, cookie_args, form_token, form_token_ok

bp = Blueprint("consent", __name__)
PARIS = ZoneInfo("Europe/Paris")
REFUSED = "The user refused to share their information with the application."


def reuse_or_ask(grant, session):
    """/authorize with a session that serves the client: its code, unless this third-party client has no consent
    of the professional for these scopes yet (then the consent page; prompt=none: consent_required)."""
    b = bridge()
    if not b.consents.needed(grant.client.client, session.authn.identity.national_id,
                             grant.request.scope or ""):
        return issue_code(grant, session)
    if "none" in (grant.request.payload.data.get("prompt") or "").split():
        error = ConsentRequiredError(redirect_uri=grant.request.payload.redirect_uri,
                                     state=grant.request.payload.state)
        return server().handle_error_response(None, error)
    events.consent(b, "asked", session.authn, service=grant.client.service.service,
                   client=grant.client.client_id, scope=grant.request.scope or "")
    return start_login(grant, authenticated=True, consent=True)


@bp.route("/login/consent", methods=["GET", "POST"])
def page():
    b = bridge()
    txn = bound_txn()
    session = b.sessions.load(request.cookies.get(COOKIE))
    if txn is None or session is None or not (txn.authenticated and txn.consent):
        return error_page("txn_invalid", 400)
    found = b.policies.client(txn.client_id)
    if found is None:
        return error_page("txn_invalid", 400, client_id=txn.client_id)
    service, client = found
    if request.method == "GET":
        return render_template("consent.html", txn=txn, app=client.name or service.name or client.client_id,
                               service=service, scopes=txn.scope.split())
    if not txn.check_csrf(request.form.get("csrf")):
        return error_page("csrf", 400)
    fields = {"service": txn.service, "client": txn.client_id, "scope": txn.scope}
    if request.form.get("decision") != "allow":
        events.consent(b, "refused", session.authn, **fields)
        return return_error_to_app(txn, "access_denied", REFUSED)
    events.consent(b, "given", session.authn, **fields)
    return render_outcome(txn, consent_given(b.consents, b.transactions, txn, session))


@bp.route("/me/authorizations", methods=["GET", "POST"])
def authorizations():
    b = bridge()
    session = b.sessions.load(request.cookies.get(COOKIE))
    if session is None:
        return render_template("authorizations.html", session=None, consents=[]), 401
    secret, new = browser_secret()
    if request.method == "POST":
        if not form_token_ok("authorizations", request.cookies.get(BROWSER_COOKIE, ""), request.form.get("csrf")):
            return error_page("csrf", 400)
        _revoke(session, request.form.get("client_id", ""))
        return redirect(url_for("consent.authorizations", retire="1"), 303)
    response = make_response(render_template(
        "authorizations.html", session=session, consents=_listed(session), csrf=form_token("authorizations", secret),
        revoked=request.args.get("retire") == "1"))
    if new:
        response.set_cookie(BROWSER_COOKIE, secret, **cookie_args())
    return response


def _listed(session) -> list[dict]:
    b, listed = bridge(), []
    for client_id, data in sorted(bridge().consents.list(session.authn.identity.national_id).items()):
        found = b.policies.client(client_id)
        name = (found[1].name or found[0].name) if found else client_id   # a client since removed: its id
        when = datetime.fromtimestamp(data["at"], PARIS).strftime("%d/%m/%Y %H:%M")
        listed.append({"client_id": client_id, "name": name, "scopes": data["scopes"], "at": when})
    return listed


def _revoke(session, client_id: str) -> None:
    """The consent goes, and the client's tokens with it: in every live session of this professional that the
    client uses (its activity is removed, so its access and refresh tokens stop working; the app hears it by
    back-channel logout). Its next login asks again."""
    b = bridge()
    national_id = session.authn.identity.national_id
    if not b.consents.revoke(national_id, client_id):
        return
    found = b.policies.client(client_id)
    events.consent(b, "revoked", session.authn, service=found[0].service if found else "", client=client_id,
                   scope="")
    for other in b.sessions.list():
        if other.authn.identity.national_id == national_id and client_id in other.clients:
            b.sessions.end_client(other.sid, client_id, "consent_revoked")
