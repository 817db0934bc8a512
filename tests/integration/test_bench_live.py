"""`python -m bench --live-sessions`: the seeding copies a session with the real key layout, one hash tag per
copy, its own token hashes and the sid rewritten inside the values (no timing here)."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import redis

from bench import live
from bench.harness import parse_args
from bridge.sessions import INDEX, activity_key, session_key

SID = "TemplateSid0123456789a"


def test_seeding_copies_the_real_layout_with_a_fresh_sid_per_session(redis_url):
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    at_hash = "ab" * 32
    r.set(session_key(SID), json.dumps({"secret_hash": "x", "authn": {"sid": SID}}), ex=600)
    r.hset(activity_key(SID), mapping={"_seen": "1.0", "demo-portail": "1|2|3"})
    r.set(f"at:{{{SID}}}:{at_hash}", json.dumps({"c": "demo-portail", "f": "fam"}), ex=60)
    r.zadd(INDEX, {SID: 123.0})
    stack = SimpleNamespace(redis=r)
    tpl = {"sid": SID, "score": 123.0, "keys": [
        ("sess", "", "string", r.get(session_key(SID)), r.pttl(session_key(SID))),
        ("act", "", "hash", r.hgetall(activity_key(SID)), -1),
        ("at", f":{at_hash}", "string", r.get(f"at:{{{SID}}}:{at_hash}"), r.pttl(f"at:{{{SID}}}:{at_hash}"))]}

    live.seed(stack, tpl, 25)

    sids = [key[len("sess:{"):-1] for key in r.scan_iter(match="sess:*")]
    assert len(sids) == 26 and r.zcard(INDEX) == 26
    for sid in (s for s in sids if s != SID):
        assert json.loads(r.get(session_key(sid)))["authn"]["sid"] == sid  # the sid inside the value too
        assert r.hgetall(activity_key(sid)) == {"_seen": "1.0", "demo-portail": "1|2|3"}
        [token] = list(r.scan_iter(match=f"at:{{{sid}}}:*"))
        assert token != f"at:{{{sid}}}:{at_hash}"   # its own token hash
        assert r.ttl(token) > 600 and r.ttl(activity_key(sid)) > 600  # outlives the measurement
        assert r.zscore(INDEX, sid) == 123.0
    assert len(list(r.scan_iter(match="at:*"))) == 26


def test_live_sessions_and_scenario_lists_parse():
    args = parse_args(["--live-sessions", "1000,100_000", "--scenario", "userinfo,refresh", "--scenario", "hello"])
    assert args.live_sessions == [1000, 100000] and args.scenario == [["userinfo", "refresh"], ["hello"]]
    for bad in (["--live-sessions", "0"], ["--live-sessions", "many"], ["--scenario", "userinfo,nope"]):
        with pytest.raises(SystemExit):
            parse_args(bad)
