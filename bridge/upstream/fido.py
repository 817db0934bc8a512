"""Passkeys and FIDO2 security keys (WebAuthn, py_webauthn): the local-fido means, bound to a proven identity.

    keys = Passkeys(store, clock, settings)
    options = keys.registration_options(session)          # only soon after a PSC or card login (RIE-PS 07)
    key = keys.register(session, credential_json, "Clé bleue")
    options = keys.authentication_options(txn.id)         # discoverable credentials: no identifier is typed
    key, authn = keys.verify(txn.id, credential_json)     # or FidoError, then the login pipeline as any upstream

Enrolment: a key is registered only within BRIDGE_FIDO_ENROL_WINDOW (5 min) of the session's own login, and only
when that login was Pro Santé Connect or a CPS card (the identity proof); the key is bound to that national_id and
keeps a copy of the identity (names, exercices) so a passkey login has the same claims. User verification is
required (PIN or biometric on the key), resident keys preferred, attestation not asked (`none`: the bridge does not
keep a list of authenticator models). RP ID = the host of BRIDGE_PUBLIC_URL (an IP address is not a valid RP ID:
browsers refuse it), origin = its origin. Challenges are single use and live CHALLENGE_TTL in the store.

Store: `fido:keys:{national_id}` (hash: credential id -> the key as JSON), `fido:cred:{credential id}` ->
national_id, `fido:revoked:{credential id}` (so a revoked key reads "revoked", not "unknown"). A key expires
BRIDGE_FIDO_KEY_LIFETIME (≤ 3 years, RIE-PS 08) after enrolment; its record stays RECORD_GRACE longer so that its
use reads "expired". Failed assertions are counted per key and per source address (FidoFailures, R8).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import math
import secrets
from dataclasses import asdict, dataclass, field, replace
from urllib.parse import urlsplit

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    base64url_to_bytes,
    bytes_to_base64url,
    parse_attestation_object,
    parse_authenticator_data,
    parse_client_data_json,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from bridge.errors import BridgeError
from bridge.mie import CATALOGUE
from bridge.model import Authentication
from bridge.upstream.cps import public_origin

MIE_ID = "local-fido"
CHALLENGE_TTL = 120              # seconds a registration or login ceremony may take
RECORD_GRACE = 30 * 86400        # an expired key's record stays this long: its use reads "expired", not "unknown"
MAX_CREDENTIAL = 16384           # characters of credential JSON we are willing to parse
MAX_NAME = 60
MAX_KEYS = 10                    # per professional
STRONG_MIE = ("psc", "cps")      # prefixes of the means an enrolment may follow (identity proven by PSC or a card)
# Refusals counted towards the lockout (R8): the others say nothing about the key or the person.
NOT_COUNTED = frozenset({"fido_challenge_invalid", "txn_invalid", "csrf", "store_unavailable"})
DAY, DAILY_FAILURES = 86400, 25  # R8: at most 25 failures per 24 h for one key


class FidoError(BridgeError):
    """A passkey enrolment or login refused: `code` is shown to the user through bridge.web.messages."""
    default_status = 403


def rp_id(public_url: str) -> str:
    return (urlsplit(public_url).hostname or "").lower()


def rp_id_problem(host: str) -> str | None:
    """Why browsers will refuse this RP ID (an IP address), or None."""
    import ipaddress

    try:
        ipaddress.ip_address(host)
    except ValueError:
        return None
    return f"{host} is an IP address: WebAuthn needs a domain name (e.g. http://localhost:8000 in development)"


@dataclass(frozen=True)
class Key:
    id: str                      # credential id, base64url
    national_id: str
    public_key: str              # COSE public key, base64url
    sign_count: int
    name: str
    created: float
    expires: float
    last_used: float = 0.0
    aaguid: str = ""
    backed_up: bool = False      # a synced (multi-device) passkey: amr swk, not hwk
    enrolled_with: str = ""      # the MIE of the login that allowed the enrolment
    identity: dict = field(default_factory=dict)   # Authentication.to_dict()["identity"] at enrolment

    def expired(self, now: float) -> bool:
        return now >= self.expires

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str) -> Key:
        return cls(**json.loads(raw))


def _keys_key(national_id: str) -> str:
    return f"fido:keys:{national_id}"


def _parse_credential(raw) -> dict:
    if not isinstance(raw, str) or not raw or len(raw) > MAX_CREDENTIAL:
        raise FidoError("fido_malformed", "credential missing or too long")
    try:
        data = json.loads(raw)
        response = data["response"]
        if not isinstance(data["id"], str) or not isinstance(response, dict):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise FidoError("fido_malformed", "credential is not a PublicKeyCredential in JSON") from None
    return data


def _client_data(data: dict, kind: str):
    try:
        client = parse_client_data_json(base64url_to_bytes(data["response"]["clientDataJSON"]))
    except (WebAuthnException, KeyError, TypeError, ValueError):
        raise FidoError("fido_malformed", "clientDataJSON unreadable") from None
    if client.type != kind:
        raise FidoError("fido_malformed", f"clientDataJSON type {client.type!r}, expected {kind}")
    return client


class Passkeys:
    def __init__(self, store, clock, settings):
        self.store, self.clock, self.settings = store, clock, settings
        self.rp_id, self.origin = rp_id(settings.public_url), public_origin(settings.public_url)
        self.lifetime = min(settings.fido_key_lifetime, 3 * 365 * 86400)

    # -- enrolment (RIE-PS 07) ---------------------------------------------------------------------------------
    def enrol_refusal(self, session) -> tuple[str, int] | None:
        """(code, minutes since the login) when this session may not enrol a key now; None when it may."""
        authn = session.authn
        age = self.clock.now() - authn.auth_time
        if not authn.mie.startswith(STRONG_MIE) or authn.upstream not in ("psc", "cps-pin", "cps-tls"):
            return "fido_enrol_not_strong", max(0, int(age // 60))
        if age > self.settings.fido_enrol_window:
            return "fido_enrol_too_old", max(0, int(age // 60))
        return None

    def user_handle(self, national_id: str) -> bytes:
        """The WebAuthn user.id: stable per professional, no personal data on the authenticator."""
        return hmac.new(self.settings.secret_key.encode(), f"fido-user|{national_id}".encode(), hashlib.sha256
                        ).digest()[:32]

    def registration_options(self, session) -> dict:
        refusal = self.enrol_refusal(session)
        if refusal:
            raise FidoError(refusal[0], f"login with {session.authn.mie} {refusal[1]} min ago")
        identity = session.authn.identity
        now = self.clock.now()   # an expired key is neither counted nor excluded: its authenticator may enrol again
        existing = [k for k in self.keys(identity.national_id) if not k.expired(now)]
        if len(existing) >= MAX_KEYS:
            raise FidoError("fido_too_many_keys", f"{len(existing)} keys")
        challenge = secrets.token_bytes(32)
        self.store.set_json(f"fido:reg:{bytes_to_base64url(challenge)}",
                            {"national_id": identity.national_id, "sid": session.sid}, CHALLENGE_TTL)
        display = " ".join(p for p in (identity.given_name, identity.family_name) if p) or identity.national_id
        options = generate_registration_options(
            rp_id=self.rp_id, rp_name="PSC Bridge", user_name=identity.national_id, user_display_name=display,
            user_id=self.user_handle(identity.national_id), challenge=challenge, timeout=CHALLENGE_TTL * 1000,
            attestation=AttestationConveyancePreference.NONE,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.PREFERRED,
                user_verification=UserVerificationRequirement.REQUIRED),
            exclude_credentials=[PublicKeyCredentialDescriptor(id=base64url_to_bytes(k.id)) for k in existing])
        return json.loads(options_to_json(options))

    def register(self, session, raw_credential, name: str) -> Key:
        """The authenticator's answer to registration_options: checked, then the key is stored for this person."""
        data = _parse_credential(raw_credential)
        client = _client_data(data, "webauthn.create")
        expected = self.store.consume_json(f"fido:reg:{bytes_to_base64url(client.challenge)}")
        national_id = session.authn.identity.national_id
        if expected is None or expected.get("sid") != session.sid or expected.get("national_id") != national_id:
            raise FidoError("fido_challenge_invalid", "unknown, used or expired registration challenge")
        age = self.clock.now() - session.authn.auth_time
        if age > self.settings.fido_enrol_window + CHALLENGE_TTL:   # the ceremony began in time, it may end
            raise FidoError("fido_enrol_too_old", f"login {int(age)} s ago")
        if client.origin != self.origin:
            raise FidoError("fido_wrong_origin", f"origin {client.origin!r}, expected {self.origin!r}")
        try:
            attestation = parse_attestation_object(base64url_to_bytes(data["response"]["attestationObject"]))
        except (WebAuthnException, KeyError, TypeError, ValueError):
            raise FidoError("fido_malformed", "attestationObject unreadable") from None
        self._check_flags(attestation.auth_data)
        try:
            verified = verify_registration_response(
                credential=data, expected_challenge=client.challenge, expected_rp_id=self.rp_id,
                expected_origin=self.origin, require_user_verification=True)
        except WebAuthnException as exc:
            raise FidoError("fido_invalid", str(exc)[:200]) from None
        key_id = bytes_to_base64url(verified.credential_id)
        if self.store.get(f"fido:cred:{key_id}") is not None:
            raise FidoError("fido_already_enrolled", "credential id already registered")
        now = self.clock.now()
        identity = session.authn.to_dict()["identity"]
        key = Key(id=key_id, national_id=national_id, public_key=bytes_to_base64url(verified.credential_public_key),
                  sign_count=verified.sign_count, name=_clean_name(name) or _default_name(now), created=now,
                  expires=now + self.lifetime, aaguid=str(verified.aaguid),
                  backed_up=bool(attestation.auth_data.flags.bs), enrolled_with=session.authn.mie, identity=identity)
        self._save(key)
        return key

    # -- lifecycle (RIE-PS 08/09) ------------------------------------------------------------------------------
    def keys(self, national_id: str) -> list[Key]:
        """This professional's keys, oldest first (expired ones included: the page says so)."""
        raw = self.store.hash_get_all(_keys_key(national_id))
        return sorted((Key.from_json(v) for v in raw.values()), key=lambda k: k.created)

    def get(self, national_id: str, key_id: str) -> Key | None:
        raw = self.store.hash_get_all(_keys_key(national_id)).get(key_id) if isinstance(key_id, str) else None
        return Key.from_json(raw) if raw else None

    def rename(self, national_id: str, key_id: str, name: str) -> Key | None:
        key = self.get(national_id, key_id)
        if key is None or not _clean_name(name):
            return None
        key = replace(key, name=_clean_name(name))
        self._save(key)
        return key

    def revoke(self, national_id: str, key_id: str) -> Key | None:
        """The key goes at once; its later use reads "revoked" (audited) until it would have expired."""
        key = self.get(national_id, key_id)
        if key is None:
            return None
        self.store.hash_delete(_keys_key(national_id), key.id)
        self.store.delete(f"fido:cred:{key.id}")
        self.store.set(f"fido:revoked:{key.id}", national_id, self._ttl(key))
        return key

    def _ttl(self, key: Key) -> int:
        return max(1, math.ceil(key.expires + RECORD_GRACE - self.clock.now()))

    def _save(self, key: Key) -> None:
        ttl = self._ttl(key)
        self.store.set(f"fido:cred:{key.id}", key.national_id, ttl)
        latest = max([ttl] + [self._ttl(k) for k in self.keys(key.national_id)])
        self.store.hash_set(_keys_key(key.national_id), {key.id: key.to_json()}, latest)

    # -- login ---------------------------------------------------------------------------------------------------
    def authentication_options(self, txn_id: str) -> dict:
        """Discoverable credentials: no allowCredentials, the authenticator offers this site's keys."""
        challenge = secrets.token_bytes(32)
        self.store.set(f"fido:auth:{bytes_to_base64url(challenge)}", txn_id, CHALLENGE_TTL)
        options = generate_authentication_options(rp_id=self.rp_id, challenge=challenge,
                                                  timeout=CHALLENGE_TTL * 1000,
                                                  user_verification=UserVerificationRequirement.REQUIRED)
        return json.loads(options_to_json(options))

    @staticmethod
    def announced_key(raw_credential) -> str | None:
        """The credential id a login claims (unauthenticated: only to count and lock out failures per key)."""
        try:
            key_id = json.loads(raw_credential)["id"] if isinstance(raw_credential, str) and len(
                raw_credential) <= MAX_CREDENTIAL else None
        except (ValueError, KeyError, TypeError):
            return None
        return key_id if isinstance(key_id, str) and 0 < len(key_id) <= 1400 else None

    def verify(self, txn_id: str, raw_credential) -> tuple[Key, Authentication]:
        """An assertion for this login: challenge (single use, this login's), origin, RP ID, user present and
        verified, a live key, its signature counter moving forward, its signature. FidoError otherwise; the key
        (when known) is on the error as `key` for the audit."""
        data = _parse_credential(raw_credential)
        client = _client_data(data, "webauthn.get")
        owner = self.store.consume(f"fido:auth:{bytes_to_base64url(client.challenge)}")
        if owner is None or not hmac.compare_digest(owner.encode(), txn_id.encode()):
            raise FidoError("fido_challenge_invalid", "unknown, used or expired login challenge")
        if client.origin != self.origin:
            raise FidoError("fido_wrong_origin", f"origin {client.origin!r}, expected {self.origin!r}")
        try:
            auth_data = parse_authenticator_data(base64url_to_bytes(data["response"]["authenticatorData"]))
        except (WebAuthnException, KeyError, TypeError, ValueError):
            raise FidoError("fido_malformed", "authenticatorData unreadable") from None
        self._check_flags(auth_data)
        key = self._live_key(data["id"])
        handle = data["response"].get("userHandle")
        if handle and not hmac.compare_digest(str(handle).encode(),
                                              bytes_to_base64url(self.user_handle(key.national_id)).encode()):
            raise _with_key(FidoError("fido_unknown_key", "userHandle is not the key's owner"), key)
        if (auth_data.sign_count or key.sign_count) and auth_data.sign_count <= key.sign_count:
            raise _with_key(FidoError("fido_cloned", f"signature counter {auth_data.sign_count} after "
                                                     f"{key.sign_count}: a cloned authenticator?"), key)
        try:
            verified = verify_authentication_response(
                credential=data, expected_challenge=client.challenge, expected_rp_id=self.rp_id,
                expected_origin=self.origin, credential_public_key=base64url_to_bytes(key.public_key),
                credential_current_sign_count=key.sign_count, require_user_verification=True)
        except WebAuthnException as exc:
            raise _with_key(FidoError("fido_invalid", str(exc)[:200]), key) from None
        now = self.clock.now()
        key = replace(key, sign_count=verified.new_sign_count, last_used=now, backed_up=verified.credential_backed_up)
        self._save(key)
        return key, self.authentication(key, now)

    def authentication(self, key: Key, now: float) -> Authentication:
        """The neutral Authentication of a passkey login: the identity kept at enrolment, the local-fido means, the
        key in upstream_session (an administrator's revocation ends the sessions it opened). A synced passkey
        (backup state set) is a software key (`swk`), a device-bound one hardware (`hwk`)."""
        amr = tuple("swk" if a == "hwk" and key.backed_up else a for a in CATALOGUE[MIE_ID].amr)
        return Authentication.from_dict({"identity": {**key.identity, "national_id": key.national_id},
                                         "mie": MIE_ID, "amr": amr, "acr": self.settings.fido_acr,
                                         "auth_time": int(now), "upstream": MIE_ID,
                                         "upstream_session": {"key_id": key.id}})

    def _live_key(self, key_id) -> Key:
        if not isinstance(key_id, str) or not key_id or len(key_id) > 1400:
            raise FidoError("fido_malformed", "credential id missing")
        national_id = self.store.get(f"fido:cred:{key_id}")
        if national_id is None:
            if self.store.get(f"fido:revoked:{key_id}") is not None:
                raise FidoError("fido_key_revoked", "the key was revoked")
            raise FidoError("fido_unknown_key", "no such key")
        key = self.get(national_id, key_id)
        if key is None:
            raise FidoError("fido_unknown_key", "no such key")
        if key.expired(self.clock.now()):
            raise _with_key(FidoError("fido_key_expired", "re-enrolment due (RIE-PS 08)"), key)
        return key

    def _check_flags(self, auth_data) -> None:
        if not hmac.compare_digest(auth_data.rp_id_hash, hashlib.sha256(self.rp_id.encode()).digest()):
            raise FidoError("fido_wrong_rp", f"RP ID hash is not that of {self.rp_id!r}")
        if not auth_data.flags.up:
            raise FidoError("fido_no_user_verification", "user presence flag not set")
        if not auth_data.flags.uv:
            raise FidoError("fido_no_user_verification", "user verification flag not set (PIN or biometric)")


