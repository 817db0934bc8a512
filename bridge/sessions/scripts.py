"""The token checks in one store round trip: the rule of bridge/sessions/activity.py in Lua on Redis, and its
Python twin, run by the memory store under its lock (bridge/store/memory.py).

Keys of one SSO session share the hash tag {sid}, so Redis Cluster keeps them on one node:
    sess:{sid}           JSON session record (Authentication, deadline, hash of the cookie secret)
    act:{sid}            HASH  the activity of its clients (bridge/sessions/activity.py)
    at:{sid}:<sha256>    JSON access token  {c: client, s: scope, v: service, f: family, e: exp}
    rt:{sid}:<sha256>    JSON refresh token (same fields); rtu:{sid}:<sha256> -> family once rotated
The Lua below must say what activity.verdict() says: tests/integration/test_session_verdict_lua.py runs one table
of cases through both (and through the memory store).
"""
from __future__ import annotations

import json
import math

import bridge.sessions.activity as activity
from bridge.store.scripts import Script

# activity.verdict() in Lua: same order, same >=; entry is "last|idle|deadline", seen is _seen, revoked !f:<family>.
VERDICT_LUA = """
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

# KEYS: token, session, activity. ARGV: now (a stamp), global idle, touch (1|0), and optionally the DPoP key
# thumbprint presented ('' for a bearer use): a token bound to another key (`j`, RFC 9449) is 'wrong_key', untouched;
# then optionally '1': an unbound token is accepted too (a bearer use with a client certificate, RFC 8705).
# Returns {status, token json, session json}.
TOKEN_USE_LUA = VERDICT_LUA + """
local tok = redis.call('GET', KEYS[1])
if not tok then return {'missing'} end
local sess = redis.call('GET', KEYS[2])
if not sess then return {'ended', tok} end
local t = cjson.decode(tok)
if ARGV[4] and (t.j or '') ~= ARGV[4] and not (ARGV[5] == '1' and (t.j or '') == '') then
  return {'wrong_key', tok, sess}
end
local now = tonumber(ARGV[1])
local v = redis.call('HMGET', KEYS[3], t.c, '_seen', '!f:' .. t.f)
local status, limits = verdict(now, tonumber(ARGV[2]), v[1], v[2], v[3])
if status ~= 'ok' then return {status, tok, sess} end
if ARGV[3] == '1' then
  redis.call('HSET', KEYS[3], t.c, ARGV[1] .. '|' .. limits[1] .. '|' .. limits[2], '_seen', ARGV[1])
end
return {'ok', tok, sess}
"""


def _touch(store, activity_key: str, client_id: str, now: float, entry: activity.Entry) -> None:
    _, idle, deadline = entry
    store.hash_set(activity_key, activity.touched(client_id, now, idle, deadline), max(1, int(deadline - now) + 60))


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
    if len(args) > 3 and t.get("j", "") != args[3] and not (len(args) > 4 and args[4] == "1" and not t.get("j")):
        return ["wrong_key", tok, sess]
    act = store.hash_get_all(activity_key)
    status = activity.check(act, t["c"], t["f"], now, global_idle)
    if status == activity.OK and touch:
        _touch(store, activity_key, t["c"], now, activity.decode(act[t["c"]]))
    return [status, tok, sess]


TOKEN_USE = Script("token_use", TOKEN_USE_LUA, _token_use)

# KEYS: old refresh token, its "used" marker, session, activity, new access token, new refresh token.
# ARGV: now (a stamp), global idle, client_id, access ttl, refresh ttl, DPoP key thumbprint presented ('' none).
# A refresh token bound to a key (`j`) needs that key ('wrong_key'); the new refresh token keeps the binding and
# the new access token is bound to the key presented, if any.
# Returns {status, old token json, session json, access exp, refresh exp}.
REFRESH_LUA = VERDICT_LUA + """
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
local jkt = ARGV[6] or ''
if (t.j or '') ~= '' and t.j ~= jkt then return {'wrong_key'} end
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
local at_j = nil
if jkt ~= '' then at_j = jkt end
redis.call('SET', KEYS[5], cjson.encode({c=t.c, s=t.s, v=t.v, f=t.f, e=at_exp, j=at_j}),
           'EX', math.max(1, math.ceil(at_exp - now)))
redis.call('SET', KEYS[6], cjson.encode({c=t.c, s=t.s, v=t.v, f=t.f, e=rt_exp, j=t.j}),
           'EX', math.max(1, math.ceil(rt_exp - now)))
redis.call('HSET', KEYS[4], t.c, ARGV[1] .. '|' .. limits[1] .. '|' .. deadline, '_seen', ARGV[1])
return {'ok', tok, sess, tostring(at_exp), tostring(rt_exp)}
"""


def _refresh(store, keys, args):
    old_key, used_key, session_key, activity_key, at_key, rt_key = keys
    now, global_idle, client_id = float(args[0]), float(args[1]), args[2]
    tok = store.get(old_key)
    if tok is None:
        family = store.get(used_key)
        if family is not None:
            store.hash_set(activity_key, {activity.revoked_family(family): "1"}, 4 * 3600)
            return ["reused"]
        return ["missing"]
    t = json.loads(tok)
    if t["c"] != client_id:
        return ["wrong_client"]
    jkt = args[5] if len(args) > 5 else ""
    if t.get("j") and t["j"] != jkt:
        return ["wrong_key"]
    sess = store.get(session_key)
    if sess is None:
        return ["ended"]
    act = store.hash_get_all(activity_key)
    status = activity.check(act, t["c"], t["f"], now, global_idle)
    if status != activity.OK:
        return [status, tok, sess]
    entry = activity.decode(act[t["c"]])
    deadline = entry[2]
    at_exp, rt_exp = min(now + float(args[3]), deadline), min(now + float(args[4]), deadline)
    store.delete(old_key)
    store.set(used_key, t["f"], max(1, math.ceil(deadline - now)))
    fields = {k: t[k] for k in ("c", "s", "v", "f")}
    at_bound = {"j": jkt} if jkt else {}
    rt_bound = {"j": t["j"]} if t.get("j") else {}
    store.set(at_key, json.dumps({**fields, "e": at_exp, **at_bound}), max(1, math.ceil(at_exp - now)))
    store.set(rt_key, json.dumps({**fields, "e": rt_exp, **rt_bound}), max(1, math.ceil(rt_exp - now)))
    _touch(store, activity_key, t["c"], now, entry)
    return ["ok", tok, sess, str(at_exp), str(rt_exp)]


REFRESH = Script("refresh", REFRESH_LUA, _refresh)
