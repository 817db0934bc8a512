"""What a card signs for a direct CPS login: the one format the workstation agent (bridge/card/) and the server
(bridge/pki/) both import.

The card's authentication key signs SHA-256("psc-bridge-cps-v1|" + origin + "|" + challenge) as a PKCS#1 v1.5
DigestInfo, so a proof is bound to one bridge (origin) and one login transaction (challenge).
"""
from __future__ import annotations

import hashlib

CONTEXT = "psc-bridge-cps-v1"
# DER prefix of DigestInfo{ sha256, NULL } (RFC 8017 §9.2 note 1).
SHA256_DIGEST_INFO_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")
MAX_FIELD = 512


def signed_message(origin: str, challenge: str) -> bytes:
    """The exact bytes whose SHA-256 the card signs. '|' is refused inside fields so no two inputs collide."""
    for name, value in (("origin", origin), ("challenge", challenge)):
        if not isinstance(value, str) or not value or len(value) > MAX_FIELD:
            raise ValueError(f"{name} must be a non-empty string of at most {MAX_FIELD} characters")
        if "|" in value or not value.isprintable():
            raise ValueError(f"{name} must be printable and contain no '|'")
    return f"{CONTEXT}|{origin}|{challenge}".encode()


def message_digest(origin: str, challenge: str) -> bytes:
    return hashlib.sha256(signed_message(origin, challenge)).digest()


def digest_info(origin: str, challenge: str) -> bytes:
    """The 51 bytes sent to the card (CPS3 INTERNAL AUTHENTICATE data; CPS4 pads them on the host)."""
    return SHA256_DIGEST_INFO_PREFIX + message_digest(origin, challenge)
