"""Device authorization grant (RFC 8628) for kiosks and shared carts, free of HTTP: the pending authorizations,
their user codes, the professional's approval or refusal, and the kiosk's polls.

A kiosk asks /device_authorization for a device code (its secret, 256 bits) and a user code the professional
types on another device at /device, where they log in by any means the service's policy allows (the normal login
pipeline). Keys in the store, all expiring (never the raw device code):

    device:{sha256(device_code)}     {client_id, service, scope, user_code, expires_at, interval}  (the request)
    usercode:{USERCODE}              sha256(device_code)                     (while the code may be typed)
    devgrant:{sha256(device_code)}   {approved, authn, sid, service, deadline, family}   (once decided: add, once)
    devpoll:{sha256(device_code)}    time of the kiosk's last poll; devslow: how many slow_down it got
    devused:{sha256(device_code)}    the decision was collected: a second poll is invalid_grant

The decision is written once (store.add) and collected once (POLL, one atomic store round trip: Lua on Redis, its
Python twin on memory://): a device code yields tokens a single time whatever the concurrency. Typing a wrong
user code counts per browser and per source address in a fixed window (`userfail:`); beyond a limit the page
refuses any code for a while (brute force: 20^8 codes, a few guesses).
Lifetime, interval and limits are settings (BRIDGE_DEVICE_*, bridge.config); the constants below are their defaults.
"""
from __future__ import annotations

import hashlib
import json
import math
import secrets
from dataclasses import dataclass

from bridge.store import Store
from bridge.store.scripts import Script

ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"   # RFC 8628 §6.1: no vowels (no words), no digits (no 0/O, 1/I)
USER_CODE_LENGTH = 8                # 20^8 ≈ 2^34.6: with the attempt limits below, guessing is hopeless
# Defaults of BRIDGE_DEVICE_CODE_LIFETIME, _POLL_INTERVAL, _FAILURES_PER_BROWSER, _PER_ADDRESS, _WINDOW:
LIFETIME = 600                      # device and user codes live 10 minutes
INTERVAL = 5                        # seconds between polls; slow_down adds SLOW_DOWN_STEP (RFC 8628 §3.5)
SLOW_DOWN_STEP = 5
KEEP_AFTER = 600                    # after expiry a late poll still gets expired_token, not invalid_grant
# Wrong user codes: per browser (low: a person mistyping a few times) and per source address (high: a hospital's
# workstations behind one NAT address), counted in a fixed window; over either, every code is refused meanwhile.
FAILURES_PER_BROWSER = 5
FAILURES_PER_ADDRESS = 50
FAILURE_WINDOW = 900


def device_hash(device_code: str) -> str:
    return hashlib.sha256(device_code.encode()).hexdigest()


def normalize(typed: str | None) -> str | None:
    """The user code as typed (lowercase, spaces, with or without the dash) in canonical form, or None when it
    cannot be one (garbage never reaches the store)."""
    code = "".join(ch for ch in (typed or "")[:64] if ch not in " -\t\u00a0").upper()
    if len(code) != USER_CODE_LENGTH or any(ch not in ALPHABET for ch in code):
        return None
    return code


def display(code: str) -> str:
    """BCDF-GHJK: the form shown on the kiosk and in verification_uri_complete."""
    half = USER_CODE_LENGTH // 2
    return f"{code[:half]}-{code[half:]}"


@dataclass(frozen=True)
class DeviceRequest:
    hash: str            # sha256 of the device code: names it in the store and in the login transaction
    client_id: str
    service: str
    scope: str
    user_code: str       # canonical (no dash)
    expires_at: float
    interval: int


@dataclass(frozen=True)
class Poll:
    status: str          # unknown | wrong_client | expired | used | slow_down | pending | approved | denied
    request: DeviceRequest | None = None
    grant: dict | None = None    # approved: what the professional's login granted (see Devices.approve)
    interval: int = INTERVAL


