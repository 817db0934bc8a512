"""A DMP-like target for the Proxy e-Santé mode (bridge.web.psc_proxy): an API of the « API Pro Santé Connectées »
kind with its own authorization server, as PSC's documentation describes them (docs/provider.md):

- `/.well-known/oauth-authorization-server` (RFC 8414): its token endpoint;
- `POST /token`: RFC 8693 token exchange over mTLS; the subject token is a PSC access token, checked with PSC's
  JWKS (signature, issuer, expiry); the answer is an API token of 1 h bound to the caller's certificate
  (`cnf.x5t#S256`, RFC 8705);
- `GET|POST /api/<path>`: that token, presented with the same certificate; answers who called and what.

A test tool (`serve_dmp`), not a model of the real DMP: no VIHF, no business scopes.
"""
from __future__ import annotations

import base64
import hashlib
import secrets
import ssl
import threading
import time
from dataclasses import dataclass, field

import requests
from flask import Flask, jsonify, request
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from werkzeug.serving import make_server

API_TOKEN_TTL = 3600


@dataclass
class DmpState:
    psc_issuer: str
    psc_jwks_url: str
    verify: str | bool = True
    tokens: dict = field(default_factory=dict)      # API token -> {thumbprint, subject, exp}
    exchanges: list = field(default_factory=list)   # (thumbprint, subject) of each exchange: what the tests see
    calls: list = field(default_factory=list)       # (method, path, subject)


def _thumbprint() -> str | None:
    pem = request.environ.get("SSL_CLIENT_CERT")
    if not pem:
        return None
    der = ssl.PEM_cert_to_DER_cert(pem)
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()


def create_dmp(state: DmpState, base_url_box: list) -> Flask:
    app = Flask("bridge.sandbox.dmp")

    def error(code: str, status: int = 400):
        return jsonify({"error": code}), status

    @app.get("/.well-known/oauth-authorization-server")
    def metadata():
        base = base_url_box[0]
        return jsonify({"issuer": base, "token_endpoint": f"{base}/token",
                        "grant_types_supported": ["urn:ietf:params:oauth:grant-type:token-exchange"],
                        "tls_client_certificate_bound_access_tokens": True})

    @app.post("/token")
    def token():
        thumbprint, form = _thumbprint(), request.form
        if thumbprint is None:
            return error("invalid_client", 401)   # mTLS required (Espace de Confiance)
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:token-exchange":
            return error("unsupported_grant_type")
        try:
            keys = KeySet.import_key_set(requests.get(state.psc_jwks_url, timeout=5, verify=state.verify).json())
            claims = jwt.decode(form.get("subject_token", ""), keys, algorithms=["RS256"]).claims
        except (JoseError, ValueError, requests.RequestException):
            return error("invalid_grant")
        if claims.get("iss") != state.psc_issuer or claims.get("exp", 0) < time.time():
            return error("invalid_grant")
        value = secrets.token_urlsafe(32)
        state.tokens[value] = {"thumbprint": thumbprint, "subject": claims.get("SubjectNameID", ""),
                               "exp": time.time() + API_TOKEN_TTL}
        state.exchanges.append((thumbprint, claims.get("SubjectNameID", "")))
        return jsonify({"access_token": value, "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
                        "token_type": "Bearer", "expires_in": API_TOKEN_TTL})

    @app.route("/api/<path:path>", methods=["GET", "POST"])
    def api(path: str):
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        record = state.tokens.get(value) if scheme.lower() == "bearer" else None
        if record is None or record["exp"] < time.time():
            return error("invalid_token", 401)
        if _thumbprint() != record["thumbprint"]:
            return error("invalid_token", 401)   # bound to the certificate that exchanged it
        state.calls.append((request.method, path, record["subject"]))
        return jsonify({"path": path, "method": request.method, "professional": record["subject"],
                        "query": request.args.to_dict(), "body": request.get_data(as_text=True)})

    return app


class DmpServer:
    def __init__(self, state: DmpState, server, thread: threading.Thread, url: str):
        self.state, self._server, self._thread, self.url = state, server, thread, url

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def serve_dmp(psc_issuer: str, psc_jwks_url: str, ssl_context: ssl.SSLContext, *, verify: str | bool = True,
              host: str = "127.0.0.1") -> DmpServer:
    state, box = DmpState(psc_issuer, psc_jwks_url, verify), [""]
    server = make_server(host, 0, create_dmp(state, box), threaded=True, ssl_context=ssl_context)
    box[0] = f"https://{host}:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return DmpServer(state, server, thread, box[0])
