"""bridge.login.complete: the one rule every upstream follows. The policy runs before any session is created or
replaced; a refused login opens no session; another person at the workstation ends the previous session."""
from __future__ import annotations

import pytest

from bridge.clock import Clock
from bridge.login.complete import choose_activity, complete
from bridge.login.transactions import Transactions
from bridge.model import Exercice
from bridge.sessions import Sessions
from bridge.store.memory import MemoryStore
from tests.unit.test_policy_support import NOW, activity, login, person, service, teleservice

PHARMACIST = person(Exercice(profession="21", activities=(activity("L"),)), national_id="810000000002")
TWO_PLACES = person(Exercice(profession="10", activities=(activity("S", "CHU"), activity("L", "Cabinet"))))


class Parts:
    def __init__(self):
        self.clock = Clock(fixed=NOW)
        store = MemoryStore(self.clock)
        self.sessions, self.transactions = Sessions(store, self.clock), Transactions(store)
        self.ended: list[tuple[str, str]] = []
        self.sessions.listeners.append(lambda sid, clients, reason, session: self.ended.append((sid, reason)))

    def txn(self):
        return self.transactions.begin("svc-web", "svc", "client_id=svc-web", "browser", forced=False)

    def live(self) -> list[str]:
        return [s.authn.identity.national_id for s in self.sessions.list()]


def test_an_allowed_login_opens_a_session_and_ends_the_transaction():
    parts = Parts()
    txn = parts.txn()
    outcome = complete(parts.sessions, parts.transactions, service(), txn, login(), None, NOW,
                       device={"ip": "10.0.0.1", "browser": "Edge 120"})
    assert outcome.kind == "code" and outcome.session is not None and outcome.reasons == ()
    assert parts.live() == ["810001234567"] and outcome.session.device["ip"] == "10.0.0.1"
    assert parts.transactions.get(txn.id) is None                       # one code per login


def test_a_refused_login_opens_no_session():
    parts = Parts()
    txn = parts.txn()
    outcome = complete(parts.sessions, parts.transactions, service(allowed_mie=("psc-card",)), txn,
                       login("psc-ecps"), None, NOW)
    assert outcome.kind == "deny" and outcome.session is None and "mie_not_allowed" in outcome.reasons
    assert parts.live() == [] and parts.transactions.get(txn.id) is None


def test_a_refused_login_by_someone_else_still_ends_the_previous_persons_session():
    parts = Parts()
    previous = complete(parts.sessions, parts.transactions, service(), parts.txn(), login(), None, NOW).session
    outcome = complete(parts.sessions, parts.transactions, service(professions=("10",)), parts.txn(),
                       login(identity=PHARMACIST), previous, NOW)
    assert outcome.kind == "deny" and outcome.session is None
    assert parts.live() == [] and parts.ended == [(previous.sid, "replaced")]


def test_a_refused_step_up_by_the_same_person_keeps_their_session():
    parts = Parts()
    previous = complete(parts.sessions, parts.transactions, service(), parts.txn(), login(), None, NOW).session
    outcome = complete(parts.sessions, parts.transactions, service(allowed_mie=("psc-card",)), parts.txn(),
                       login("psc-ecps"), previous, NOW)
    assert outcome.kind == "deny" and outcome.session is previous and parts.ended == []
    assert parts.live() == ["810001234567"]


def test_the_same_person_again_keeps_the_session_and_its_chosen_situation():
    parts = Parts()
    txn = parts.txn()
    first = complete(parts.sessions, parts.transactions, service(), txn, login(identity=TWO_PLACES), None, NOW)
    assert first.kind == "activity" and first.reasons == () and parts.transactions.get(txn.id).authenticated
    chosen = choose_activity(parts.sessions, parts.transactions, service(), txn, first.session, 0, 1, NOW)
    assert chosen.kind == "code" and chosen.session.authn.selected_activity == (0, 1)
    again = complete(parts.sessions, parts.transactions, service(), parts.txn(),
                     login(identity=TWO_PLACES, auth_time=NOW + 60), chosen.session, NOW + 60)
    assert again.kind == "code" and again.session.sid == first.session.sid
    assert again.authn.selected_activity == (0, 1) and again.authn.auth_time == int(NOW + 60)
    assert parts.ended == [] and parts.live() == ["810001234567"]


def test_another_person_allowed_replaces_the_previous_session():
    parts = Parts()
    previous = complete(parts.sessions, parts.transactions, service(), parts.txn(), login(), None, NOW).session
    outcome = complete(parts.sessions, parts.transactions, service(), parts.txn(), login(identity=PHARMACIST),
                       previous, NOW)
    assert outcome.kind == "code" and outcome.session.sid != previous.sid
    assert parts.ended == [(previous.sid, "replaced")] and parts.live() == ["810000000002"]


def test_a_situation_the_service_refuses_is_a_denial_at_the_choice():
    parts = Parts()
    svc, txn = service(modes=("S",)), parts.txn()
    first = complete(parts.sessions, parts.transactions, svc, txn, login(identity=TWO_PLACES), None, NOW)
    assert first.kind == "activity"
    refused = choose_activity(parts.sessions, parts.transactions, svc, txn, first.session, 0, 1, NOW)   # liberal
    assert refused.kind == "deny" and "mode_not_allowed" in refused.reasons
    assert parts.transactions.get(txn.id) is None


def test_a_login_finished_in_another_tab_gives_no_second_code():
    parts = Parts()
    txn = parts.txn()
    parts.transactions.consume(txn.id)
    outcome = complete(parts.sessions, parts.transactions, service(), txn, login(), None, NOW)
    assert outcome.kind == "txn_invalid"


def test_direct_card_login_goes_through_the_same_rule():
    parts = Parts()
    outcome = complete(parts.sessions, parts.transactions, service(allowed_mie=("psc",)), parts.txn(),
                       login("cps-pin"), None, NOW)
    assert outcome.kind == "deny" and parts.live() == []
    allowed = complete(parts.sessions, parts.transactions, teleservice(service="svc"), parts.txn(),
                       login("cps-pin"), None, NOW)
    assert allowed.kind == "code" and parts.live() == ["810001234567"]



def test_the_login_is_recorded_once_allowed_and_before_any_session():
    parts, seen = Parts(), []

    def succeeded(authn):
        seen.append((authn.identity.national_id, parts.live()))

    complete(parts.sessions, parts.transactions, service(allowed_mie=("psc-card",)), parts.txn(),
             login("psc-ecps"), None, NOW, succeeded=succeeded)
    assert seen == []                                       # refused: not a successful login
    complete(parts.sessions, parts.transactions, service(), parts.txn(), login(), None, NOW, succeeded=succeeded)
    assert seen == [("810001234567", [])]                   # recorded while no session existed yet


def test_a_failing_record_opens_no_session():
    parts = Parts()

    def audit_down(authn):
        raise OSError("audit trail unavailable")

    with pytest.raises(OSError):
        complete(parts.sessions, parts.transactions, service(), parts.txn(), login(), None, NOW, succeeded=audit_down)
    assert parts.live() == []
