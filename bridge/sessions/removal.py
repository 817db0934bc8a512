"""Removal capabilities: how the workstation's card agent ends one SSO session when the card of that session's
cps-pin login leaves its reader (docs/card.md, « Retrait de la carte / card removal »).

A capability is an opaque random value (256 bits) issued at a successful cps-pin login whose service says
`on_card_removal: logout`, and handed to the agent by the page that follows the login. The store keeps only its
SHA-256, with the session id and the card certificate's SHA-256 it is bound to. It can do one thing, once: end that
session. It names no one and carries no PIN, so a leaked one can at worst log its owner out.

It never outlives its session: its TTL is the session's remaining life, and when the session ends any other way
(logout, expiry, switch, another person's login) it becomes a tombstone that can only answer « session ended ».
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from bridge.clock import Clock
from bridge.model import Authentication
from bridge.policy import Service
from bridge.sessions.sso import Sessions, SsoSession
from bridge.store import Store

REASON = "card_removed"   # the session's end reason (audit, back-channel logout)
MAX_LENGTH = 128          # token_urlsafe(32) is 43 characters: anything much longer is not one of ours


def capability_key(digest: str) -> str:
    return f"rmcap:{digest}"


def index_key(sid: str) -> str:
    """The capabilities of one session (digest -> expiry), so its end can void them; hash-tagged like the session."""
    return f"rmcap_sid:{{{sid}}}"


def _digest(capability: str) -> str:
    return hashlib.sha256(capability.encode()).hexdigest()


def watched(service: Service, authn: Authentication) -> bool:
    """Whether this login's card is watched: a cps-pin login (the agent holds its card) for a service whose policy
    ends the session when the card leaves."""
    return (authn.upstream == "cps-pin" and service.card_removal == "logout" and authn.card is not None
            and bool(authn.card.cert_sha256))


@dataclass(frozen=True)
class Use:
    """What one removal notice did: `ended` (the session ended now), `unknown` (no such capability: forged, used
    or expired), `session_ended` (its session had already ended) or `card_changed` (the session was since
    re-authenticated with another card or means: this card no longer holds it)."""
    outcome: str
    sid: str = ""
    session: SsoSession | None = None
    cert_sha256: str = ""
    ended_by: str = ""     # session_ended: why the session had ended, when known


class Removals:
    def __init__(self, store: Store, sessions: Sessions, clock: Clock):
        self.store, self.sessions, self.clock = store, sessions, clock

    def issue(self, session: SsoSession, cert_sha256: str) -> str:
        capability = secrets.token_urlsafe(32)
        digest, expires = _digest(capability), session.deadline
        ttl = max(1, int(expires - self.clock.now()))
        self.store.set_json(capability_key(digest), {"sid": session.sid, "cert": cert_sha256, "exp": expires}, ttl)
        self.store.hash_set(index_key(session.sid), {digest: str(expires)}, ttl)
        return capability

    def use(self, capability) -> Use:
        """Spend a capability: it is deleted whatever it did (single use). The session ends before the capability
        is deleted, so a store failure in between leaves a capability the agent can send again."""
        if not isinstance(capability, str) or not 0 < len(capability) <= MAX_LENGTH:
            return Use("unknown")
        digest = _digest(capability)
        record = self.store.get_json(capability_key(digest))
        if record is None:
            return Use("unknown")
        sid, cert = record["sid"], record.get("cert", "")
        session = None if record.get("ended") else self.sessions.find(sid)
        if session is None:
            use = Use("session_ended", sid, cert_sha256=cert, ended_by=record.get("ended", ""))
        elif session.authn.upstream != "cps-pin" or session.authn.card is None or \
                session.authn.card.cert_sha256 != cert:
            use = Use("card_changed", sid, session, cert)
        else:
            self.sessions.end(sid, REASON, session)
            use = Use("ended", sid, session, cert)
        self.store.delete(capability_key(digest))
        self.store.hash_delete(index_key(sid), digest)
        return use

    def session_ended(self, sid: str, clients: list[str], reason: str, session=None) -> None:
        """Sessions listener: the session ended (any reason): its capabilities become tombstones until their own
        expiry, so a late notice is told the session is over rather than that it never existed."""
        now = self.clock.now()
        for digest, expires in self.store.hash_get_all(index_key(sid)).items():
            record, ttl = self.store.get_json(capability_key(digest)), int(float(expires) - now)
            if record is not None and ttl > 0:
                self.store.set_json(capability_key(digest), {**record, "ended": reason}, ttl)
        self.store.delete(index_key(sid))
