"""The realm's signing keys and every JOSE operation of the emulator (all through joserfc)."""
from __future__ import annotations

import base64
import hashlib
import threading
import warnings

from joserfc import jws, jwt
from joserfc.errors import JoseError, SecurityWarning
from joserfc.jwk import KeySet, OctKey, RSAKey


class InvalidToken(Exception):
    """A token that does not verify (signature, key, format)."""


def _new_rsa_key() -> RSAKey:
    key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"})
    key.ensure_kid()  # RFC 7638 thumbprint: a new key always gets a new kid
    return key


class SigningKeys:
    """The realm key published in the JWKS, plus a stray key whose kid is never published (fault injection)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current = _new_rsa_key()
        self._stray: RSAKey | None = None

    @property
    def kid(self) -> str:
        return self._current.kid

    def rotate(self) -> str:
        """Replace the published key by a new one (new kid); tokens signed with the old key stop verifying."""
        new_key = _new_rsa_key()
        with self._lock:
            self._current = new_key
        return new_key.kid

    def jwks(self) -> dict:
        return KeySet([self._current]).as_dict(private=False)

    def sign(self, claims: dict, *, typ: str = "JWT") -> str:
        key = self._current
        return jwt.encode({"alg": "RS256", "kid": key.kid, "typ": typ}, claims, key, algorithms=["RS256"])

    def sign_with_unpublished_key(self, claims: dict) -> str:
        with self._lock:
            if self._stray is None:
                self._stray = _new_rsa_key()
            stray = self._stray
        return jwt.encode({"alg": "RS256", "kid": stray.kid}, claims, stray, algorithms=["RS256"])

    def verify(self, token: str) -> dict:
        """Claims of an RS256 token signed by the published key (no claim checks), or InvalidToken."""
        try:
            return jwt.decode(token, KeySet([self._current]), algorithms=["RS256"]).claims
        except (JoseError, ValueError) as error:
            raise InvalidToken(type(error).__name__) from error


def sign_hs256(claims: dict, secret: str) -> str:
    return jwt.encode({"alg": "HS256"}, claims, OctKey.import_key(secret), algorithms=["HS256"])


def verify_hs256(token: str, secret: str) -> dict:
    try:
        return jwt.decode(token, OctKey.import_key(secret), algorithms=["HS256"]).claims
    except (JoseError, ValueError) as error:
        raise InvalidToken(type(error).__name__) from error


def sign_unsigned(claims: dict) -> str:
    """An `alg: none` JWT (fault injection only)."""
    with warnings.catch_warnings():  # joserfc rightly warns about "none"; here it is the point
        warnings.simplefilter("ignore", SecurityWarning)
        return jwt.encode({"alg": "none"}, claims, OctKey.import_key("unused-key-for-none"), algorithms=["none"])


def corrupt_signature(token: str) -> str:
    """The same JWT with a signature that cannot verify (header and claims intact)."""
    header, payload, signature = token.split(".")
    raw = bytearray(_b64decode(signature) or b"\x00" * 32)
    raw[0] ^= 0xFF
    return ".".join((header, payload, _b64encode(bytes(raw))))


def token_header(token: str) -> dict:
    """The unverified JOSE header (to pick the verification key)."""
    try:
        return jws.extract_compact(token.encode()).headers()
    except (JoseError, ValueError) as error:
        raise InvalidToken(type(error).__name__) from error


def left_half_hash(value: str) -> str:
    """OIDC at_hash for RS256/HS256: base64url of the left half of SHA-256."""
    digest = hashlib.sha256(value.encode("ascii")).digest()
    return _b64encode(digest[: len(digest) // 2])


def cert_thumbprint(der: bytes) -> str:
    """RFC 8705 x5t#S256 of a DER certificate."""
    return _b64encode(hashlib.sha256(der).digest())


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
