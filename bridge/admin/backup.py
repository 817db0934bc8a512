"""Backup codes in the admin console, as plain data (the HTTP side is bridge/web/admin_backup.py): which services
allow the backup means, activating a code for one professional (never the administrator themselves: RIE-PS 17) and
revoking an unused one. Every activation, refusal and revocation is an `admin_action` audit line whose subject is
the administrator, with the professional's id in `professional` (pseudonymised like any subject on request)."""
from __future__ import annotations

from bridge.logs import current_request_id, log
from bridge.upstream.backup import Activation, BackupCodes, BackupError


def backup_services(b) -> list:
    """The services whose policy lists `backup` in allowed_mie (the only ones a code may be activated for)."""
    return [s for s in b.policies.services.values() if "backup" in s.allowed_mie]


def codes(b) -> BackupCodes:
    return BackupCodes(b.store, b.clock, b.settings)


def _audit(b, command: str, outcome: str, admin: str, professional: str, **details) -> None:
    b.record("admin_action", outcome, service="admin", national_id=admin, command=command,
             professional=b.audit.subject(professional) if professional else "", **details)
    log.info("admin_action", command=command, outcome=outcome, request_id=current_request_id())


def activate(b, admin: str, national_id: str, family_name: str, given_name: str, services: list[str]) -> Activation:
    """A code for `national_id`, for `services` (each must allow backup). BackupError: refused, and audited."""
    allowed = {s.service for s in backup_services(b)}
    chosen = tuple(dict.fromkeys(s for s in services if isinstance(s, str)))
    if not national_id or not family_name or not chosen or not set(chosen) <= allowed:
        raise BackupError("backup_activation_incomplete")
    try:
        activation = codes(b).activate(admin=admin, national_id=national_id, family_name=family_name,
                                       given_name=given_name, services=chosen)
    except BackupError as exc:
        _audit(b, "activate_backup_code", "denied", admin, national_id, reason=exc.code, services=list(chosen))
        raise
    _audit(b, "activate_backup_code", "success", admin, national_id, backup_id=activation.id,
           services=list(chosen), expires_at=int(activation.expires_at), ttl=int(codes(b).ttl))
    return activation


def revoke(b, admin: str, national_id: str) -> dict | None:
    """Withdraw `national_id`'s unused code; the record removed, or None (nothing pending)."""
    record = codes(b).revoke(national_id)
    if record is not None:
        _audit(b, "revoke_backup_code", "success", admin, national_id, backup_id=record["id"])
    return record
