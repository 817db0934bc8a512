"""Server-side verification of CPS card certificates and login proofs (docs/sources.md, CPS).

    trust = TrustStore.from_directory(trust_dir, crl_dir)          # or TrustStore.from_settings(settings)
    verified = verify_proof(cert_der, signature, origin, challenge, trust, now)
    verified.identity, verified.card                                 # bridge.model Identity and Card

Trust directory (BRIDGE_TRUST_DIR): PEM, DER or PKCS#7 (.p7b, like ANS's "Chaine_de_certification-IGC-Sante"
bundles) files. Self-signed certificates are the trust anchors (IGC-Santé roots); the other CA certificates are
intermediates, used only to build paths (the agent sends the card's certificate alone). Any certificate of the
legacy `O=GIP-CPS` hierarchy is ignored there and any chain touching it is refused (IGC-CPS2bis/2ter ended
2020-12-31). Paths are built and checked by cryptography.x509.verification (RFC 5280 / Web PKI profile, with
SubjectAltName and ExtendedKeyUsage made optional since card certificates need neither).

Revocation, failing closed: every certificate of the path but the root needs a CRL signed by its issuer whose
nextUpdate is in the future: from BRIDGE_CRL_DIR (DER or PEM files, re-read when they change; refreshed daily by the
operator) and, when `fetch_crls` is on, from the certificate's HTTP CRL distribution points, cached in memory until
nextUpdate. No CRL -> `crl_missing`; only expired ones -> `crl_stale`.

Errors are PkiError subclasses whose `code` the web layer maps to French messages.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7
from cryptography.x509.oid import NameOID
from cryptography.x509.verification import Criticality, ExtensionPolicy, PolicyBuilder, Store, VerificationError

from bridge import cps_proof as proof
from bridge.card import certificate as certfields
from bridge.errors import BridgeError
from bridge.model import Card, Identity
from bridge.upstream import cps_claims

log = logging.getLogger("bridge.pki")
LEGACY_ORGANIZATIONS = frozenset({"GIP-CPS"})
CRL_CLOCK_SKEW = timedelta(minutes=5)


class PkiError(BridgeError):
    """A card certificate or proof refused; each refusal is a subclass carrying its code."""
    code = "pki_error"
    default_status = 403

    def __init__(self, message: str = ""):
        super().__init__(type(self).code, message)


def _error(code: str) -> type[PkiError]:
    return type("".join(part.title() for part in code.split("_")), (PkiError,), {"code": code})


BadCertificate = _error("bad_certificate")          # not a parseable X.509 certificate
BadSignature = _error("bad_signature")              # proof not signed by the certificate's key
UntrustedChain = _error("untrusted_chain")          # no valid path to a configured root
LegacyChain = _error("legacy_chain")                # issued under the ended GIP-CPS hierarchy
CertificateExpired = _error("certificate_expired")
CertificateNotYetValid = _error("certificate_not_yet_valid")
CertificateRevoked = _error("certificate_revoked")
CrlStale = _error("crl_stale")
CrlMissing = _error("crl_missing")
BadKeyUsage = _error("bad_key_usage")               # not an authentication certificate (digitalSignature)
UnknownCardType = _error("unknown_card_type")       # the certificate does not say CPS/CPF/CPE/CPA
ERROR_CODES = tuple(cls.code for cls in (BadCertificate, BadSignature, UntrustedChain, LegacyChain,
                                         CertificateExpired, CertificateNotYetValid, CertificateRevoked, CrlStale,
                                         CrlMissing, BadKeyUsage, UnknownCardType))


# --- loading ---------------------------------------------------------------------------------------------------------
def load_certificates(data: bytes) -> list[x509.Certificate]:
    """PEM (one or more), DER, or PKCS#7 bundle in PEM or DER."""
    for loader in (x509.load_pem_x509_certificates, lambda d: [x509.load_der_x509_certificate(d)],
                   pkcs7.load_pem_pkcs7_certificates, pkcs7.load_der_pkcs7_certificates):
        try:
            certs = loader(data)
            if certs:
                return list(certs)
        except ValueError:
            continue
    return []


def load_crl(data: bytes) -> x509.CertificateRevocationList:
    try:
        return x509.load_der_x509_crl(data)
    except ValueError:
        return x509.load_pem_x509_crl(data)


def is_legacy(name: x509.Name) -> bool:
    return any(str(a.value).upper() in LEGACY_ORGANIZATIONS
               for a in name.get_attributes_for_oid(NameOID.ORGANIZATION_NAME))


def _as_datetime(now: float | datetime) -> datetime:
    if isinstance(now, datetime):
        return now if now.tzinfo else now.replace(tzinfo=UTC)
    return datetime.fromtimestamp(now, UTC)


