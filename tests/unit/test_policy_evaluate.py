"""evaluate(): every referential rule with its reason code, and each calendar boundary crossed in time."""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from bridge.model import Card, Exercice
from bridge.policy import effective_limits, evaluate
from tests.unit.test_policy_support import (
    NOW,
    activity,
    at,
    attested,
    login,
    person,
    service,
    teleservice,
    with_reserves,
)


def reasons(svc, authn, now=NOW) -> tuple[str, ...]:
    return evaluate(svc, authn, now).reasons


# --- allowed MIE --------------------------------------------------------------------------------------------------

def test_psc_allows_every_psc_means():
    for mie in ("psc", "psc-card", "psc-ecps", "psc-delegated"):
        assert evaluate(service(), login(mie), NOW).allowed, mie


def test_only_listed_means_are_accepted():
    svc = service(allowed_mie=("psc-card",))
    assert evaluate(svc, login("psc-card"), NOW).allowed
    assert reasons(svc, login("psc-ecps")) == ("mie_not_allowed",)
    assert reasons(svc, login("psc")) == ("mie_not_allowed",)  # generic PSC does not prove it was the card


def test_direct_card_is_not_a_psc_means():
    assert reasons(service(), login("cps-pin")) == ("mie_not_allowed",)


def test_unknown_means_and_upstream_mismatch_are_refused():
    assert reasons(service(), replace(login("psc-card"), mie="password")) == ("mie_not_allowed",)
    # A login claiming the card means but produced by another upstream cannot be trusted.
    assert reasons(teleservice(), login("cps-pin", upstream="psc")) == ("mie_not_allowed",)


# --- two factors --------------------------------------------------------------------------------------------------

def test_a_single_stated_factor_is_refused():
    assert reasons(service(), login("psc-delegated", amr=("pwd",))) == ("single_factor",)
    assert reasons(service(), login("psc-delegated", amr=("hwk", "swk"))) == ("single_factor",)  # same category


@pytest.mark.parametrize("amr", [("pwd", "otp"), ("swk", "mfa", "pwd", "okta_verify"), ("mfa",), (),
                                 ("okta_verify",), ("pwd", "mfa"), ("face", "hwk")])
def test_two_factors_or_unstated_factors_pass(amr):
    # Unstated (no amr, bare mfa, PSC-specific values): the catalogue's view of the means decides (all are 2FA).
    assert evaluate(service(), login("psc-delegated", amr=amr), NOW).allowed


def test_single_factor_accepted_only_under_a_reserve_until_2028_12_31():
    svc = service(require_2fa=False, attestation=with_reserves("RIE-PS 09"))
    one_factor = login("psc-delegated", amr=("pwd",))
    assert evaluate(svc, login("psc-delegated", amr=("pwd",), auth_time=at(2028, 12, 31)), at(2028, 12, 31)).allowed
    assert reasons(svc, login("psc-delegated", amr=("pwd",), auth_time=at(2029, 1, 1)), at(2029, 1, 1)) \
        == ("single_factor",)
    assert reasons(service(require_2fa=False), one_factor) == ("single_factor",)  # no reserve at all


# --- direct card: historical teleservices and card types ----------------------------------------------------------

def test_direct_card_only_for_historical_teleservices():
    assert evaluate(teleservice(), login("cps-pin"), NOW).allowed
    assert reasons(teleservice(historical_teleservice=False), login("cps-pin")) == ("not_historical_teleservice",)


def test_direct_card_types_are_filtered():
    svc = teleservice(card_types=("CPS",))
    assert evaluate(svc, login("cps-pin", card=Card(type="CPS")), NOW).allowed
    assert reasons(svc, login("cps-pin", card=Card(type="CPF"))) == ("card_type_not_allowed",)
    assert reasons(teleservice(), login("cps-pin", card=Card(type="CPE"))) == ("card_type_not_allowed",)
    assert reasons(teleservice(card_types=("CPS", "CPE")), login("cps-pin", card=Card(type="CPE"))) == ()


def test_direct_login_without_card_is_refused():
    assert reasons(teleservice(), login("cps-pin", card=None)) == ("card_type_not_allowed",)


