"""In-memory state of the emulated realm: pending logins, codes, SSO sessions, tokens, faults, clock.

One lock guards everything: the emulator serves a handful of test requests, correctness beats throughput.
Single-use values (login transactions, codes, rotated refresh tokens) are removed under the lock.
"""
from __future__ import annotations

import hashlib
import secrets
import threading
import uuid
from dataclasses import dataclass, field

from bridge.clock import Clock


@dataclass(frozen=True)
class AuthRequest:
    """A validated authorization request waiting for the user on the login page (keyed by `txn`)."""

    client_id: str
    redirect_uri: str
    scope: str
    state: str | None
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    prompt: tuple[str, ...]
    login_hint: str
    acr_values: str
    expires_at: float


@dataclass
class SsoSession:
    """Keycloak user session: `sid` is also the `session_state` of the responses."""

    sid: str
    user: str                 # SubjectNameID
    auth_mode: str            # CARD | MOBILE
    auth_time: int
    expires_at: float
    ended: bool = False
    last_seen: float = 0.0    # login or refresh: Keycloak's idle timer (SSO Session Idle, 30 min at PSC)
    clients: set = field(default_factory=set)   # clients given tokens: back-channel logout targets
    amr: tuple = ()           # auth_mode FI: the amr the establishment IdP stated (broker.py), put in the tokens
    idp_acr: str = ""         # auth_mode FI with fi_acr="idp": the IdP's acr, PSC's acr for this login


@dataclass(frozen=True)
class Grant:
    """What a code or a refresh token gives access to."""

    client_id: str
    sid: str
    scope: str
    nonce: str | None
    cert_thumbprint: str = ""  # x5t#S256 when the client authenticated with mTLS


@dataclass(frozen=True)
class AuthorizationCode:
    grant: Grant
    redirect_uri: str
    code_challenge: str | None
    code_challenge_method: str | None
    expires_at: float


@dataclass(frozen=True)
class RefreshToken:
    grant: Grant
    issued_at: int
    expires_at: float


@dataclass
class AccessToken:
    grant: Grant
    claims: dict              # as signed (after fault injection), for introspection
    expires_at: float         # the real expiry, whatever a fault wrote into `exp`
    revoked: bool = False


def new_secret() -> str:
    """An unguessable opaque value (256 bits)."""
    return secrets.token_urlsafe(32)


