"""The session verdict (bridge/login/flow.py): may an SSO session serve this /authorize, and what after a fresh login?
Pure decisions on the neutral model and a policy: no HTTP, no store."""
from __future__ import annotations

import pytest

from bridge.login.flow import Verdict, after_login, client_expired, for_session, needs_activity_choice
from bridge.model import Card, Exercice
from bridge.sessions import SsoSession
from tests.unit.test_policy_support import NOW, activity, login, person, service, teleservice

DOCTOR = Exercice(profession="10", activities=(activity("S", "CHU"),))
PHARMACIST = Exercice(profession="21", activities=(activity("L", "Pharmacie"),))
TWO_SITES = person(Exercice(profession="10", activities=(activity("L", "Cabinet"), activity("S", "CHU"))))


# --- a client's part of the SSO session ---------------------------------------------------------------------------

def sso(clients: dict | None = None, expired: set | None = None) -> SsoSession:
    return SsoSession(sid="s" * 22, secret="x", authn=login(), created=NOW - 100, deadline=NOW + 3600, seen=NOW,
                      clients=clients or {}, expired_clients=expired or set())


def test_a_client_without_an_entry_has_nothing_expired():
    assert client_expired(sso(), "svc-web", NOW) is None
    assert client_expired(sso({"other": (NOW - 10_000, 60, NOW - 1)}), "svc-web", NOW) is None


def test_a_tombstoned_client_is_expired_whatever_its_timers():
    session = sso({"svc-web": (NOW, 600, NOW + 600)}, expired={"svc-web"})
    assert client_expired(session, "svc-web", NOW) == "client_expired"
    assert client_expired(session, "other", NOW) is None


def test_a_client_idle_timer():
    session = sso({"svc-web": (NOW - 600, 600, NOW + 3600)})
    assert client_expired(session, "svc-web", NOW - 0.001) is None
    assert client_expired(session, "svc-web", NOW) == "idle_expired"


def test_a_client_service_deadline():
    session = sso({"svc-web": (NOW - 10, 600, NOW)})
    assert client_expired(session, "svc-web", NOW - 0.001) is None
    assert client_expired(session, "svc-web", NOW) == "absolute_expired"


def test_the_deadline_is_reported_before_idleness():
    assert client_expired(sso({"svc-web": (NOW - 900, 600, NOW - 1)}), "svc-web", NOW) == "absolute_expired"


# --- reusing the SSO session ----------------------------------------------------------------------------------------

def test_no_session_or_prompt_login_means_a_login():
    assert for_session(service(), None, {}, NOW) == Verdict("login")
    assert for_session(service(), login(), {"prompt": "login"}, NOW) == Verdict("login")
    assert for_session(service(), login(), {"prompt": "consent login"}, NOW) == Verdict("login")


@pytest.mark.parametrize("params", [{}, {"prompt": None}, {"prompt": ""}, {"prompt": "consent"},
                                    {"prompt": "none"}, {"prompt": "logins"}])
def test_a_valid_session_is_reused(params):
    assert for_session(service(), login(), params, NOW) == Verdict("reuse", ())


def test_acr_values_must_include_the_session_acr():
    authn = login()  # acr eidas1
    assert for_session(service(), authn, {"acr_values": "eidas1"}, NOW) == Verdict("reuse")
    assert for_session(service(), authn, {"acr_values": "eidas2 eidas1"}, NOW) == Verdict("reuse")
    assert for_session(service(), authn, {"acr_values": "eidas2"}, NOW) == Verdict("login", ("acr_not_satisfied",))
    assert for_session(service(), authn, {"acr_values": ""}, NOW) == Verdict("reuse")
    assert for_session(service(), authn, {"acr_values": None}, NOW) == Verdict("reuse")


def test_max_age_asks_for_a_newer_login():
    authn = login(auth_time=NOW - 120)
    assert for_session(service(), authn, {"max_age": "120"}, NOW) == Verdict("reuse")
    assert for_session(service(), authn, {"max_age": 120}, NOW) == Verdict("reuse")
    assert for_session(service(), authn, {"max_age": "119"}, NOW) == Verdict("login", ("max_age",))
    assert for_session(service(), authn, {"max_age": 0}, NOW) == Verdict("login", ("max_age",))