def _signed_by(child_signature_holder, issuer: x509.Certificate) -> bool:
    try:
        if isinstance(child_signature_holder, x509.CertificateRevocationList):
            return child_signature_holder.is_signature_valid(issuer.public_key())
        child_signature_holder.verify_directly_issued_by(issuer)
        return True
    except (ValueError, TypeError, InvalidSignature):
        return False


# --- CRLs ------------------------------------------------------------------------------------------------------------
def http_fetch(url: str, timeout: tuple[float, float] = (3.0, 10.0)) -> bytes:
    import requests

    response = requests.get(url, timeout=timeout)
    response.raise_for_status()
    return response.content


class CrlStore:
    def __init__(self, crl_dir: Path | None = None, *, fetch: bool = False,
                 fetcher: Callable[[str], bytes] = http_fetch):
        self.crl_dir = Path(crl_dir) if crl_dir else None
        self.fetch, self.fetcher = fetch, fetcher
        self._files: dict[Path, tuple[float, x509.CertificateRevocationList | None]] = {}
        self._fetched: dict[str, x509.CertificateRevocationList] = {}
        self._lock = threading.Lock()

    def _local(self) -> list[x509.CertificateRevocationList]:
        if not self.crl_dir or not self.crl_dir.is_dir():
            return []
        crls = []
        for path in sorted(self.crl_dir.iterdir()):
            if not path.is_file():
                continue
            mtime = path.stat().st_mtime
            cached = self._files.get(path)
            if cached is None or cached[0] != mtime:
                try:
                    cached = (mtime, load_crl(path.read_bytes()))
                except ValueError:
                    log.warning("ignoring %s: not a CRL", path)
                    cached = (mtime, None)
                self._files[path] = cached
            if cached[1] is not None:
                crls.append(cached[1])
        return crls

    def _download(self, cert: x509.Certificate, issuer: x509.Certificate,
                  now: datetime) -> list[x509.CertificateRevocationList]:
        try:
            points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
        except x509.ExtensionNotFound:
            return []
        found = []
        for point in points:
            for name in point.full_name or []:
                url = name.value if isinstance(name, x509.UniformResourceIdentifier) else ""
                if not url.lower().startswith(("http://", "https://")):
                    continue
                cached = self._fetched.get(url)
                if cached is None or not _fresh(cached, now):
                    try:
                        crl = load_crl(self.fetcher(url))
                        if _signed_by(crl, issuer):
                            self._fetched[url] = cached = crl
                        else:
                            log.warning("CRL from %s is not signed by %s", url, issuer.subject.rfc4514_string())
                    except Exception as exc:    # network, HTTP or parse error: fall back to what we have
                        log.warning("CRL download from %s failed: %s", url, exc)
                if cached is not None:
                    found.append(cached)
        return found

    def known(self) -> list[x509.CertificateRevocationList]:
        """Every CRL at hand: the directory's (re-read when changed) and the downloads cached so far."""
        with self._lock:
            return self._local() + list(self._fetched.values())

    def check(self, cert: x509.Certificate, issuer: x509.Certificate, now: datetime) -> None:
        """Raise CertificateRevoked, CrlStale or CrlMissing unless a fresh CRL of `issuer` clears `cert`."""
        with self._lock:
            candidates = [crl for crl in self._local()
                          if crl.issuer == cert.issuer and _signed_by(crl, issuer)]
            if self.fetch and not any(_fresh(crl, now) for crl in candidates):
                candidates += self._download(cert, issuer, now)
        fresh = [crl for crl in candidates if _fresh(crl, now)]
        if not fresh:
            subject = cert.subject.rfc4514_string()
            if candidates:
                raise CrlStale(f"the CRL of {issuer.subject.rfc4514_string()} is out of date (checking {subject})")
            raise CrlMissing(f"no CRL of {issuer.subject.rfc4514_string()} (checking {subject})")
        latest = max(fresh, key=lambda crl: crl.last_update_utc)
        if latest.get_revoked_certificate_by_serial_number(cert.serial_number) is not None:
            raise CertificateRevoked(f"{cert.subject.rfc4514_string()} is revoked")


def _fresh(crl: x509.CertificateRevocationList, now: datetime) -> bool:
    next_update = crl.next_update_utc
    return next_update is not None and crl.last_update_utc <= now + CRL_CLOCK_SKEW and now < next_update


@dataclass(frozen=True)
class CrlStatus:
    """What a CA's revocation list looks like now: logins through `issuer` fail closed once `state` is not fresh."""
    issuer: str                       # the CA's subject (RFC 4514)
    next_update: datetime | None      # of its latest CRL at hand; None: no CRL of this CA
    state: str                        # fresh | stale | missing


