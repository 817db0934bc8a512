"""One table, three judges: the expiry rule in Python (bridge/sessions/activity.py), the same rule in Lua on a real
redis-server (bridge/sessions/scripts.py, token use and refresh), and the Python twin of the scripts that the memory
store runs. Every case must get the same verdict from all of them, and a use that passes must leave the same
activity behind (compared decoded: Lua prints numbers with %.14g, Python with stamp(), "…600" vs "…600.000")."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from bridge.clock import Clock
from bridge.sessions import activity, session_key
from bridge.sessions.activity import activity_key, encode, stamp
from bridge.sessions.scripts import REFRESH, TOKEN_USE
from bridge.store.memory import MemoryStore
from bridge.store.redis import RedisStore

T0 = 1_800_000_000.0
SID = "S" * 22
CLIENT, FAMILY = "svc-web", "fam-1"
IDLE_MAX = 1800          # the bridge-wide idle timeout (IDP_IDLE_MAX)
ACCESS_TTL, REFRESH_TTL = 300, 4 * 3600
RECORD = json.dumps({"c": CLIENT, "s": "openid", "v": "svc", "f": FAMILY, "e": T0 + 10_000})
SESSION = json.dumps({"secret_hash": "x", "deadline": T0 + 4 * 3600})


def timer(last: float, idle: float, deadline: float) -> str:
    """A client timer, times in seconds after T0."""
    return encode(T0 + last, idle, T0 + deadline)


def seen(t: float) -> dict[str, str]:
    return {"_seen": stamp(T0 + t)}


@dataclass(frozen=True)
class Case:
    name: str
    now: float                       # seconds after T0
    act: dict[str, str]              # the act:{sid} hash
    expected: str
    global_idle: float = IDLE_MAX
    session: bool = True             # sess:{sid} present
    extra: dict = field(default_factory=dict)

    @property
    def stamp(self) -> str:
        return stamp(T0 + self.now)


LIVE = {**seen(0), CLIENT: timer(0, 600, 3600)}           # used at T0, idle 10 min, deadline T0 + 1 h

CASES = [
    Case("fresh", 1, LIVE, "ok"),
    Case("just before the idle limit", 599.999, LIVE, "ok"),
    Case("idle exactly at the limit", 600, LIVE, "idle"),
    Case("just past the idle limit", 600.001, LIVE, "idle"),
    Case("a fractional idle timeout", 600.4, {**seen(0), CLIENT: timer(0, 600.5, 3600)}, "ok"),
    Case("a fractional idle timeout reached", 600.5, {**seen(0), CLIENT: timer(0, 600.5, 3600)}, "idle"),
    Case("just before the absolute deadline", 299.999, {**seen(0), CLIENT: timer(0, 600, 300)}, "ok"),
    Case("absolute deadline exactly", 300, {**seen(0), CLIENT: timer(0, 600, 300)}, "absolute"),
    Case("the deadline is reported before idleness", 700, {**seen(0), CLIENT: timer(0, 600, 300)}, "absolute"),
    Case("a millisecond deadline", 300.25, {**seen(0), CLIENT: timer(0, 600, 300.25)}, "absolute"),
    Case("just before the session idle limit", 299.999, LIVE, "ok", global_idle=300),
    Case("session idle", 300, LIVE, "session_idle", global_idle=300),
    Case("session idle counts from another client's use", 800,
         {**seen(500), CLIENT: timer(0, 1000, 3600)}, "session_idle", global_idle=300),
    Case("another client's use keeps the session alive", 700,
         {**seen(500), CLIENT: timer(0, 1000, 3600)}, "ok", global_idle=300),
    Case("no _seen: the client's own use counts", 300, {CLIENT: timer(0, 600, 3600)}, "session_idle",
         global_idle=300),
    Case("the client's own idle comes before the session's", 600, LIVE, "idle", global_idle=300),
    Case("tombstoned client", 1, {**seen(0), "~" + CLIENT: "idle_expired"}, "client_ended"),
    Case("a tombstone beside a live timer: token checks go by the timer", 1,
         {**LIVE, "~" + CLIENT: "idle_expired"}, "ok"),
    Case("missing client", 1, {**seen(0), "other-web": timer(0, 600, 3600)}, "client_ended"),
    Case("no activity at all", 1, {}, "client_ended"),
    Case("revoked family", 1, {**LIVE, "!f:" + FAMILY: "1"}, "revoked"),
    Case("revoked comes before every timer", 5000, {**LIVE, "!f:" + FAMILY: "1"}, "revoked"),
    Case("another family revoked", 1, {**LIVE, "!f:fam-2": "1"}, "ok"),
    Case("missing session", 1, LIVE, "ended", session=False),
    Case("missing session and activity", 1, {}, "ended", session=False),
]


# --- the three judges ----------------------------------------------------------------------------------------------

def python_verdict(case: Case) -> str:
    # A missing sess:{sid} ends everything before any timer is read (the scripts check it first).
    if not case.session:
        return "ended"
    return activity.check(case.act, CLIENT, FAMILY, float(case.stamp), case.global_idle)


TOKEN, USED, NEW_AT, NEW_RT = (f"{kind}:{{{SID}}}:{name}" for kind, name in
                               (("rt", "old"), ("rtu", "old"), ("at", "new"), ("rt", "new")))


def seed(store, case: Case) -> None:
    store.delete(TOKEN, USED, NEW_AT, NEW_RT, session_key(SID), activity_key(SID))
    store.set(TOKEN, RECORD, 3600)
    if case.session:
        store.set(session_key(SID), SESSION, 3600)
    if case.act:
        store.hash_set(activity_key(SID), case.act, 3600)


def token_use(store, case: Case, touch: bool) -> list:
    seed(store, case)
    return store.run(TOKEN_USE, [TOKEN, session_key(SID), activity_key(SID)],
                     [case.stamp, case.global_idle, "1" if touch else "0"])


def refresh(store, case: Case) -> list:
    seed(store, case)
    return store.run(REFRESH, [TOKEN, USED, session_key(SID), activity_key(SID), NEW_AT, NEW_RT],
                     [case.stamp, case.global_idle, CLIENT, ACCESS_TTL, REFRESH_TTL])


@pytest.fixture
def lua(redis_url):
    return RedisStore.from_url(redis_url)


def memory(case: Case) -> MemoryStore:
    return MemoryStore(Clock(fixed=T0 + case.now))


# --- agreement -------------------------------------------------------------------------------------------------------

def test_the_cases_cover_every_verdict():
    assert {c.expected for c in CASES} == {"ok", "idle", "absolute", "session_idle", "client_ended", "revoked",
                                           "ended"}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_python_lua_and_memory_agree_on_a_check(lua, case):
    assert python_verdict(case) == case.expected
    for store in (lua, memory(case)):
        reply = token_use(store, case, touch=False)
        assert reply[0] == case.expected, type(store).__name__
        assert store.hash_get_all(activity_key(SID)) == case.act   # a check without touch writes nothing
    assert token_use(lua, case, touch=False) == token_use(memory(case), case, touch=False)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_python_lua_and_memory_agree_on_a_use(lua, case):
    mem = memory(case)
    replies = token_use(lua, case, touch=True), token_use(mem, case, touch=True)
    assert replies[0] == replies[1] and replies[0][0] == case.expected
    after = [activity.read(store.hash_get_all(activity_key(SID))) for store in (lua, mem)]
    assert after[0] == after[1]
    if case.expected == "ok":   # the client's timer and the session's restart from now, same limits
        _, idle, deadline = activity.decode(case.act[CLIENT])
        assert after[0].clients[CLIENT] == (float(case.stamp), idle, deadline)
        assert after[0].seen == float(case.stamp)
    else:
        assert after[0] == activity.read(case.act)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_python_lua_and_memory_agree_on_a_refresh(lua, case):
    mem = memory(case)
    replies = refresh(lua, case), refresh(mem, case)
    assert replies[0][0] == replies[1][0] == case.expected
    assert replies[0][:3] == replies[1][:3]
    after = [activity.read(store.hash_get_all(activity_key(SID))) for store in (lua, mem)]
    assert after[0] == after[1]
    if case.expected == "ok":
        deadline = activity.decode(case.act[CLIENT])[2]
        now = float(case.stamp)
        assert [float(x) for x in replies[0][3:]] == [float(x) for x in replies[1][3:]] \
            == [min(now + ACCESS_TTL, deadline), min(now + REFRESH_TTL, deadline)]
        for store in (lua, mem):
            assert store.get(TOKEN) is None and store.get(USED) == FAMILY
            new = [json.loads(store.get(key)) for key in (NEW_AT, NEW_RT)]
            assert [t["e"] for t in new] == [float(x) for x in replies[0][3:]]
        assert after[0].clients[CLIENT][0] == now
    else:
        assert after[0] == activity.read(case.act)
        for store in (lua, mem):
            assert store.get(NEW_AT) is None and store.get(NEW_RT) is None


def test_a_rotated_refresh_token_replayed_revokes_its_family_in_both(lua):
    case = CASES[0]
    mem = memory(case)
    for store in (lua, mem):
        seed(store, case)
        store.delete(TOKEN)
        store.set(USED, FAMILY, 3600)
        assert store.run(REFRESH, [TOKEN, USED, session_key(SID), activity_key(SID), NEW_AT, NEW_RT],
                         [case.stamp, case.global_idle, CLIENT, ACCESS_TTL, REFRESH_TTL]) == ["reused"]
        assert python_verdict(Case("", case.now, store.hash_get_all(activity_key(SID)), "")) == "revoked"


@pytest.mark.parametrize("presented, use_status, refresh_status", [
    ("", "wrong_key", "wrong_key"), ("other", "wrong_key", "wrong_key"), ("K", "ok", "ok")])
def test_dpop_bound_tokens_agree_in_lua_and_memory(lua, presented, use_status, refresh_status):
    """A token bound to a DPoP key (`j`, RFC 9449) is used and refreshed only with that key, in both twins; the
    rotated refresh token keeps the binding and the new access token is bound to the key presented."""
    case = CASES[0]
    bound = json.dumps({**json.loads(RECORD), "j": "K"})
    for store in (lua, memory(case)):
        seed(store, case)
        store.set(TOKEN, bound, 3600)
        args = [case.stamp, case.global_idle, "0"]
        assert store.run(TOKEN_USE, [TOKEN, session_key(SID), activity_key(SID)], args + [presented])[0] == use_status
        assert store.run(TOKEN_USE, [TOKEN, session_key(SID), activity_key(SID)], args)[0] == "ok"  # no check
        reply = store.run(REFRESH, [TOKEN, USED, session_key(SID), activity_key(SID), NEW_AT, NEW_RT],
                          [case.stamp, case.global_idle, CLIENT, ACCESS_TTL, REFRESH_TTL, presented])
        assert reply[0] == refresh_status
        if refresh_status == "ok":
            assert json.loads(store.get(NEW_AT))["j"] == "K" and json.loads(store.get(NEW_RT))["j"] == "K"
        else:
            assert store.get(TOKEN) == bound and store.get(NEW_AT) is None   # refused: nothing rotated


@pytest.mark.parametrize("stored, presented, status", [
    ("", "x5t#S256:C", "ok"), ("x5t#S256:C", "x5t#S256:C", "ok"), ("x5t#S256:C", "x5t#S256:D", "wrong_key"),
    ("x5t#S256:C", "", "wrong_key"), ("K", "x5t#S256:C", "wrong_key")])
def test_certificate_bound_tokens_agree_in_lua_and_memory(lua, stored, presented, status):
    """A bearer use with a client certificate (RFC 8705) passes the certificate's binding and '1': an unbound token
    is accepted, a token bound to that certificate too, any other binding is `wrong_key` — in both twins."""
    case = CASES[0]
    record = json.dumps({**json.loads(RECORD), **({"j": stored} if stored else {})})
    for store in (lua, memory(case)):
        seed(store, case)
        store.set(TOKEN, record, 3600)
        args = [case.stamp, case.global_idle, "0", presented] + (["1"] if presented else [])
        assert store.run(TOKEN_USE, [TOKEN, session_key(SID), activity_key(SID)], args)[0] == status
