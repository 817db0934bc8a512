"""Codes, access and refresh tokens (bridge/provider/tokens.py) on the in-memory store with a fixed clock: format,
expiry, single use, rotation, families and revocation, and what a token check reports about its session."""
from __future__ import annotations

import hashlib

import pytest

from bridge.clock import Clock
from bridge.provider.tokens import ACCESS_TTL, CODE_TTL, REFRESH_TTL, Tokens, TokenUse, new_token, split
from bridge.sessions import IDP_IDLE_MAX, Sessions, activity_key, session_key
from bridge.store.memory import MemoryStore
from tests.unit.test_policy_support import login

T0 = 1_800_000_000.0
CLIENT, OTHER_CLIENT = "svc-web", "other-web"
IDLE, MAX_SESSION = 600, 3600


class World:
    """One SSO session with CLIENT registered (idle 10 min, service deadline 1 h after login)."""

    def __init__(self, idle_max: int = IDP_IDLE_MAX):
        self.clock = Clock(fixed=T0)
        self.store = MemoryStore(self.clock)
        self.sessions = Sessions(self.store, self.clock, idle_max)
        self.tokens = Tokens(self.store, self.clock, idle_max)
        self.session = self.sessions.create(login("psc-card", auth_time=T0))
        self.sid = self.session.sid
        self.sessions.touch(self.session, CLIENT, IDLE, MAX_SESSION)
        self.deadline = T0 + MAX_SESSION

    def issue(self, family: str = "fam-1", deadline: float | None = None, refresh: bool = True,
              client: str = CLIENT) -> dict:
        return self.tokens.issue(self.sid, client, "openid profile", "svc", family,
                                 self.deadline if deadline is None else deadline, refresh=refresh)

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def activity(self) -> dict:
        return self.store.hash_get_all(activity_key(self.sid))


@pytest.fixture
def world() -> World:
    return World()


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


# --- format ------------------------------------------------------------------------------------------------------

def test_a_new_token_is_the_sid_a_dot_and_256_random_bits():
    sid = "A" * 22
    token = new_token(sid)
    head, _, tail = token.partition(".")
    assert head == sid and len(tail) == 43 and split(token) == sid
    assert new_token(sid) != token


@pytest.mark.parametrize("token", [
    None, "", "no-dot-at-all", "." + "b" * 20, "a" * 16 + ".", "a" * 15 + "." + "b" * 20, "a" * 65 + "." + "b" * 20,
    "a" * 16 + "." + "b" * 19, "a" * 16 + "." + "b" * 129, "a" * 16 + ".b" * 10 + "b", "a/" * 8 + "." + "b" * 20,
    " " + "a" * 16 + "." + "b" * 20, "a" * 16 + "." + "b" * 20 + "=",
])
def test_malformed_tokens_have_no_sid(token):
    assert split(token) is None


@pytest.mark.parametrize("sid, rest", [("a" * 16, "b" * 20), ("Z" * 64, "y" * 128), ("a-b_C9" * 3, "-_" * 15)])
def test_well_formed_tokens_give_their_sid(sid, rest):
    assert split(f"{sid}.{rest}") == sid


# --- authorization codes ---------------------------------------------------------------------------------------

def test_a_code_works_once_and_is_stored_hashed(world):
    code = new_token(world.sid)
    world.tokens.save_code(code, {"client_id": CLIENT, "family": "fam-1"})
    key = f"code:{{{world.sid}}}:{sha256(code)}"
    assert world.store.ttl(key) == CODE_TTL
    assert world.tokens.take_code(code) == ({"client_id": CLIENT, "family": "fam-1"}, False)
    assert world.store.get(key) is None


def test_a_code_replayed_revokes_its_family_and_only_it(world):
    code = new_token(world.sid)
    world.tokens.save_code(code, {"client_id": CLIENT, "family": "fam-1"})
    world.tokens.take_code(code)
    issued, other = world.issue("fam-1"), world.issue("fam-2")
    assert world.tokens.take_code(code) == (None, True)
    assert world.tokens.use_access(issued["access_token"]).status == "revoked"
    assert world.tokens.use_access(other["access_token"]).status == "ok"
    assert world.activity()["!f:fam-1"] == "1" and "!f:fam-2" not in world.activity()


