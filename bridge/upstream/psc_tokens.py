"""PSC tokens kept per SSO session for the token relay (RFC 8693 at /token: bridge.provider.exchange).

The PSC access token (2 min) and refresh token (30 min) of a PSC login are kept in the store, AES-256-GCM encrypted
with a key derived (HKDF-SHA256) from BRIDGE_SECRET_KEY, the store key as associated data (a value moved to another
session does not decrypt), for the session's lifetime; they go when the session ends (a session listener).

Refresh schedule: lazily at exchange time when the kept access token expires in less than REFRESH_BEFORE, and by
the sweeper when the kept refresh token would lapse (within SWEEP_AHEAD) before the bridge session ends, which keeps
PSC's session (30 min idle) alive as long as the bridge's. One refresh at a time per session (a store lock): PSC
rotates refresh tokens, so two concurrent refreshes would make PSC refuse the second.

PSC's answers: invalid_grant means the PSC session ended (logout elsewhere, idle, revoked): the SSO session ends
and its apps get their back-channel logout (reason psc_session_ended). A network error, a timeout or any other
answer is no logout: the session is kept, the failure counted and audited, and no new try is made for
RETRY_AFTER seconds; the exchange answers 503 temporarily_unavailable meanwhile (unless the kept access token is
still valid). The bound is the refresh token's own lifetime: when it lapses without a successful refresh, the kept
tokens are dropped (audited psc_relay_stopped) and the exchange refuses until the user logs in through PSC again;
the SSO session and its apps are kept.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from joserfc.errors import JoseError
from joserfc.jws import extract_compact

from bridge import metrics
from bridge.logs import log
from bridge.sessions import IDP_SESSION_MAX
from bridge.upstream.psc import PscError, PscRefused

REFRESH_BEFORE = 30     # seconds: an exchange refreshes a kept access token that expires sooner
SWEEP_AHEAD = 120       # seconds: the sweeper refreshes a refresh token that lapses sooner (before the session)
RETRY_AFTER = 15        # seconds without a new try after a failed refresh (PSC unreachable, 5xx, timeout)
LOCK_TTL = 30
INDEX = "idx:psct"      # sid -> when the sweeper must look at its kept tokens
PREFIX = "v1."


class RelayError(Exception):
    """No PSC access token for this session: `code` is no_tokens | ended | unavailable | lapsed."""

    def __init__(self, code: str, detail: str = ""):
        super().__init__(code)
        self.code, self.detail = code, detail


def _key(sid: str) -> str:
    return f"psct:{{{sid}}}"


def _vault_key(secret: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=b"psc-bridge/psc-token-vault/v1").derive(secret.encode())


def seal(secret: str, name: str, record: dict) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(_vault_key(secret)).encrypt(nonce, json.dumps(record).encode(), name.encode())
    return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()


def unseal(secret: str, name: str, value: str) -> dict | None:
    """The record, or None when it does not decrypt (another key, another session's value, tampered)."""
    try:
        raw = base64.urlsafe_b64decode(value.removeprefix(PREFIX).encode())
        return json.loads(AESGCM(_vault_key(secret)).decrypt(raw[:12], raw[12:], name.encode()))
    except (InvalidTag, ValueError, TypeError):
        return None


def _claims(token) -> dict:
    """Payload of a JWT PSC just returned over TLS (verified at login): only to index the PSC sid and sub."""
    try:
        payload = json.loads(extract_compact(token.encode()).payload)
    except (JoseError, ValueError, TypeError, AttributeError):
        return {}
    return payload if isinstance(payload, dict) else {}


def sub_key(sub: str) -> str:
    return "pscsub:" + hashlib.sha256(sub.encode()).hexdigest()[:32]


def sid_key(psc_sid: str) -> str:
    return "pscsid:" + hashlib.sha256(psc_sid.encode()).hexdigest()[:32]


def keep_psc_tokens(bridge, sid: str, token_response: dict, session=None) -> None:
    """Keep the tokens of a PSC token response (code flow, CIBA...) for SSO session `sid`, and index the session
    by PSC's sid and sub (for PSC's back-channel logout: bridge.web.psc_logout). `session`: the SsoSession when
    the caller has just opened it (the login callback), which saves reading it back (two store round trips)."""
    session = session if session is not None and session.sid == sid else bridge.sessions.find(sid)
    if session is None or not token_response.get("access_token"):
        return
    id_claims, at_claims = _claims(token_response.get("id_token")), _claims(token_response["access_token"])
    psc_sid = str(token_response.get("session_state") or id_claims.get("sid") or at_claims.get("sid") or "")
    sub = str(id_claims.get("sub") or at_claims.get("sub") or "")
    record = _from_response(bridge.clock.now(), token_response, {"psc_sid": psc_sid, "failures": 0})
    bridge.store.write_many(_writes(bridge, sid, record, session.deadline) + [   # one round trip
        ("hash_set", key, {sid: "1"}, IDP_SESSION_MAX + 60)
        for key in filter(None, (psc_sid and sid_key(psc_sid), sub and sub_key(sub)))])


def _seconds(value, default: int) -> int:
    """A lifetime PSC announced, within 1 s..4 h (a missing or odd value: PSC's documented default)."""
    try:
        return min(IDP_SESSION_MAX, max(1, int(value)))
    except (TypeError, ValueError):
        return default


def _from_response(now: float, answer: dict, previous: dict) -> dict:
    record = {**previous, "at": str(answer["access_token"]), "at_exp": now + _seconds(answer.get("expires_in"), 120),
              "failures": 0, "retry_at": 0}
    if isinstance(answer.get("refresh_token"), str):   # PSC rotates; without a new one the previous stays valid
        record["rt"] = answer["refresh_token"]
        record["rt_exp"] = now + _seconds(answer.get("refresh_expires_in"), 1800)
    return record


def _save(bridge, sid: str, record: dict, deadline: float) -> None:
    bridge.store.write_many(_writes(bridge, sid, record, deadline))


def _writes(bridge, sid: str, record: dict, deadline: float) -> list[tuple]:
    """The sealed record and the sweeper's index entry (Store.write_many)."""
    now = bridge.clock.now()
    return [("set", _key(sid), seal(bridge.settings.secret_key, _key(sid), record), max(1, int(deadline - now) + 60)),
            ("index_add", INDEX, sid, _due(record, deadline))]


def _due(record: dict, deadline: float) -> float:
    """When the sweeper looks again: just before the refresh token lapses if it lapses before the session."""
    if record.get("retry_at"):
        return record["retry_at"]
    rt_exp = record.get("rt_exp", 0)
    return rt_exp - SWEEP_AHEAD if rt_exp and rt_exp < deadline else deadline


def load(bridge, sid: str) -> dict | None:
    value = bridge.store.get(_key(sid))
    return unseal(bridge.settings.secret_key, _key(sid), value) if value else None


def forget(bridge, sid: str) -> None:
    bridge.store.delete(_key(sid))
    bridge.store.index_remove(INDEX, sid)


def current_access(bridge, sid: str) -> tuple[str, int]:
    """(PSC access token, seconds left) for session `sid`, refreshed first when it expires within REFRESH_BEFORE."""
    record = load(bridge, sid)
    if record is None:
        raise RelayError("no_tokens", "no Pro Sante Connect token behind this session")
    now = bridge.clock.now()
    if record["at_exp"] - now < REFRESH_BEFORE:
        try:
            record = refresh(bridge, sid) or record   # None: another request refreshes it right now
        except RelayError as exc:
            if exc.code != "unavailable" or record["at_exp"] <= now:
                raise   # PSC unreachable: the kept token serves while it is valid, then 503
    left = int(record["at_exp"] - bridge.clock.now())
    if left <= 0:
        raise RelayError("unavailable", "Pro Sante Connect token being refreshed")
    return record["at"], left


def refresh(bridge, sid: str) -> dict | None:
    """Refresh the kept tokens now; the new record, or None when another request holds the session's lock."""
    lock, me = f"psct:lock:{{{sid}}}", bridge.instance
    if not bridge.store.add(lock, me, LOCK_TTL):
        return None
    try:
        return _refresh(bridge, sid)
    finally:
        if bridge.store.get(lock) == me:
            bridge.store.delete(lock)


def _refresh(bridge, sid: str) -> dict:
    record, session, now = load(bridge, sid), bridge.sessions.find(sid), bridge.clock.now()
    if record is None or session is None:
        forget(bridge, sid)
        raise RelayError("no_tokens", "no Pro Sante Connect token behind this session")
    if not record.get("rt") or record.get("rt_exp", 0) <= now:
        forget(bridge, sid)
        metrics.psc_relay("relay_stopped")
        bridge.record("psc_relay_stopped", "failure", sid=sid, reason="refresh_lapsed",
                      failures=record.get("failures", 0))
        raise RelayError("lapsed", "the Pro Sante Connect refresh token lapsed; log in again")
    if record.get("retry_at", 0) > now:
        raise RelayError("unavailable", "Pro Sante Connect unreachable; retry later")
    try:
        answer = bridge.psc.refresh(record["rt"])
    except PscRefused as exc:
        psc_session_ended(bridge, sid, source="refresh", detail=exc.detail)
        raise RelayError("ended", "the Pro Sante Connect session ended") from None
    except PscError as exc:   # network, timeout, 5xx, odd answer: not a logout
        record["failures"] = record.get("failures", 0) + 1
        record["retry_at"] = now + RETRY_AFTER
        _save(bridge, sid, record, session.deadline)
        log.warning("psc_refresh_failed", sid=sid, reason=exc.code, failures=record["failures"])
        metrics.psc_relay("refresh_failed")
        bridge.record("psc_refresh", "failure", sid=sid, reason=exc.code, failures=record["failures"])
        raise RelayError("unavailable", "Pro Sante Connect unreachable; retry later") from None
    record = _from_response(bridge.clock.now(), answer, record)
    _save(bridge, sid, record, session.deadline)
    bridge.record("psc_refresh", "success", sid=sid)
    metrics.psc_relay("refreshed")
    return record


def psc_session_ended(bridge, sid: str, *, source: str, detail: str = "") -> None:
    """PSC says the user's PSC session is over: the SSO session ends, its apps get a back-channel logout."""
    session = bridge.sessions.find(sid)
    if session is None:
        forget(bridge, sid)
        return
    bridge.record("psc_session_ended", "info", sid=sid, source=source,
                  national_id=session.authn.identity.national_id, **({"detail": detail} if detail else {}))
    bridge.sessions.end(sid, "psc_session_ended", session)
    forget(bridge, sid)
    metrics.psc_relay("session_ended")


def sessions_of(bridge, *, psc_sid: str = "", sub: str = "") -> set[str]:
    """The bridge sessions opened by PSC session `psc_sid` or PSC subject `sub`."""
    found: set[str] = set()
    for key in filter(None, (psc_sid and sid_key(psc_sid), sub and sub_key(sub))):
        found |= set(bridge.store.hash_get_all(key))
    return found


def sweep(bridge, limit: int = 200) -> int:
    """Refresh the kept tokens whose refresh token would lapse before their session; returns the sessions ended
    because PSC's had."""
    now, ended = bridge.clock.now(), 0
    for sid in bridge.store.index_due(INDEX, now, limit):
        record, session = load(bridge, sid), bridge.sessions.find(sid)
        if record is None or session is None or session.deadline <= now:
            forget(bridge, sid)   # an ended session's tokens (its own sweep ends it)
            continue
        if _due(record, session.deadline) > now:
            bridge.store.index_add(INDEX, sid, _due(record, session.deadline))
            continue
        try:
            if refresh(bridge, sid) is None:
                bridge.store.index_add(INDEX, sid, now + RETRY_AFTER)
        except RelayError as exc:
            ended += exc.code == "ended"
    return ended
