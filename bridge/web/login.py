"""Login pages: means chooser, Pro Santé Connect round trip, choice of the 'situation d'exercice'."""
from __future__ import annotations

from urllib.parse import parse_qsl

from flask import Blueprint, g, redirect, render_template, request, url_for

from bridge import acr, events, nomenclature
from bridge.login.transactions import BROWSER_COOKIE, LoginTransaction
from bridge.policy import eligible_activities
from bridge.sessions import COOKIE
from bridge.upstream.psc import RELAYED_ERRORS, PscError
from bridge.upstream.psc_tokens import keep_psc_tokens
from bridge.web.answers import return_error_to_app
from bridge.web.completion import finish_activity, finish_login
from bridge.web.context import bridge
from bridge.web.errors import error_page
from bridge.web.i18n import current_lang
from bridge.web.pending import bound_txn, chooser_means

bp = Blueprint("login", __name__)


@bp.get("/login")
def chooser():
    txn = bound_txn()
    if txn is None:
        return error_page("txn_invalid", 400)
    service = bridge().policies.services[txn.service]
    return render_template("login.html", service=service, means=chooser_means(service), txn=txn)


@bp.get("/login/psc")
def psc_start():
    b = bridge()
    txn = bound_txn()
    if txn is None:
        return error_page("txn_invalid", 400)
    if not b.transactions.attempt(txn, "psc"):
        return error_page("too_many_requests", 429)
    wanted = acr.requested(dict(parse_qsl(txn.query)))   # the app's acr request goes to PSC (bridge.acr.to_psc)
    service = b.policies.services[txn.service]
    try:
        url = b.psc.start(txn.id, redirect_uri=f"{b.settings.public_url}/psc/callback",
                          prompt="login" if txn.forced else None, login_hint=txn.login_hint or None,
                          acr_values=acr.to_psc(wanted, service.min_acr, b.settings), idp_hint=service.psc_idp_hint)
    except PscError as exc:  # PSC's discovery unreadable or unreachable: audited and counted like a failed callback
        events.login_failed(b, upstream="psc", reason=exc.code, detail=exc.detail, service=txn.service,
                            client=txn.client_id)
        return error_page(exc.code, exc.status, detail=exc.detail, txn=txn)
    return redirect(url)


@bp.get("/login/back")
def back():
    """« Retour à l'application » from an error page: the pending login ends, the app gets access_denied."""
    txn = bound_txn()
    if txn is None:
        return error_page("txn_invalid", 400)
    events.login_failed(bridge(), upstream="", reason="user_went_back", service=txn.service, client=txn.client_id)
    return return_error_to_app(txn, "access_denied", "The user went back to the application without logging in.")


@bp.get("/psc/callback")
def psc_callback():
    b = bridge()
    try:
        txn_id, authn, psc_token = b.psc.finish_with_tokens(request.args.to_dict())
    except PscError as exc:
        return _psc_failed(exc)
    txn = b.transactions.get(txn_id)
    if txn is None or not txn.bound_to(request.cookies.get(BROWSER_COOKIE)):
        events.login_failed(b, upstream="psc", reason="txn_invalid")
        return error_page("txn_invalid", 400)
    allowed = []

    def succeeded(authn) -> None:
        events.login_succeeded(b, authn, service=txn.service, client=txn.client_id)
        allowed.append(authn)

    response = finish_login(txn, authn, succeeded)
    session = g.get("bridge_page_session")   # the session the login opened or renewed (web.workstation)
    if allowed and session is not None:   # a refused login keeps no PSC token
        keep_psc_tokens(b, session.sid, psc_token, session)   # for the token relay (RFC 8693 at /token)
    return response


def _psc_failed(exc: PscError):
    """A refusal the app handles (access_denied...) goes back to it; anything else is a page with a way back."""
    b = bridge()
    txn = bound_txn(exc.txn) if exc.txn else None
    events.login_failed(b, upstream="psc", reason=exc.code, detail=exc.detail, service=txn.service if txn else "",
                        client=txn.client_id if txn else "", relayed=bool(exc.relay and txn))
    if exc.relay and txn:
        return return_error_to_app(txn, exc.relay, RELAYED_ERRORS[exc.relay])
    return error_page(exc.code, exc.status, detail=exc.detail, txn=txn)


@bp.route("/login/activity", methods=["GET", "POST"])
def activity():
    b = bridge()
    txn = bound_txn()
    session = b.sessions.load(request.cookies.get(COOKIE))
    if txn is None or session is None or not txn.authenticated:
        return error_page("txn_invalid", 400)
    service = b.policies.services[txn.service]
    eligible = set(eligible_activities(service, session.authn))  # a filtered service offers only what it accepts
    choices = [c for c in session.authn.identity.activities() if (c[0], c[1]) in eligible] or \
        session.authn.identity.activities()
    if request.method == "POST":
        if not txn.check_csrf(request.form.get("csrf")):
            return error_page("csrf", 400)
        picked = request.form.get("activity", "")
        valid = {f"{e}-{a}": (e, a) for e, a, _, _ in choices}
        if picked not in valid:
            return _activity_page(txn, service, choices, error=True), 400
        return finish_activity(txn, session, *valid[picked])
    return _activity_page(txn, service, choices, error=False)


def _activity_page(txn: LoginTransaction, service, choices: list, *, error: bool) -> str:
    """The choice in words (ANS labels, codes kept small for support), the service it is for, and a way out:
    « Annuler » ends the pending login through /login/back, so the app gets error=access_denied."""
    lang = current_lang()
    return render_template("activity.html", txn=txn, service=service, choices=choices, error=error,
                           label=lambda kind, code: nomenclature.label(kind, code, lang),
                           cancel_url=url_for("login.back", txn=txn.id))
