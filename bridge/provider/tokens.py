"""Codes, access and refresh tokens for local apps, stored under their SSO session's hash tag.

A token is "<sid>.<random>": the sid locates the session keys for a one-round-trip check (bridge/sessions/scripts.py,
the rule of bridge/sessions/activity.py).
Only SHA-256 of tokens are stored. One code grant = one token family; replaying a consumed code or a rotated
refresh token revokes the family.
"""
from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass

from bridge.provider.mtls import token_type
from bridge.sessions import IDP_IDLE_MAX, session_key
from bridge.sessions.activity import activity_key, revoked_family, stamp
from bridge.sessions.scripts import REFRESH, TOKEN_USE
from bridge.store import Store
from bridge.store.base import dumps
from bridge.store.scripts import Script

CODE_TTL = 60           # seconds, single use
USED_CODE_TTL = 600     # a used code's marker (its family), so that a replay revokes what it issued


def _take_code(store, keys, args):
    raw = store.consume(keys[0])
    if raw is not None:
        store.set(keys[1], json.loads(raw)["family"], int(args[0]))
        return [raw, None]
    return [None, store.get(keys[1])]


# KEYS: the code, its used-marker. ARGV: the marker's TTL. Returns {code record json | nil, marker family | nil}:
# the code consumed and its marker written in one round trip (two before).
TAKE_CODE = Script("take_code", """
local raw = redis.call('GETDEL', KEYS[1])
if raw then
  redis.call('SET', KEYS[2], cjson.decode(raw)['family'], 'EX', tonumber(ARGV[1]))
  return {raw, false}
end
return {false, redis.call('GET', KEYS[2])}
""", _take_code)
ACCESS_TTL = 300        # <= 5 min
REFRESH_TTL = 4 * 3600  # bounded anyway by the client's deadline and idle timer
TOKEN = re.compile(r"^([A-Za-z0-9_-]{16,64})\.([A-Za-z0-9_-]{20,128})$")


