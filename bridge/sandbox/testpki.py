"""A deterministic IGC-Santé-like TEST PKI for the virtual card and the verification tests (dev/test only).

    pki = TestPki("demo", directory)            # same seed => same keys, serials and (for the same anchor) certs
    mat = pki.card("899700000001", kind="CPS")  # CardMaterial: cert_der, private_key, chain...
    pki.trust_dir()                             # roots + intermediates as PEM (what BRIDGE_TRUST_DIR holds)
    pki.crl_dir()                               # one CRL per CA (BRIDGE_CRL_DIR); crl_dir(stale=True) for expired ones

Keys: RSA-2048 derived from the seed (seeded `random.Random` feeding a Miller-Rabin prime search, ~0.4 s a key in
pure Python, cryptography cannot generate from a seed) and cached as PEM under `directory/keys/` so later runs and
the `bridge sandbox card` CLI load them at once. Dates are relative to `anchor` (default: today 00:00 UTC) so a
certificate made today is valid today; serials are hashes of the seed and the certificate's role.

Hierarchy (names follow IGC-Santé TEST, O=ASIP-SANTE, OU=IGC-SANTE TEST, C=FR):
    AC RACINE IGC-SANTE FORT TEST -> AC IGC-SANTE FORT PERSONNES TEST -> card authentication certificates
    AC RACINE IGC-SANTE ELEMENTAIRE TEST, AC RACINE IGC-SANTE STANDARD TEST (roots only, for the trust store)
    legacy: GIP-CPS (O=GIP-CPS) -> GIP-CPS CLASSE-1 -> legacy=True cards (to be rejected)
Card certificates: subject `CN=<PS_IdNat>+SN=<nom>+GN=<prénom>, title=<profession>, C=FR`, KU digitalSignature
(critical), EKU clientAuth+emailProtection, CRL DP, private extensions 1.2.250.1.71.1.2.5 (category "80" = test
card), 1.2.250.1.71.1.2.7 (profession code, INTEGER) and 1.2.250.1.71.1.2.2 (card type, see
bridge.card.certificate for this UNCONFIRMED convention).
"""
from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from bridge.card.certificate import (
    CARD_TYPE_CODES,
    OID_CARD_TYPE,
    OID_PRODUCT_CATEGORY,
    OID_PROFESSION,
    PROFESSION_LABELS,
    encode_code,
    encode_integer,
)

DEFAULT_CRL_BASE = "http://igc-sante.esante.gouv.fr/CRL"
CARD_KINDS = tuple(CARD_TYPE_CODES)            # CPS, CPF, CPE, CPA
DEFAULT_PROFESSION = {"CPS": "10", "CPF": "10", "CPE": "", "CPA": ""}


# --- deterministic RSA ------------------------------------------------------------------------------------------
def _small_primes(limit: int) -> list[int]:
    sieve = bytearray([1]) * limit
    sieve[0:2] = b"\0\0"
    for i in range(2, int(limit ** 0.5) + 1):
        if sieve[i]:
            sieve[i * i::i] = bytearray(len(sieve[i * i::i]))
    return [i for i in range(3, limit) if sieve[i]]


_SMALL_PRODUCT = math.prod(_small_primes(20000))


def _miller_rabin(n: int, a: int) -> bool:
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    x = pow(a, d, n)
    if x in (1, n - 1):
        return True
    for _ in range(s - 1):
        x = pow(x, 2, n)
        if x == n - 1:
            return True
    return False


def _prime(bits: int, rng: random.Random, e: int) -> int:
    while True:
        candidate = rng.getrandbits(bits) | (3 << (bits - 2)) | 1   # top two bits set: p*q has exactly 2*bits
        if math.gcd(candidate, _SMALL_PRODUCT) != 1 or math.gcd(candidate - 1, e) != 1:
            continue
        # Test keys: 8 rounds are plenty for random 1024-bit candidates (FIPS 186-5 table C.1 asks for 5).
        if _miller_rabin(candidate, 2) and all(_miller_rabin(candidate, rng.randrange(2, candidate - 2))
                                               for _ in range(8)):
            return candidate