class Devices:
    def __init__(self, store: Store, clock, settings=None):
        self.store, self.clock = store, clock
        self.lifetime = int(getattr(settings, "device_code_lifetime", LIFETIME))
        self.interval = int(getattr(settings, "device_poll_interval", INTERVAL))
        self.per_browser = int(getattr(settings, "device_failures_per_browser", FAILURES_PER_BROWSER))
        self.per_address = int(getattr(settings, "device_failures_per_address", FAILURES_PER_ADDRESS))
        self.window = int(getattr(settings, "device_failures_window", FAILURE_WINDOW))

    # -- the kiosk's request (/device_authorization) -------------------------------------------------------
    def create(self, client_id: str, service: str, scope: str) -> tuple[str, DeviceRequest]:
        """A new device code (returned once, never stored) and its request with a fresh user code."""
        device_code = secrets.token_urlsafe(32)
        digest = device_hash(device_code)
        for _ in range(8):   # a user code taken by a live request is drawn again
            user_code = "".join(secrets.choice(ALPHABET) for _ in range(USER_CODE_LENGTH))
            if self.store.add(f"usercode:{user_code}", digest, self.lifetime):
                break
        else:
            raise RuntimeError("no free user code")   # 20^8 codes: only a broken random source gets here
        request = DeviceRequest(digest, client_id, service, scope, user_code, self.clock.now() + self.lifetime,
                                self.interval)
        record = {"client_id": client_id, "service": service, "scope": scope, "user_code": user_code,
                  "expires_at": request.expires_at, "interval": self.interval}
        self.store.set_json(f"device:{{{digest}}}", record, self.lifetime + KEEP_AFTER)
        return device_code, request

    def get(self, digest: str) -> DeviceRequest | None:
        record = self.store.get_json(f"device:{{{digest}}}") if digest else None
        return DeviceRequest(digest, **record) if record else None

    # -- the professional's side (/device) ------------------------------------------------------------------
    def by_user_code(self, code: str) -> DeviceRequest | None:
        """The live request this (canonical) user code names, if any: not expired, not yet decided."""
        digest = self.store.get(f"usercode:{code}")
        request = self.get(digest) if digest else None
        if request is None or request.user_code != code or self.clock.now() >= request.expires_at:
            return None
        return request

    def locked(self, browser: str, address: str) -> tuple[str, int] | None:
        """(scope, minutes left) when this browser or address typed too many wrong codes in the window."""
        for scope, value, limit in self._subjects(browser, address):
            since = self._window(scope, value)
            count = self.store.get(f"userfail:{scope}:{value}") if since is not None else None
            if count is not None and int(count) >= limit:
                return scope, max(1, math.ceil((since + self.window - self.clock.now()) / 60))
        return None

    def failed(self, browser: str, address: str) -> dict[str, int]:
        """Count one wrong code; the counts now, per scope (browser, address)."""
        counts = {}
        for scope, value, _limit in self._subjects(browser, address):
            if self._window(scope, value) is None:   # a new window: when it started, for the page's « N min »
                self.store.set(f"userfail:{scope}:{value}:t", repr(self.clock.now()), self.window)
            counts[scope] = self.store.count(f"userfail:{scope}:{value}", self.window)
        return counts

    def _window(self, scope: str, value: str) -> float | None:
        """When the current window of wrong codes started, by the bridge's clock; None (and the count forgotten)
        when there is none or it is over."""
        since = self.store.get(f"userfail:{scope}:{value}:t")
        if since is not None and float(since) + self.window > self.clock.now():
            return float(since)
        if since is not None:
            self.store.delete(f"userfail:{scope}:{value}", f"userfail:{scope}:{value}:t")
        return None

    def _subjects(self, browser: str, address: str):
        return [(scope, value, limit) for scope, value, limit in
                (("browser", browser, self.per_browser), ("address", address, self.per_address)) if value]

    def approve(self, request: DeviceRequest, grant: dict) -> bool:
        """The professional logged in and the policy allowed it: the kiosk's next poll gets tokens for `grant`
        ({authn, sid, service, deadline}). False when it was decided already or has expired meanwhile."""
        return self._decide(request, {"approved": True, **grant})

    def deny(self, request: DeviceRequest, reason: str) -> bool:
        return self._decide(request, {"approved": False, "reason": reason})

    def _decide(self, request: DeviceRequest, decision: dict) -> bool:
        left = int(request.expires_at - self.clock.now())
        if left <= 0:
            return False
        if not self.store.add(f"devgrant:{{{request.hash}}}", json.dumps(decision, separators=(",", ":")),
                              left + KEEP_AFTER):
            return False
        self.store.delete(f"usercode:{request.user_code}")   # the code cannot be typed again
        return True

    # -- the kiosk's polls (/token) -------------------------------------------------------------------------
    def poll(self, device_code: str, client_id: str) -> Poll:
        """One poll, in one store round trip (POLL: atomic, so a decision is collected by one poll only)."""
        digest = device_hash(device_code)
        keys = [f"device:{{{digest}}}", f"devgrant:{{{digest}}}", f"devused:{{{digest}}}", f"devpoll:{{{digest}}}",
                f"devslow:{{{digest}}}"]
        reply = self.store.run(POLL, keys, [repr(self.clock.now()), client_id, self.lifetime + KEEP_AFTER])
        status = reply[0]
        request = DeviceRequest(digest, **json.loads(reply[1])) if len(reply) > 1 else None
        if status == "decided":
            decision = json.loads(reply[2])
            return Poll("approved" if decision["approved"] else "denied", request, decision)
        if status in ("slow_down", "pending"):
            return Poll(status, request, interval=int(float(reply[2])))
        return Poll(status, request)


