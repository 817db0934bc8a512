"""SSO sessions: one per browser, server-side, with an absolute deadline and per-client idle timers.

Cookie = "<sid>.<secret>": the store keeps only the secret's SHA-256, so a store dump is no set of cookies.
`sid` is also the OIDC `sid` claim and the Redis hash tag of every key of the session (Cluster-safe).
Per-client activity lives in the act:{sid} hash, and one rule says when a timer has run out: both in
bridge/sessions/activity.py. A client missing from the hash has no valid tokens. Expiry is checked lazily on every
use (Sessions.load, and the token scripts of bridge/sessions/scripts.py) and by the sweeper; each expiry notifies
listeners (back-channel logout, audit).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

import bridge.sessions.activity as activity
from bridge.clock import Clock
from bridge.model import Authentication
from bridge.sessions.activity import activity_key, stamp
from bridge.store import Store
from bridge.store.base import dumps

COOKIE = "bridge_session"   # logical name; on the wire: bridge.web.security.cookie_name
IDP_IDLE_MAX = 30 * 60      # RIE v2 RIE-PS 13: IdP inactivity <= 30 min
IDP_SESSION_MAX = 4 * 3600  # RIE v2 RIE-PS 13: IdP session <= 4 h
INDEX = "idx:sessions"      # sid -> next time the sweeper must look at it


def session_key(sid: str) -> str:
    return f"sess:{{{sid}}}"


def _hash(secret: str) -> str:
    # 128 bits of SHA-256 of a 256-bit random secret: enough to check it, short enough for 100k sessions in Redis.
    return base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest()[:16]).rstrip(b"=").decode()


_BROWSERS = (("Edg/", "Edge"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"), ("Chromium/", "Chromium"),
             ("Version/", "Safari"))
_SYSTEMS = (("Windows", "Windows"), ("Android", "Android"), ("iPhone", "iOS"), ("iPad", "iOS"),
            ("Mac OS X", "macOS"), ("CrOS", "ChromeOS"), ("Linux", "Linux"))


def browser_label(user_agent: str) -> str:
    """'Chrome 156 · Windows': enough to tell two sessions of one person apart in the admin console, without
    keeping the whole User-Agent string (a fingerprint) in the store."""
    name = next(((label, user_agent.split(mark, 1)[1].split(".")[0].split()[0]) for mark, label in _BROWSERS
                 if mark in user_agent), None)
    system = next((label for mark, label in _SYSTEMS if mark in user_agent), "")
    browser = f"{name[0]} {name[1]}" if name and name[1].isdigit() else (name[0] if name else "")
    return " · ".join(filter(None, (browser, system))) or (user_agent[:40] or "?")


@dataclass
class SsoSession:
    sid: str
    secret: str
    authn: Authentication
    created: float
    deadline: float
    seen: float
    clients: dict[str, tuple[float, float, float]] = field(default_factory=dict)  # id -> (last, idle, deadline)
    expired_clients: set[str] = field(default_factory=set)  # idle/deadline passed: must re-authenticate
    device: dict[str, str] = field(default_factory=dict)  # {"ip", "browser"}: tells sessions apart in the console

    @property
    def cookie(self) -> str:
        return f"{self.sid}.{self.secret}"

    def record(self) -> dict:
        record = {"secret_hash": _hash(self.secret), "authn": self.authn.to_dict(),
                  "created": round(self.created, 3), "deadline": self.deadline}
        if self.device:
            record["device"] = self.device
        return record


Listener = Callable[[str, list[str], str, "SsoSession | None"], None]  # (sid, client ids, reason, session)


class Sessions:
    def __init__(self, store: Store, clock: Clock, idle_max: int = IDP_IDLE_MAX):
        self.store, self.clock, self.idle_max = store, clock, idle_max
        self.listeners: list[Listener] = []

    # -- lifecycle ------------------------------------------------------------------------------------------
    def create(self, authn: Authentication, upstream_deadline: float | None = None,
               device: dict[str, str] | None = None) -> SsoSession:
        now = self.clock.now()
        deadline = min(authn.auth_time + IDP_SESSION_MAX, upstream_deadline or float("inf"))
        session = SsoSession(sid=secrets.token_urlsafe(16), secret=secrets.token_urlsafe(32), authn=authn,
                             created=now, deadline=deadline, seen=now, device=device or {})
        ttl = self._ttl(session)
        self.store.write_many([   # one round trip: the record, its activity timer, the sweeper's index
            ("set", session_key(session.sid), dumps(session.record()), ttl),
            ("hash_set", activity_key(session.sid), {activity.SEEN: stamp(now)}, ttl),
            ("index_add", INDEX, session.sid, min(deadline, now + self.idle_max))])
        return session

    def _ttl(self, session: SsoSession) -> int:
        return max(1, int(session.deadline - self.clock.now()) + 60)

    def save(self, session: SsoSession) -> None:
        self.store.set_json(session_key(session.sid), session.record(), self._ttl(session))

    def load(self, cookie: str | None) -> SsoSession | None:
        """The live session for this cookie; None when absent, forged, past its deadline or idle too long."""
        sid, _, secret = (cookie or "").partition(".")
        if not sid or not secret:
            return None
        data = self.store.get_json(session_key(sid))
        if data is None or not hmac.compare_digest(data["secret_hash"].encode(), _hash(secret).encode()):
            return None
        session = self._from(sid, secret, data)
        expired = activity.expired(self.clock.now(), self._timer(session))
        if expired:
            self.end(sid, expired, session)
            return None
        return session

    def find(self, sid: str) -> SsoSession | None:
        """The record of session `sid` for a caller that holds its id, not its cookie (a card removal notice). Without
        the secret, which the store does not keep: it cannot be turned into a cookie."""
        data = self.store.get_json(session_key(sid))
        return None if data is None else self._from(sid, "", data)

    def _timer(self, session: SsoSession) -> activity.Entry:
        """The session's own timer: any client's last activity, the bridge-wide idle timeout, its deadline."""
        return session.seen, self.idle_max, session.deadline

    def _from(self, sid: str, secret: str, data: dict) -> SsoSession:
        act = activity.read(self.store.hash_get_all(activity_key(sid)))
        return SsoSession(sid=sid, secret=secret, authn=Authentication.from_dict(data["authn"]),
                          created=data["created"], deadline=data["deadline"],
                          seen=float(data["created"]) if act.seen is None else act.seen, clients=act.clients,
                          expired_clients=act.expired, device=data.get("device", {}))

    def touch(self, session: SsoSession, client_id: str, idle: int, max_session: int) -> None:
        """The client used the session (/authorize reuse): restart its idle timer."""
        now = self.clock.now()
        deadline = min(session.deadline, session.authn.auth_time + max_session)
        session.clients[client_id] = (now, float(idle), deadline)
        session.seen = now
        touched = activity.touched(client_id, now, idle, deadline)
        self.store.write_many([   # one round trip
            ("hash_set", activity_key(session.sid), touched, self._ttl(session)),
            ("index_add", INDEX, session.sid, min(activity.due(session.clients[client_id]), now + self.idle_max))])

    def list(self, limit: int = 1000) -> list[SsoSession]:
        """Live sessions, soonest deadline first (admin console). Read-only: expiry stays with load()/sweep().
        The secret is not in the store, so the sessions returned cannot be turned into cookies."""
        found = []
        for sid in self.store.index_due(INDEX, 1e15, limit):  # every member: scores are epochs
            data = self.store.get_json(session_key(sid))
            if data is not None:
                found.append(self._from(sid, "", data))
        return found

    # -- expiry ---------------------------------------------------------------------------------------------
    def _notify(self, sid: str, clients: list[str], reason: str, session: SsoSession | None) -> None:
        for listener in self.listeners:
            listener(sid, clients, reason, session)

    def end(self, sid: str, reason: str, session: SsoSession | None = None) -> None:
        """End the whole session: every client of it is notified (back-channel logout)."""
        act = self.store.hash_get_all(activity_key(sid))
        clients = [name for name in act if activity.is_client(name)]
        self.store.delete(session_key(sid), activity_key(sid))
        self.store.index_remove(INDEX, sid)
        self._notify(sid, clients, reason, session)

    def end_client(self, sid: str, client_id: str, reason: str) -> None:
        """One client's idle or service deadline passed: its tokens die, the others keep working, and the
        next /authorize of that client needs a fresh authentication (the '~' tombstone)."""
        self.store.hash_delete(activity_key(sid), client_id)
        self.store.hash_set(activity_key(sid), {activity.tombstone(client_id): reason}, IDP_SESSION_MAX + 60)
        self._notify(sid, [client_id], reason, None)

    def reauthenticated(self, session: SsoSession, authn: Authentication, upstream_deadline: float | None) -> None:
        """The same person authenticated again (step-up, prompt=login, expired client): keep the session and its
        other clients, restart its clock."""
        session.authn = authn
        session.deadline = min(authn.auth_time + IDP_SESSION_MAX, upstream_deadline or float("inf"))
        self.save(session)
        if session.expired_clients:
            self.store.hash_delete(activity_key(session.sid), *map(activity.tombstone, session.expired_clients))
            session.expired_clients = set()

    def sweep(self, limit: int = 500) -> int:
        """Find deadlines that passed without any request noticing; returns how many expiries it applied."""
        now, applied = self.clock.now(), 0
        for sid in self.store.index_due(INDEX, now, limit):
            data = self.store.get_json(session_key(sid))
            if data is None:
                self.store.index_remove(INDEX, sid)
                continue
            session = self._from(sid, "", data)
            expired = activity.expired(now, self._timer(session))
            if expired:
                self.end(sid, expired, session)
                applied += 1
                continue
            remaining = []
            for client_id, entry in session.clients.items():
                expired = activity.expired(now, entry)
                if expired:
                    self.end_client(sid, client_id, expired)
                    applied += 1
                else:
                    remaining.append(activity.due(entry))
            self.store.index_add(INDEX, sid, min([activity.due(self._timer(session)), *remaining]))
        return applied