def _with_key(exc: FidoError, key: Key) -> FidoError:
    exc.key = key
    return exc


def _clean_name(name) -> str:
    if not isinstance(name, str):
        return ""
    return " ".join("".join(c for c in name if c.isprintable()).split())[:MAX_NAME]


def _default_name(now: float) -> str:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return datetime.fromtimestamp(now, ZoneInfo("Europe/Paris")).strftime("Clé du %d/%m/%Y %H:%M")


class FidoFailures:
    """Failed passkey logins (R8): counted per key (the credential id the login claims) and per source address
    in a fixed window; at BRIDGE_FIDO_FAILURES for a key (ten times that for an address, many workstations behind
    one NAT), that key or address is refused for BRIDGE_FIDO_LOCKOUT. A store outage raises: fail closed."""

    def __init__(self, store, clock, settings):
        self.store, self.clock = store, clock
        self.limits = {"key": settings.fido_failures, "address": settings.fido_failures * 10}
        self.window, self.lockout = int(settings.fido_failures_window), int(settings.fido_lockout)

    @staticmethod
    def _subjects(key_id: str | None, address: str | None) -> list[tuple[str, str]]:
        subjects = [("key", hashlib.sha256(key_id.encode()).hexdigest()[:32])] if key_id else []
        return subjects + ([("address", address)] if address else [])

    def locked(self, key_id: str | None, address: str | None) -> tuple[str, int] | None:
        """(scope, minutes left) when this key (first) or address is locked out; None otherwise."""
        now = self.clock.now()
        for scope, value in self._subjects(key_id, address):
            until = self.store.get(f"fidolock:{scope}:{value}")
            if until is not None and float(until) > now:
                return scope, max(1, math.ceil((float(until) - now) / 60))
        return None

    def failed(self, code: str, key_id: str | None, address: str | None) -> list[str]:
        """Count one refused login; the scopes this failure has just locked out. Beside the window, a key that
        reaches DAILY_FAILURES refused logins in 24 hours is refused for the rest of that day (R8's maximum)."""
        if code in NOT_COUNTED:
            return []
        newly = []
        for scope, value in self._subjects(key_id, address):
            lockout = self.lockout
            if self.store.count(f"fidofail:{scope}:{value}", self.window) >= self.limits[scope]:
                newly.append(scope)
            if scope == "key" and self.store.count(f"fidoday:{value}", DAY) >= DAILY_FAILURES:
                lockout = DAY
                newly.append(scope)
            if newly and newly[-1] == scope:
                self.store.set(f"fidolock:{scope}:{value}", str(self.clock.now() + lockout), lockout)
        return list(dict.fromkeys(newly))
