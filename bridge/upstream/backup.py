"""The backup means (« moyen de secours », RIE-PS 16, referential R11): a one-time code an administrator activates
for one professional, for the services whose policy lists `backup` in allowed_mie, valid BRIDGE_BACKUP_CODE_TTL
(24 h at most). The professional cannot activate one for themselves (RIE-PS 17: a self-activated backup means is a
forbidden reserve): the console refuses an administrator's own national id.

What is stored (one record per professional, in the store, `backup:code:<national id>`): an HMAC-SHA256 of the
code under the bridge's secret key, never the code; the services; the identity the administrator typed (national
id, family and given names: the only identity the claims carry after such a login, no situation d'exercice); who
activated it and until when. A new activation replaces the previous code. The code is single use: the first
correct use sets `backup:used:<id>` with SET NX, so two tabs racing with it give one login. A wrong code counts
against the national id (and the source address): 5 failures in 15 min lock that person's backup login for 15 min
(R8: « > 1 min after 5 failures »); 100 per address for a hospital NAT. A store outage raises StoreUnavailable: the
login fails closed.

Factors: the code is something the professional is told (by phone or in person), so one factor, knowledge; its
RFC 8176 amr is `pwd` (`otp` names device-generated HOTP/TOTP codes, possession, which this is not) and its acr
eidas1 (bridge.acr.BACKUP_ACR). R11 admits one factor for a backup means: the policy's require_2fa does not refuse
it (bridge.policy.evaluate), its own rules (admin activation, ≤ 24 h, single use, scope, attempt limit) apply.
"""
from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
from dataclasses import dataclass

from bridge.acr import BACKUP_ACR
from bridge.model import Authentication, Identity

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"   # no 0/O, 1/I/L: read out over the phone
CODE_LENGTH = 12                              # 31^12 ≈ 2^59
MAX_TTL = 86400                               # RIE-PS 16 (suggested 24 h): the setting cannot go above
FAILURES_PER_PERSON, FAILURES_PER_ADDRESS = 5, 100
FAILURE_WINDOW, LOCKOUT = 900, 900
KEEP_AFTER_EXPIRY = 86400                     # the record outlives its code a day to say « expiré », not « inconnu »
INDEX = "backup:index"
MIE, UPSTREAM, AMR = "backup", "backup", ("pwd",)
NATIONAL_ID = re.compile(r"[0-9A-Za-z-]{1,40}")   # RPPS/ADELI digits, sandbox ids, a PSI UUID
PSI_ID = re.compile(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}")   # Pro Santé Identité ids are UUIDs (kind psi)


class BackupError(Exception):
    """A refused activation or use; `code` is what the page shows (bridge.web.messages)."""

    def __init__(self, code: str, detail: str = "", status: int = 400, minutes: int = 0, record: dict | None = None):
        super().__init__(code)
        self.code, self.detail, self.status, self.minutes, self.record = code, detail, status, minutes, record or {}


@dataclass(frozen=True)
class Activation:
    id: str
    code: str            # shown once to the administrator, then forgotten
    national_id: str
    services: tuple[str, ...]
    expires_at: float


def normalize(code: str) -> str:
    """What the professional typed, as stored: spaces and dashes dropped, capitals."""
    return "".join(c for c in code.upper() if c not in " -\t") if isinstance(code, str) else ""


def _public(record: dict) -> dict:
    return {k: v for k, v in record.items() if k != "digest"}


def formatted(code: str) -> str:
    return "-".join(code[i:i + 4] for i in range(0, len(code), 4))


