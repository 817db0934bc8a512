"""Which means to offer: the login chooser, the step-up after a denial, the eligible situations d'exercice."""
from __future__ import annotations

from dataclasses import replace

from bridge.mie import CARD_MIE, CATALOGUE, Mie
from bridge.model import Authentication, Card
from bridge.policy.calendar import standing
from bridge.policy.evaluate import IDENTITY_REASONS, evaluate
from bridge.policy.schema import Service


def login_means(service: Service, now: float) -> list[Mie]:
    """The chooser's means: PSC first (RIE-PS 03), then direct ones, each group in catalogue order.

    `psc` in the policy stands for every PSC means, so it is offered alone (PSC shows its own card / e-CPS choice).
    Direct means are left out while the attestation calendar blocks them, or when the service is not an
    authorized historical teleservice (the loader refuses that; this guards services built in code).
    """
    allowed = set(service.allowed_mie)
    psc = [CATALOGUE["psc"]] if "psc" in allowed else [m for m in CATALOGUE.values() if m.via_psc and m.id in allowed]
    direct = []
    if service.direct_means and not standing(service, now).blocked_by:
        direct = [m for m in CATALOGUE.values() if not m.via_psc and m.id in allowed]
    return psc + direct


def _as_if_logged_in_with(mie: Mie, service: Service, authn: Authentication, now: float) -> Authentication:
    """The same person, logging in now with `mie`. A direct means reuses the card they used, if any; otherwise
    we assume they hold a card the service accepts (the card check happens again at the real login)."""
    if mie.via_psc or mie.id not in CARD_MIE:
        card = None
    elif authn.card is not None and authn.upstream in ("cps-pin", "cps-tls"):
        card = authn.card
    else:
        card = Card(type=service.card_types[0]) if service.card_types else None
    return replace(authn, mie=mie.id, amr=mie.amr, upstream=mie.upstream, card=card, auth_time=int(now),
                   upstream_session={})


def step_up_means(service: Service, authn: Authentication, now: float) -> list[Mie]:
    """Means that would satisfy the service where the current SSO authentication does not.

    Empty when the current authentication is fine, or when the denial is about the person (profession, mode,
    situation d'exercice): logging in again would not change it. The current means is proposed again only when
    its sole problem is age (session_too_old).
    """
    decision = evaluate(service, authn, now)
    if decision.allowed or IDENTITY_REASONS & set(decision.reasons):
        return []
    only_age = set(decision.reasons) == {"session_too_old"}
    return [mie for mie in login_means(service, now)
            if (only_age or mie.id != authn.mie)
            and evaluate(service, _as_if_logged_in_with(mie, service, authn, now), now).allowed]


def eligible_activities(service: Service, authn: Authentication) -> list[tuple[int, int]]:
    """(exercice, activity) indexes the situation chooser should offer: those the profession/mode filters admit."""
    return [(e, a) for e, a, ex, act in authn.identity.activities()
            if (not service.professions or ex.profession in service.professions)
            and (not service.modes or act.mode in service.modes)]
