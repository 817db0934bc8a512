"""Repeated bad card certificates (direct card logins, cps-pin and cps-tls): counted per certificate (SHA-256 of
its DER) and per source address in a fixed window in the store; beyond a threshold, that certificate or address is
refused for a lockout (BRIDGE_CARD_FAILURES_PER_CERT, _PER_ADDRESS, _WINDOW, BRIDGE_CARD_LOCKOUT).

The per-certificate count comes first and is low (5 in 15 minutes): a card that keeps failing (expired, revoked,
opposed...) is stopped without touching anyone else. The per-address one is high (100) because a hospital's
workstations may all reach the bridge through one NAT address. A store outage raises StoreUnavailable: the login
fails closed (503), it is never let through uncounted.
"""
from __future__ import annotations

import hashlib
import math

# Refusals that say nothing about the certificate: not counted.
NOT_COUNTED = frozenset({"challenge_invalid", "challenge_expired", "cps_unavailable", "store_unavailable",
                         "cps_tls_no_certificate", "cps_tls_untrusted_proxy", "txn_invalid", "csrf"})
SCOPES = ("certificate", "address")


def fingerprint(der: bytes | None) -> str | None:
    return hashlib.sha256(der).hexdigest() if der else None


class CardFailures:
    def __init__(self, store, clock, settings):
        self.store, self.clock = store, clock
        self.limits = {"certificate": settings.card_failures_per_cert, "address": settings.card_failures_per_address}
        self.window, self.lockout = int(settings.card_failures_window), int(settings.card_lockout)

    @staticmethod
    def _subjects(cert_sha256: str | None, address: str | None) -> list[tuple[str, str]]:
        return [(scope, value) for scope, value in zip(SCOPES, (cert_sha256, address), strict=True) if value]

    def locked(self, cert_sha256: str | None, address: str | None) -> tuple[str, int] | None:
        """(scope, minutes left) when this certificate (first) or address is locked out; None otherwise."""
        now = self.clock.now()
        for scope, value in self._subjects(cert_sha256, address):
            until = self.store.get(f"cardlock:{scope}:{value}")
            if until is not None and float(until) > now:
                return scope, max(1, math.ceil((float(until) - now) / 60))
        return None

    def failed(self, code: str, cert_sha256: str | None, address: str | None) -> list[str]:
        """Count one refused login; the scopes this failure has just locked out."""
        if code in NOT_COUNTED:
            return []
        newly = []
        for scope, value in self._subjects(cert_sha256, address):
            count = self.store.count(f"cardfail:{scope}:{value}", self.window)
            if count == self.limits[scope]:
                self.store.set(f"cardlock:{scope}:{value}", str(self.clock.now() + self.lockout), self.lockout)
                newly.append(scope)
        return newly
