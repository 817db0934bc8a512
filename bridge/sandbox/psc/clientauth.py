"""Client authentication at the token, introspection and revocation endpoints (RFC 6749 §2.3, RFC 8705)."""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ssl
from dataclasses import dataclass
from urllib.parse import unquote_plus

from flask import request

from .config import EmulatedClient, EmulatorConfig
from .core import OAuthError
from .signing import cert_thumbprint


@dataclass(frozen=True)
class AuthenticatedClient:
    client: EmulatedClient
    cert_thumbprint: str = ""   # x5t#S256 of the mTLS certificate, for certificate-bound tokens


def _basic_credentials() -> tuple[str, str] | None:
    """(client_id, secret) from `Authorization: Basic`, form-urldecoded as RFC 6749 §2.3.1 requires."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise _invalid_client("En-tête Basic illisible", basic=True) from None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise _invalid_client("En-tête Basic illisible", basic=True)
    return unquote_plus(client_id), unquote_plus(secret)


def _invalid_client(description: str, *, basic: bool = False) -> OAuthError:
    return OAuthError("invalid_client", description, 401,
                      'Basic realm="esante-wallet"' if basic else "")


def _peer_certificate_der() -> bytes | None:
    """The TLS client certificate; werkzeug puts it in the WSGI environ as PEM when the peer sent one."""
    pem = request.environ.get("SSL_CLIENT_CERT")
    return ssl.PEM_cert_to_DER_cert(pem) if pem else None


def authenticate_client(config: EmulatorConfig) -> AuthenticatedClient:
    basic = _basic_credentials()
    form_id, form_secret = request.form.get("client_id"), request.form.get("client_secret")
    if basic and form_secret is not None:
        raise OAuthError("invalid_request", "Plusieurs méthodes d'authentification client")
    if basic and form_id and form_id != basic[0]:
        raise _invalid_client("client_id différent de celui de l'en-tête Basic", basic=True)
    client_id = basic[0] if basic else form_id
    client = config.client(client_id)
    if client is None:
        raise _invalid_client("Client inconnu", basic=bool(basic))

    if client.uses_secret:
        # Like Keycloak's client-secret authenticator: Basic or post, whichever the client sends.
        secret = basic[1] if basic else form_secret
        if secret is None or not hmac.compare_digest(secret.encode(), client.secret.encode()):
            raise _invalid_client("Authentification du client refusée", basic=bool(basic))
        return AuthenticatedClient(client)

    if basic or form_secret is not None:
        raise _invalid_client("Ce client s'authentifie par certificat (tls_client_auth)", basic=bool(basic))
    der = _peer_certificate_der()
    if der is None:
        raise _invalid_client("Certificat client TLS absent")
    if not hmac.compare_digest(hashlib.sha256(der).hexdigest(), client.tls_client_cert_sha256):
        raise _invalid_client("Certificat client TLS non reconnu pour ce client")
    return AuthenticatedClient(client, cert_thumbprint(der))