def test_taking_a_code_is_one_round_trip_on_redis_with_the_same_answers(redis_url):
    """The TAKE_CODE script (GETDEL + the used-marker, in Lua): the memory store's answers, and one command sent."""
    import redis

    from bridge.store import open_store

    store, admin = open_store(redis_url), redis.Redis.from_url(redis_url, decode_responses=True)
    sessions, tokens = Sessions(store, Clock()), Tokens(store, Clock())
    sid = sessions.create(login("psc-card")).sid
    sessions.touch(sessions.find(sid), CLIENT, IDLE, MAX_SESSION)
    code = new_token(sid)
    tokens.save_code(code, {"client_id": CLIENT, "family": "fam-r"})
    issued = tokens.issue(sid, CLIENT, "openid", "svc", "fam-r", Clock().now() + MAX_SESSION)

    def scripts():
        stats = admin.info("commandstats")
        return sum(int(stats.get(f"cmdstat_{c}", {}).get("calls", 0)) for c in ("evalsha", "eval"))
    before = scripts()
    assert tokens.take_code(code) == ({"client_id": CLIENT, "family": "fam-r"}, False)
    assert scripts() - before in (1, 2)   # EVALSHA (a first EVAL loads it once)
    assert 590 < admin.ttl(f"codeu:{{{sid}}}:{hashlib.sha256(code.encode()).hexdigest()}") <= 600
    assert tokens.take_code(code) == (None, True)   # replayed: its family revoked
    assert tokens.use_access(issued["access_token"]).status == "revoked"
    assert tokens.take_code(new_token(sid)) == (None, False)


def test_the_consumed_code_marker_is_kept_ten_minutes(world):
    code = new_token(world.sid)
    world.tokens.save_code(code, {"family": "fam-1"})
    world.tokens.take_code(code)
    world.advance(599)
    assert world.tokens.take_code(code) == (None, True)
    world.advance(1)
    assert world.tokens.take_code(code) == (None, False)


def test_a_consumed_code_marks_only_itself(world):
    first, never_issued = new_token(world.sid), new_token(world.sid)
    world.tokens.save_code(first, {"family": "fam-1"})
    world.tokens.take_code(first)
    assert world.tokens.take_code(never_issued) == (None, False)
    assert "!f:fam-1" not in world.activity()


def test_an_expired_code_is_gone_without_revoking_anything(world):
    code = new_token(world.sid)
    world.tokens.save_code(code, {"family": "fam-1"})
    world.advance(CODE_TTL)
    assert world.tokens.take_code(code) == (None, False)
    assert "!f:fam-1" not in world.activity()


def test_unknown_or_malformed_codes(world):
    assert world.tokens.take_code(new_token(world.sid)) == (None, False)
    assert world.tokens.take_code("not a code") == (None, False)
    assert world.tokens.take_code(None) == (None, False)
    assert not any(name.startswith("!f:") for name in world.activity())


# --- issuing -------------------------------------------------------------------------------------------------------

def test_issue_stores_hashed_tokens_with_their_grant(world):
    token = world.issue("fam-1")
    assert set(token) == {"access_token", "expires_in", "refresh_token"}
    assert split(token["access_token"]) == world.sid and split(token["refresh_token"]) == world.sid
    fields = {"c": CLIENT, "s": "openid profile", "v": "svc", "f": "fam-1"}
    at_key = f"at:{{{world.sid}}}:{sha256(token['access_token'])}"
    rt_key = f"rt:{{{world.sid}}}:{sha256(token['refresh_token'])}"
    assert world.store.get_json(at_key) == {**fields, "e": T0 + ACCESS_TTL}
    assert world.store.get_json(rt_key) == {**fields, "e": T0 + MAX_SESSION}
    assert (world.store.ttl(at_key), world.store.ttl(rt_key)) == (ACCESS_TTL, MAX_SESSION)
    assert token["expires_in"] == ACCESS_TTL


