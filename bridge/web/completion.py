"""Renders what bridge.login.complete decided: the denial page, the 'situation d'exercice' step, the consent step
or the app's code.
No domain rule here; the browser's session cookie follows the outcome's session."""
from __future__ import annotations

from flask import make_response, redirect, request, url_for

from bridge import events
from bridge.login.complete import Outcome, choose_activity, complete
from bridge.login.transactions import LoginTransaction
from bridge.sessions import COOKIE, browser_label
from bridge.web.answers import issue_code_after_login, render_denial
from bridge.web.assurance import unmet_after_login
from bridge.web.context import bridge
from bridge.web.errors import error_page
from bridge.web.limits import client_ip
from bridge.web.removal import watch_page
from bridge.web.security import cookie_args
from bridge.web.workstation import page_session


def finish_login(txn: LoginTransaction, authn, succeeded, *, reader: str = ""):
    """Every upstream ends here once it has authenticated someone for `txn` (see bridge.login.complete).
    `reader`: the card reader a card login used, passed on to the agent that is to watch the card."""
    b = bridge()
    outcome = complete(b.sessions, b.transactions, b.policies.services[txn.service], txn, authn,
                       b.sessions.load(request.cookies.get(COOKIE)), b.clock.now(), device=_device(),
                       succeeded=succeeded, removals=b.removals, consents=b.consents)
    return render_outcome(txn, outcome, reader=reader)


def finish_activity(txn: LoginTransaction, session, exercice: int, activity: int):
    b = bridge()
    outcome = choose_activity(b.sessions, b.transactions, b.policies.services[txn.service], txn, session,
                              exercice, activity, b.clock.now(), consents=b.consents)
    return render_outcome(txn, outcome)


def render_outcome(txn: LoginTransaction, outcome: Outcome, *, reader: str = ""):
    b = bridge()
    page_session(outcome.session)   # what the page's session bar shows: not the cookie the request came with
    if outcome.kind == "deny":
        if txn.device:   # the policy refused a device approval: the kiosk gets access_denied too
            from bridge.web.device import refused

            refused(txn, ",".join(outcome.reasons) or "denied", page=False)
        response = make_response(render_denial(b.policies.services[txn.service], outcome.reasons, outcome.authn,
                                               txn.client_id))
    elif outcome.kind == "unmet":
        response = make_response(unmet_after_login(txn, outcome.authn))
    elif outcome.kind == "activity":
        response = make_response(redirect(url_for("login.activity", txn=txn.id)))
    elif outcome.kind == "consent":
        events.consent(b, "asked", outcome.authn, service=txn.service, client=txn.client_id, scope=txn.scope)
        response = make_response(redirect(url_for("consent.page", txn=txn.id)))
    elif outcome.kind == "txn_invalid":
        response = make_response(error_page("txn_invalid", 400))
    else:
        response = make_response(issue_code_after_login(txn, outcome.session))
    if outcome.removal and response.status_code in (302, 303):
        response = _watch(txn, outcome, response.headers["Location"], reader)
    held = request.cookies.get(COOKIE)
    if outcome.session is not None:
        if outcome.session.cookie != held:
            response.set_cookie(COOKIE, outcome.session.cookie, **cookie_args())
    elif held:   # the previous person's session ended: nothing left to point to
        response.delete_cookie(COOKIE, path="/")
    return response


def _watch(txn: LoginTransaction, outcome: Outcome, next_url: str, reader: str):
    """Instead of the redirect, the page that hands the card's removal capability to the workstation's agent on
    its way to the same place."""
    events.card_watch_issued(bridge(), outcome.session, service=txn.service, client=txn.client_id,
                             cert_sha256=outcome.authn.card.cert_sha256 if outcome.authn.card else "")
    return watch_page(next_url, outcome.removal, reader)


def _device() -> dict[str, str]:
    return {"ip": client_ip(), "browser": browser_label(request.headers.get("User-Agent", ""))}

