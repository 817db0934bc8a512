"""bridge/policy/calendar.py on its own: Paris summer time computed without a tz database, the attestation and
reserve predicates, and what standing() / effective_limits() report at one instant."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bridge.policy import Attestation, Reserve
from bridge.policy.calendar import (
    Limits,
    _paris_offset,
    attestation_in_force,
    covering_reserve,
    effective_limits,
    has_reserves,
    needs_attestation,
    paris_date,
    paris_epoch,
    standing,
)
from tests.unit.test_policy_support import at, attested, service, teleservice, with_reserves


def last_sunday(year: int, month: int) -> date:
    """Independent oracle: walk the month and keep its last Sunday."""
    days = [date(year, month, d) for d in range(1, 32)]
    return max(d for d in days if d.weekday() == 6)


def utc(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=UTC)


# --- summer time ---------------------------------------------------------------------------------------------------

YEARS = range(2024, 2036)  # the last day of March / October falls on every weekday in this range


@pytest.mark.parametrize("year", YEARS)
def test_summer_time_starts_on_the_last_sunday_of_march_at_one_utc(year):
    switch = utc(last_sunday(year, 3), 1)
    assert _paris_offset(switch - timedelta(seconds=1)) == 1
    assert _paris_offset(switch) == 2
    assert _paris_offset(switch - timedelta(days=7)) == 1


@pytest.mark.parametrize("year", YEARS)
def test_summer_time_ends_on_the_last_sunday_of_october_at_one_utc(year):
    switch = utc(last_sunday(year, 10), 1)
    assert _paris_offset(switch - timedelta(seconds=1)) == 2
    assert _paris_offset(switch) == 1
    assert _paris_offset(switch - timedelta(days=7)) == 2


@pytest.mark.parametrize("year", YEARS)
def test_the_spring_gap_is_refused_only_on_its_sunday(year):
    sunday = last_sunday(year, 3)
    with pytest.raises(ValueError, match=r"02:30 does not exist in Paris \(summer-time gap\)"):
        paris_epoch(sunday, 2, 30)
    assert paris_epoch(sunday, 3, 0) - paris_epoch(sunday, 1, 59, 59) == 1
    assert paris_epoch(sunday - timedelta(days=7), 2, 30) == utc(sunday - timedelta(days=7), 1, 30).timestamp()


@pytest.mark.parametrize("year", YEARS)
def test_the_autumn_hour_is_lived_twice(year):
    sunday = last_sunday(year, 10)
    assert paris_epoch(sunday, 3, 0) - paris_epoch(sunday, 1, 59, 59) == 2 * 3600 + 1


def test_paris_epoch_defaults_to_midnight():
    assert paris_epoch(date(2027, 1, 15)) == utc(date(2027, 1, 14), 23).timestamp()
    assert paris_epoch(date(2027, 7, 15)) == utc(date(2027, 7, 14), 22).timestamp()
    assert paris_epoch(date(2027, 7, 15), 8) == utc(date(2027, 7, 15), 6).timestamp()
    assert paris_epoch(date(2027, 7, 15), 8, 5) == utc(date(2027, 7, 15), 6, 5).timestamp()


def test_the_paris_date_turns_at_paris_midnight():
    assert paris_date(utc(date(2027, 1, 14), 22, 59, 59).timestamp()) == date(2027, 1, 14)
    assert paris_date(utc(date(2027, 1, 14), 23).timestamp()) == date(2027, 1, 15)
    assert paris_date(utc(date(2027, 7, 14), 21, 59, 59).timestamp()) == date(2027, 7, 14)
    assert paris_date(utc(date(2027, 7, 14), 22).timestamp()) == date(2027, 7, 15)


# --- attestation and reserves --------------------------------------------------------------------------------------

def test_only_a_direct_means_needs_an_attestation():
    assert not needs_attestation(service(allowed_mie=("psc", "psc-card", "psc-ecps", "psc-delegated")))
    assert needs_attestation(teleservice(allowed_mie=("psc", "cps-pin")))
    assert needs_attestation(teleservice(allowed_mie=("cps-tls",)))
    assert not needs_attestation(service(allowed_mie=("password", "psc")))  # unknown means: not a known direct one


@pytest.mark.parametrize("status, in_force", [("attested", True), ("reserves", True), ("none", False), ("", False)])
def test_an_attestation_is_in_force_only_when_signed(status, in_force):
    svc = teleservice(attestation=Attestation(status, date(2027, 1, 1), date(2027, 12, 31)))
    assert attestation_in_force(svc, date(2027, 6, 1)) is in_force


def test_an_attestation_is_in_force_from_its_signature_to_its_end_both_included():
    svc = teleservice(attestation=attested(signed_on=date(2027, 1, 1), valid_until=date(2027, 12, 31)))
    assert [attestation_in_force(svc, d) for d in (date(2026, 12, 31), date(2027, 1, 1), date(2027, 12, 31),
                                                   date(2028, 1, 1))] == [False, True, True, False]


@pytest.mark.parametrize("signed_on, valid_until", [(None, date(2027, 12, 31)), (date(2027, 1, 1), None), (None, None)])
def test_an_attestation_without_its_dates_is_not_in_force(signed_on, valid_until):
    svc = teleservice(attestation=Attestation("attested", signed_on, valid_until))
    assert attestation_in_force(svc, date(2027, 6, 1)) is False


def test_reserves_are_declared_by_status_or_by_listing_them():
    listed = (Reserve("RIE-PS 08", "plan", date(2027, 6, 1)),)
    assert has_reserves(teleservice(attestation=Attestation("reserves", date(2027, 1, 1), date(2027, 12, 31))))
    assert has_reserves(teleservice(attestation=Attestation("attested", date(2027, 1, 1), date(2027, 12, 31), listed)))
    assert not has_reserves(teleservice(attestation=attested()))
    assert not has_reserves(service())


def test_the_covering_reserve_is_the_one_for_the_requirement():
    svc = teleservice(attestation=with_reserves("RIE-PS 08", "RIE-PS 13"))
    assert covering_reserve(svc, "RIE-PS 13", date(2028, 7, 1)) == svc.attestation.reserves[1]
    assert covering_reserve(svc, "RIE-PS 08", date(2028, 7, 1)) == svc.attestation.reserves[0]
    assert covering_reserve(svc, "RIE-PS 09", date(2028, 7, 1)) is None


def test_a_reserve_covers_only_under_a_reserves_attestation_in_force_until_2028_12_31():
    svc = teleservice(attestation=with_reserves("RIE-PS 13", signed_on=date(2028, 6, 1), valid_until=date(2029, 5, 31)))
    assert covering_reserve(svc, "RIE-PS 13", date(2028, 5, 31)) is None       # not signed yet
    assert covering_reserve(svc, "RIE-PS 13", date(2028, 12, 31)) is not None
    assert covering_reserve(svc, "RIE-PS 13", date(2029, 1, 1)) is None        # reserves are over
    listed_but_attested = teleservice(attestation=Attestation("attested", date(2028, 6, 1), date(2029, 5, 31),
                                                              svc.attestation.reserves))
    assert covering_reserve(listed_but_attested, "RIE-PS 13", date(2028, 7, 1)) is None


# --- standing and limits -------------------------------------------------------------------------------------------

def test_standing_reports_the_paris_day():
    assert standing(service(), utc(date(2027, 7, 14), 22).timestamp()).day == date(2027, 7, 15)


def test_a_psc_only_service_with_expired_reserves_gets_a_warning_not_a_block():
    svc = service(attestation=with_reserves("RIE-PS 13", due=date(2028, 12, 31)), idle_timeout=3600)
    before, after = standing(svc, at(2028, 12, 31)), standing(svc, at(2029, 1, 1))
    assert (before.blocked_by, before.warnings, before.idle_timeout) == ((), (), 3600)
    assert (after.blocked_by, after.warnings, after.idle_timeout) == ((), ("reserves_expired",), 1800)


def test_a_direct_service_with_expired_reserves_is_blocked():
    s = standing(teleservice(attestation=with_reserves("RIE-PS 08")), at(2029, 1, 1))
    assert s.blocked_by == ("reserves_expired",) and s.warnings == ()


def test_an_attestation_without_an_end_date_is_expired():
    s = standing(teleservice(attestation=Attestation("attested", date(2026, 10, 1), None)), at(2027, 1, 5))
    assert s.blocked_by == ("attestation_expired",)


def test_effective_limits_follow_the_two_factor_reserve():
    relaxed = service(require_2fa=False, attestation=with_reserves("RIE-PS 09"))
    assert effective_limits(relaxed, at(2028, 12, 31)) == Limits(1800, 4 * 3600, False)
    assert effective_limits(relaxed, at(2029, 1, 1)) == Limits(1800, 4 * 3600, True)
    assert effective_limits(service(require_2fa=False), at(2028, 12, 31)) == Limits(1800, 4 * 3600, True)
    assert effective_limits(service(idle_timeout=600, max_session=3600), at(2027, 1, 5)) == Limits(600, 3600, True)
