"""Referential rules checked when a policy file is loaded (see rules.py for the catalogue).

Errors are static: a file that loads today loads tomorrow. What depends on the date (attestation calendar,
reserves past 2028-12-31) is a warning here and a block at each login (calendar.py, evaluate.py), so that
crossing a deadline disables the non-PSC means of one service instead of refusing the whole bridge at start-up.
"""
from __future__ import annotations

from datetime import date

from bridge.mie import CARD_MIE, CATALOGUE
from bridge.policy.calendar import TIMEOUT_REQUIREMENT, TWO_FACTOR_REQUIREMENT, standing
from bridge.policy.establishment import check_establishment
from bridge.policy.report import MISSING, Report
from bridge.policy.rules import (
    ATTESTATION_DEADLINE,
    ATTESTATION_MAX_YEARS,
    ATTESTATION_MAX_YEARS_WITH_RESERVES,
    DURATION_FLOOR,
    IDLE_HARD_LIMIT,
    IDLE_LIMIT,
    RESERVES_LAST_DAY,
    SESSION_HARD_LIMIT,
    SESSION_LIMIT,
)
from bridge.policy.schema import Service
from bridge.policy.values import format_duration

NON_RPPS_CARDS = ("CPE", "CPA")


def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _index(data: dict, key: str, value) -> tuple:
    """Path of `value` inside the raw list data[key], for the error's line."""
    items = data.get(key) if isinstance(data.get(key), list) else []
    for i, item in enumerate(items):
        if str(item) == value:
            return (key, i)
    return (key,)


def _declares_reserve(service: Service, requirement: str) -> bool:
    return any(r.requirement == requirement for r in service.attestation.reserves)


def check_means(report: Report, service: Service, data: dict) -> None:
    fi = service.establishment_idp   # PSC's own IdP: offers no PSC means (bridge.policy.establishment)
    if service.allowed_mie and not fi and not any(CATALOGUE[m].via_psc for m in service.allowed_mie):
        report.error(("allowed_mie",), list(service.allowed_mie), "must include a Pro Santé Connect means (psc...)",
                     "psc_not_offered")
    if "psc" not in service.allowed_mie and any(CATALOGUE[m].via_psc for m in service.allowed_mie):
        report.warn(("allowed_mie",), list(service.allowed_mie), "refuses the PSC logins whose means PSC does not "
                    "state (only authMode CARD is documented); add `psc` to accept them", "mie_not_allowed")
    direct = [m for m in service.allowed_mie if not CATALOGUE[m].via_psc]
    if not service.historical_teleservice and not fi:
        for mie in direct:
            report.error(_index(data, "allowed_mie", mie), mie, "requires historical_teleservice: true",
                         "not_historical_teleservice")
    if any(m in CARD_MIE for m in direct) and not service.card_types:
        report.error(("card_types",), [], "must list at least one card type when a direct card means is allowed")
    if direct:
        for card in NON_RPPS_CARDS:
            if card in service.card_types:
                report.warn(_index(data, "card_types", card), card, "should not be used", "non_rpps_card")
        if service.modes:
            report.warn(("modes",), list(service.modes), f"refuses every {'/'.join(direct)} login",
                        "mode_unverifiable")


def check_durations(report: Report, service: Service, data: dict) -> None:
    for key, value, hard_limit in (("idle_timeout", service.idle_timeout, IDLE_HARD_LIMIT),
                                   ("max_session", service.max_session, SESSION_HARD_LIMIT)):
        shown = data.get(key, format_duration(value))
        if value < DURATION_FLOOR:
            report.error((key,), shown, "is too short to be usable (at least 1m)", "duration_bounds")
        elif value > SESSION_HARD_LIMIT:
            report.error((key,), shown, "is absurd (at most 24h, even with a reserve)", "duration_bounds")
        elif key == "idle_timeout" and value > hard_limit:
            report.error((key,), shown, "is no real inactivity logout (at most 4h, even with a reserve)",
                         "significant_reserve")
    if service.idle_timeout > service.max_session and "idle_timeout" in data:
        report.error(("idle_timeout",), data["idle_timeout"],
                     f"exceeds max_session ({format_duration(service.max_session)})", "duration_bounds")
    reserve = _declares_reserve(service, TIMEOUT_REQUIREMENT)
    if IDLE_LIMIT < service.idle_timeout <= IDLE_HARD_LIMIT and not reserve:
        report.error(("idle_timeout",), data.get("idle_timeout"),
                     f"is above 30m without a reserve on {TIMEOUT_REQUIREMENT}", "idle_timeout_too_long")
    if SESSION_LIMIT < service.max_session <= SESSION_HARD_LIMIT and not reserve:
        report.error(("max_session",), data.get("max_session"),
                     f"is above 4h without a reserve on {TIMEOUT_REQUIREMENT}", "max_session_too_long")
    if not service.require_2fa and not _declares_reserve(service, TWO_FACTOR_REQUIREMENT):
        report.error(("require_2fa",), False, f"needs a reserve on {TWO_FACTOR_REQUIREMENT}", "require_2fa_reserve")


