"""Mutual TLS for the bridge's own clients (RFC 8705): client authentication and certificate-bound tokens.

The TLS handshake ends at the reverse proxy, which forwards the client certificate in BRIDGE_CLIENT_CERT_HEADER.
The header is believed under exactly cps-tls's rules (`proxy_trusted`, `certificate_from_header` of
bridge/upstream/cps.py): only when the TCP peer is one of BRIDGE_TRUSTED_PROXIES; from anyone else it is ignored,
as if no certificate had been presented. The proxy did the proof of possession (the TLS handshake) and, for
`tls_client_auth`, the chain validation against the establishment CA (docs/provider.md, "mTLS").

A token bound to a certificate keeps it in the same stored binding as a DPoP key (`j`, bridge/provider/tokens.py):
`x5t#S256:<thumbprint>` (a DPoP binding is a bare RFC 7638 thumbprint), checked by the same token-use script.
"""
from __future__ import annotations

import base64
import hashlib

from authlib.oauth2.rfc6749 import InvalidClientError
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from bridge.upstream.cps import CpsError, certificate_from_header, proxy_trusted

METHODS = ("tls_client_auth", "self_signed_tls_client_auth")
BOUND = "x5t#S256:"     # prefix of a certificate binding in a token's `j`


def presented_certificate(bridge) -> x509.Certificate | None:
    """The client certificate the trusted proxy forwarded for this request; None without one, from an untrusted
    peer, or when the header holds no certificate."""
    from flask import has_request_context, request

    settings = bridge.settings
    if not has_request_context() or not proxy_trusted(request.remote_addr, settings.trusted_proxies):
        return None
    header = request.headers.get(settings.client_cert_header)
    if not header:
        return None
    try:
        return x509.load_der_x509_certificate(certificate_from_header(header))
    except (CpsError, ValueError):
        return None


def thumbprint(certificate: x509.Certificate) -> str:
    """RFC 8705 §3.1 `x5t#S256`: base64url SHA-256 of the DER certificate."""
    der = certificate.public_bytes(serialization.Encoding.DER)
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()


def binding(bridge) -> str:
    """The stored binding of this request's certificate, '' without one."""
    certificate = presented_certificate(bridge)
    return BOUND + thumbprint(certificate) if certificate is not None else ""


def is_certificate_bound(j: str | None) -> bool:
    return bool(j) and j.startswith(BOUND)


def cnf(j: str) -> dict:
    """The confirmation claim (introspection) of a stored binding: RFC 8705 §3.1 or RFC 9449 §6.1."""
    return {"x5t#S256": j[len(BOUND):]} if is_certificate_bound(j) else {"jkt": j}


def token_type(j: str | None) -> str:
    """RFC 8705 tokens stay `Bearer`; a DPoP-bound one is `DPoP`."""
    return "DPoP" if j and not is_certificate_bound(j) else "Bearer"


def normal_dn(dn: str) -> str:
    """An RFC 4514 distinguished name as the bridge compares it (ValueError if it is not one)."""
    return x509.Name.from_rfc4514_string(dn).rfc4514_string()


def _spki(key) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def registered_key(certificate: x509.Certificate, jwks: dict | None) -> bool:
    """self_signed_tls_client_auth (RFC 8705 §2.2): the certificate's public key is one of the client's `jwks`
    (an `x5c` key is the key of its certificate)."""
    try:
        keys = KeySet.import_key_set(jwks or {"keys": []}).keys
    except (JoseError, ValueError, TypeError):
        return False
    presented = _spki(certificate.public_key())
    return any(_spki(key.public_key) == presented for key in keys if hasattr(key, "public_key"))


class TlsClientAuth:
    """An Authlib client authentication method (`server.register_client_auth_method`): the client names itself
    with `client_id` in the body and proves it with the certificate the trusted proxy forwarded."""

    def __init__(self, bridge, method: str):
        self.bridge, self.method = bridge, method

    def __call__(self, query_client, request):
        client_id = request.form.get("client_id")
        client = query_client(client_id) if client_id else None
        if client is None or client.client.token_endpoint_auth_method != self.method:
            return None
        certificate = presented_certificate(self.bridge)
        if certificate is None:
            raise InvalidClientError(status_code=401, description="No client certificate came through the "
                                     "trusted TLS proxy (RFC 8705).")
        now = self.bridge.clock.now()
        if not certificate.not_valid_before_utc.timestamp() <= now <= certificate.not_valid_after_utc.timestamp():
            raise InvalidClientError(status_code=401, description="The client certificate is not valid now.")
        if self.method == "tls_client_auth":
            matched = certificate.subject.rfc4514_string() == client.client.tls_client_auth_subject_dn
        else:
            matched = registered_key(certificate, client.client.jwks)
        if not matched:
            raise InvalidClientError(status_code=401, description="The client certificate does not match the "
                                     "client's registration (RFC 8705).")
        request.tls_binding = BOUND + thumbprint(certificate)
        return client
