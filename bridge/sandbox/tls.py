"""Test TLS material for the PSC emulator's mTLS (`tls_client_auth`): a CA, a server and two client certificates.

The client certificate imitates an IGC-Santé "ORG AUTH_CLI" certificate (O = organisation, OU = structure id,
CN = free, mapped to a client id by PSC). Everything is marked TEST and signed by a throw-away CA.
"""
from __future__ import annotations

import datetime
import hashlib
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CLIENT_ORGANIZATION = "CENTRE HOSPITALIER DE TEST"
CLIENT_STRUCTURE_ID = "3750099991"   # "3" + FINESS, as IGC-Santé puts the structure id in OU


@dataclass(frozen=True)
class TlsFiles:
    directory: Path
    ca_cert: Path
    server_cert: Path
    server_key: Path
    client_cert: Path            # CN=bridge-demo: the certificate registered for the tls_client_auth client
    client_key: Path
    client_cert_sha256: str      # hex SHA-256 of the DER client certificate
    other_client_cert: Path      # same CA, another CN: a valid certificate that is not the registered one
    other_client_key: Path
    other_client_cert_sha256: str

    @property
    def client_pair(self) -> tuple[str, str]:
        """(cert, key) as `requests` takes them."""
        return str(self.client_cert), str(self.client_key)

    @property
    def other_client_pair(self) -> tuple[str, str]:
        return str(self.other_client_cert), str(self.other_client_key)


def _name(common_name: str, organization: str, unit: str = "") -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
                  x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization)]
    if unit:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit))
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attributes)


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _certificate(subject: x509.Name, key, issuer: x509.Name, issuer_key, *, ca: bool = False,
                 usage: x509.ObjectIdentifier | None = None, sans: list | None = None) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=30 if not ca else 365))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False),
            critical=True)
    else:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=True, data_encipherment=False,
            key_agreement=False, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False),
            critical=True)
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                                        critical=False)
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _write(directory: Path, stem: str, cert: x509.Certificate, key=None) -> tuple[Path, Path | None]:
    cert_path = directory / f"{stem}.crt"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path = None
    if key is not None:
        key_path = directory / f"{stem}.key"
        key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        key_path.chmod(0o600)
    return cert_path, key_path


def _sha256(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def make_test_tls(directory: str | Path) -> TlsFiles:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = _key()
    ca_name = _name("TEST AC IGC-SANTE ELEMENTAIRE ORGANISATIONS", "ANS TEST", "IGC-SANTE TEST")
    ca = _certificate(ca_name, ca_key, ca_name, ca_key, ca=True)

    server_key = _key()
    server = _certificate(_name("localhost", "PSC EMULATEUR TEST"), server_key, ca_name, ca_key,
                          usage=ExtendedKeyUsageOID.SERVER_AUTH,
                          sans=[x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                x509.IPAddress(ipaddress.ip_address("::1"))])

    client_key = _key()
    client = _certificate(_name("bridge-demo", CLIENT_ORGANIZATION, CLIENT_STRUCTURE_ID), client_key, ca_name,
                          ca_key, usage=ExtendedKeyUsageOID.CLIENT_AUTH)
    other_key = _key()
    other = _certificate(_name("autre-client", CLIENT_ORGANIZATION, CLIENT_STRUCTURE_ID), other_key, ca_name,
                         ca_key, usage=ExtendedKeyUsageOID.CLIENT_AUTH)

    ca_path, _ = _write(directory, "test-ca", ca)
    server_cert, server_key_path = _write(directory, "server", server, server_key)
    client_cert, client_key_path = _write(directory, "client", client, client_key)
    other_cert, other_key_path = _write(directory, "other-client", other, other_key)
    return TlsFiles(directory=directory, ca_cert=ca_path, server_cert=server_cert, server_key=server_key_path,
                    client_cert=client_cert, client_key=client_key_path, client_cert_sha256=_sha256(client),
                    other_client_cert=other_cert, other_client_key=other_key_path,
                    other_client_cert_sha256=_sha256(other))


def server_ssl_context(files: TlsFiles, require_client_cert: bool) -> ssl.SSLContext:
    """Server context for the emulator: client certificates from the test CA, required or optional
    (optional lets secret-based clients connect without one and tls_client_auth be refused at the endpoint)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(files.server_cert, files.server_key)
    context.load_verify_locations(files.ca_cert)
    context.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
    return context