def token_key(token: str) -> str:
    """Tokens are indexed by hash: a fault may rewrite any claim, jti included."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class EmulatorState:
    clock: Clock = field(default_factory=Clock)
    faults: dict = field(default_factory=dict)
    sso_idle_ttl: float = 30 * 60
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _logins: dict[str, AuthRequest] = field(default_factory=dict)
    _codes: dict[str, AuthorizationCode] = field(default_factory=dict)
    _sessions: dict[str, SsoSession] = field(default_factory=dict)
    _refresh: dict[str, RefreshToken] = field(default_factory=dict)
    _access: dict[str, AccessToken] = field(default_factory=dict)

    def now(self) -> float:
        return self.clock.now()

    # -- login transactions -------------------------------------------------------------------------------
    def add_login(self, request: AuthRequest) -> str:
        txn = new_secret()
        with self._lock:
            self._logins[txn] = request
        return txn

    def peek_login(self, txn: str) -> AuthRequest | None:
        with self._lock:
            request = self._logins.get(txn)
        return request if request and request.expires_at > self.now() else None

    def take_login(self, txn: str) -> AuthRequest | None:
        with self._lock:
            request = self._logins.pop(txn, None)
        return request if request and request.expires_at > self.now() else None

    # -- SSO sessions -------------------------------------------------------------------------------------
    def open_session(self, user: str, auth_mode: str, ttl: int) -> SsoSession:
        now = self.now()
        session = SsoSession(sid=str(uuid.uuid4()), user=user, auth_mode=auth_mode, auth_time=int(now),
                             expires_at=now + ttl, last_seen=now)
        with self._lock:
            self._sessions[session.sid] = session
        return session

    def live_session(self, sid: str | None) -> SsoSession | None:
        with self._lock:
            session = self._sessions.get(sid or "")
        now = self.now()
        if session and not session.ended and session.expires_at > now and now - session.last_seen < self.sso_idle_ttl:
            return session
        return None

    def seen(self, session: SsoSession, client_id: str) -> None:
        """The session was used (tokens issued or refreshed for `client_id`): its idle timer restarts."""
        with self._lock:
            session.last_seen = self.now()
            session.clients.add(client_id)

    def live_sessions_of(self, user: str) -> list[str]:
        with self._lock:
            sids = [s.sid for s in self._sessions.values() if s.user == user]
        return [sid for sid in sids if self.live_session(sid)]

    def session_clients(self, sid: str) -> tuple[SsoSession | None, set]:
        with self._lock:
            session = self._sessions.get(sid)
            return session, set(session.clients) if session else set()

    def reauthenticate(self, session: SsoSession, auth_mode: str) -> SsoSession:
        """The same user logged in again (prompt=login, max_age): same session, new auth_time and means."""
        with self._lock:
            session.auth_time, session.auth_mode, session.amr, session.idp_acr = int(self.now()), auth_mode, (), ""
            session.last_seen = self.now()
        return session

    def end_session(self, sid: str | None) -> bool:
        """End the session and, with it, its refresh and access tokens (checked through `live_session`)."""
        with self._lock:
            session = self._sessions.get(sid or "")
            if not session or session.ended:
                return False
            session.ended = True
            self._refresh = {k: v for k, v in self._refresh.items() if v.grant.sid != sid}
            return True

    # -- codes --------------------------------------------------------------------------------------------
    def add_code(self, code: AuthorizationCode) -> str:
        value = new_secret()
        with self._lock:
            self._codes[value] = code
        return value

    def take_code(self, value: str) -> AuthorizationCode | None:
        """Single use: the code is gone after this call, whatever the outcome of the exchange."""
        with self._lock:
            code = self._codes.pop(value, None)
        return code if code and code.expires_at > self.now() else None

    # -- refresh tokens -----------------------------------------------------------------------------------
    def add_refresh(self, grant: Grant, ttl: int, session: SsoSession) -> tuple[str, RefreshToken]:
        now = self.now()
        # Never beyond the SSO session, as in Keycloak (refresh_expires_in shrinks near the session end).
        record = RefreshToken(grant=grant, issued_at=int(now), expires_at=min(now + ttl, session.expires_at))
        value = new_secret()
        with self._lock:
            self._refresh[value] = record
        return value, record

    def get_refresh(self, value: str) -> RefreshToken | None:
        with self._lock:
            record = self._refresh.get(value)
        return record if record and record.expires_at > self.now() else None

    def take_refresh(self, value: str) -> RefreshToken | None:
        """Rotation: the presented refresh token is consumed."""
        with self._lock:
            record = self._refresh.pop(value, None)
        return record if record and record.expires_at > self.now() else None

    def revoke_refresh(self, value: str) -> RefreshToken | None:
        with self._lock:
            return self._refresh.pop(value, None)

    # -- access tokens ------------------------------------------------------------------------------------
    def add_access(self, token: str, record: AccessToken) -> None:
        with self._lock:
            self._access[token_key(token)] = record

    def get_access(self, token: str) -> AccessToken | None:
        """The record of a known, unexpired, unrevoked access token whose session is alive."""
        with self._lock:
            record = self._access.get(token_key(token))
        if not record or record.revoked or record.expires_at <= self.now():
            return None
        return record if self.live_session(record.grant.sid) else None

    def revoke_access(self, token: str) -> AccessToken | None:
        with self._lock:
            record = self._access.get(token_key(token))
            if record:
                record.revoked = True
            return record

    def purge_expired(self) -> None:
        """Drop what can no longer be used (called now and then, keeps memory flat in long demos)."""
        now = self.now()
        with self._lock:
            self._logins = {k: v for k, v in self._logins.items() if v.expires_at > now}
            self._codes = {k: v for k, v in self._codes.items() if v.expires_at > now}
            self._refresh = {k: v for k, v in self._refresh.items() if v.expires_at > now}
            self._access = {k: v for k, v in self._access.items() if v.expires_at > now}
            self._sessions = {k: v for k, v in self._sessions.items() if v.expires_at > now and not v.ended}