def test_refresh_tokens_live_at_most_four_hours(world):
    token = world.issue(deadline=T0 + 24 * 3600)
    found = world.tokens.lookup_refresh(token["refresh_token"])
    assert found == (world.sid, {"c": CLIENT, "s": "openid profile", "v": "svc", "f": "fam-1", "e": T0 + REFRESH_TTL})
    assert world.store.ttl(f"rt:{{{world.sid}}}:{sha256(token['refresh_token'])}") == REFRESH_TTL


def test_tokens_never_outlive_the_client_deadline(world):
    token = world.issue(deadline=T0 + 100.7)
    assert token["expires_in"] == 100
    assert world.tokens.lookup_access(token["access_token"])[1]["e"] == T0 + 100.7
    assert world.tokens.lookup_refresh(token["refresh_token"])[1]["e"] == T0 + 100.7


def test_a_deadline_less_than_a_second_away_still_gives_a_positive_lifetime(world):
    token = world.issue(deadline=T0 + 0.4)
    assert token["expires_in"] == 1
    assert world.tokens.lookup_access(token["access_token"])[1]["e"] == T0 + 0.4


def test_issue_gives_a_refresh_token_unless_told_not_to(world):
    token = world.tokens.issue(world.sid, CLIENT, "openid", "svc", "fam-1", world.deadline)
    assert world.tokens.lookup_refresh(token["refresh_token"])[1]["f"] == "fam-1"


def test_the_store_keeps_a_token_no_longer_than_its_rounded_up_lifetime(world):
    token = world.issue(deadline=T0 + 0.4)
    world.advance(1)
    assert world.tokens.lookup_access(token["access_token"]) is None
    assert world.tokens.lookup_refresh(token["refresh_token"]) is None


def test_issue_without_refresh_token(world):
    token = world.issue(refresh=False)
    assert set(token) == {"access_token", "expires_in"}
    assert not [k for k in world.store._data if k.startswith("rt:")]


# --- using an access token ----------------------------------------------------------------------------------------

def test_a_valid_access_token_reports_its_grant_and_session(world):
    token = world.issue("fam-1")
    use = world.tokens.use_access(token["access_token"])
    assert (use.status, use.sid) == ("ok", world.sid)
    assert use.record == {"c": CLIENT, "s": "openid profile", "v": "svc", "f": "fam-1", "e": T0 + ACCESS_TTL}
    assert use.session == world.store.get_json(session_key(world.sid))
    assert use.session["authn"]["identity"]["national_id"] == "810001234567"


def test_using_an_access_token_restarts_the_client_idle_timer(world):
    token = world.issue()
    world.advance(ACCESS_TTL - 1)
    assert world.tokens.use_access(token["access_token"]).status == "ok"
    assert world.activity()[CLIENT].startswith(f"{T0 + ACCESS_TTL - 1:.3f}|")
    assert world.activity()["_seen"] == f"{T0 + ACCESS_TTL - 1:.3f}"
    world.advance(IDLE - 1)  # idle counted from the last use, not from the login
    assert world.tokens.use_access(world.issue()["access_token"]).status == "ok"


def test_a_check_without_touch_leaves_the_idle_timer(world):
    token = world.issue()
    before = world.activity()
    world.advance(10)
    assert world.tokens.use_access(token["access_token"], touch=False).status == "ok"
    assert world.activity() == before
    world.advance(IDLE - 10)
    assert world.tokens.use_access(token["access_token"]).status == "missing"  # past 5 min, see below
    assert world.tokens.use_access(world.issue()["access_token"]).status == "idle"


def test_an_access_token_past_its_expiry_is_missing_even_while_the_store_keeps_it(world):
    token = world.issue(deadline=T0 + 0.5)  # the store keeps it one whole second
    world.advance(0.4)
    assert world.tokens.use_access(token["access_token"]).status == "ok"
    world.advance(0.1)
    use = world.tokens.use_access(token["access_token"])
    assert use.status == "missing" and use.record["e"] == T0 + 0.5
    assert world.tokens.lookup_access(token["access_token"]) is not None


def test_an_access_token_of_an_ended_session(world):
    token = world.issue()
    world.sessions.end(world.sid, "logout")
    use = world.tokens.use_access(token["access_token"])
    assert (use.status, use.sid, use.session) == ("ended", world.sid, None)
    assert use.record["c"] == CLIENT


