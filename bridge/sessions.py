"""SSO sessions (DESIGN §5): one per browser, server-side, with an absolute deadline and per-client activity.

The cookie holds a random secret; the store key is its SHA-256, so a store dump cannot be replayed as cookies.
The `sid` given to apps (ID token, back-channel logout) is a separate random value.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field

from bridge.clock import Clock
from bridge.model import Authentication
from bridge.store import Store

COOKIE = "bridge_session"
IDP_IDLE_MAX = 30 * 60     # RIE v2 RIE-PS 13: IdP inactivity <= 30 min
IDP_SESSION_MAX = 4 * 3600  # RIE v2 RIE-PS 13: IdP session <= 4 h


def _key(secret: str) -> str:
    digest = hashlib.sha256(secret.encode()).hexdigest()[:32]
    return f"sess:{{{digest}}}"  # one hash tag per session: Redis Cluster keeps its keys together


@dataclass
class SsoSession:
    secret: str
    sid: str
    authn: Authentication
    created: float
    deadline: float
    last_seen: float
    clients: dict[str, dict] = field(default_factory=dict)  # client_id -> {"last": t, "idle": seconds}

    def to_dict(self) -> dict:
        return {"sid": self.sid, "authn": self.authn.to_dict(), "created": self.created,
                "deadline": self.deadline, "last_seen": self.last_seen, "clients": self.clients}


class Sessions:
    def __init__(self, store: Store, clock: Clock, idle_max: int = IDP_IDLE_MAX):
        self.store, self.clock, self.idle_max = store, clock, idle_max

    def create(self, authn: Authentication, upstream_deadline: float | None = None) -> SsoSession:
        now = self.clock.now()
        deadline = min(authn.auth_time + IDP_SESSION_MAX, upstream_deadline or float("inf"))
        session = SsoSession(secret=secrets.token_urlsafe(32), sid=secrets.token_urlsafe(16), authn=authn,
                             created=now, deadline=deadline, last_seen=now)
        self.save(session)
        return session

    def save(self, session: SsoSession) -> None:
        ttl = int(min(session.deadline, session.last_seen + self.idle_max) - self.clock.now()) + 1
        if ttl <= 0:
            self.end(session.secret)
            return
        self.store.set_json(_key(session.secret), session.to_dict(), ttl)

    def load(self, secret: str | None) -> SsoSession | None:
        """The live session for this cookie, or None when absent, past its deadline or idle too long."""
        if not secret:
            return None
        data = self.store.get_json(_key(secret))
        if data is None:
            return None
        now = self.clock.now()
        if now >= data["deadline"] or now - data["last_seen"] >= self.idle_max:
            self.end(secret)
            return None
        return SsoSession(secret=secret, sid=data["sid"], authn=Authentication.from_dict(data["authn"]),
                          created=data["created"], deadline=data["deadline"], last_seen=data["last_seen"],
                          clients=data["clients"])

    def touch(self, session: SsoSession, client_id: str | None = None, idle: int | None = None) -> None:
        now = self.clock.now()
        session.last_seen = now
        if client_id:
            session.clients[client_id] = {"last": now, "idle": idle or self.idle_max}
        self.save(session)

    def end(self, secret: str) -> None:
        self.store.delete(_key(secret))
