"""The emulator object shared by the HTTP views: configuration, state, keys, and OAuth error helpers."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import current_app, jsonify

from .config import EmulatorConfig
from .signing import SigningKeys
from .state import EmulatorState

EXTENSION = "psc_emulator"
SESSION_COOKIE = "KEYCLOAK_SESSION"   # not `bridge_session`: cookies ignore ports, the bridge shares the host
AUTH_MODES = {"CARD": "Carte CPS", "MOBILE": "Application e-CPS"}
# Scopes PSC's discovery lists; a token grants the requested ones among these.
SCOPES_SUPPORTED = ("openid", "scope_all", "rpps", "referentiel", "identity", "eidas1", "eidas2", "scope_1",
                    "scope_2", "interop", "profile", "email", "roles", "web-origins", "acr", "basic")


@dataclass
class Emulator:
    config: EmulatorConfig
    state: EmulatorState
    keys: SigningKeys

    @property
    def faults(self) -> dict:
        return self.state.faults


def emulator() -> Emulator:
    return current_app.extensions[EXTENSION]


class OAuthError(Exception):
    """An RFC 6749 error answered as JSON by the token, introspection and revocation endpoints."""

    def __init__(self, error: str, description: str = "", status: int = 400, www_authenticate: str = ""):
        super().__init__(error)
        self.error, self.description, self.status = error, description, status
        self.www_authenticate = www_authenticate

    def response(self):
        body = {"error": self.error}
        if self.description:
            body["error_description"] = self.description
        response = jsonify(body)
        response.status_code = self.status
        response.headers["Cache-Control"] = "no-store"
        if self.www_authenticate:
            response.headers["WWW-Authenticate"] = self.www_authenticate
        return response


def no_store(response):
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def with_query(url: str, params: dict[str, str | None]) -> str:
    """`url` with `params` appended to its query (None values left out; existing parameters kept)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [(name, value) for name, value in params.items() if value is not None]
    return urlunsplit(parts._replace(query=urlencode(query)))


def granted_scope(requested: str) -> str:
    """The requested scopes PSC knows, in request order, without duplicates."""
    seen: list[str] = []
    for scope in requested.split():
        if scope in SCOPES_SUPPORTED and scope not in seen:
            seen.append(scope)
    return " ".join(seen)