def test_an_access_token_of_a_client_whose_part_ended(world):
    token = world.issue()
    world.sessions.end_client(world.sid, CLIENT, "idle_expired")
    use = world.tokens.use_access(token["access_token"])
    assert use.status == "client_ended" and use.session is not None


def test_an_access_token_at_the_client_deadline_is_absolute(world):
    world.sessions.touch(world.session, CLIENT, IDLE, 200)  # the service deadline comes before the token's expiry
    token = world.issue()
    world.advance(199)
    assert world.tokens.use_access(token["access_token"]).status == "ok"
    world.advance(1)
    assert world.tokens.use_access(token["access_token"]).status == "absolute"


def test_the_bridge_wide_idle_limit_is_passed_to_the_check():
    world = World(idle_max=100)
    world.sessions.touch(world.session, OTHER_CLIENT, IDLE, MAX_SESSION)
    token = world.issue(client=OTHER_CLIENT)
    world.advance(99)
    assert world.tokens.use_access(token["access_token"], touch=False).status == "ok"
    world.advance(1)
    assert world.tokens.use_access(token["access_token"]).status == "session_idle"
    default = World()
    late = default.issue()
    default.advance(100)
    assert default.tokens.use_access(late["access_token"]).status == "ok"
    assert Tokens(default.store, default.clock).idle_max == IDP_IDLE_MAX


def test_access_and_refresh_tokens_are_not_interchangeable(world):
    token = world.issue()
    assert world.tokens.use_access(token["refresh_token"]).status == "missing"
    assert world.tokens.check_refresh(token["access_token"]).status == "missing"
    assert world.tokens.lookup_access(token["refresh_token"]) is None
    assert world.tokens.lookup_refresh(token["access_token"]) is None


@pytest.mark.parametrize("token", ["garbage", "", None])
def test_malformed_tokens_are_missing_without_a_sid(world, token):
    assert world.tokens.use_access(token) == TokenUse("missing")
    assert world.tokens.check_refresh(token) == TokenUse("missing")
    assert world.tokens.refresh(token, CLIENT) == (TokenUse("missing"), None)
    assert world.tokens.lookup_access(token) is None and world.tokens.lookup_refresh(token) is None


def test_an_unknown_well_formed_token_is_missing(world):
    use = world.tokens.use_access(new_token(world.sid))
    assert (use.status, use.sid, use.record, use.session) == ("missing", world.sid, None, None)


# --- refresh -----------------------------------------------------------------------------------------------------

def test_check_refresh_reports_without_rotating_or_touching(world):
    token = world.issue("fam-1")
    before = world.activity()
    world.advance(30)
    use = world.tokens.check_refresh(token["refresh_token"])
    assert (use.status, use.record["f"], use.record["e"]) == ("ok", "fam-1", T0 + MAX_SESSION)
    assert world.activity() == before
    assert world.tokens.lookup_refresh(token["refresh_token"]) is not None


def test_refresh_rotates_both_tokens(world):
    token = world.issue("fam-1")
    world.advance(60)
    use, new = world.tokens.refresh(token["refresh_token"], CLIENT)
    assert use.status == "ok" and use.record["f"] == "fam-1"
    assert set(new) == {"access_token", "refresh_token", "token_type", "expires_in", "scope"}
    assert (new["token_type"], new["expires_in"], new["scope"]) == ("Bearer", ACCESS_TTL, "openid profile")
    assert split(new["access_token"]) == world.sid and split(new["refresh_token"]) == world.sid
    assert len({new["access_token"], new["refresh_token"], token["refresh_token"]}) == 3
    assert world.tokens.lookup_refresh(token["refresh_token"]) is None
    assert world.tokens.use_access(new["access_token"]).record["f"] == "fam-1"
    again, newer = world.tokens.refresh(new["refresh_token"], CLIENT)
    assert again.status == "ok" and newer["access_token"] != new["access_token"]


def test_refreshed_tokens_keep_the_client_deadline(world):
    world.sessions.touch(world.session, CLIENT, IDLE, 300)  # the token was issued for longer than the service allows
    token = world.issue()
    world.advance(199.5)
    use, new = world.tokens.refresh(token["refresh_token"], CLIENT)
    assert new["expires_in"] == 100
    world.advance(100)
    use, last = world.tokens.refresh(new["refresh_token"], CLIENT)
    assert use.status == "ok" and last["expires_in"] == 1


