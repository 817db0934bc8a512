"""Direct CPS card login: challenges, login proofs and cps-tls certificates -> Authentication.

    cps = CpsLogin(store, clock, trust, origin="https://bridge.example")
    challenge = cps.issue(txn.id)                      # the page gives challenge.value + origin to the card agent
    authn = cps.verify_proof(txn.id, challenge.value, cert_der, signature, card_serial)   # or CpsError
    authn = cps.verify_tls(header_value)               # certificate forwarded by a trusted TLS proxy

After the chain and CRL checks, a card declared lost or opposed in the admin console is refused (`card_opposed`,
bridge/pki/opposition.py). Plain Python: the HTTP side (bridge/web/cps.py) only moves fields around. The PIN never
comes here: the page gives it to the agent on the workstation, which returns a signature made by the card.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from cryptography.hazmat.primitives import hashes

from bridge.clock import Clock
from bridge.errors import BridgeError
from bridge.mie import CATALOGUE, satisfies
from bridge.model import Authentication
from bridge.pki import PkiError, parse_certificate, verify_certificate, verify_proof
from bridge.pki.opposition import Certificate, Match, Oppositions
from bridge.policy.calendar import standing
from bridge.store import Store, StoreUnavailable

CHALLENGE_TTL = 120           # seconds a challenge may be used (≤ 120 s)
CHALLENGE_GRACE = 60          # the record outlives its validity so a late proof reads "expired", not "unknown"
CHALLENGE_BYTES = 32          # 256 bits (≥ 128 required)
DEFAULT_ACR = "eidas1"        # PSC's label for the same card + PIN login; BRIDGE_CPS_ACR overrides
DIRECT_MIE = ("cps-pin", "cps-tls")
MAX_CERTIFICATE = 16384       # bytes of base64 / PEM we are willing to parse from a form or a header
MAX_SIGNATURE = 2048


class CpsError(BridgeError):
    """A card login refused: `code` is shown to the user through bridge.web.messages (PKI codes included)."""
    default_status = 403


@dataclass(frozen=True)
class Challenge:
    value: str
    origin: str
    expires_at: float
    ttl: int = CHALLENGE_TTL


def public_origin(url: str) -> str:
    """`scheme://host[:port]` of BRIDGE_PUBLIC_URL, as a browser writes it in `Origin` (no default port)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}.get(parts.scheme)
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    return f"{parts.scheme}://{host}{port}"


def means_refusal(service, mie: str, now: float) -> tuple[str, ...]:
    """Why `service` cannot offer the direct means `mie` at all (policy reason codes); () when it can.
    The same rules as the chooser (bridge.policy.login_means), checked again on every direct request."""
    if not satisfies(service.allowed_mie, mie):
        return ("mie_not_allowed",)
    if not service.direct_means:   # an authorized historical teleservice, or PSC's establishment IdP
        return ("not_historical_teleservice",)
    return tuple(standing(service, now).blocked_by)


def proxy_trusted(remote_addr: str | None, proxies: tuple[str, ...]) -> bool:
    """Is the TCP peer one of BRIDGE_TRUSTED_PROXIES (addresses or networks)?"""
    try:
        address = ipaddress.ip_address(remote_addr or "")
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net, strict=False) for net in proxies)


def decode_base64(value: str | None, what: str, limit: int) -> bytes:
    if not value or len(value) > limit:
        raise CpsError("proof_malformed", f"{what} is missing or too long")
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise CpsError("proof_malformed", f"{what} is not base64") from None


_PEM = re.compile(r"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", re.S)


def certificate_from_header(value: str | None) -> bytes:
    """DER of the certificate a proxy forwards: URL-encoded PEM (nginx $ssl_client_escaped_cert), PEM whose line
    breaks became spaces or tabs (Apache, HAProxy, old nginx $ssl_client_cert), or bare base64 DER."""
    if not value or not value.strip():
        raise CpsError("cps_tls_no_certificate", "the client certificate header is empty")
    if len(value) > 4 * MAX_CERTIFICATE:
        raise CpsError("bad_certificate", "the client certificate header is too long")
    text = unquote(value) if "%" in value else value
    match = _PEM.search(text)
    body = match.group(1) if match else text
    compact = "".join(body.split())
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise CpsError("bad_certificate", "the client certificate header holds no certificate") from None


