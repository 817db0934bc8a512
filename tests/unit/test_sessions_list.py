"""Sessions.list(): the live sessions for the admin console, read-only and without their secrets."""
from __future__ import annotations

from bridge.clock import Clock
from bridge.model import Authentication, Identity
from bridge.sessions import Sessions
from bridge.store.memory import MemoryStore


def authn(national_id: str, now: float) -> Authentication:
    return Authentication(identity=Identity(national_id), mie="psc-card", amr=("sc", "pin"), acr="eidas1",
                          auth_time=int(now), upstream="psc")


def test_list_shows_live_sessions_with_client_timers_and_no_secret():
    clock = Clock(fixed=1_800_000_000)
    sessions = Sessions(MemoryStore(clock), clock)
    first = sessions.create(authn("899700000001", clock.now()))
    second = sessions.create(authn("899700000002", clock.now()))
    sessions.touch(first, "dpi-web", 900, 4 * 3600)
    listed = {s.sid: s for s in sessions.list()}
    assert set(listed) == {first.sid, second.sid}
    assert listed[first.sid].clients["dpi-web"][1] == 900.0
    assert all(s.secret == "" for s in listed.values())
    assert sessions.load(first.cookie) is not None            # listing touched nothing
    sessions.end(second.sid, "admin_kill", second)
    assert [s.sid for s in sessions.list()] == [first.sid]