def _h(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def split(token: str | None) -> str | None:
    """The sid of a well-formed token, else None (garbage never reaches the store)."""
    match = TOKEN.match(token or "")
    return match.group(1) if match else None


def new_token(sid: str) -> str:
    return f"{sid}.{secrets.token_urlsafe(32)}"


@dataclass
class TokenUse:
    status: str                  # a verdict of bridge.sessions.activity (ok | idle | absolute | session_idle |
                                 # client_ended | revoked), or missing | ended | wrong_client | reused
    sid: str = ""
    record: dict | None = None   # {c, s, v, f, e}
    session: dict | None = None  # the session record (Authentication...)


class Tokens:
    def __init__(self, store: Store, clock, idle_max: int = IDP_IDLE_MAX):
        self.store, self.clock, self.idle_max = store, clock, idle_max

    # -- authorization codes ----------------------------------------------------------------------------------
    def save_code(self, code: str, record: dict) -> None:
        self.store.set_json(f"code:{{{split(code)}}}:{_h(code)}", record, CODE_TTL)

    def take_code(self, code: str) -> tuple[dict | None, bool]:
        """(the code's record, False) the first time; (None, True) when a consumed code comes back."""
        sid = split(code)
        if sid is None:
            return None, False
        raw, family = self.store.run(TAKE_CODE, [f"code:{{{sid}}}:{_h(code)}", f"codeu:{{{sid}}}:{_h(code)}"],
                                     [USED_CODE_TTL])
        if raw is not None:
            return json.loads(raw), False
        if family is not None:  # RFC 6749 §4.1.2: a reused code revokes what it issued
            self.revoke_family(sid, family)
        return None, family is not None

    # -- issuing ----------------------------------------------------------------------------------------------
    def issue(self, sid: str, client_id: str, scope: str, service: str, family: str, deadline: float,
              refresh: bool = True, jkt: str = "", bind_refresh: bool = False) -> dict:
        """`jkt`: the binding of the access token (and, with `bind_refresh`, of the refresh token): a DPoP key's
        thumbprint or a certificate's (`x5t#S256:…`, bridge/provider/mtls.py)."""
        now = self.clock.now()
        access, access_exp = new_token(sid), min(now + ACCESS_TTL, deadline)
        fields = {"c": client_id, "s": scope, "v": service, "f": family}
        bound = {"j": jkt} if jkt else {}
        writes = [("set", f"at:{{{sid}}}:{_h(access)}", dumps({**fields, "e": access_exp, **bound}),
                   max(1, int(access_exp - now)))]
        token = {"access_token": access, "expires_in": max(1, int(access_exp - now))}
        if refresh:
            rt, rt_exp = new_token(sid), min(now + REFRESH_TTL, deadline)
            writes.append(("set", f"rt:{{{sid}}}:{_h(rt)}", dumps({**fields, "e": rt_exp,
                                                                   **(bound if bind_refresh else {})}),
                           max(1, int(rt_exp - now))))
            token["refresh_token"] = rt
        self.store.write_many(writes)   # both tokens in one round trip
        return token

    # -- using --------------------------------------------------------------------------------------------------
    def use_access(self, token: str, touch: bool = True, jkt: str | None = None, certificate: str = "") -> TokenUse:
        """`jkt`: the DPoP key presented ('' for a bearer use); a token bound otherwise is `wrong_key`, untouched.
        None (introspection): no binding check. `certificate`: the binding of the client certificate of a bearer
        use (RFC 8705), which an unbound token accepts too."""
        return self._check("at", token, touch, certificate or jkt, unbound_ok=bool(certificate))

    def check_refresh(self, token: str) -> TokenUse:
        """What a refresh would find now (session, client timers, family), without rotating or touching anything."""
        return self._check("rt", token, touch=False)

    def _check(self, kind: str, token: str, touch: bool, jkt: str | None = None, unbound_ok: bool = False) -> TokenUse:
        sid = split(token)
        if sid is None:
            return TokenUse("missing")
        args = [stamp(self.clock.now()), self.idle_max, "1" if touch else "0"] + ([jkt] if jkt is not None else []) \
            + (["1"] if unbound_ok else [])
        reply = self.store.run(TOKEN_USE, [f"{kind}:{{{sid}}}:{_h(token)}", session_key(sid), activity_key(sid)], args)
        return self._use(sid, reply)

    def _use(self, sid: str, reply: list) -> TokenUse:
        status = reply[0]
        record = json.loads(reply[1]) if len(reply) > 1 and reply[1] else None
        session = json.loads(reply[2]) if len(reply) > 2 and reply[2] else None
        if status == "ok" and record and record["e"] <= self.clock.now():
            status = "missing"  # expired between the store's TTL granularity and now
        return TokenUse(status, sid, record, session)

    def refresh(self, token: str, client_id: str, jkt: str = "") -> tuple[TokenUse, dict | None]:
        sid = split(token)
        if sid is None:
            return TokenUse("missing"), None
        access, rt = new_token(sid), new_token(sid)
        keys = [f"rt:{{{sid}}}:{_h(token)}", f"rtu:{{{sid}}}:{_h(token)}", session_key(sid), activity_key(sid),
                f"at:{{{sid}}}:{_h(access)}", f"rt:{{{sid}}}:{_h(rt)}"]
        now = self.clock.now()
        reply = self.store.run(REFRESH, keys, [stamp(now), self.idle_max, client_id, ACCESS_TTL, REFRESH_TTL,
                                                 jkt])
        use = self._use(sid, reply)
        if use.status != "ok":
            return use, None
        return use, {"access_token": access, "refresh_token": rt, "token_type": token_type(jkt),
                     "expires_in": max(1, int(float(reply[3]) - now)), "scope": use.record["s"]}

    def lookup_refresh(self, token: str) -> tuple[str, dict] | None:
        sid = split(token)
        record = self.store.get_json(f"rt:{{{sid}}}:{_h(token)}") if sid else None
        return (sid, record) if record else None

    def lookup_access(self, token: str) -> tuple[str, dict] | None:
        sid = split(token)
        record = self.store.get_json(f"at:{{{sid}}}:{_h(token)}") if sid else None
        return (sid, record) if record else None

    # -- revoking -----------------------------------------------------------------------------------------------
    def revoke_family(self, sid: str, family: str) -> None:
        self.store.hash_set(activity_key(sid), {revoked_family(family): "1"}, REFRESH_TTL + 60)

    def revoke(self, token: str, kind: str) -> None:
        sid = split(token)
        if sid is None:
            return
        if kind == "refresh_token":
            found = self.lookup_refresh(token)
            if found:  # RFC 7009 §2.1: revoking a refresh token revokes the access tokens of the same grant
                self.revoke_family(sid, found[1]["f"])
            self.store.delete(f"rt:{{{sid}}}:{_h(token)}")
        else:
            self.store.delete(f"at:{{{sid}}}:{_h(token)}")
