"""Atomic multi-key operations in one store round trip: Lua on Redis, the same steps in Python for memory://.

Key layout of one SSO session (all keys share the hash tag {sid}, so Redis Cluster keeps them on one node):
    sess:{sid}           JSON session record (Authentication, deadline, hash of the cookie secret)
    act:{sid}            HASH  _seen -> last activity of any client; <client_id> -> "last|idle|deadline";
                               !f:<family> -> "1" when a token family (one code grant) is revoked
    at:{sid}:<sha256>    JSON access token  {c: client, s: scope, v: service, f: family, e: exp}
    rt:{sid}:<sha256>    JSON refresh token (same fields); rtu:{sid}:<sha256> -> family once rotated
A client entry missing from act:{sid} means its tokens are dead (idle expiry, logout): no token scan needed.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Script:
    name: str
    lua: str
    python: Callable


def _entry(value: str | None):
    if not value:
        return None
    last, idle, deadline = value.split("|")
    return float(last), float(idle), float(deadline)


def _verdict(now: float, global_idle: float, entry, seen, revoked) -> str:
    if revoked:
        return "revoked"
    if entry is None:
        return "client_ended"
    last, idle, deadline = entry
    if now >= deadline:
        return "absolute"
    if now - last >= idle:
        return "idle"
    if now - float(seen if seen is not None else last) >= global_idle:
        return "session_idle"
    return "ok"


_CHECK_LUA = """
local function verdict(now, global_idle, entry, seen, revoked)
  if revoked then return 'revoked', nil end
  if not entry then return 'client_ended', nil end
  local last, idle, deadline = string.match(entry, '^([^|]+)|([^|]+)|([^|]+)$')
  last, idle, deadline = tonumber(last), tonumber(idle), tonumber(deadline)
  if now >= deadline then return 'absolute', nil end
  if now - last >= idle then return 'idle', nil end
  if now - tonumber(seen or last) >= global_idle then return 'session_idle', nil end
  return 'ok', {idle, deadline}
end
"""

# KEYS: token, session, activity. ARGV: now, global idle, touch (1|0).
# Returns {status, token json, session json}.
TOKEN_USE_LUA = _CHECK_LUA + """
local tok = redis.call('GET', KEYS[1])
if not tok then return {'missing'} end
local sess = redis.call('GET', KEYS[2])
if not sess then return {'ended', tok} end
local t = cjson.decode(tok)
local now = tonumber(ARGV[1])
local v = redis.call('HMGET', KEYS[3], t.c, '_seen', '!f:' .. t.f)
local status, limits = verdict(now, tonumber(ARGV[2]), v[1], v[2], v[3])
if status ~= 'ok' then return {status, tok, sess} end
if ARGV[3] == '1' then
  redis.call('HSET', KEYS[3], t.c, ARGV[1] .. '|' .. limits[1] .. '|' .. limits[2], '_seen', ARGV[1])
end
return {'ok', tok, sess}
"""


def _token_use(store, keys, args):
    token_key, session_key, activity_key = keys
    now, global_idle, touch = float(args[0]), float(args[1]), str(args[2]) == "1"
    tok = store.get(token_key)
    if tok is None:
        return ["missing"]
    sess = store.get(session_key)
    if sess is None:
        return ["ended", tok]
    t = json.loads(tok)
    act = store.hash_get_all(activity_key)
    entry = _entry(act.get(t["c"]))
    status = _verdict(now, global_idle, entry, act.get("_seen"), act.get("!f:" + t["f"]))
    if status == "ok" and touch:
        store.hash_set(activity_key, {t["c"]: f"{args[0]}|{entry[1]:g}|{entry[2]:.3f}", "_seen": str(args[0])},
                       max(1, int(entry[2] - now) + 60))
    return [status, tok, sess]


TOKEN_USE = Script("token_use", TOKEN_USE_LUA, _token_use)

# KEYS: old refresh token, its "used" marker, session, activity, new access token, new refresh token.
# ARGV: now, global idle, client_id, access ttl, refresh ttl.
# Returns {status, old token json, session json, access exp, refresh exp}.
REFRESH_LUA = _CHECK_LUA + """
local now = tonumber(ARGV[1])
local tok = redis.call('GET', KEYS[1])
if not tok then
  local family = redis.call('GET', KEYS[2])
  if family then
    redis.call('HSET', KEYS[4], '!f:' .. family, '1')   -- a rotated token came back: revoke the family
    return {'reused'}
  end
  return {'missing'}
end
local t = cjson.decode(tok)
if t.c ~= ARGV[3] then return {'wrong_client'} end
local sess = redis.call('GET', KEYS[3])
if not sess then return {'ended'} end
local v = redis.call('HMGET', KEYS[4], t.c, '_seen', '!f:' .. t.f)
local status, limits = verdict(now, tonumber(ARGV[2]), v[1], v[2], v[3])
if status ~= 'ok' then return {status, tok, sess} end
local deadline = limits[2]
local at_exp = math.min(now + tonumber(ARGV[4]), deadline)
local rt_exp = math.min(now + tonumber(ARGV[5]), deadline)
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], t.f, 'EX', math.max(1, math.ceil(deadline - now)))
redis.call('SET', KEYS[5], cjson.encode({c=t.c, s=t.s, v=t.v, f=t.f, e=at_exp}), 'EX', math.max(1, math.ceil(at_exp - now)))
redis.call('SET', KEYS[6], cjson.encode({c=t.c, s=t.s, v=t.v, f=t.f, e=rt_exp}), 'EX', math.max(1, math.ceil(rt_exp - now)))
redis.call('HSET', KEYS[4], t.c, ARGV[1] .. '|' .. limits[1] .. '|' .. deadline, '_seen', ARGV[1])
return {'ok', tok, sess, tostring(at_exp), tostring(rt_exp)}
"""


def _refresh(store, keys, args):
    import math

    old_key, used_key, session_key, activity_key, at_key, rt_key = keys
    now, global_idle, client_id = float(args[0]), float(args[1]), args[2]
    tok = store.get(old_key)
    if tok is None:
        family = store.get(used_key)
        if family is not None:
            store.hash_set(activity_key, {"!f:" + family: "1"}, 4 * 3600)
            return ["reused"]
        return ["missing"]
    t = json.loads(tok)
    if t["c"] != client_id:
        return ["wrong_client"]
    sess = store.get(session_key)
    if sess is None:
        return ["ended"]
    act = store.hash_get_all(activity_key)
    entry = _entry(act.get(t["c"]))
    status = _verdict(now, global_idle, entry, act.get("_seen"), act.get("!f:" + t["f"]))
    if status != "ok":
        return [status, tok, sess]
    idle, deadline = entry[1], entry[2]
    at_exp, rt_exp = min(now + float(args[3]), deadline), min(now + float(args[4]), deadline)
    store.delete(old_key)
    store.set(used_key, t["f"], max(1, math.ceil(deadline - now)))
    fields = {k: t[k] for k in ("c", "s", "v", "f")}
    store.set(at_key, json.dumps({**fields, "e": at_exp}), max(1, math.ceil(at_exp - now)))
    store.set(rt_key, json.dumps({**fields, "e": rt_exp}), max(1, math.ceil(rt_exp - now)))
    store.hash_set(activity_key, {t["c"]: f"{args[0]}|{idle:g}|{deadline:.3f}", "_seen": str(args[0])},
                   max(1, int(deadline - now) + 60))
    return ["ok", tok, sess, str(at_exp), str(rt_exp)]


REFRESH = Script("refresh", REFRESH_LUA, _refresh)
