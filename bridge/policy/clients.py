"""The `clients:` entries of a policy file: OIDC client registration."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

from cryptography import x509

from bridge.policy.fields import codes, list_, mapping, text, unknown_keys, uris
from bridge.policy.report import MISSING, Report
from bridge.policy.schema import Client
from bridge.policy.values import is_loopback, is_native_loopback, url_problem
from bridge.policy.yamlsource import INVALID

CLIENT_KEYS = ("require_pushed_authorization_requests",
               "client_id", "name", "client_secret_sha256", "token_endpoint_auth_method", "redirect_uris",
               "post_logout_redirect_uris", "backchannel_logout_uri", "frontchannel_logout_uri",
               "frontchannel_logout_session_required", "scopes", "jwks", "id_token_signed_response_alg",
               "dpop_bound_access_tokens", "tls_client_auth_subject_dn", "consent", "grant_types", "psc_audiences")
AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt", "none", "tls_client_auth",
                "self_signed_tls_client_auth")
DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"            # RFC 8628
CIBA = "urn:openid:params:grant-type:ciba"                               # OpenID CIBA Core 1.0
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"      # RFC 8693 (PSC token relay)
GRANT_TYPES = ("authorization_code", "refresh_token", DEVICE_CODE, CIBA, TOKEN_EXCHANGE)
AUDIENCE = re.compile(r"^[\x21-\x7e]{1,256}$")
CLIENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
SCOPE = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")     # RFC 6749 scope-token


def read_client(report: Report, raw, index: int, dev: bool) -> Client | None:
    path = ("clients", index)
    data = mapping(report, raw, path, "client_id, redirect_uris...")
    if data is None:
        return None
    unknown_keys(report, data, CLIENT_KEYS, path)
    client_id = text(report, data, "client_id", path, required=True, pattern=CLIENT_ID,
                     hint="letters, digits, '.', '_', ':' or '-'")
    method = data.get("token_endpoint_auth_method", "client_secret_basic")
    if method not in AUTH_METHODS:
        report.error(path + ("token_endpoint_auth_method",), method, f"must be one of {', '.join(AUTH_METHODS)}")
        method = "client_secret_basic"
    secret = data.get("client_secret_sha256", "")
    if method.startswith("client_secret"):
        if not isinstance(secret, str) or not re.fullmatch(r"[0-9a-fA-F]{64}", secret):
            report.error(path + ("client_secret_sha256",), secret if secret != "" else MISSING,
                         f"{method} needs the 64-hex SHA-256 of the client secret")
            secret = ""
    elif secret:
        report.error(path + ("client_secret_sha256",), secret, f"must be absent with {method} (no shared secret)")
    jwks = data.get("jwks")
    keyed = isinstance(jwks, dict) and isinstance(jwks.get("keys"), list) and jwks["keys"]
    if method in ("private_key_jwt", "self_signed_tls_client_auth") and not keyed:
        report.error(path + ("jwks",), jwks if jwks is not None else MISSING,
                     f"{method} needs the client's public keys as {{keys: [...]}}")
    subject_dn = _subject_dn(report, data, method, path)
    grant_types, audiences = _grants(report, data, path)
    # A client without the browser grant (a kiosk on device code, a thick client on CIBA) has no redirect URI.
    if "authorization_code" in grant_types and data.get("redirect_uris") in (None, []):
        report.error(path + ("redirect_uris",), data.get("redirect_uris", MISSING),
                     "at least one redirect URI is required")
    redirects = _redirect_uris(report, data, method, path, dev)
    logout = uris(report, data, "post_logout_redirect_uris", path, dev)
    backchannel = _logout_uri(report, data, "backchannel_logout_uri", path, dev)
    frontchannel = _logout_uri(report, data, "frontchannel_logout_uri", path, dev)
    fc_session = _flag(report, data, "frontchannel_logout_session_required", path, default=True)
    scopes = codes(report, data, "scopes", path, SCOPE, "an OAuth scope token", ("openid", "profile"))
    if "openid" not in scopes:
        report.error(path + ("scopes",), list(scopes), "must include 'openid' (this is an OpenID Connect provider)")
    alg = data.get("id_token_signed_response_alg", "RS256")
    if alg not in ("RS256", "ES256"):
        report.error(path + ("id_token_signed_response_alg",), alg, "must be RS256 or ES256")
        alg = "RS256"
    name = data.get("name", "")
    if not isinstance(name, str):
        report.error(path + ("name",), name, "must be a string")
        name = ""
    par = _flag(report, data, "require_pushed_authorization_requests", path)
    dpop_bound = _flag(report, data, "dpop_bound_access_tokens", path)
    if not client_id:
        return None
    return Client(require_pushed_authorization_requests=par,
                  client_id=client_id, redirect_uris=redirects, token_endpoint_auth_method=method,
                  client_secret_sha256=str(secret).lower(), post_logout_redirect_uris=logout,
                  backchannel_logout_uri=backchannel, frontchannel_logout_uri=frontchannel,
                  frontchannel_logout_session_required=fc_session, scopes=scopes,
                  jwks=jwks if isinstance(jwks, dict) else None, id_token_signed_response_alg=alg, name=name,
                  dpop_bound_access_tokens=dpop_bound, tls_client_auth_subject_dn=subject_dn,
                  consent=_consent(report, data, path), grant_types=grant_types, psc_audiences=audiences)


def _grants(report: Report, data: dict, path: tuple) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """grant_types (what /token accepts from the client) and psc_audiences (token exchange only)."""
    grant_types = codes(report, data, "grant_types", path, GRANT_TYPES, f"one of {', '.join(GRANT_TYPES)}",
                        ("authorization_code", "refresh_token"))
    audiences = codes(report, data, "psc_audiences", path, AUDIENCE, "a PSC audience (printable, no space)")
    if audiences and TOKEN_EXCHANGE not in grant_types:
        report.error(path + ("psc_audiences",), list(audiences),
                     f"only with {TOKEN_EXCHANGE} in grant_types (the audiences token exchange may return)")
    return grant_types, audiences


def _redirect_uris(report: Report, data: dict, method: str, path: tuple, dev: bool) -> tuple[str, ...]:
    """The redirect URIs; RFC 8252 §7.3: a public client (a native app) may register http://127.0.0.1/… or
    http://[::1]/… without a port, in production too, and any port is then accepted at run time. A confidential
    client may not (it runs on a server: https, or a fixed loopback port in development)."""
    found = []
    for i, uri in enumerate(list_(report, data, "redirect_uris", path)):
        native = is_native_loopback(uri)
        problem = url_problem(uri, dev=dev or native)
        if not problem and native and method != "none":
            problem = ("a loopback redirect URI without a port is for native apps (RFC 8252): "
                       "token_endpoint_auth_method: none only")
        elif problem and method == "none" and not dev and _http_loopback(uri):
            problem = ("must be https in production; a native app registers http://127.0.0.1/… or http://[::1]/… "
                       "without a port (RFC 8252; not localhost)")
        if problem:
            if uri is not INVALID:
                report.error(path + ("redirect_uris", i), uri, problem)
        else:
            found.append(uri)
    return tuple(found)


def _http_loopback(uri) -> bool:
    try:
        parts = urlsplit(uri) if isinstance(uri, str) else None
        return bool(parts) and parts.scheme == "http" and is_loopback(parts.hostname)
    except ValueError:
        return False


def _logout_uri(report: Report, data: dict, key: str, path: tuple, dev: bool) -> str:
    """A back- or front-channel logout URI: an absolute URL under the same rules as redirect URIs; '' if absent."""
    value = data.get(key, "")
    if value in ("", None):
        return ""
    problem = url_problem(value, dev=dev)
    if problem:
        report.error(path + (key,), value, problem)
        return ""
    return value


def _subject_dn(report: Report, data: dict, method: str, path: tuple) -> str:
    """RFC 8705 tls_client_auth: the certificate subject, an RFC 4514 DN kept in its normal form; only with it."""
    value = data.get("tls_client_auth_subject_dn", "")
    key = path + ("tls_client_auth_subject_dn",)
    if method != "tls_client_auth":
        if value not in ("", None):
            report.error(key, value, "only with token_endpoint_auth_method: tls_client_auth")
        return ""
    if not isinstance(value, str) or not value:
        report.error(key, value or MISSING, "tls_client_auth needs the certificate's subject DN (RFC 4514, "
                     "e.g. CN=dpi.example,O=Hopital,C=FR)")
        return ""
    try:
        return x509.Name.from_rfc4514_string(value).rfc4514_string()
    except ValueError:
        report.error(key, value, "is not an RFC 4514 distinguished name (no space after the commas)")
        return ""


def _consent(report: Report, data: dict, path: tuple) -> str:
    """required: a third party's client, the professional allows its claims first (bridge.login.consent)."""
    value = data.get("consent", "none")
    if value not in ("required", "none"):
        report.error(path + ("consent",), value, "must be required (a third party: the professional is asked) "
                     "or none (a first-party client)")
        return "none"
    return value


def _flag(report: Report, data: dict, key: str, path: tuple, default: bool = False) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        report.error(path + (key,), value, "must be true or false")
        return default
    return value