_LEGACY_SEEN: set[tuple[str, str]] = set()


def _legacy_noticed(cert: x509.Certificate, path: Path) -> None:
    """Legacy GIP-CPS CAs often stay in a trust directory after the switch to IGC-Santé: expected, not a fault
    (they are ignored, and chains through them refused). Said once per process, at info level."""
    key = (cert.subject.rfc4514_string(), str(path))
    if key not in _LEGACY_SEEN:
        _LEGACY_SEEN.add(key)
        log.info("ignoring legacy GIP-CPS certificate %s in %s", *key)


# --- trust store and path validation ----------------------------------------------------------------------------------
class TrustStore:
    def __init__(self, roots: list[x509.Certificate], intermediates: list[x509.Certificate] = (),
                 crls: CrlStore | None = None, *, card_type_fallback: str | None = None):
        """`card_type_fallback`: type given to certificates that do not carry the card type extension (see
        bridge.card.certificate); None refuses them with `unknown_card_type`."""
        self.roots = [c for c in roots if not is_legacy(c.subject)]
        self.intermediates = [c for c in intermediates if not is_legacy(c.subject)]
        if not self.roots:
            raise ValueError("no IGC-Santé root certificate in the trust store")
        self.crls = crls or CrlStore()
        self.card_type_fallback = card_type_fallback

    @classmethod
    def from_directory(cls, trust_dir: str | Path, crl_dir: str | Path | None = None, *, fetch_crls: bool = False,
                       fetcher: Callable[[str], bytes] = http_fetch, card_type_fallback: str | None = None
                       ) -> TrustStore:
        roots, intermediates = [], []
        for path in sorted(Path(trust_dir).iterdir()):
            if not path.is_file():
                continue
            certs = load_certificates(path.read_bytes())
            if not certs:  # a stray or truncated file: the other anchors still work, card logins of its CA fail
                log.warning("ignoring %s in the trust directory: no PEM, DER or PKCS#7 certificate in it", path)
            for cert in certs:
                if is_legacy(cert.subject):
                    _legacy_noticed(cert, path)
                elif cert.subject == cert.issuer and _signed_by(cert, cert):
                    roots.append(cert)
                else:
                    intermediates.append(cert)
        return cls(roots, intermediates, CrlStore(crl_dir, fetch=fetch_crls, fetcher=fetcher),
                   card_type_fallback=card_type_fallback)

    @classmethod
    def from_settings(cls, settings, *, fetch_crls: bool | None = None) -> TrustStore:
        """BRIDGE_TRUST_DIR + BRIDGE_CRL_DIR. CRL DP download defaults to on only when no CRL directory is set."""
        if settings.trust_dir is None:
            raise ValueError("BRIDGE_TRUST_DIR is not set")
        fetch = settings.crl_dir is None if fetch_crls is None else fetch_crls
        return cls.from_directory(settings.trust_dir, settings.crl_dir, fetch_crls=fetch)

    def crl_status(self, now: float | datetime) -> list[CrlStatus]:
        """For every CA of the trust store (each needs a CRL for the certificates it issued), its latest CRL at
        hand. Never downloads: with CRL DP fetching, a CA's CRL shows up after the first card login that needed
        it."""
        now, crls = _as_datetime(now), self.crls.known()
        statuses = []
        for ca in self.roots + self.intermediates:
            own = [crl for crl in crls if crl.issuer == ca.subject and _signed_by(crl, ca)]
            latest = max(own, key=lambda crl: crl.last_update_utc, default=None)
            if latest is None:  # (a CRL listing no certificate is falsy: compare with None)
                statuses.append(CrlStatus(ca.subject.rfc4514_string(), None, "missing"))
            else:
                statuses.append(CrlStatus(ca.subject.rfc4514_string(), latest.next_update_utc,
                                          "fresh" if _fresh(latest, now) else "stale"))
        return statuses

    def listed(self, issuer: str, serial: int) -> bool | None:
        """Does the latest CRL at hand of the CA named `issuer` (RFC 4514) list `serial`? None: no CRL of that CA.
        A listing in an expired CRL still counts: revocation is final. Never downloads."""
        cas = [ca for ca in self.roots + self.intermediates if ca.subject.rfc4514_string() == issuer]
        own = [crl for crl in self.crls.known() if any(crl.issuer == ca.subject and _signed_by(crl, ca) for ca in cas)]
        latest = max(own, key=lambda crl: crl.last_update_utc, default=None)
        if latest is None:
            return None
        return latest.get_revoked_certificate_by_serial_number(serial) is not None

    def _verifier(self, now: datetime):
        ee_policy = (ExtensionPolicy.webpki_defaults_ee()
                     .may_be_present(x509.SubjectAlternativeName, Criticality.AGNOSTIC, None)
                     .may_be_present(x509.ExtendedKeyUsage, Criticality.AGNOSTIC, None))
        return (PolicyBuilder().store(Store(self.roots)).time(now)
                .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=ee_policy)
                .build_client_verifier())

    def validate(self, cert: x509.Certificate, now: float | datetime,
                 extra_intermediates: list[x509.Certificate] = ()) -> tuple[x509.Certificate, ...]:
        """Checks in an order that names the real problem; returns the path, leaf first, root last."""
        now = _as_datetime(now)
        if is_legacy(cert.issuer) or is_legacy(cert.subject):
            raise LegacyChain("issued under the legacy GIP-CPS hierarchy")
        if now > cert.not_valid_after_utc:
            raise CertificateExpired(f"expired on {cert.not_valid_after_utc:%Y-%m-%d}")
        if now < cert.not_valid_before_utc:
            raise CertificateNotYetValid(f"valid from {cert.not_valid_before_utc:%Y-%m-%d}")
        try:
            usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
            if not usage.digital_signature:
                raise BadKeyUsage("the certificate is not for authentication (no digitalSignature)")
        except x509.ExtensionNotFound:
            raise BadKeyUsage("the certificate has no key usage") from None
        if not isinstance(cert.public_key(), rsa.RSAPublicKey):
            raise BadKeyUsage("a CPS authentication key is RSA")
        try:
            chain = tuple(self._verifier(now).verify(cert, list(self.intermediates) + list(extra_intermediates)).chain)
        except VerificationError as exc:
            raise UntrustedChain(str(exc)) from None
        if any(is_legacy(c.subject) or is_legacy(c.issuer) for c in chain):
            raise LegacyChain("the path goes through the legacy GIP-CPS hierarchy")
        for child, issuer in pairwise(chain):
            self.crls.check(child, issuer, now)
        return chain


