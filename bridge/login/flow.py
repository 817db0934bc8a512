"""Decisions of the login flow, free of HTTP: can this SSO session serve this /authorize request?"""
from __future__ import annotations

from dataclasses import dataclass

from bridge import acr
from bridge.model import Authentication
from bridge.policy import Service, eligible_activities, evaluate, step_up_means
from bridge.sessions import activity


@dataclass(frozen=True)
class Verdict:
    action: str                  # reuse | login | deny | activity
    reasons: tuple[str, ...] = ()


def client_expired(session, client_id: str, now: float) -> str | None:
    """Why this client's part of the SSO session is over (its idle timer or service deadline), if it is:
    client_expired (tombstoned), or absolute_expired / idle_expired by the rule of bridge.sessions.activity."""
    if client_id in session.expired_clients:
        return "client_expired"
    return activity.expired(now, session.clients.get(client_id))


def _judge(service: Service, authn: Authentication, now: float, *, fresh: bool) -> Verdict:
    decision = evaluate(service, authn, now)
    if decision.allowed:
        return Verdict("activity" if needs_activity_choice(authn) else "reuse")
    if set(decision.reasons) == {"activity_required"} and eligible_activities(service, authn):
        return Verdict("activity", decision.reasons)
    if not fresh and step_up_means(service, authn, now):
        return Verdict("login", decision.reasons)  # step-up: another means or a newer login satisfies it
    return Verdict("deny", decision.reasons)


def for_session(service: Service, authn: Authentication | None, params: dict, now: float) -> Verdict:
    prompts = set((params.get("prompt") or "").split())
    if authn is None or "login" in prompts:
        return Verdict("login")
    if not acr.met(acr.requested(params), authn.acr):   # a new login may reach it (bridge.acr; checked again after)
        return Verdict("login", ("acr_not_satisfied",))
    if not acr.at_least(authn.acr, service.min_acr):
        return Verdict("login", ("acr_below_minimum",))
    max_age = params.get("max_age")
    if max_age is not None and str(max_age).isdigit() and now - authn.auth_time > int(max_age):
        return Verdict("login", ("max_age",))
    return _judge(service, authn, now, fresh=False)


def after_login(service: Service, authn: Authentication, now: float) -> Verdict:
    return _judge(service, authn, now, fresh=True)


def needs_activity_choice(authn: Authentication) -> bool:
    return authn.selected_activity is None and len(authn.identity.activities()) > 1
