"""Authlib AuthorizationServer wiring: authorization code + PKCE (S256), OpenID Connect, bearer tokens."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2.rfc6749 import TokenMixin, grants
from authlib.oauth2.rfc6750 import BearerTokenGenerator, BearerTokenValidator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc9207 import IssuerParameter
from authlib.oidc.core import OpenIDCode, UserInfo, UserInfoEndpoint
from authlib.oidc.core.models import AuthorizationCodeMixin

from bridge.model import Authentication
from bridge.provider.claims import subject, user_claims
from bridge.provider.clients import OAuthClient

CODE_TTL = 60           # seconds; single use
ACCESS_TOKEN_TTL = 300  # DESIGN §5: access tokens live <= 5 min
ID_TOKEN_TTL = 300


@dataclass
class Grantee:
    """The user an app is granted: the session's Authentication and its public sid."""
    authn: Authentication
    sid: str
    service: str


class StoredCode(AuthorizationCodeMixin):
    def __init__(self, data: dict):
        self.data = data

    def get_redirect_uri(self): return self.data["redirect_uri"]
    def get_scope(self): return self.data["scope"]
    def get_nonce(self): return self.data.get("nonce")
    def get_auth_time(self): return self.data["authn"]["auth_time"]
    def get_acr(self): return self.data["authn"]["acr"]
    def get_amr(self): return list(self.data["authn"]["amr"])
    def get_code_challenge(self): return self.data.get("code_challenge")
    def get_code_challenge_method(self): return self.data.get("code_challenge_method")


class StoredToken(TokenMixin):
    def __init__(self, data: dict, client: OAuthClient | None, now: float):
        self.data, self.client, self.now = data, client, now
        self.scope = data["scope"]

    def check_client(self, client): return client.get_client_id() == self.data["client_id"]
    def get_scope(self): return self.scope
    def get_expires_in(self): return int(self.data["exp"] - self.data["iat"])
    def is_expired(self): return self.now >= self.data["exp"]
    def is_revoked(self): return False
    def get_user(self): return grantee_from(self.data)
    def get_client(self): return self.client


def token_key(token: str) -> str:
    return "at:" + hashlib.sha256(token.encode()).hexdigest()


class S256Challenge(CodeChallenge):
    """PKCE with S256 only ('plain' protects nothing); required for public clients at /authorize too."""
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(self, grant, redirect_uri):
        from authlib.oauth2.rfc6749 import InvalidRequestError

        data = grant.request.payload.data
        if data.get("code_challenge") and data.get("code_challenge_method", "plain") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256", redirect_uri=redirect_uri)
        if grant.request.client.client.public and not data.get("code_challenge"):
            raise InvalidRequestError("PKCE (code_challenge, S256) is required for public clients",
                                      redirect_uri=redirect_uri)
        super().validate_code_challenge(grant, redirect_uri)

    def get_authorization_code_challenge(self, code): return code.get_code_challenge()
    def get_authorization_code_challenge_method(self, code): return code.get_code_challenge_method()


class BridgeAuthorizationServer(AuthorizationServer):
    """Accepts an explicit request: after login the app's original /authorize request is replayed."""

    def create_oauth2_request(self, request):
        from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Request
        from flask import request as flask_request

        return FlaskOAuth2Request(request if request is not None else flask_request)


