"""bridge.sessions.removal: the capability that lets a workstation's card agent end one session when the card of
its cps-pin login leaves the reader. Single use, bound to one session and one card, never outliving the session."""
from __future__ import annotations

import hashlib

from bridge.clock import Clock
from bridge.login.complete import complete
from bridge.login.transactions import Transactions
from bridge.model import Card
from bridge.sessions import Sessions
from bridge.sessions.removal import Removals, capability_key, watched
from bridge.store.memory import MemoryStore
from tests.unit.test_policy_support import NOW, login, person, service, teleservice

CERT = "ab" * 32
OTHER_CERT = "cd" * 32


class Parts:
    def __init__(self):
        self.clock = Clock(fixed=NOW)
        self.store = MemoryStore(self.clock)
        self.sessions = Sessions(self.store, self.clock)
        self.removals = Removals(self.store, self.sessions, self.clock)
        self.ended: list[tuple[str, str]] = []
        self.sessions.listeners.append(self.removals.session_ended)
        self.sessions.listeners.append(lambda sid, clients, reason, session: self.ended.append((sid, reason)))

    def card_session(self, national_id: str = "810001234567", cert: str = CERT):
        authn = login("cps-pin", identity=person(national_id=national_id),
                      card=Card(type="CPS", serial="2400140649", cert_sha256=cert))
        session = self.sessions.create(authn)
        return session, self.removals.issue(session, cert)


def test_a_capability_is_opaque_random_and_stored_only_hashed():
    parts = Parts()
    session, capability = parts.card_session()
    assert len(capability) >= 43                      # secrets.token_urlsafe(32): 256 bits
    assert parts.card_session()[1] != capability
    digest = hashlib.sha256(capability.encode()).hexdigest()
    record = parts.store.get_json(capability_key(digest))
    assert record["sid"] == session.sid and record["cert"] == CERT
    assert capability not in repr(parts.store._data)  # the store holds no usable capability
    assert "810001234567" not in str(record) and "2400140649" not in str(record)   # no identity in it


def test_it_lives_as_long_as_the_session():
    parts = Parts()
    session, capability = parts.card_session()
    parts.clock.advance(session.deadline - NOW + 1)
    assert parts.removals.use(capability).outcome == "unknown"


def test_it_ends_its_session_once():
    parts = Parts()
    session, capability = parts.card_session()
    use = parts.removals.use(capability)
    assert use.outcome == "ended" and use.sid == session.sid and use.cert_sha256 == CERT
    assert parts.sessions.find(session.sid) is None and parts.ended == [(session.sid, "card_removed")]
    assert parts.removals.use(capability).outcome == "unknown"     # replayed
    assert parts.ended == [(session.sid, "card_removed")]


def test_forged_values_end_nothing():
    parts = Parts()
    session, capability = parts.card_session()
    for forged in ("", "x" * 43, capability + "x", capability[:-1], "x" * 5000, None, 42, ["a"]):
        assert parts.removals.use(forged).outcome == "unknown"
    assert parts.sessions.find(session.sid) is not None and parts.ended == []


def test_another_sessions_capability_leaves_this_one_alone():
    parts = Parts()
    mine, _ = parts.card_session("810000000001", CERT)
    other, theirs = parts.card_session("810000000002", OTHER_CERT)
    assert parts.removals.use(theirs).outcome == "ended"
    assert parts.sessions.find(mine.sid) is not None and parts.sessions.find(other.sid) is None


def test_a_session_ended_otherwise_leaves_a_tombstone_then_nothing():
    parts = Parts()
    session, capability = parts.card_session()
    parts.sessions.end(session.sid, "logout", session)
    use = parts.removals.use(capability)
    assert (use.outcome, use.sid, use.ended_by) == ("session_ended", session.sid, "logout")
    assert parts.removals.use(capability).outcome == "unknown"      # deleted by the answer
    assert parts.ended == [(session.sid, "logout")]                 # nothing ended twice


def test_a_session_now_held_by_another_card_is_not_ended():
    parts = Parts()
    session, capability = parts.card_session()
    parts.sessions.reauthenticated(session, login("cps-pin", card=Card(type="CPS", cert_sha256=OTHER_CERT)), None)
    assert parts.removals.use(capability).outcome == "card_changed"
    assert parts.sessions.find(session.sid) is not None and parts.ended == []


def test_only_cps_pin_logins_of_services_that_say_logout_are_watched():
    card = login("cps-pin", card=Card(type="CPS", cert_sha256=CERT))
    assert watched(teleservice(), card)
    assert not watched(teleservice(on_card_removal="ignore"), card)
    assert not watched(teleservice(), login("psc-card"))
    assert not watched(service(allowed_mie=("psc",)), card)
    assert not watched(teleservice(), login("cps-pin", card=Card(type="CPS")))     # no certificate to bind to


def test_the_login_pipeline_issues_one_only_where_a_session_results():
    parts = Parts()
    transactions = Transactions(parts.store)
    card = login("cps-pin", card=Card(type="CPS", cert_sha256=CERT))

    def run(svc, authn):
        txn = transactions.begin("svc-web", svc.service, "client_id=svc-web", "browser", forced=False)
        return complete(parts.sessions, transactions, svc, txn, authn, None, NOW, removals=parts.removals)

    allowed = run(teleservice(), card)
    assert allowed.kind == "code" and allowed.removal
    assert parts.removals.use(allowed.removal).sid == allowed.session.sid
    assert run(teleservice(on_card_removal="ignore"), card).removal == ""
    assert run(teleservice(), login("psc-card")).removal == ""
    denied = run(teleservice(professions=("21",)), card)
    assert denied.kind == "deny" and denied.removal == ""