class CpsLogin:
    def __init__(self, store: Store, clock: Clock, trust, origin: str, *, acr: str = DEFAULT_ACR):
        """`trust`: a bridge.pki.TrustStore (BRIDGE_TRUST_DIR + BRIDGE_CRL_DIR); `origin`: the bridge's own."""
        self.store, self.clock, self.trust, self.origin, self.acr = store, clock, trust, origin, acr
        self.oppositions = Oppositions(store, clock)
        # Called with every refusal of an opposed card, before the CpsError: the audit line (bridge.core wires it).
        self.opposed_listeners: list[Callable[[Match, Authentication], None]] = []

    # --- challenges ----------------------------------------------------------------------------------------------
    @staticmethod
    def _key(value: str) -> str:
        # Keyed by a hash: a store dump does not hand out live challenges.
        return "cps:challenge:" + hashlib.sha256(value.encode()).hexdigest()

    def issue(self, txn_id: str) -> Challenge:
        value = secrets.token_urlsafe(CHALLENGE_BYTES)
        expires_at = self.clock.now() + CHALLENGE_TTL
        record = {"txn": txn_id, "origin": self.origin, "expires_at": expires_at}
        self.store.set(self._key(value), json.dumps(record), CHALLENGE_TTL + CHALLENGE_GRACE)
        return Challenge(value, self.origin, expires_at)

    def consume(self, txn_id: str, value: str | None) -> dict:
        """Single use: the record is deleted by the first attempt, whatever its outcome."""
        if not value or len(value) > 512:
            raise CpsError("challenge_invalid", "no challenge")
        raw = self.store.consume(self._key(value))
        if raw is None:
            raise CpsError("challenge_invalid", "unknown or already used challenge")
        record = json.loads(raw)
        if record.get("txn") != txn_id:
            raise CpsError("challenge_invalid", "the challenge belongs to another login")
        if self.clock.now() >= record.get("expires_at", 0):
            raise CpsError("challenge_expired", f"the challenge was valid for {CHALLENGE_TTL} s")
        return record

    # --- proofs -------------------------------------------------------------------------------------------------------
    def _authentication(self, verified, mie: str) -> Authentication:
        means = CATALOGUE[mie]
        authn = Authentication(identity=verified.identity, mie=mie, amr=means.amr, acr=self.acr,
                               auth_time=int(self.clock.now()), upstream=means.upstream, card=verified.card)
        self._not_opposed(authn)
        return authn

    def _not_opposed(self, authn: Authentication) -> None:
        """After the chain and CRL checks: a card declared lost or opposed in the admin console is refused, by its
        certificate or by the number the agent reported. That number is not authenticated, so a certificate it
        matched joins the opposition: the card stays refused whatever number it reports next."""
        card = authn.card
        found = self.oppositions.match(card.cert_sha256, card.logical_number)
        if found is None:
            return
        if found.by == "number":
            self.oppositions.add(found.opposition.number, [Certificate(
                card.cert_sha256, card.cert_issuer, card.cert_serial, source="login", seen_at=self.clock.now())])
        for listener in self.opposed_listeners:
            listener(found, authn)
        raise CpsError("card_opposed", f"the card was declared lost or opposed (matched by {found.by})")

    def _revoked_noticed(self, certificate: bytes) -> None:
        """The CRL refuses this certificate now: an opposition holding it shows « listée dans la LCR »."""
        try:
            sha256 = parse_certificate(certificate).fingerprint(hashes.SHA256()).hex()
            found = self.oppositions.match(sha256)
            if found is not None:
                self.oppositions.listed(found.opposition.number, sha256)
        except (PkiError, StoreUnavailable):
            pass   # informative only: the refusal stands whatever happens here

    def _verified(self, call, certificate: bytes):
        if self.trust is None:
            raise CpsError("cps_unavailable", "no trust store (BRIDGE_TRUST_DIR)")
        try:
            return call()
        except PkiError as exc:
            if exc.code == "certificate_revoked":
                self._revoked_noticed(certificate)
            raise CpsError(exc.code, exc.detail) from None

    def verify_proof(self, txn_id: str, challenge: str | None, certificate_b64: str | None,
                     signature_b64: str | None, card_serial: str = "") -> Authentication:
        """cps-pin: consume the challenge, then signature + chain + validity + CRL, identity from the certificate.
        The card type comes from the certificate; the agent's serial is informative (not authenticated)."""
        record = self.consume(txn_id, challenge)
        certificate = decode_base64(certificate_b64, "certificate", MAX_CERTIFICATE)
        signature = decode_base64(signature_b64, "signature", MAX_SIGNATURE)
        serial = (card_serial if isinstance(card_serial, str) and card_serial.isalnum() and len(card_serial) <= 32
                  else "")
        verified = self._verified(lambda: verify_proof(certificate, signature, record["origin"], challenge,
                                                       self.trust, self.clock.now(), serial), certificate)
        return self._authentication(verified, "cps-pin")

    def verify_tls(self, header_value: str | None) -> Authentication:
        """cps-tls: the proxy did the proof of possession (TLS client auth); chain, validity, CRL checked here."""
        certificate = certificate_from_header(header_value)
        verified = self._verified(lambda: verify_certificate(certificate, self.trust, self.clock.now()), certificate)
        return self._authentication(verified, "cps-tls")
