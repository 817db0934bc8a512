"""The bridge's own certificates and when they expire: the PSC mTLS client certificate (BRIDGE_PSC_CLIENT_CERT)
and every CA certificate of the IGC-Santé trust store (BRIDGE_TRUST_DIR). Nothing renews them automatically.

States: ``ok``; ``warning`` within BRIDGE_CERT_WARN_DAYS (30 by default); ``critical`` within
BRIDGE_CERT_CRITICAL_DAYS (7 by default) or expired; ``unreadable`` when a configured file cannot be read.
Read by /metrics (bridge_certificate_expiry_seconds), /readyz (detail ``certificates``), the admin console banner
and ``bridge cert status``.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509

from bridge.pki import _as_datetime, is_legacy, load_certificates

KINDS = ("psc_client", "trust_ca")
STATES = ("ok", "warning", "critical", "unreadable")


@dataclass(frozen=True)
class CertExpiry:
    kind: str                   # psc_client | trust_ca
    subject: str                # RFC 4514
    not_after: datetime | None  # None: unreadable
    seconds_left: float | None
    state: str                  # ok | warning | critical | unreadable

    @property
    def days_left(self) -> float | None:
        return None if self.seconds_left is None else self.seconds_left / 86400


def _state(seconds_left: float, warn_days: float, critical_days: float) -> str:
    if seconds_left <= critical_days * 86400:
        return "critical"
    return "warning" if seconds_left <= warn_days * 86400 else "ok"


def _entry(kind: str, cert: x509.Certificate, now: datetime, warn_days: float, critical_days: float) -> CertExpiry:
    left = (cert.not_valid_after_utc - now).total_seconds()
    return CertExpiry(kind, cert.subject.rfc4514_string(), cert.not_valid_after_utc, left,
                      _state(left, warn_days, critical_days))


def _read(path: Path | None) -> list[x509.Certificate] | None:
    """The certificates of a PEM/DER file; None when it cannot be read or holds none."""
    try:
        return load_certificates(Path(path).read_bytes()) or None
    except (OSError, ValueError):
        return None


def _trust_certificates(trust_dir: Path) -> list[x509.Certificate] | None:
    try:
        files = sorted(p for p in Path(trust_dir).iterdir() if p.is_file())
    except OSError:
        return None
    certs = [cert for path in files for cert in (_read(path) or ()) if not is_legacy(cert.subject)]
    return certs or None


def certificate_expiry(settings, now: float | datetime) -> list[CertExpiry]:
    """Every certificate of the bridge itself with its state, soonest expiry first (unreadable files first)."""
    now = _as_datetime(now)
    warn, critical = settings.cert_warn_days, settings.cert_critical_days
    entries = []
    sources = [("psc_client", settings.psc_client_cert, lambda path: (_read(path) or [None])[:1])]
    if settings.trust_dir is not None:
        sources.append(("trust_ca", settings.trust_dir, _trust_certificates))
    for kind, path, reader in sources:
        if path is None:
            continue
        certs = [c for c in (reader(path) or ()) if c is not None]
        if not certs:
            entries.append(CertExpiry(kind, str(path), None, None, "unreadable"))
        entries += [_entry(kind, cert, now, warn, critical) for cert in certs]
    return sorted(entries, key=lambda e: (e.seconds_left is not None, e.seconds_left or 0.0))


def worst(entries: list[CertExpiry]) -> str:
    """The most severe state among `entries` ('ok' when none)."""
    ranks = {"ok": 0, "warning": 1, "critical": 2, "unreadable": 3}
    return max((e.state for e in entries), key=ranks.__getitem__, default="ok")
