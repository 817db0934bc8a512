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


def test_browser_label_says_browser_and_system_without_keeping_the_user_agent():
    from bridge.sessions import browser_label

    assert browser_label("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                         "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91") == "Edge 120 · Windows"
    assert browser_label("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 "
                         "Firefox/128.0") == "Firefox 128 · Linux"
    assert browser_label("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
                         "Gecko) Version/17.0 Mobile/15E148 Safari/604.1") == "Safari 17 · iOS"
    assert browser_label("curl/8.5.0") == "curl/8.5.0" and browser_label("") == "?"


def test_the_workstation_is_kept_with_the_session_and_listed():
    clock = Clock(fixed=1_800_000_000)
    sessions = Sessions(MemoryStore(clock), clock)
    created = sessions.create(authn("899700000001", clock.now()), device={"ip": "10.1.2.3", "browser": "Edge 120"})
    assert [s.device for s in sessions.list()] == [{"ip": "10.1.2.3", "browser": "Edge 120"}]
    assert sessions.load(created.cookie).device["ip"] == "10.1.2.3"
    assert "device" not in sessions.create(authn("899700000002", clock.now())).record()   # nothing stored for nothing