def test_a_rotated_refresh_token_replayed_revokes_the_family(world):
    token = world.issue("fam-1")
    other = world.issue("fam-2")
    _, new = world.tokens.refresh(token["refresh_token"], CLIENT)
    use, nothing = world.tokens.refresh(token["refresh_token"], CLIENT)
    assert (use.status, use.sid, nothing) == ("reused", world.sid, None)
    assert world.tokens.use_access(new["access_token"]).status == "revoked"
    assert world.tokens.refresh(new["refresh_token"], CLIENT)[0].status == "revoked"
    assert world.tokens.use_access(other["access_token"]).status == "ok"


def test_a_refresh_token_is_bound_to_its_client(world):
    token = world.issue()
    use, nothing = world.tokens.refresh(token["refresh_token"], OTHER_CLIENT)
    assert (use.status, nothing) == ("wrong_client", None)
    assert world.tokens.refresh(token["refresh_token"], CLIENT)[0].status == "ok"


def test_refresh_fails_once_the_client_is_idle(world):
    token = world.issue()
    world.advance(IDLE)
    use, nothing = world.tokens.refresh(token["refresh_token"], CLIENT)
    assert (use.status, nothing) == ("idle", None)
    assert use.record["c"] == CLIENT and use.session is not None


def test_refresh_of_an_ended_session(world):
    token = world.issue()
    world.sessions.end(world.sid, "logout")
    assert world.tokens.refresh(token["refresh_token"], CLIENT) == (TokenUse("ended", world.sid), None)


# --- lookup and revocation ----------------------------------------------------------------------------------------

def test_lookups_return_the_sid_and_record(world):
    token = world.issue("fam-1")
    assert world.tokens.lookup_access(token["access_token"]) == (
        world.sid, {"c": CLIENT, "s": "openid profile", "v": "svc", "f": "fam-1", "e": T0 + ACCESS_TTL})
    assert world.tokens.lookup_refresh(token["refresh_token"])[0] == world.sid
    assert world.tokens.lookup_access(new_token(world.sid)) is None
    assert world.tokens.lookup_refresh(new_token(world.sid)) is None


def test_revoking_a_refresh_token_revokes_its_grant(world):
    token, other = world.issue("fam-1"), world.issue("fam-2")
    world.tokens.revoke(token["refresh_token"], "refresh_token")
    assert world.tokens.lookup_refresh(token["refresh_token"]) is None
    assert world.tokens.use_access(token["access_token"]).status == "revoked"
    assert world.tokens.use_access(other["access_token"]).status == "ok"
    assert world.tokens.refresh(other["refresh_token"], CLIENT)[0].status == "ok"


def test_revoking_an_access_token_leaves_the_rest_of_the_grant(world):
    token = world.issue("fam-1")
    second = world.tokens.refresh(token["refresh_token"], CLIENT)[1]
    world.tokens.revoke(second["access_token"], "access_token")
    assert world.tokens.use_access(second["access_token"]).status == "missing"
    assert world.tokens.use_access(token["access_token"]).status == "ok"
    assert world.tokens.refresh(second["refresh_token"], CLIENT)[0].status == "ok"
    assert not any(name.startswith("!f:") for name in world.activity())


def test_revoking_unknown_or_malformed_tokens_changes_nothing(world):
    token = world.issue("fam-1")
    before = dict(world.store._data)
    world.tokens.revoke(new_token(world.sid), "refresh_token")
    world.tokens.revoke(new_token(world.sid), "access_token")
    world.tokens.revoke("garbage", "refresh_token")
    world.tokens.revoke("garbage", "access_token")
    assert world.store._data == before
    assert world.tokens.use_access(token["access_token"]).status == "ok"


def test_a_revoked_family_stays_revoked_as_long_as_its_refresh_tokens_could_live(world):
    world.tokens.revoke_family(world.sid, "fam-9")
    world.advance(REFRESH_TTL + 59)
    assert world.activity().get("!f:fam-9") == "1"
    world.advance(1)
    assert "!f:fam-9" not in world.activity()
