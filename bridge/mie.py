"""Catalogue of means of electronic identification (MIE, see docs/policies.md) with their factors and RFC 8176 amr."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mie:
    id: str
    label_fr: str
    label_en: str
    factors: frozenset[str]      # knowledge, possession, inherence
    amr: tuple[str, ...]
    via_psc: bool
    upstream: str                # psc | cps-pin | cps-tls | local-fido | backup

    @property
    def two_factor(self) -> bool:
        return len(self.factors) >= 2


_K, _P, _I = "knowledge", "possession", "inherence"

CATALOGUE: dict[str, Mie] = {m.id: m for m in (
    Mie("psc-card", "Carte CPS via Pro Santé Connect", "CPS card through Pro Santé Connect",
        frozenset({_P, _K}), ("sc", "pin", "hwk", "mfa"), True, "psc"),
    Mie("psc-ecps", "Application e-CPS via Pro Santé Connect", "e-CPS app through Pro Santé Connect",
        frozenset({_P, _K}), ("swk", "pin", "mfa"), True, "psc"),
    Mie("psc-delegated", "Fournisseur d'identité d'établissement via Pro Santé Connect",
        "Establishment identity provider through Pro Santé Connect",
        frozenset({_P, _K}), ("mfa",), True, "psc"),
    # PSC did not state the means: every PSC means is two-factor, so compliance is implicit.
    Mie("psc", "Pro Santé Connect", "Pro Santé Connect", frozenset({_P, _K}), ("mfa",), True, "psc"),
    Mie("cps-pin", "Carte CPS et code PIN (lecteur local)", "CPS card and PIN (local reader)",
        frozenset({_P, _K}), ("sc", "pin", "hwk", "mfa"), False, "cps-pin"),
    Mie("cps-tls", "Carte CPS (certificat TLS client)", "CPS card (TLS client certificate)",
        frozenset({_P, _K}), ("sc", "pin", "hwk", "mfa"), False, "cps-tls"),
    # WebAuthn with user verification required: the key (possession) unlocked by its PIN or a biometric gesture
    # (knowledge or inherence: the assertion only says "user verified", not which, hence amr `user`, never a
    # guessed `pin`); bridge.upstream.fido, docs/passkeys.md.
    Mie("local-fido", "Clé de sécurité ou clé d'accès (FIDO2)", "Security key or passkey (FIDO2)",
        frozenset({_P, _K}), ("hwk", "user", "mfa"), False, "local-fido"),
    # Backup means (RIE-PS 16, R11): a one-time code an administrator activates for ≤ 24 h and tells the
    # professional: one factor, knowledge; amr `pwd` (`otp` would claim a device, possession); bridge.upstream.backup.
    Mie("backup", "Code de secours (activé par un administrateur)", "Backup code (activated by an administrator)",
        frozenset({_K}), ("pwd",), False, "backup"),
)}

PSC_MIE = frozenset(m.id for m in CATALOGUE.values() if m.via_psc)
# One factor admitted despite require_2fa: R11 (RIE-PS 16) asks ≥ 1 factor of a backup means, with its own rules.
SINGLE_FACTOR_ALLOWED = frozenset({"backup"})
CARD_MIE = frozenset({"cps-pin", "cps-tls"})   # direct means that read a CPS card (card_types, card watch)


def satisfies(allowed: tuple[str, ...] | frozenset[str], mie: str) -> bool:
    """`psc` in a policy allows every PSC means; otherwise the MIE must be listed."""
    return mie in allowed or ("psc" in allowed and mie in PSC_MIE)
