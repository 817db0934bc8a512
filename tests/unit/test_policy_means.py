"""login_means (the chooser), step_up_means (after a denial) and eligible_activities (situation chooser)."""
from __future__ import annotations

from datetime import date

from bridge.model import Card, Exercice
from bridge.policy import Attestation, eligible_activities, login_means, step_up_means
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


def ids(means) -> list[str]:
    return [m.id for m in means]


def test_psc_comes_first_whatever_the_file_order():
    assert ids(login_means(teleservice(allowed_mie=("cps-tls", "cps-pin", "psc")), NOW)) == ["psc", "cps-pin",
                                                                                           "cps-tls"]


def test_psc_stands_alone_for_every_psc_means():
    assert ids(login_means(service(allowed_mie=("psc-ecps", "psc", "psc-card")), NOW)) == ["psc"]


def test_listed_psc_means_in_catalogue_order():
    assert ids(login_means(service(allowed_mie=("psc-delegated", "psc-card")), NOW)) == ["psc-card", "psc-delegated"]


def test_direct_means_leave_the_chooser_when_the_calendar_blocks_them():
    svc = teleservice(attestation=Attestation())
    assert ids(login_means(svc, at(2026, 12, 30))) == ["psc", "cps-pin"]
    assert ids(login_means(svc, at(2026, 12, 31))) == ["psc"]
    expired = teleservice(attestation=attested(valid_until=date(2027, 6, 30)))
    assert ids(login_means(expired, at(2027, 7, 1))) == ["psc"]
    reserves = teleservice(attestation=with_reserves())
    assert ids(login_means(reserves, at(2028, 12, 31))) == ["psc", "cps-pin"]
    assert ids(login_means(reserves, at(2029, 1, 1))) == ["psc"]


def test_direct_means_never_offered_to_a_non_historical_service():
    assert ids(login_means(teleservice(historical_teleservice=False), NOW)) == ["psc"]


def test_no_step_up_when_the_login_is_fine():
    assert step_up_means(service(), login("psc-card"), NOW) == []


def test_step_up_to_the_listed_psc_means():
    svc = service(allowed_mie=("psc-card",))
    assert ids(step_up_means(svc, login("psc-ecps"), NOW)) == ["psc-card"]


def test_a_too_old_session_can_be_renewed_with_the_same_means():
    svc = teleservice(max_session=3600)
    assert ids(step_up_means(svc, login("cps-pin", auth_time=NOW - 7200), NOW)) == ["psc", "cps-pin"]


def test_a_refused_card_is_not_proposed_again():
    svc = teleservice(card_types=("CPS",))
    assert ids(step_up_means(svc, login("cps-pin", card=Card(type="CPF")), NOW)) == ["psc"]


def test_a_blocked_direct_means_steps_up_to_psc():
    svc = teleservice(attestation=Attestation())
    assert ids(step_up_means(svc, login("cps-pin", auth_time=at(2027, 1, 5)), at(2027, 1, 5))) == ["psc"]


def test_a_single_factor_login_steps_up_to_another_means():
    svc = service(allowed_mie=("psc-card", "psc-delegated"))
    assert ids(step_up_means(svc, login("psc-delegated", amr=("pwd",)), NOW)) == ["psc-card"]


def test_nothing_to_step_up_to_when_the_person_is_not_admitted():
    assert step_up_means(service(professions=("21",)), login("psc-ecps"), NOW) == []
    assert step_up_means(service(allowed_mie=("psc-card",), professions=("21",)), login("psc-ecps"), NOW) == []
    mixed = person(Exercice(profession="10", activities=(activity("L"), activity("S"))))
    assert step_up_means(service(modes=("S",)), login(identity=mixed), NOW) == []


def test_eligible_activities_follow_the_filters():
    identity = person(Exercice(profession="10", activities=(activity("L"), activity("S"))),
                      Exercice(profession="21", activities=(activity("S"),)))
    authn = login(identity=identity)
    assert eligible_activities(service(), authn) == [(0, 0), (0, 1), (1, 0)]
    assert eligible_activities(service(modes=("S",)), authn) == [(0, 1), (1, 0)]
    assert eligible_activities(service(modes=("S",), professions=("10",)), authn) == [(0, 1)]
