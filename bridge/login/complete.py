"""One way out of every upstream: `complete` is called the same way by PSC, card + PIN and cps-tls logins.

The rule it keeps: the policy runs once, before any session is created or replaced. A refused login creates no
session (and the browser gets no session cookie); if a *different* person authenticated on this browser, the
previous person's session ends all the same, because someone else is at the workstation. The same person again
(step-up, prompt=login, an expired service) keeps their session and its other applications.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from urllib.parse import parse_qsl

from bridge import acr
from bridge.login.consent import Consents
from bridge.login.flow import Verdict, after_login
from bridge.login.transactions import LoginTransaction, Transactions
from bridge.model import Authentication
from bridge.policy import Service
from bridge.sessions import Sessions, SsoSession
from bridge.sessions.removal import Removals, watched


@dataclass(frozen=True)
class Outcome:
    kind: str                       # deny | unmet | activity | consent | code | txn_invalid (finished elsewhere)
    session: SsoSession | None      # the browser's SSO session from now on; None: it has none
    authn: Authentication           # what the policy judged
    reasons: tuple[str, ...] = ()   # the policy's reasons (deny, or why a situation must be chosen)
    removal: str = ""               # a removal capability for the card agent (bridge.sessions.removal), if any


def complete(sessions: Sessions, transactions: Transactions, service: Service, txn: LoginTransaction,
             authn: Authentication, previous: SsoSession | None, now: float, *,
             device: dict[str, str] | None = None,
             succeeded: Callable[[Authentication], None] = lambda authn: None,
             removals: Removals | None = None, consents: Consents | None = None) -> Outcome:
    """`succeeded` records the login (audit, log, metric) once the policy allows it and before any session
    exists: an audit trail that must be written and cannot be opens no session. `removals`: where a card login's
    session gets its removal capability when the service's policy ends sessions on card removal. `consents`: a
    third-party client (consent: required) without the professional's consent gets the consent step first."""
    same = previous is not None and previous.authn.identity.national_id == authn.identity.national_id
    if same and previous.authn.selected_activity and previous.authn.identity.exercices == authn.identity.exercices:
        authn = authn.with_activity(*previous.authn.selected_activity)   # the situation already chosen stays
    verdict = after_login(service, authn, now)
    if verdict.action != "deny" and not acr.met(acr.requested(dict(parse_qsl(txn.query))), authn.acr):
        verdict = Verdict("unmet", ("acr_not_satisfied",))   # the app asked more: it is told, nothing is issued
    if previous is not None and not same:
        sessions.end(previous.sid, "replaced", previous)
        previous = None
    if verdict.action in ("deny", "unmet"):
        transactions.consume(txn.id)
        return Outcome(verdict.action, previous, authn, verdict.reasons)
    succeeded(authn)
    deadline = authn.upstream_session.get("deadline")
    if previous is not None:
        sessions.reauthenticated(previous, authn, deadline)
        session = previous
    else:
        session = sessions.create(authn, upstream_deadline=deadline, device=device)
    outcome = _next_step(transactions, txn, session, _step(verdict.action), verdict.reasons,
                         _consent_needed(consents, service, txn, session))
    if removals is not None and outcome.kind != "txn_invalid" and watched(service, authn):
        outcome = replace(outcome, removal=removals.issue(session, authn.card.cert_sha256))
    return outcome


def choose_activity(sessions: Sessions, transactions: Transactions, service: Service, txn: LoginTransaction,
                    session: SsoSession, exercice: int, activity: int, now: float, *,
                    consents: Consents | None = None) -> Outcome:
    """The professional picked the situation they work in for this login: judged again with it."""
    authn = session.authn.with_activity(exercice, activity)
    verdict = after_login(service, authn, now)
    if verdict.action == "deny":
        transactions.consume(txn.id)
        return Outcome("deny", session, authn, verdict.reasons)
    session.authn = authn
    sessions.save(session)
    return _next_step(transactions, txn, session, _step(verdict.action), verdict.reasons,
                      _consent_needed(consents, service, txn, session))


def consent_given(consents: Consents, transactions: Transactions, txn: LoginTransaction,
                  session: SsoSession) -> Outcome:
    """The professional allowed the client the scopes of this login: remembered, then the app gets its code."""
    consents.grant(session.authn.identity.national_id, txn.client_id, txn.scope)
    return _next_step(transactions, txn, session, "code", (), False)


def _consent_needed(consents: Consents | None, service: Service, txn: LoginTransaction, session: SsoSession) -> bool:
    client = next((c for c in service.clients if c.client_id == txn.client_id), None)
    return consents is not None and consents.needed(client, session.authn.identity.national_id, txn.scope)


def _step(action: str) -> str:
    return "code" if action == "reuse" else action   # allowed: the app gets its code


def _next_step(transactions: Transactions, txn: LoginTransaction, session: SsoSession, action: str,
               reasons: tuple[str, ...], consent: bool) -> Outcome:
    """The situation is chosen first (the consent page then shows the right one), the consent next, then the code."""
    if action == "activity" or (action == "code" and consent):
        txn.authenticated = True
        txn.consent = action == "code"
        transactions.save(txn)
        return Outcome(action if action == "activity" else "consent", session, session.authn, reasons)
    if transactions.consume(txn.id) is None:   # the same login finished in another tab: one code per login
        return Outcome("txn_invalid", session, session.authn)
    return Outcome("code", session, session.authn)