def check_attestation(report: Report, service: Service) -> None:
    att = service.attestation
    if att.signed_on and att.valid_until and att.valid_until > att.signed_on:
        years = ATTESTATION_MAX_YEARS_WITH_RESERVES if att.status == "reserves" else ATTESTATION_MAX_YEARS
        latest = add_years(att.signed_on, years)
        if att.valid_until > latest:
            why = "while reserves remain" if att.status == "reserves" else "after signed_on"
            report.error(("attestation", "valid_until"), att.valid_until.isoformat(),
                         f"is more than {years} year(s) {why} (at most {latest.isoformat()})",
                         "attestation_validity")
    for i, reserve in enumerate(att.reserves):
        if reserve.due > RESERVES_LAST_DAY:
            report.error(("attestation", "reserves", i, "due"), reserve.due.isoformat(),
                         f"is after {RESERVES_LAST_DAY.isoformat()}", "reserve_due_too_late")


def check_calendar(report: Report, service: Service, now: float) -> None:
    """Date-dependent findings at `now`: warnings only (the block happens at login time)."""
    situation = standing(service, now)
    direct = [m for m in service.allowed_mie if not CATALOGUE[m].via_psc]
    att = service.attestation
    if "attestation_missing" in situation.blocked_by:
        report.warn(("allowed_mie",), direct, f"blocked: no conformity attestation since "
                    f"{ATTESTATION_DEADLINE.isoformat()} (PSC means still work)", "attestation_missing")
    elif "attestation_missing" in situation.warnings:
        report.warn(("attestation",), MISSING, f"{'/'.join(direct)} will be blocked from "
                    f"{ATTESTATION_DEADLINE.isoformat()} without a conformity attestation", "attestation_missing")
    if "attestation_expired" in situation.blocked_by:
        report.warn(("attestation", "valid_until"), att.valid_until.isoformat() if att.valid_until else None,
                    f"is past: {'/'.join(direct)} blocked until renewal", "attestation_expired")
    if "reserves_expired" in situation.blocked_by + situation.warnings:
        report.warn(("attestation", "status"), att.status, f"reserves are no longer accepted after "
                    f"{RESERVES_LAST_DAY.isoformat()}", "reserves_expired")
    if "reserve_overdue" in situation.warnings:
        for i, reserve in enumerate(att.reserves):
            if reserve.due < situation.day:
                report.warn(("attestation", "reserves", i, "due"), reserve.due.isoformat(),
                            "is past: the action plan is overdue", "reserve_due_too_late")
    # Without any reserve declared, check_durations already reported an error on the same line: one message.
    timeouts_reserve = _declares_reserve(service, TIMEOUT_REQUIREMENT)
    for key, declared, effective, cap in (("idle_timeout", service.idle_timeout, situation.idle_timeout, "30m"),
                                          ("max_session", service.max_session, situation.max_session, "4h")):
        if effective < declared and timeouts_reserve:
            report.warn((key,), format_duration(declared), f"is above {cap} and its reserve on {TIMEOUT_REQUIREMENT} "
                        f"is not in force on {situation.day.isoformat()}: {cap} applies "
                        f"({_why_not_in_force(service, situation.day)})", f"{key}_too_long"
                        if key == "idle_timeout" else "max_session_too_long")
    if situation.require_2fa and not service.require_2fa and _declares_reserve(service, TWO_FACTOR_REQUIREMENT):
        report.warn(("require_2fa",), False, f"its reserve on {TWO_FACTOR_REQUIREMENT} is not in force on "
                    f"{situation.day.isoformat()}: two factors are required "
                    f"({_why_not_in_force(service, situation.day)})", "require_2fa_reserve")
    if att.signed_on and att.signed_on > situation.day:
        report.warn(("attestation", "signed_on"), att.signed_on.isoformat(),
                    "is in the future: the attestation is not in force yet", "attestation_missing")


def _why_not_in_force(service: Service, day: date) -> str:
    att = service.attestation
    if day > RESERVES_LAST_DAY:
        return f"reserves end on {RESERVES_LAST_DAY.isoformat()}"
    if att.status != "reserves":
        return f"attestation status is {att.status!r}, not 'reserves'"
    if att.signed_on is None or att.valid_until is None:
        return "the attestation has no signed_on/valid_until"
    if day < att.signed_on:
        return f"the attestation is signed on {att.signed_on.isoformat()}, not in force yet"
    return f"the attestation ended on {att.valid_until.isoformat()}"


def check_service(report: Report, service: Service, data: dict, now: float) -> None:
    check_means(report, service, data)
    check_establishment(report, service, data)
    check_durations(report, service, data)
    check_attestation(report, service)
    check_calendar(report, service, now)