@pytest.mark.parametrize("max_age", ["-1", "abc", "1.5", "", None])
def test_a_max_age_that_is_not_a_count_of_seconds_is_ignored(max_age):
    assert for_session(service(), login(auth_time=NOW - 120), {"max_age": max_age}, NOW) == Verdict("reuse")


def test_a_session_with_several_situations_asks_which_one():
    assert for_session(service(), login(identity=TWO_SITES), {}, NOW) == Verdict("activity")
    assert for_session(service(), login(identity=TWO_SITES, selected=(0, 1)), {}, NOW) == Verdict("reuse")


def test_a_filter_that_depends_on_the_situation_asks_which_one():
    svc = service(modes=("S",))
    verdict = for_session(svc, login(identity=TWO_SITES), {}, NOW)
    assert verdict == Verdict("activity", ("activity_required",))
    assert for_session(svc, login(identity=TWO_SITES, selected=(0, 1)), {}, NOW) == Verdict("reuse")


def test_activity_required_with_no_eligible_situation_is_a_denial():
    # An out-of-range selection is refused as activity_required, but the chooser has nothing to offer.
    svc = service(professions=("21",))
    verdict = for_session(svc, login(identity=person(DOCTOR, DOCTOR), selected=(5, 0)), {}, NOW)
    assert verdict == Verdict("deny", ("activity_required",))


def test_activity_required_with_other_reasons_is_not_a_situation_choice():
    svc = service(allowed_mie=("psc-card",), modes=("S",))
    verdict = for_session(svc, login("psc-ecps", identity=TWO_SITES), {}, NOW)
    # Not the chooser (the means is refused anyway), and no step-up either: activity_required is about the person.
    assert verdict == Verdict("deny", ("mie_not_allowed", "activity_required"))


def test_a_login_another_means_would_fix_is_a_step_up():
    svc = service(allowed_mie=("psc-card",))
    assert for_session(svc, login("psc-ecps"), {}, NOW) == Verdict("login", ("mie_not_allowed",))


def test_a_session_too_old_is_a_new_login():
    svc = service(max_session=3600)
    assert for_session(svc, login(auth_time=NOW - 3600), {}, NOW) == Verdict("login", ("session_too_old",))


def test_who_the_person_is_cannot_be_fixed_by_logging_in_again():
    assert for_session(service(professions=("21",)), login(identity=person(DOCTOR)), {}, NOW) \
        == Verdict("deny", ("profession_not_allowed",))


def test_nothing_to_step_up_to_is_a_denial():
    svc = teleservice(allowed_mie=("cps-pin",), card_types=("CPS",))
    verdict = for_session(svc, login("cps-pin", card=Card(type="CPF")), {}, NOW)
    assert verdict == Verdict("deny", ("card_type_not_allowed",))


# --- right after a login -----------------------------------------------------------------------------------------

def test_after_login_an_allowed_login_is_used():
    assert after_login(service(), login(), NOW) == Verdict("reuse")
    assert after_login(service(), login(identity=TWO_SITES), NOW) == Verdict("activity")


def test_after_login_a_refusal_is_final_even_if_another_means_would_do():
    # The user just logged in: sending them to log in again would loop.
    svc = service(allowed_mie=("psc-card",))
    assert after_login(svc, login("psc-ecps"), NOW) == Verdict("deny", ("mie_not_allowed",))
    assert after_login(service(max_session=60), login(auth_time=NOW - 60), NOW) \
        == Verdict("deny", ("session_too_old",))


def test_after_login_a_situation_choice_is_still_offered():
    assert after_login(service(modes=("S",)), login(identity=TWO_SITES), NOW) \
        == Verdict("activity", ("activity_required",))


# --- which situation ------------------------------------------------------------------------------------------------

def test_a_choice_is_needed_only_with_several_activities_and_none_selected():
    assert needs_activity_choice(login(identity=TWO_SITES))
    assert not needs_activity_choice(login(identity=TWO_SITES, selected=(0, 0)))
    assert not needs_activity_choice(login(identity=person(DOCTOR)))
    assert needs_activity_choice(login(identity=person(DOCTOR, PHARMACIST)))
    assert not needs_activity_choice(login(identity=person(Exercice(profession="10"))))
