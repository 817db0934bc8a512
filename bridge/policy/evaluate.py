"""policy.evaluate(service, authentication, now) -> Decision.

Total function: whatever the Authentication holds, it returns a Decision and never raises, so a malformed
upstream result becomes a denial instead of a 500. Every reason is collected (not only the first) for the audit.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from bridge.acr import at_least
from bridge.mie import CARD_MIE, CATALOGUE, SINGLE_FACTOR_ALLOWED, Mie, satisfies
from bridge.model import Activity, Authentication, Exercice
from bridge.policy.calendar import Standing, standing
from bridge.policy.rules import FUTURE_AUTH_SKEW
from bridge.policy.schema import Service

# RFC 8176 amr values -> factor category. Values that are not a factor (mfa, rba, geo, user...) are ignored.
AMR_FACTORS = {
    "pwd": "knowledge", "pin": "knowledge", "kba": "knowledge",
    "hwk": "possession", "swk": "possession", "sc": "possession", "otp": "possession", "sms": "possession",
    "tel": "possession", "pop": "possession",
    "face": "inherence", "fpt": "inherence", "iris": "inherence", "retina": "inherence", "vbm": "inherence",
}
NON_RPPS_CARDS = frozenset({"CPE", "CPA"})  # never come through PSC (RIE-PS 02)

# Every code evaluate() can put in Decision.reasons / Decision.warnings.
REASONS = ("mie_not_allowed", "not_historical_teleservice", "card_type_not_allowed", "single_factor",
           "attestation_missing", "attestation_expired", "reserves_expired", "profession_not_allowed",
           "mode_not_allowed", "activity_required", "session_too_old", "acr_below_minimum",
           "identity_kind_not_allowed")
WARNINGS = ("attestation_missing", "reserve_overdue", "reserves_expired")
# Denials a new login cannot cure: they are about who the user is, not how they logged in.
IDENTITY_REASONS = frozenset({"profession_not_allowed", "mode_not_allowed", "activity_required",
                              "identity_kind_not_allowed"})


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reasons: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()   # e.g. attestation_missing before 2026-12-31: audit it, do not block


def factor_categories(mie: Mie, amr) -> frozenset[str]:
    """Categories this login proved. The stated amr wins when it names factors; when it names none (absent, a bare
    'mfa', or PSC-specific values) the MIE catalogue decides; 'mfa' with one named category is read as the
    catalogue's factors. Only an amr that positively names a single category without 'mfa' is single-factor."""
    amr = [a for a in amr if isinstance(a, str)] if isinstance(amr, (list, tuple)) else []
    stated = frozenset(AMR_FACTORS[a] for a in amr if a in AMR_FACTORS)
    if len(stated) >= 2:
        return stated
    if not stated:
        return mie.factors
    return mie.factors | stated if "mfa" in amr else stated


def _mechanism_reasons(service: Service, authn: Authentication, mie: Mie | None, situation: Standing) -> list[str]:
    """How the user logged in: means, factors, card, attestation calendar."""
    if mie is None or authn.upstream != mie.upstream or not satisfies(service.allowed_mie, mie.id):
        return ["mie_not_allowed"]
    reasons = []
    if not mie.via_psc and not service.direct_means:
        reasons.append("not_historical_teleservice")
    card_type = getattr(authn.card, "type", None)
    card_type = card_type if isinstance(card_type, str) else None
    if mie.via_psc:
        if card_type in NON_RPPS_CARDS:
            reasons.append("card_type_not_allowed")
    elif mie.id in CARD_MIE and card_type not in service.card_types:  # card login without a known, allowed card
        reasons.append("card_type_not_allowed")
    if situation.require_2fa and len(factor_categories(mie, authn.amr)) < 2 and mie.id not in SINGLE_FACTOR_ALLOWED:
        reasons.append("single_factor")
    if not mie.via_psc:
        reasons.extend(situation.blocked_by)
    return reasons


def _selected(authn: Authentication) -> tuple[Exercice | None, Activity | None, bool]:
    """(exercice, activity, selection_valid) without trusting selected_activity's indexes."""
    exercices = authn.identity.exercices
    if authn.selected_activity is not None:
        try:
            e, a = authn.selected_activity
            if e < 0 or a < 0:
                raise IndexError
            return exercices[e], exercices[e].activities[a], True
        except (IndexError, TypeError, ValueError):
            return None, None, False
    return authn.exercice if len(exercices) <= 1 else None, None, True


def _filter_reason(candidates: list[str], allowed: tuple[str, ...], denied: str) -> str | None:
    """None when every candidate value is allowed; `denied` when none is; activity_required when it depends."""
    ok = [c in allowed for c in candidates]
    if candidates and all(ok):
        return None
    return "activity_required" if any(ok) else denied


def _identity_reasons(service: Service, authn: Authentication) -> list[str]:
    """Who the user is: the kind of national id; acting as: profession and mode filters, on the chosen situation
    d'exercice."""
    kind = getattr(authn.identity, "id_kind", None)
    refused = ["identity_kind_not_allowed"] if kind not in service.identity_kinds else []
    if not service.professions and not service.modes:
        return refused
    exercice, activity, valid = _selected(authn)
    if not valid:
        return refused + ["activity_required"]
    reasons = refused
    if service.professions:
        pool = [exercice] if exercice is not None else list(authn.identity.exercices)
        reason = _filter_reason([ex.profession for ex in pool], service.professions, "profession_not_allowed")
        if reason:
            reasons.append(reason)
    if service.modes:
        if activity is not None:
            modes = [activity.mode]
        else:
            pool = [exercice] if exercice is not None else list(authn.identity.exercices)
            modes = [act.mode for ex in pool for act in ex.activities]
        reason = _filter_reason(modes, service.modes, "mode_not_allowed")
        if reason and reason not in reasons:
            reasons.append(reason)
    return reasons


def _session_too_old(authn: Authentication, now: float, max_session: int) -> bool:
    """Older than the service's (effective) max_session or the upstream session; a future auth_time is distrusted."""
    try:
        age = now - authn.auth_time
        deadline = authn.upstream_session.get("deadline") if isinstance(authn.upstream_session, dict) else None
        upstream_over = isinstance(deadline, (int, float)) and not isinstance(deadline, bool) and now >= deadline
        return not math.isfinite(age) or age >= max_session or age < -FUTURE_AUTH_SKEW or upstream_over
    except (TypeError, OverflowError, ValueError):
        return True


def evaluate(service: Service, authn: Authentication, now: float) -> Decision:
    situation = standing(service, now)
    mie = CATALOGUE.get(authn.mie) if isinstance(authn.mie, str) else None
    reasons = _mechanism_reasons(service, authn, mie, situation)
    reasons += [r for r in _identity_reasons(service, authn) if r not in reasons]
    if _session_too_old(authn, now, situation.max_session):
        reasons.append("session_too_old")
    if not at_least(authn.acr if isinstance(authn.acr, str) else "", service.min_acr):
        reasons.append("acr_below_minimum")
    if reasons:
        return Decision(allowed=False, reasons=tuple(reasons))
    # The attestation warning concerns logins with a non-PSC means only; the reserve ones concern the service.
    warnings = tuple(w for w in situation.warnings if w != "attestation_missing" or not mie.via_psc)
    return Decision(allowed=True, warnings=warnings)