def test_non_rpps_cards_never_come_through_psc():
    assert reasons(service(), login("psc-card", card=Card(type="CPA"))) == ("card_type_not_allowed",)
    # card_types filters direct logins only: a CPF through PSC is PSC's business.
    assert evaluate(service(card_types=("CPS",)), login("psc-card", card=Card(type="CPF")), NOW).allowed


# --- attestation calendar -----------------------------------------------------------------------------------------

def no_attestation():
    return teleservice(attestation=attested().__class__())


def test_missing_attestation_is_a_warning_until_2026_12_30():
    decision = evaluate(no_attestation(), login("cps-pin", auth_time=at(2026, 12, 30)), at(2026, 12, 30))
    assert decision.allowed and decision.warnings == ("attestation_missing",)


def test_missing_attestation_blocks_direct_means_from_2026_12_31():
    decision = evaluate(no_attestation(), login("cps-pin", auth_time=at(2026, 12, 31)), at(2026, 12, 31))
    assert decision.reasons == ("attestation_missing",)


def test_psc_keeps_working_without_attestation():
    decision = evaluate(no_attestation(), login("psc-card", auth_time=at(2027, 6, 1)), at(2027, 6, 1))
    assert decision.allowed and decision.warnings == ()


def test_the_deadline_is_midnight_in_paris():
    last_second = at(2026, 12, 30, 23, 59, 59)
    first_second = at(2026, 12, 31, 0, 0, 0)
    assert first_second - last_second == 1
    assert datetime.fromtimestamp(first_second, UTC).isoformat() == "2026-12-30T23:00:00+00:00"
    assert evaluate(no_attestation(), login("cps-pin", auth_time=last_second), last_second).allowed
    assert reasons(no_attestation(), login("cps-pin", auth_time=first_second), first_second) == ("attestation_missing",)


def test_attestation_signed_in_the_future_is_not_in_force():
    svc = teleservice(attestation=attested(signed_on=date(2027, 3, 1), valid_until=date(2028, 3, 1)))
    assert reasons(svc, login("cps-pin", auth_time=at(2027, 2, 28)), at(2027, 2, 28)) == ("attestation_missing",)
    assert evaluate(svc, login("cps-pin", auth_time=at(2027, 3, 1)), at(2027, 3, 1)).allowed


def test_attestation_past_valid_until_blocks_direct_means():
    svc = teleservice(attestation=attested(signed_on=date(2026, 10, 1), valid_until=date(2027, 6, 30)))
    assert evaluate(svc, login("cps-pin", auth_time=at(2027, 6, 30)), at(2027, 6, 30)).allowed
    assert reasons(svc, login("cps-pin", auth_time=at(2027, 7, 1)), at(2027, 7, 1)) == ("attestation_expired",)
    assert evaluate(svc, login("psc-ecps", auth_time=at(2027, 7, 1)), at(2027, 7, 1)).allowed


def test_an_expired_attestation_blocks_even_before_the_2026_deadline():
    svc = teleservice(attestation=attested(signed_on=date(2026, 1, 1), valid_until=date(2026, 6, 30)))
    assert reasons(svc, login("cps-pin", auth_time=at(2026, 7, 1)), at(2026, 7, 1)) == ("attestation_expired",)


def test_reserves_are_accepted_until_2028_12_31_then_block():
    svc = teleservice(attestation=with_reserves("RIE-PS 08"))
    assert evaluate(svc, login("cps-pin", auth_time=at(2028, 12, 31)), at(2028, 12, 31)).allowed
    assert reasons(svc, login("cps-pin", auth_time=at(2029, 1, 1)), at(2029, 1, 1)) == ("reserves_expired",)
    assert evaluate(svc, login("psc", auth_time=at(2029, 1, 1)), at(2029, 1, 1)).allowed


def test_an_overdue_reserve_is_a_warning():
    svc = teleservice(attestation=with_reserves("RIE-PS 08", due=date(2028, 9, 1)))
    assert evaluate(svc, login("cps-pin", auth_time=at(2028, 9, 1)), at(2028, 9, 1)).warnings == ()
    assert evaluate(svc, login("cps-pin", auth_time=at(2028, 9, 2)), at(2028, 9, 2)).warnings == ("reserve_overdue",)


# --- session lengths ----------------------------------------------------------------------------------------------

def test_session_lasts_at_most_max_session():
    svc = service(max_session=3600)
    assert evaluate(svc, login(auth_time=NOW - 3599), NOW).allowed
    assert reasons(svc, login(auth_time=NOW - 3600)) == ("session_too_old",)


