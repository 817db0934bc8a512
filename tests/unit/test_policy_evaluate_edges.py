"""evaluate() on malformed or borderline logins (it must deny, never raise), factor counting as documented in
factor_categories, and the attestation warning that concerns direct means only. Complements test_policy_evaluate."""
from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from bridge.mie import CATALOGUE
from bridge.model import Card, Exercice
from bridge.policy import Attestation, evaluate
from bridge.policy.evaluate import factor_categories
from tests.unit.test_policy_support import NOW, activity, at, login, person, service, teleservice, with_reserves

KNOW, HAVE, BE = "knowledge", "possession", "inherence"
DELEGATED = CATALOGUE["psc-delegated"]


# --- factors ---------------------------------------------------------------------------------------------------------

def test_two_stated_categories_are_the_proof_even_with_mfa():
    # The stated amr wins when it names factors: inherence + knowledge, not the catalogue's possession.
    assert factor_categories(DELEGATED, ["face", "pwd", "mfa"]) == {BE, KNOW}
    assert factor_categories(DELEGATED, ("face", "pwd")) == {BE, KNOW}
    assert factor_categories(DELEGATED, ["face", "pwd", "otp"]) == {BE, KNOW, HAVE}


def test_one_stated_category_with_mfa_is_read_with_the_catalogue():
    assert factor_categories(DELEGATED, ["face", "mfa"]) == {BE, KNOW, HAVE}
    assert factor_categories(DELEGATED, ["face"]) == {BE}


@pytest.mark.parametrize("amr", [None, "pwd", {"pwd"}, {"pwd": 1}, 7, ["mfa"], [], ["okta_verify"], [1, None]])
def test_an_amr_naming_no_factor_leaves_the_catalogue_to_decide(amr):
    assert factor_categories(DELEGATED, amr) == DELEGATED.factors


def test_non_string_amr_values_are_skipped():
    assert factor_categories(DELEGATED, ["pwd", 3, None]) == {KNOW}


# --- malformed logins: denied, never an exception ---------------------------------------------------------------------

def test_a_refusal_is_allowed_false_not_just_falsy():
    decision = evaluate(service(allowed_mie=("psc-card",)), login("psc-ecps"), NOW)
    assert decision.allowed is False and decision.reasons == ("mie_not_allowed",)
    assert evaluate(service(), login(), NOW).allowed is True


@pytest.mark.parametrize("mie", [None, ["psc-card"], {"psc-card": 1}, 3])
def test_a_means_that_is_not_a_name_is_not_allowed(mie):
    assert evaluate(service(), replace(login(), mie=mie), NOW).reasons == ("mie_not_allowed",)


@pytest.mark.parametrize("card_type", [["CPA"], None, 7, {"CPA"}])
def test_a_card_type_that_is_not_a_name_is_ignored_through_psc(card_type):
    assert evaluate(service(), login("psc-card", card=Card(type=card_type)), NOW).allowed


@pytest.mark.parametrize("card_type", [["CPS"], None, 7])
def test_a_card_type_that_is_not_a_name_is_refused_for_a_direct_login(card_type):
    decision = evaluate(teleservice(), login("cps-pin", card=Card(type=card_type)), NOW)
    assert decision.reasons == ("card_type_not_allowed",)


@pytest.mark.parametrize("upstream_session", [None, ["deadline"], "deadline", 0])
def test_an_upstream_session_that_is_not_an_object_has_no_deadline(upstream_session):
    assert evaluate(service(), replace(login(), upstream_session=upstream_session), NOW).allowed


@pytest.mark.parametrize("deadline", [True, "2000", None, [1]])
def test_an_upstream_deadline_that_is_not_a_number_is_ignored(deadline):
    assert evaluate(service(), login(upstream_session={"deadline": deadline}), NOW).allowed


@pytest.mark.parametrize("auth_time", [None, "yesterday", float("nan"), float("inf"), 10 ** 400, [NOW]])
def test_an_auth_time_that_is_not_a_time_is_too_old(auth_time):
    assert evaluate(service(), replace(login(), auth_time=auth_time), NOW).reasons == ("session_too_old",)


# --- mode filter over several exercices -------------------------------------------------------------------------------

SALARIED = Exercice(profession="10", activities=(activity("S", "CHU"),))
SALARIED_TOO = Exercice(profession="21", activities=(activity("S", "Clinique"),))
LIBERAL = Exercice(profession="21", activities=(activity("L", "Officine"),))


def test_the_mode_filter_looks_at_every_exercice_when_none_is_chosen():
    svc = service(modes=("S",))
    assert evaluate(svc, login(identity=person(SALARIED, SALARIED_TOO)), NOW).allowed
    assert evaluate(svc, login(identity=person(SALARIED, LIBERAL)), NOW).reasons == ("activity_required",)
    assert evaluate(service(modes=("B",)), login(identity=person(SALARIED, LIBERAL)), NOW).reasons \
        == ("mode_not_allowed",)


def test_profession_and_mode_filters_report_activity_required_once():
    svc = service(professions=("10",), modes=("S",))
    assert evaluate(svc, login(identity=person(SALARIED, LIBERAL)), NOW).reasons == ("activity_required",)


# --- warnings ---------------------------------------------------------------------------------------------------------

def no_attestation():
    return teleservice(attestation=Attestation())


def test_the_missing_attestation_warning_is_for_direct_logins_only():
    before_deadline = at(2026, 12, 30)
    direct = evaluate(no_attestation(), login("cps-pin", auth_time=before_deadline), before_deadline)
    psc = evaluate(no_attestation(), login("psc-card", auth_time=before_deadline), before_deadline)
    assert (direct.allowed, direct.warnings) == (True, ("attestation_missing",))
    assert (psc.allowed, psc.warnings) == (True, ())


def test_a_reserve_warning_concerns_every_login():
    svc = teleservice(attestation=with_reserves("RIE-PS 08", due=date(2028, 9, 1)))
    for mie in ("cps-pin", "psc-card"):
        assert evaluate(svc, login(mie, auth_time=at(2028, 9, 2)), at(2028, 9, 2)).warnings == ("reserve_overdue",)