def derive_rsa_key(seed: str, label: str, bits: int = 2048) -> rsa.RSAPrivateKey:
    """Same (seed, label) => same key. Not for production: the seed is the whole secret."""
    e = 65537
    rng = random.Random(hashlib.sha256(f"{seed}|{label}".encode()).digest())
    while True:
        p, q = _prime(bits // 2, rng, e), _prime(bits // 2, rng, e)
        if p != q:
            break
    p, q = max(p, q), min(p, q)
    d = pow(e, -1, (p - 1) * (q - 1) // math.gcd(p - 1, q - 1))
    numbers = rsa.RSAPrivateNumbers(p, q, d, d % (p - 1), d % (q - 1), pow(q, -1, p),
                                    rsa.RSAPublicNumbers(e, p * q))
    return numbers.private_key()


# --- names ----------------------------------------------------------------------------------------------------------
def igc_name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ASIP-SANTE"),
                      x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "IGC-SANTE TEST"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def gip_cps_name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "GIP-CPS"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def card_subject(national_id: str, family: str, given: str, title: str) -> x509.Name:
    """Multi-valued first RDN, as on real cards: `CN=<PS_IdNat>+SN=<nom>+GN=<prénom>, title=..., C=FR`."""
    rdns = [x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COUNTRY_NAME, "FR")])]
    if title:
        rdns.append(x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.TITLE, title)]))
    rdns.append(x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COMMON_NAME, national_id),
                                                x509.NameAttribute(NameOID.SURNAME, family),
                                                x509.NameAttribute(NameOID.GIVEN_NAME, given)]))
    return x509.Name(rdns)


@dataclass(frozen=True)
class CaSpec:
    key_label: str
    name: x509.Name
    crl_file: str                  # file name of the CRL this CA issues
    parent: str | None = None      # key of the issuing CA in CAS


CAS: dict[str, CaSpec] = {
    "root-fort": CaSpec("root-fort", igc_name("AC RACINE IGC-SANTE FORT TEST"), "ACR-FO-TEST.crl"),
    "root-elementaire": CaSpec("root-elementaire", igc_name("AC RACINE IGC-SANTE ELEMENTAIRE TEST"),
                               "ACR-EL-TEST.crl"),
    "root-standard": CaSpec("root-standard", igc_name("AC RACINE IGC-SANTE STANDARD TEST"), "ACR-ST-TEST.crl"),
    "fort-personnes": CaSpec("fort-personnes", igc_name("AC IGC-SANTE FORT PERSONNES TEST"),
                             "ACI-FO-PP-TEST.crl", parent="root-fort"),
    "gip-cps": CaSpec("gip-cps", gip_cps_name("GIP-CPS"), "GIP-CPS.crl"),
    "gip-cps-classe-1": CaSpec("gip-cps-classe-1", gip_cps_name("GIP-CPS CLASSE-1"), "GIP-CPS-CLASSE-1.crl",
                               parent="gip-cps"),
}
IGC_CAS = ("root-fort", "root-elementaire", "root-standard", "fort-personnes")
LEGACY_CAS = ("gip-cps", "gip-cps-classe-1")


@dataclass(frozen=True)
class CardMaterial:
    """Everything a virtual card (and a test) needs about one card."""
    holder: str                            # PS_IdNat (certificate CN)
    kind: str                              # CPS CPF CPE CPA
    serial: str                            # 10-digit card number (printed "numéro de carte")
    certificate: x509.Certificate
    private_key: rsa.RSAPrivateKey
    chain: tuple[x509.Certificate, ...]    # issuing CA first, root last
    family_name: str
    given_name: str
    profession: str
    expired: bool = False
    revoked: bool = False
    legacy: bool = False

    @property
    def cert_der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @property
    def pan(self) -> bytes:
        """EF.SN.ICC PAN: ANS issuer `80 25 00 00 01` + the card number in BCD."""
        return bytes.fromhex("8025000001" + self.serial)


def _serial_number(seed: str, label: str) -> int:
    return int.from_bytes(hashlib.sha256(f"serial|{seed}|{label}".encode()).digest()[:16], "big") >> 1 | 1