# KEYS: device, devgrant, devused, devpoll, devslow (one hash tag: the device code's hash). ARGV: now, client_id,
# the used marker's TTL. Returns {status[, request json[, decision json | interval]]}; status unknown | used |
# wrong_client | expired | decided | slow_down | pending.
POLL_LUA = """
local now = tonumber(ARGV[1])
local rec = redis.call('GET', KEYS[1])
if not rec then
  if redis.call('EXISTS', KEYS[3]) == 1 then return {'used'} end
  return {'unknown'}
end
local r = cjson.decode(rec)
if r.client_id ~= ARGV[2] then return {'wrong_client', rec} end
if now >= tonumber(r.expires_at) then return {'expired', rec} end
local decision = redis.call('GET', KEYS[2])
if decision then
  redis.call('SET', KEYS[3], '1', 'EX', tonumber(ARGV[3]))
  redis.call('DEL', KEYS[1], KEYS[2], KEYS[4], KEYS[5])
  return {'decided', rec, decision}
end
local ttl = math.max(1, math.floor(tonumber(r.expires_at) - now) + """ + str(KEEP_AFTER) + """)
local slowed = tonumber(redis.call('GET', KEYS[5]) or '0')
local interval = tonumber(r.interval) + """ + str(SLOW_DOWN_STEP) + """ * slowed
local last = redis.call('GET', KEYS[4])
redis.call('SET', KEYS[4], ARGV[1], 'EX', ttl)
if last and now - tonumber(last) < interval then
  slowed = redis.call('INCR', KEYS[5])
  redis.call('EXPIRE', KEYS[5], ttl)
  return {'slow_down', rec, tostring(tonumber(r.interval) + """ + str(SLOW_DOWN_STEP) + """ * slowed)}
end
return {'pending', rec, tostring(interval)}
"""


def _poll(store, keys, args):
    """POLL_LUA's twin for memory:// (run under the store's lock)."""
    device, grant, used, last_poll, slow = keys
    now, client_id, used_ttl = float(args[0]), args[1], int(args[2])
    rec = store.get(device)
    if rec is None:
        return ["used"] if store.get(used) is not None else ["unknown"]
    r = json.loads(rec)
    if r["client_id"] != client_id:
        return ["wrong_client", rec]
    if now >= r["expires_at"]:
        return ["expired", rec]
    decision = store.get(grant)
    if decision is not None:
        store.set(used, "1", used_ttl)
        store.delete(device, grant, last_poll, slow)
        return ["decided", rec, decision]
    ttl = max(1, math.floor(r["expires_at"] - now) + KEEP_AFTER)
    interval = r["interval"] + SLOW_DOWN_STEP * int(store.get(slow) or 0)
    last = store.get(last_poll)
    store.set(last_poll, args[0], ttl)
    if last is not None and now - float(last) < interval:
        return ["slow_down", rec, str(r["interval"] + SLOW_DOWN_STEP * store.count(slow, ttl))]
    return ["pending", rec, str(interval)]


POLL = Script("device_poll", POLL_LUA, _poll)
