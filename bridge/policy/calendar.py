"""What a policy means at a given instant: the attestation calendar, reserves and effective session limits.

Referential dates are French legal dates, so instants are turned into the civil date in Paris. The EU summer-time
rule (in force since 1996) is computed here so the result does not depend on the host's tz database.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from bridge.mie import CATALOGUE
from bridge.policy.rules import ATTESTATION_DEADLINE, IDLE_LIMIT, RESERVES_LAST_DAY, SESSION_LIMIT
from bridge.policy.schema import Reserve, Service

TIMEOUT_REQUIREMENT = "RIE-PS 13"   # a reserve on it covers idle_timeout > 30 min / max_session > 4 h
TWO_FACTOR_REQUIREMENT = "RIE-PS 09"  # a reserve on it covers require_2fa: false


def _last_sunday(year: int, month: int) -> date:
    last = date(year, month, 31)  # March and October both have 31 days
    return last - timedelta(days=(last.weekday() + 1) % 7)


def _paris_offset(utc: datetime) -> int:
    summer_start = datetime.combine(_last_sunday(utc.year, 3), time(1), UTC)
    summer_end = datetime.combine(_last_sunday(utc.year, 10), time(1), UTC)
    return 2 if summer_start <= utc < summer_end else 1


def paris_date(now: float) -> date:
    """Civil date in Europe/Paris: UTC+2 from the last Sunday of March 01:00 UTC to the last Sunday of October."""
    utc = datetime.fromtimestamp(now, UTC)
    return (utc + timedelta(hours=_paris_offset(utc))).date()


def paris_epoch(day: date, hour: int = 0, minute: int = 0, second: int = 0) -> float:
    """The instant of a Paris wall-clock time (for tests and `bridge policy check --at`)."""
    wall = datetime.combine(day, time(hour, minute, second), UTC)
    for offset in (1, 2):
        utc = wall - timedelta(hours=offset)
        if _paris_offset(utc) == offset:
            return utc.timestamp()
    raise ValueError(f"{day} {hour:02}:{minute:02} does not exist in Paris (summer-time gap)")


def needs_attestation(service: Service) -> bool:
    """Any means outside PSC needs an attested scheme (RIE-PS 02 (3)); PSC-based schemes are exempt."""
    return any(mie in CATALOGUE and not CATALOGUE[mie].via_psc for mie in service.allowed_mie)


def attestation_in_force(service: Service, day: date) -> bool:
    att = service.attestation
    return (att.status in ("attested", "reserves") and att.signed_on is not None and att.valid_until is not None
            and att.signed_on <= day <= att.valid_until)


def has_reserves(service: Service) -> bool:
    return service.attestation.status == "reserves" or bool(service.attestation.reserves)


def covering_reserve(service: Service, requirement: str, day: date) -> Reserve | None:
    """The reserve that currently excuses `requirement`: declared, attestation in force, not past 2028-12-31."""
    if day > RESERVES_LAST_DAY or service.attestation.status != "reserves" or not attestation_in_force(service, day):
        return None
    return next((r for r in service.attestation.reserves if r.requirement == requirement), None)


@dataclass(frozen=True)
class Standing:
    """A service's situation at one instant."""

    day: date
    blocked_by: tuple[str, ...]   # reason codes blocking every non-PSC means (empty: none)
    warnings: tuple[str, ...]     # codes worth showing but not blocking
    idle_timeout: int             # effective, seconds
    max_session: int
    require_2fa: bool


def standing(service: Service, now: float) -> Standing:
    day = paris_date(now)
    att = service.attestation
    blocked: list[str] = []
    warnings: list[str] = []
    reserves_over = has_reserves(service) and day > RESERVES_LAST_DAY
    if needs_attestation(service):
        signed = att.status in ("attested", "reserves") and att.signed_on is not None and att.signed_on <= day
        if not signed:
            (blocked if day >= ATTESTATION_DEADLINE else warnings).append("attestation_missing")
        elif att.valid_until is None or day > att.valid_until:
            blocked.append("attestation_expired")
        if reserves_over:
            blocked.append("reserves_expired")
    elif reserves_over:
        warnings.append("reserves_expired")  # PSC-only: nothing to block, but the caps below apply again
    if not reserves_over and any(r.due < day for r in att.reserves):
        warnings.append("reserve_overdue")
    # Limits above the referential caps hold only while their reserve does; then the caps apply again.
    idle, max_session = service.idle_timeout, service.max_session
    if covering_reserve(service, TIMEOUT_REQUIREMENT, day) is None:
        idle, max_session = min(idle, IDLE_LIMIT), min(max_session, SESSION_LIMIT)
    require_2fa = service.require_2fa or covering_reserve(service, TWO_FACTOR_REQUIREMENT, day) is None
    return Standing(day, tuple(blocked), tuple(warnings), idle, max_session, require_2fa)


@dataclass(frozen=True)
class Limits:
    idle_timeout: int
    max_session: int
    require_2fa: bool


def effective_limits(service: Service, now: float) -> Limits:
    """Idle/absolute session limits and 2FA as they apply at `now` (bridge/sessions/ and the provider use these)."""
    s = standing(service, now)
    return Limits(s.idle_timeout, s.max_session, s.require_2fa)