class TestPki:
    __test__ = False    # not a pytest class

    def __init__(self, seed: str = "psc-bridge", directory: str | Path | None = None,
                 anchor: datetime | None = None, crl_base_url: str = DEFAULT_CRL_BASE):
        self.seed = seed
        self.directory = Path(directory) if directory else None
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        self.anchor = anchor or today
        self.crl_base_url = crl_base_url.rstrip("/")
        self._keys: dict[str, rsa.RSAPrivateKey] = {}
        self._cas: dict[str, x509.Certificate] = {}
        self._cards: dict[tuple, CardMaterial] = {}
        self._revoked: dict[str, list[x509.Certificate]] = {}   # CA key -> revoked certificates it issued
        self._crl_dirs: list[tuple[Path, bool]] = []

    # keys ---------------------------------------------------------------------------------------------------------
    def key(self, label: str) -> rsa.RSAPrivateKey:
        if label in self._keys:
            return self._keys[label]
        cached = self.directory / "keys" / f"{hashlib.sha256(f'{self.seed}|{label}'.encode()).hexdigest()[:24]}.pem" \
            if self.directory else None
        if cached and cached.exists():
            key = serialization.load_pem_private_key(cached.read_bytes(), None)
        else:
            key = _derived_key(self.seed, label)
            if cached:
                cached.parent.mkdir(parents=True, exist_ok=True)
                cached.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption()))
        self._keys[label] = key
        return key

    # CAs --------------------------------------------------------------------------------------------------------------
    def crl_url(self, ca: str) -> str:
        return f"{self.crl_base_url}/{CAS[ca].crl_file}"

    def ca(self, name: str) -> x509.Certificate:
        if name in self._cas:
            return self._cas[name]
        spec = CAS[name]
        key = self.key(spec.key_label)
        issuer_cert = self.ca(spec.parent) if spec.parent else None
        issuer_key = self.key(CAS[spec.parent].key_label) if spec.parent else key
        start = self.anchor - timedelta(days=3650 if not spec.parent else 1825)
        builder = (x509.CertificateBuilder()
                   .subject_name(spec.name)
                   .issuer_name(issuer_cert.subject if issuer_cert else spec.name)
                   .public_key(key.public_key())
                   .serial_number(_serial_number(self.seed, name))
                   .not_valid_before(start)
                   .not_valid_after(self.anchor + timedelta(days=3650))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=0 if spec.parent else None), True)
                   .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), True)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False))
        if issuer_cert:
            builder = (builder
                       .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                                      False)
                       .add_extension(_crl_dp(self.crl_url(spec.parent)), False))
        cert = builder.sign(issuer_key, hashes.SHA256())
        self._cas[name] = cert
        return cert

    def chain(self, issuer: str) -> tuple[x509.Certificate, ...]:
        """Issuing CA first, root last."""
        certs = [self.ca(issuer)]
        while CAS[issuer].parent:
            issuer = CAS[issuer].parent
            certs.append(self.ca(issuer))
        return tuple(certs)

    # cards ------------------------------------------------------------------------------------------------------------
    def card(self, holder: str = "899700000001", kind: str = "CPS", *, expired: bool = False, revoked: bool = False,
             legacy: bool = False, family_name: str = "MEDECIN", given_name: str = "PAUL",
             profession: str | None = None, usage: str = "auth", card_type_extension: bool = True) -> CardMaterial:
        """One card's authentication certificate and key. `usage="sign"` gives a nonRepudiation-only certificate
        (a CPS *signature* certificate, which must not be accepted for login)."""
        if kind not in CARD_KINDS:
            raise ValueError(f"kind must be one of {', '.join(CARD_KINDS)}")
        profession = DEFAULT_PROFESSION[kind] if profession is None else profession
        options = (holder, kind, expired, revoked, legacy, family_name, given_name, profession, usage,
                   card_type_extension)
        if options in self._cards:
            return self._cards[options]
        label = "card|" + "|".join(map(str, options))
        issuer = "gip-cps-classe-1" if legacy else "fort-personnes"
        chain = self.chain(issuer)
        key = self.key(label)
        if expired:
            start, end = self.anchor - timedelta(days=3 * 365 + 30), self.anchor - timedelta(days=30)
        else:
            start, end = self.anchor - timedelta(days=30), self.anchor + timedelta(days=3 * 365)
        title = PROFESSION_LABELS.get(profession, "") if profession else \
            {"CPE": "Personnel d'établissement", "CPA": "Personnel administratif"}.get(kind, "")
        usage_ext = (x509.KeyUsage(True, False, False, False, False, False, False, False, False) if usage == "auth"
                     else x509.KeyUsage(False, True, False, False, False, False, False, False, False))
        builder = (x509.CertificateBuilder()
                   .subject_name(card_subject(holder, family_name, given_name, title))
                   .issuer_name(chain[0].subject)
                   .public_key(key.public_key())
                   .serial_number(_serial_number(self.seed, label))
                   .not_valid_before(start)
                   .not_valid_after(end)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
                   .add_extension(usage_ext, True)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH,
                                                         ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(chain[0].public_key()), False)
                   .add_extension(_crl_dp(self.crl_url(issuer)), False)
                   .add_extension(x509.UnrecognizedExtension(OID_PRODUCT_CATEGORY, encode_code("80")), False))
        if profession:
            builder = builder.add_extension(
                x509.UnrecognizedExtension(OID_PROFESSION, encode_integer(int(profession))), False)
        if card_type_extension:
            builder = builder.add_extension(
                x509.UnrecognizedExtension(OID_CARD_TYPE, encode_code(CARD_TYPE_CODES[kind])), False)
        cert = builder.sign(self.key(CAS[issuer].key_label), hashes.SHA256())
        number = int.from_bytes(hashlib.sha256(label.encode()).digest()[:8], "big") % 10 ** 9
        material = CardMaterial(holder=holder, kind=kind, serial=f"2{number:09d}", certificate=cert,
                                private_key=key, chain=chain, family_name=family_name, given_name=given_name,
                                profession=profession, expired=expired, revoked=revoked, legacy=legacy)
        self._cards[options] = material
        if revoked:
            self._revoked.setdefault(issuer, []).append(cert)
            for directory, stale in self._crl_dirs:    # keep CRL directories written earlier up to date
                self.crl_dir(directory, stale=stale)
        return material

    # the bridge's own certificates -----------------------------------------------------------------------------------
    def client_certificate(self, cn: str = "psc-bridge client", days: float = 365, issuer: str = "fort-personnes",
                           directory: str | Path | None = None) -> tuple[Path, Path]:
        """A TLS client certificate of the bridge itself (as for BRIDGE_PSC_CLIENT_CERT) that expires `days` after
        the anchor, written with its key as PEM files: (certificate path, key path)."""
        key = self.key(f"client|{cn}")
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn), x509.NameAttribute(NameOID.COUNTRY_NAME, "FR")])
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(self.ca(issuer).subject)
                .public_key(key.public_key()).serial_number(_serial_number(self.seed, f"client|{cn}|{days}"))
                .not_valid_before(self.anchor - timedelta(days=30))
                .not_valid_after(self.anchor + timedelta(days=days))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)
                .sign(self.key(CAS[issuer].key_label), hashes.SHA256()))
        folder = self._subdir(directory, "client")
        stem = hashlib.sha256(f"{cn}|{days}".encode()).hexdigest()[:12]
        cert_path, key_path = folder / f"{stem}.crt", folder / f"{stem}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        return cert_path, key_path

    # trust store and CRLs ---------------------------------------------------------------------------------------------
    def trust_dir(self, path: str | Path | None = None, *, include_legacy: bool = False) -> Path:
        """Roots and intermediates as PEM files (bridge.pki reads self-signed ones as anchors, others as
        intermediates). `include_legacy` also drops the GIP-CPS CAs in, to show they are refused anyway."""
        directory = self._subdir(path, "trust")
        for name in IGC_CAS + (LEGACY_CAS if include_legacy else ()):
            (directory / f"{name}.pem").write_bytes(self.ca(name).public_bytes(serialization.Encoding.PEM))
        return directory

    def crl(self, ca: str, *, stale: bool = False) -> x509.CertificateRevocationList:
        """A CRL of `ca` (listing the revoked cards made so far). Fresh: next update in 7 days; stale: expired
        yesterday."""
        this_update = self.anchor - timedelta(days=8 if stale else 0, hours=1)
        next_update = self.anchor - timedelta(days=1) if stale else self.anchor + timedelta(days=7)
        builder = (x509.CertificateRevocationListBuilder()
                   .issuer_name(self.ca(ca).subject)
                   .last_update(this_update)
                   .next_update(next_update)
                   .add_extension(x509.CRLNumber(2 if stale else 3), False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.ca(ca).public_key()),
                                  False))
        for cert in self._revoked.get(ca, []):
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(cert.serial_number)
                .revocation_date(self.anchor - timedelta(days=2)).build())
        return builder.sign(self.key(CAS[ca].key_label), hashes.SHA256())

    def crl_dir(self, path: str | Path | None = None, *, stale: bool = False, include_legacy: bool = True) -> Path:
        """One DER CRL per CA, named like IGC-Santé's files (ACI-FO-PP-TEST.crl...)."""
        directory = self._subdir(path, "crl-stale" if stale else "crl")
        for name in IGC_CAS + (LEGACY_CAS if include_legacy else ()):
            (directory / CAS[name].crl_file).write_bytes(
                self.crl(name, stale=stale).public_bytes(serialization.Encoding.DER))
        if (directory, stale) not in self._crl_dirs:
            self._crl_dirs.append((directory, stale))
        return directory

    def _subdir(self, path: str | Path | None, default: str) -> Path:
        if path is None:
            if self.directory is None:
                raise ValueError("give a path or create TestPki with a directory")
            path = self.directory / default
        directory = Path(path)
        directory.mkdir(parents=True, exist_ok=True)
        return directory


def _crl_dp(url: str) -> x509.CRLDistributionPoints:
    return x509.CRLDistributionPoints([x509.DistributionPoint([x509.UniformResourceIdentifier(url)], None, None,
                                                              None)])


@lru_cache(maxsize=256)
def _derived_key(seed: str, label: str) -> rsa.RSAPrivateKey:
    """Process-wide memo: several TestPki objects with one seed (tests, CLI) derive each key once."""
    return derive_rsa_key(seed, label)
