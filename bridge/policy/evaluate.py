"""policy.evaluate(service, authentication, now) -> Decision (DESIGN §4)."""
from __future__ import annotations

from dataclasses import dataclass

from bridge.mie import CATALOGUE, satisfies
from bridge.model import Authentication
from bridge.policy.schema import Service


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reasons: tuple[str, ...] = ()


def evaluate(service: Service, authn: Authentication, now: float) -> Decision:
    reasons = []
    mie = CATALOGUE.get(authn.mie)
    if mie is None or not satisfies(service.allowed_mie, authn.mie):
        reasons.append("mie_not_allowed")
    elif service.require_2fa and not mie.two_factor:
        reasons.append("single_factor")
    if authn.card and mie is not None and not mie.via_psc and authn.card.type not in service.card_types:
        reasons.append("card_type_not_allowed")
    if service.professions:
        professions = {ex.profession for ex in authn.identity.exercices}
        if not professions & set(service.professions):
            reasons.append("profession_not_allowed")
    if now - authn.auth_time > service.max_session:
        reasons.append("session_too_old")
    return Decision(allowed=not reasons, reasons=tuple(reasons))
