"""The act:{sid} hash and the one expiry rule (bridge/sessions/activity.py): pure functions, no store.
The same rule in Lua: tests/integration/test_session_verdict_lua.py."""
from __future__ import annotations

import math

import pytest

from bridge.sessions import activity
from bridge.sessions.activity import (
    Activity,
    check,
    decode,
    due,
    encode,
    expired,
    is_client,
    read,
    revoked_family,
    stamp,
    tombstone,
    touched,
    verdict,
)

NOW = 1_800_000_000.0


# --- encoding ------------------------------------------------------------------------------------------------------

def test_keys_and_field_names():
    assert activity.activity_key("abc") == "act:{abc}"
    assert tombstone("svc-web") == "~svc-web"
    assert revoked_family("fam-1") == "!f:fam-1"
    assert activity.SEEN == "_seen"


def test_times_are_stored_to_the_millisecond():
    assert stamp(NOW) == "1800000000.000"
    assert stamp(NOW + 0.1234) == "1800000000.123"
    assert stamp(NOW + 0.9996) == "1800000001.000"


@pytest.mark.parametrize("idle, text", [(600, "600"), (600.0, "600"), (14400, "14400"), (600.5, "600.5"),
                                        (1_000_000, "1000000")])
def test_a_timer_is_last_idle_deadline(idle, text):
    assert encode(NOW, idle, NOW + 3600) == f"1800000000.000|{text}|1800003600.000"


def test_an_encoded_timer_decodes_to_the_same_numbers():
    assert decode(encode(NOW + 0.25, 600, NOW + 3600.5)) == (NOW + 0.25, 600.0, NOW + 3600.5)
    assert decode("1|2|3") == (1.0, 2.0, 3.0)   # what Lua writes (%.14g) decodes too
    assert decode(None) is None and decode("") is None


def test_a_malformed_timer_is_an_error_not_a_guess():
    with pytest.raises(ValueError):
        decode("1|2")
    with pytest.raises(ValueError):
        decode("1|2|x")


def test_a_use_restarts_the_client_timer_and_the_session_one():
    assert touched("svc-web", NOW, 600, NOW + 3600) == {"svc-web": "1800000000.000|600|1800003600.000",
                                                       "_seen": "1800000000.000"}


def test_only_plain_names_are_clients():
    assert is_client("svc-web") and is_client("a_b") and is_client("x~!")
    assert not any(map(is_client, ["_seen", "~svc-web", "!f:fam-1"]))


def test_reading_the_hash_back():
    act = {"_seen": "1800000100.000", "svc-web": "1800000100.000|600|1800003600.000", "~old-web": "idle_expired",
           "!f:fam-1": "1", "other": "1800000050.5|900|1800001000"}
    assert read(act) == Activity(seen=NOW + 100, clients={"svc-web": (NOW + 100, 600.0, NOW + 3600),
                                                          "other": (NOW + 50.5, 900.0, NOW + 1000)},
                                 expired={"old-web"})
    assert read({}) == Activity(seen=None, clients={}, expired=set())


# --- the rule --------------------------------------------------------------------------------------------------------

TIMER = (NOW - 100, 600.0, NOW + 1000)  # used 100 s ago, idle 10 min, deadline in 1000 s


@pytest.mark.parametrize("now, expected", [
    (NOW, "ok"),
    (NOW - 100 + 599.999, "ok"),
    (NOW - 100 + 600, "idle"),             # the limit is reached at it
    (NOW + 999.999, "idle"),
    (NOW + 1000, "absolute"),              # the deadline is reported before idleness
    (NOW + 5000, "absolute"),
])
def test_one_timer(now, expected):
    assert verdict(now, TIMER) == expected


def test_a_deadline_before_the_idle_limit():
    timer = (NOW - 10, 600.0, NOW + 5)
    assert verdict(NOW + 4.999, timer) == "ok"
    assert verdict(NOW + 5, timer) == "absolute"


def test_session_idle_counts_from_the_last_activity_of_any_client():
    assert verdict(NOW, TIMER, seen=NOW - 50, global_idle=50) == "session_idle"
    assert verdict(NOW, TIMER, seen=NOW - 49.999, global_idle=50) == "ok"
    # without a session-wide time, the client's own last use counts
    assert verdict(NOW, TIMER, seen=None, global_idle=100) == "session_idle"
    assert verdict(NOW, TIMER, seen=None, global_idle=100.001) == "ok"
    # the client's own limits come first
    assert verdict(NOW + 500, TIMER, seen=NOW - 10_000, global_idle=60) == "idle"
    assert verdict(NOW + 1000, TIMER, seen=NOW - 10_000, global_idle=60) == "absolute"


def test_a_revoked_family_and_a_missing_client_come_before_the_timers():
    assert verdict(NOW, TIMER, revoked=True) == "revoked"
    assert verdict(NOW, None) == "client_ended"
    assert verdict(NOW, None, revoked=True) == "revoked"
    assert verdict(NOW + 10_000, TIMER, revoked=True) == "revoked"


def test_a_token_check_reads_the_fields_the_lua_reads():
    act = {"_seen": stamp(NOW - 50), "svc-web": encode(*TIMER), "~svc-web": "idle_expired", "!f:fam-2": "1"}
    assert check(act, "svc-web", "fam-1", NOW, 1800) == "ok"
    assert check(act, "svc-web", "fam-1", NOW, 50) == "session_idle"
    assert check(act, "svc-web", "fam-2", NOW, 1800) == "revoked"
    assert check(act, "other-web", "fam-1", NOW, 1800) == "client_ended"
    assert check({"~svc-web": "idle_expired"}, "svc-web", "fam-1", NOW, 1800) == "client_ended"
    assert check({}, "svc-web", "fam-1", NOW, 1800) == "client_ended"
    # an empty revocation flag is no revocation (Lua never sees one: HSET writes "1")
    assert check({**act, "!f:fam-1": ""}, "svc-web", "fam-1", NOW, 1800) == "ok"


@pytest.mark.parametrize("now, expected", [(NOW, None), (NOW + 500, "idle_expired"), (NOW + 1000, "absolute_expired")])
def test_expiry_reasons(now, expected):
    assert expired(now, TIMER) == expected


def test_no_timer_is_no_expiry():
    assert expired(NOW, None) is None


def test_the_session_is_a_timer_too():
    session = (NOW - 1800, 1800, NOW + 60)   # (seen, bridge-wide idle, deadline)
    assert expired(NOW - 0.001, session) is None
    assert expired(NOW, session) == "idle_expired"
    assert expired(NOW + 60, session) == "absolute_expired"


def test_when_a_timer_is_due():
    assert due(TIMER) == NOW + 500
    assert due((NOW, 600, NOW + 10)) == NOW + 10
    assert due((NOW, math.inf, NOW + 10)) == NOW + 10