def build_server(app, bridge) -> tuple[AuthorizationServer, ResourceProtector]:
    store, clock, settings = bridge.store, bridge.clock, bridge.settings

    def query_client(client_id):
        found = bridge.policies.client(client_id)
        return OAuthClient(*found) if found else None

    def save_token(token, request):
        grantee: Grantee = request.user
        now = clock.now()
        record = {"client_id": request.client.client_id, "scope": token.get("scope", ""), "iat": now,
                  "exp": now + token["expires_in"], "sid": grantee.sid, "authn": grantee.authn.to_dict(),
                  "service": grantee.service}
        store.set_json(token_key(token["access_token"]), record, token["expires_in"])

    class CodeGrant(grants.AuthorizationCodeGrant):
        TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

        def save_authorization_code(self, code, request):
            grantee: Grantee = request.user
            data = request.payload.data
            record = {"client_id": request.client.client_id, "redirect_uri": request.payload.redirect_uri,
                      "scope": request.scope, "nonce": data.get("nonce"), "sid": grantee.sid,
                      "code_challenge": data.get("code_challenge"),
                      "code_challenge_method": data.get("code_challenge_method"),
                      "authn": grantee.authn.to_dict(), "service": grantee.service}
            store.set_json("code:" + hashlib.sha256(code.encode()).hexdigest(), record, CODE_TTL)

        def query_authorization_code(self, code, client):
            # Consumed on first read: a code works once, whatever happens next.
            data = store.consume_json("code:" + hashlib.sha256(code.encode()).hexdigest())
            if data and data["client_id"] == client.client_id:
                return StoredCode(data)
            return None

        def delete_authorization_code(self, authorization_code):
            pass  # already consumed atomically in query_authorization_code

        def authenticate_user(self, authorization_code):
            return grantee_from(authorization_code.data)

    class BridgeOpenIDCode(OpenIDCode):
        def exists_nonce(self, nonce, request):
            return False  # nonce replay is the app's check; codes are single-use here

        def resolve_client_private_key(self, client):
            return bridge.keys.signing_key(client.id_token_signed_response_alg)

        def get_encode_header(self, client):
            key = self.resolve_client_private_key(client)
            return {"alg": client.id_token_signed_response_alg, "kid": key.kid, "typ": "JWT"}

        def get_client_claims(self, client):
            now = int(clock.now())
            return {"iss": settings.issuer, "aud": [client.client_id], "iat": now, "exp": now + ID_TOKEN_TTL,
                    "azp": client.client_id}

        def generate_user_info(self, user: Grantee, scope):
            return id_token_claims(bridge, user, scope)

    class BridgeIssuer(IssuerParameter):
        def get_issuer(self):
            return settings.issuer

    server = BridgeAuthorizationServer(app, query_client=query_client, save_token=save_token)
    server.register_token_generator("default", BearerTokenGenerator(
        access_token_generator=lambda **_: secrets.token_urlsafe(32),
        expires_generator=lambda client, grant_type: ACCESS_TOKEN_TTL))
    server.register_grant(CodeGrant, [BridgeOpenIDCode(require_nonce=False), S256Challenge(required=True)])
    server.register_extension(BridgeIssuer())

    class TokenValidator(BearerTokenValidator):
        def authenticate_token(self, token_string):
            data = store.get_json(token_key(token_string))
            if data is None:
                return None
            return StoredToken(data, query_client(data["client_id"]), clock.now())

    protector = ResourceProtector()
    protector.register_token_validator(TokenValidator())

    class BridgeUserInfo(UserInfoEndpoint):
        def get_issuer(self):
            return settings.issuer

        def generate_user_info(self, user: Grantee, scope):
            return id_token_claims(bridge, user, scope, userinfo=True)

        def resolve_private_key(self):
            return bridge.keys.signing_key("RS256")

    server.register_endpoint(BridgeUserInfo(resource_protector=protector))
    return server, protector


def grantee_from(record: dict) -> Grantee:
    return Grantee(Authentication.from_dict(record["authn"]), record["sid"], record["service"])


def id_token_claims(bridge, user: Grantee, scope: str, userinfo: bool = False) -> UserInfo:
    """Claims for the ID token (with `sid`) or userinfo; `sub` is the national id or pairwise per service."""
    service = bridge.policies.services[user.service]
    sub = subject(service, user.authn.identity.national_id, bridge.settings.secret_key)
    claims = user_claims(user.authn, set(scope.split()), sub)
    if not userinfo:
        claims["sid"] = user.sid
    return UserInfo(claims)