class BackupCodes:
    def __init__(self, store, clock, settings):
        self.store, self.clock = store, clock
        self.ttl = int(min(settings.backup_code_ttl, MAX_TTL))
        self._key = settings.secret_key.encode("utf-8")

    def _digest(self, record_id: str, national_id: str, code: str) -> str:
        message = f"{record_id}:{national_id}:{normalize(code)}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    @staticmethod
    def _key_of(national_id: str) -> str:
        return f"backup:code:{national_id}"

    def activate(self, *, admin: str, national_id: str, family_name: str, given_name: str,
                 services: tuple[str, ...], ttl: int | None = None) -> Activation:
        """A new code for `national_id` (replacing any previous one). Refused for the administrator's own id."""
        if not national_id or not services:
            raise BackupError("backup_activation_incomplete")
        if hmac.compare_digest(admin.encode(), national_id.encode()):
            raise BackupError("backup_self_activation", status=403)
        life = min(int(ttl or self.ttl), self.ttl)
        now = self.clock.now()
        record_id = secrets.token_urlsafe(12)
        code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
        record = {"id": record_id, "digest": self._digest(record_id, national_id, code), "services": list(services),
                  "identity": {"national_id": national_id, "family_name": family_name, "given_name": given_name,
                               "kind": "psi" if PSI_ID.fullmatch(national_id) else ""},
                  "activated_by": admin, "activated_at": now, "expires_at": now + life}
        self.store.set_json(self._key_of(national_id), record, life + KEEP_AFTER_EXPIRY)
        self.store.index_add(INDEX, national_id, now + life)
        return Activation(record_id, code, national_id, tuple(services), now + life)

    def revoke(self, national_id: str) -> dict | None:
        """An administrator withdrew an unused code: the record that was removed, or None."""
        record = self.store.get_json(self._key_of(national_id))
        if record is None or self.store.get(f"backup:used:{record['id']}") is not None:
            return None
        self.store.delete(self._key_of(national_id))
        self.store.index_remove(INDEX, national_id)
        return record

    def pending(self) -> list[dict]:
        """Codes activated and not used nor expired, for the console (no digest in what is returned)."""
        now, rows = self.clock.now(), []
        ids = self.store.index_due(INDEX, now + MAX_TTL + KEEP_AFTER_EXPIRY)
        for national_id in ids:
            record = self.store.get_json(self._key_of(national_id))
            if record is None or record["expires_at"] <= now or self.store.get(f"backup:used:{record['id']}"):
                self.store.index_remove(INDEX, national_id)
                continue
            rows.append(_public(record))
        return rows

    def locked(self, national_id: str, address: str | None) -> int:
        """Minutes left when this person (first) or address is locked out after failures; 0 otherwise."""
        now = self.clock.now()
        for scope, value in (("person", national_id), ("address", address)):
            until = self.store.get(f"backuplock:{scope}:{value}") if value else None
            if until is not None and float(until) > now:
                return max(1, math.ceil((float(until) - now) / 60))
        return 0

    def failed(self, national_id: str, address: str | None) -> list[str]:
        """Count one failed attempt; the scopes it has just locked out."""
        newly = []
        for scope, value, limit in (("person", national_id, FAILURES_PER_PERSON),
                                    ("address", address, FAILURES_PER_ADDRESS)):
            if value and self.store.count(f"backupfail:{scope}:{value}", FAILURE_WINDOW) == limit:
                self.store.set(f"backuplock:{scope}:{value}", str(self.clock.now() + LOCKOUT), LOCKOUT)
                newly.append(scope)
        return newly

    def use(self, national_id: str, code: str, service: str) -> tuple[Authentication, dict]:
        """(the neutral Authentication, the activation record without its digest) for a correct, unused, unexpired
        code for this service, used up; BackupError otherwise (`record` set when a code exists, for the audit)."""
        record = self.store.get_json(self._key_of(national_id)) if national_id else None
        typed = normalize(code)
        if record is None or not typed:
            raise BackupError("backup_code_invalid", "no code for this national id" if typed else "empty code")
        if not hmac.compare_digest(record["digest"], self._digest(record["id"], national_id, typed)):
            raise BackupError("backup_code_invalid", "wrong code", record=record)
        used = f"backup:used:{record['id']}"
        if self.store.get(used) is not None:
            raise BackupError("backup_code_used", record=record)
        now = self.clock.now()
        if now >= record["expires_at"]:
            raise BackupError("backup_code_expired", record=record)
        if service not in record["services"]:
            raise BackupError("backup_code_other_service", f"activated for {', '.join(record['services'])}",
                              status=403, record=record)
        if not self.store.add(used, str(now), KEEP_AFTER_EXPIRY + self.ttl):
            raise BackupError("backup_code_used", "used concurrently", record=record)
        self.store.index_remove(INDEX, national_id)
        ident = record["identity"]
        return Authentication(
            identity=Identity(national_id=ident["national_id"], family_name=ident.get("family_name", ""),
                              given_name=ident.get("given_name", ""), kind=ident.get("kind", "")),
            mie=MIE, amr=AMR, acr=BACKUP_ACR, auth_time=int(now), upstream=UPSTREAM), _public(record)
