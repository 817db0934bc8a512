"""The grants of the bridge's provider (Authlib): authorization code + PKCE S256 with OpenID Connect, refresh
with rotation, and what /authorize accepts. Each reaches the running bridge through `self.server.bridge`."""
from __future__ import annotations

import secrets
from dataclasses import dataclass

from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidRequestError, UnauthorizedClientError, grants
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import OpenIDCode, UserInfo
from authlib.oidc.core.models import AuthorizationCodeMixin

from bridge import metrics
from bridge.acr import claims_problem
from bridge.model import Authentication
from bridge.policy.establishment import fi_amr
from bridge.provider import dpop, mtls
from bridge.provider.claims import subject, user_claims
from bridge.provider.tokens import new_token

ID_TOKEN_TTL = 300
TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none",
                               "tls_client_auth", "self_signed_tls_client_auth"]   # RFC 8705: mtls.py
# Caps on /authorize parameters (characters): an anonymous request is stored during the login.
PARAM_LIMITS = {"state": 1024, "nonce": 512, "scope": 1024, "login_hint": 256, "id_token_hint": 8192,
                "acr_values": 256, "redirect_uri": 2048, "client_id": 256, "code_challenge": 128,
                "max_age": 10, "ui_locales": 64, "claims_locales": 64, "prompt": 64, "display": 16,
                "response_type": 32, "code_challenge_method": 16, "response_mode": 16, "claims": 2048}
SUPPORTED_PROMPTS = {"none", "login"}


@dataclass
class Grantee:
    """The user an app is granted: the session's Authentication, its sid, and the grant's bounds."""
    authn: Authentication
    sid: str
    service: str
    family: str = ""
    deadline: float = 0.0


class StoredCode(AuthorizationCodeMixin):
    def __init__(self, data: dict):
        self.data = data

    def get_redirect_uri(self): return self.data["redirect_uri"]
    def get_scope(self): return self.data["scope"]
    def get_nonce(self): return self.data.get("nonce")
    def get_auth_time(self): return self.data["authn"]["auth_time"]
    def get_acr(self): return self.data["authn"]["acr"]
    def get_amr(self): return list(self.data["authn"]["amr"])


def check_authorization_params(data: dict, redirect_uri: str, state: str | None) -> None:
    """What Authlib lets through at /authorize but the bridge does not support, refused by its own error code
    (OIDC Core §3.1.2.6, §6) and redirected to the app, rather than silently ignored."""
    def refuse(error_cls, description=None):
        # An oversized state cannot be echoed back (Authlib would copy it): the bridge's error page instead.
        back = redirect_uri if len(state or "") <= PARAM_LIMITS["state"] else None
        raise error_cls(description=description, redirect_uri=back, state=state)

    for name, limit in PARAM_LIMITS.items():
        if len(data.get(name) or "") > limit:
            refuse(InvalidRequestError, f"{name} is longer than {limit} characters.")
    prompts = set((data.get("prompt") or "").split())
    if prompts - SUPPORTED_PROMPTS:
        refuse(InvalidRequestError, f"Unsupported prompt value: {', '.join(sorted(prompts - SUPPORTED_PROMPTS))}.")
    if "none" in prompts and len(prompts) > 1:
        refuse(InvalidRequestError, "prompt=none cannot be combined with another value (OpenID Connect Core 3.1.2.1).")
    if data.get("response_mode", "query") != "query":
        refuse(InvalidRequestError, "Only response_mode=query is supported.")
    if claims_problem(data.get("claims")):  # only its id_token acr is acted on (bridge.acr.requested)
        refuse(InvalidRequestError, claims_problem(data.get("claims")))


def is_own_id_token(claims: dict, issuer: str) -> bool:
    """Claims (signature already checked) of an ID token of this bridge: its issuer, and not a logout token,
    which the same keys sign and every app receives."""
    return claims.get("iss") == issuer and isinstance(claims.get("sub"), str) and "events" not in claims


def id_token_claims(bridge, user: Grantee, scope: str, userinfo: bool = False) -> UserInfo:
    """Claims for the ID token (with `sid`) or userinfo; `sub` is the national id or pairwise per service."""
    service = bridge.policies.services[user.service]
    sub = subject(service, user.authn.identity.national_id, bridge.settings.secret_key)
    claims = user_claims(user.authn, set(scope.split()), sub)
    if not userinfo:
        claims["sid"] = user.sid
        if service.establishment_idp:   # the client is PSC: the amr it reads from its establishment IdP
            claims["amr"] = fi_amr(service, user.authn)
    return UserInfo(claims)


class S256Challenge(CodeChallenge):
    """PKCE with S256 only ('plain' protects nothing); required for public clients at /authorize too."""
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(self, grant, redirect_uri):
        data = grant.request.payload.data
        if data.get("code_challenge") and data.get("code_challenge_method", "plain") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256", redirect_uri=redirect_uri)
        if grant.request.client.client.public and not data.get("code_challenge"):
            raise InvalidRequestError("PKCE (code_challenge, S256) is required for public clients",
                                      redirect_uri=redirect_uri)
        super().validate_code_challenge(grant, redirect_uri)

    def get_authorization_code_challenge(self, code): return code.data.get("code_challenge")
    def get_authorization_code_challenge_method(self, code): return code.data.get("code_challenge_method")


class CodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_ENDPOINT_AUTH_METHODS

    def validate_authorization_request(self):
        redirect_uri = super().validate_authorization_request()
        check_authorization_params(self.request.payload.data, redirect_uri, self.request.payload.state)
        if self.request.client.client.require_pushed_authorization_requests and not getattr(self.request, "pushed",
                                                                                             False):
            raise InvalidRequestError("This client must push its authorization requests to /par (RFC 9126).",
                                      redirect_uri=redirect_uri, state=self.request.payload.state)
        return redirect_uri

    def validate_token_request(self):
        # The DPoP proof first: a nonce retry (RFC 9449 §8) must find the code still unused.
        jkt = dpop.token_endpoint_jkt(self.server.bridge, self.request)
        super().validate_token_request()
        dpop.require(self.request.client, jkt)
        self.request.dpop_jkt = jkt or mtls.binding(self.server.bridge)   # the DPoP key, else the certificate

    def generate_token(self, user=None, scope=None, grant_type=None, expires_in=None, include_refresh_token=True):
        return self.server.generate_token(grant_type or self.GRANT_TYPE, self.request.client, user, scope,
                                          expires_in, include_refresh_token, jkt=self.request.dpop_jkt)

    def generate_authorization_code(self):
        return new_token(self.request.user.sid)

    def save_authorization_code(self, code, request):
        grantee: Grantee = request.user
        data = request.payload.data
        self.server.bridge.tokens.save_code(code, {
            "client_id": request.client.client_id, "redirect_uri": request.payload.redirect_uri,
            "scope": request.scope, "nonce": data.get("nonce"), "sid": grantee.sid,
            "code_challenge": data.get("code_challenge"), "code_challenge_method": data.get("code_challenge_method"),
            "authn": grantee.authn.to_dict(), "service": grantee.service, "deadline": grantee.deadline,
            "family": secrets.token_urlsafe(12)})

    def query_authorization_code(self, code, client):
        bridge = self.server.bridge
        data, reused = bridge.tokens.take_code(code)  # consumed on first read: a code works once, whatever next
        if reused:
            bridge.record("token_revoked", "failure", client=client.client_id, reason="code_reuse")
        if data and data["client_id"] == client.client_id:
            return StoredCode(data)
        return None

    def delete_authorization_code(self, authorization_code):
        pass

    def authenticate_user(self, authorization_code):
        d = authorization_code.data
        return Grantee(Authentication.from_dict(d["authn"]), d["sid"], d["service"], d["family"], d["deadline"])


class RefreshGrant(grants.BaseGrant, grants.TokenEndpointMixin):
    """Rotation in one atomic store round trip; a replayed rotated token revokes its whole family."""
    GRANT_TYPE = "refresh_token"
    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_ENDPOINT_AUTH_METHODS

    def validate_token_request(self):
        jkt = dpop.token_endpoint_jkt(self.server.bridge, self.request)
        client = self.authenticate_token_endpoint_client()
        if not client.check_grant_type(self.GRANT_TYPE):
            raise UnauthorizedClientError(f"This client may not use the {self.GRANT_TYPE} grant "
                                          "(its policy's grant_types).")
        if not self.request.form.get("refresh_token"):
            raise InvalidRequestError("Missing 'refresh_token' in request.")
        dpop.require(client, jkt)
        self.request.client, self.request.dpop_jkt = client, jkt or mtls.binding(self.server.bridge)

    def create_token_response(self):
        bridge, client = self.server.bridge, self.request.client
        use, token = bridge.tokens.refresh(self.request.form["refresh_token"], client.client_id, self.request.dpop_jkt)
        if token is None:
            self.server.token_used(use)
            if use.status == "reused":
                bridge.record("token_revoked", "failure", client=client.client_id, reason="refresh_reuse")
            if use.status == "wrong_key":
                raise InvalidGrantError("Refresh token is bound: send a DPoP proof signed by its key (RFC 9449), "
                                        "or its client certificate (RFC 8705).")
            raise InvalidGrantError(f"Refresh token is {use.status.replace('_', ' ')}.")
        metrics.token_issued("refresh_token")
        bridge.record("token_refreshed", client=client.client_id, service=use.record["v"], sid=use.sid)
        return 200, token, self.TOKEN_RESPONSE_HEADER


class BridgeOpenIDCode(OpenIDCode):
    """The ID token: signed with the bridge's current key for the client's algorithm, 5 minutes."""

    def __init__(self, bridge):
        super().__init__(require_nonce=False)
        self.bridge = bridge

    def exists_nonce(self, nonce, request):
        return False  # nonce replay is the app's check; codes are single-use here

    def resolve_client_private_key(self, client):
        return self.bridge.keys.signing_key(client.id_token_signed_response_alg)

    def get_encode_header(self, client):
        key = self.resolve_client_private_key(client)
        return {"alg": client.id_token_signed_response_alg, "kid": key.kid, "typ": "JWT"}

    def get_client_claims(self, client):
        now = int(self.bridge.clock.now())
        return {"iss": self.bridge.settings.issuer, "aud": [client.client_id], "iat": now, "exp": now + ID_TOKEN_TTL,
                "azp": client.client_id}

    def generate_user_info(self, user: Grantee, scope):
        return id_token_claims(self.bridge, user, scope)