# --- results ----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class VerifiedCard:
    identity: Identity
    card: Card
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    title: str = ""                  # profession label from the subject
    product_category: str = ""       # TRE_G01 code (00 card, 80 test card...)


def parse_certificate(certificate: bytes | x509.Certificate) -> x509.Certificate:
    if isinstance(certificate, x509.Certificate):
        return certificate
    try:
        return x509.load_der_x509_certificate(certificate)
    except ValueError:
        try:
            return x509.load_pem_x509_certificate(certificate)
        except ValueError:
            raise BadCertificate("not an X.509 certificate") from None


def verify_certificate(certificate: bytes | x509.Certificate, trust: TrustStore, now: float | datetime,
                       card_serial: str = "") -> VerifiedCard:
    """Chain, validity, key usage, revocation, then identity and card type (also for cps-tls, where the proxy
    did the proof of possession). `card_serial` is what the agent reported: informative, not authenticated."""
    cert = parse_certificate(certificate)
    chain = trust.validate(cert, now)
    kind = certfields.card_type(cert) or trust.card_type_fallback or ""
    if not kind:
        raise UnknownCardType("the certificate does not state the card type")
    try:
        identity = cps_claims.identity(cert)
    except ValueError as exc:
        raise BadCertificate(str(exc)) from None
    fingerprint = cert.fingerprint(hashes.SHA256()).hex()
    card = Card(type=kind, serial=card_serial, cert_sha256=fingerprint, cert_issuer=cert.issuer.rfc4514_string(),
                cert_serial=format(cert.serial_number, "x"))
    return VerifiedCard(identity=identity, card=card,
                        certificate=cert, chain=chain, title=cps_claims.title(cert),
                        product_category=certfields.product_category(cert))


def verify_proof(certificate_der: bytes, signature: bytes, origin: str, challenge: str, trust: TrustStore,
                 now: float | datetime, card_serial: str = "") -> VerifiedCard:
    """A cps-pin login proof: the card signed SHA-256("psc-bridge-cps-v1|origin|challenge") (bridge.cps_proof)
    with the key of `certificate_der`, and that certificate is a valid, unrevoked IGC-Santé card certificate."""
    cert = parse_certificate(certificate_der)
    key = cert.public_key()
    try:
        message = proof.signed_message(origin, challenge)
        if not isinstance(key, rsa.RSAPublicKey):
            raise InvalidSignature
        key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError, TypeError):
        raise BadSignature("the proof is not signed by this certificate's key for this origin and challenge") from None
    return verify_certificate(cert, trust, now, card_serial)


def certificate_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.PEM)