def test_session_never_outlives_the_upstream_session():
    authn = login(auth_time=NOW - 60, upstream_session={"sid": "s", "deadline": NOW})
    assert reasons(service(), authn, NOW) == ("session_too_old",)
    assert evaluate(service(), authn, NOW - 1).allowed


def test_an_auth_time_in_the_future_is_not_trusted():
    assert evaluate(service(), login(auth_time=NOW + 300), NOW).allowed   # clock skew
    assert reasons(service(), login(auth_time=NOW + 301)) == ("session_too_old",)


def test_timeouts_above_the_caps_hold_only_while_the_reserve_does():
    svc = service(idle_timeout=3600, max_session=6 * 3600, attestation=with_reserves("RIE-PS 13"))
    during = effective_limits(svc, at(2028, 12, 31))
    after = effective_limits(svc, at(2029, 1, 1))
    assert (during.idle_timeout, during.max_session) == (3600, 6 * 3600)
    assert (after.idle_timeout, after.max_session) == (1800, 4 * 3600)
    assert evaluate(svc, login(auth_time=at(2028, 12, 31, 6)), at(2028, 12, 31, 11)).allowed
    assert reasons(svc, login(auth_time=at(2029, 1, 1, 6)), at(2029, 1, 1, 11)) == ("session_too_old",)


def test_a_reserve_on_another_requirement_does_not_lengthen_sessions():
    svc = service(idle_timeout=3600, attestation=with_reserves("RIE-PS 08"))
    assert effective_limits(svc, NOW).idle_timeout == 1800


# --- profession and activity filters ------------------------------------------------------------------------------

DOCTOR = Exercice(profession="10", activities=(activity("S", "CHU"),))
PHARMACIST = Exercice(profession="21", activities=(activity("L", "Pharmacie"),))


def test_profession_filter():
    svc = service(professions=("10",))
    assert evaluate(svc, login(identity=person(DOCTOR)), NOW).allowed
    assert reasons(svc, login(identity=person(PHARMACIST))) == ("profession_not_allowed",)
    assert reasons(svc, login(identity=person(Exercice(profession="", activities=())))) == ("profession_not_allowed",)


def test_profession_of_the_selected_situation_counts():
    svc = service(professions=("10",))
    both = person(DOCTOR, PHARMACIST)
    assert reasons(svc, login(identity=both)) == ("activity_required",)
    assert evaluate(svc, login(identity=both, selected=(0, 0)), NOW).allowed
    assert reasons(svc, login(identity=both, selected=(1, 0))) == ("profession_not_allowed",)
    assert evaluate(service(professions=("10", "21")), login(identity=both), NOW).allowed  # any choice is fine


def test_mode_filter_on_the_selected_activity():
    svc = service(modes=("S",))
    mixed = person(Exercice(profession="10", activities=(activity("L", "Cabinet"), activity("S", "CHU"))))
    assert reasons(svc, login(identity=mixed)) == ("activity_required",)
    assert evaluate(svc, login(identity=mixed, selected=(0, 1)), NOW).allowed
    assert reasons(svc, login(identity=mixed, selected=(0, 0))) == ("mode_not_allowed",)
    assert evaluate(svc, login(identity=person(DOCTOR)), NOW).allowed  # the only activity is salaried


def test_card_login_without_activities_fails_a_mode_filter():
    identity = person(Exercice(profession="10", activities=()))
    assert reasons(teleservice(modes=("S",)), login("cps-pin", identity=identity)) == ("mode_not_allowed",)


def test_an_out_of_range_selection_is_not_trusted():
    assert reasons(service(modes=("S",)), login(selected=(3, 0))) == ("activity_required",)
    assert reasons(service(professions=("10",)), login(selected=(0, -1))) == ("activity_required",)
    assert evaluate(service(), login(selected=(3, 0)), NOW).allowed  # no filter: the selection is irrelevant


def test_every_reason_is_collected():
    svc = teleservice(professions=("21",), card_types=("CPS",), max_session=3600)
    authn = login("cps-pin", card=Card(type="CPF"), amr=("pin",), auth_time=NOW - 7200)
    assert reasons(svc, authn) == ("card_type_not_allowed", "single_factor", "profession_not_allowed",
                                   "session_too_old")
