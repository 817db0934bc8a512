"""Authlib AuthorizationServer wiring: code + PKCE (S256), OpenID Connect, refresh with rotation, userinfo,
introspection (RFC 7662), revocation (RFC 7009), RP-initiated logout, private_key_jwt (RFC 7523).
The grants are in bridge/provider/grants.py, the other endpoints in bridge/provider/endpoints.py."""
from __future__ import annotations

from authlib.common.urls import add_params_to_uri
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Request
from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oauth2.rfc6749.requests import OAuth2Request
from authlib.oauth2.rfc9207 import IssuerParameter
from flask import request as flask_request

from bridge import metrics
from bridge.provider.ciba import CibaGrant
from bridge.provider.clients import OAuthClient
from bridge.provider.device import DeviceAuthorization, DeviceGrant, DeviceOpenID
from bridge.provider.endpoints import (
    BodyOrHeaderProtector,
    BridgeUserInfo,
    DpopTokenValidator,
    EndSession,
    Introspection,
    PrivateKeyJwt,
    Revocation,
    TokenValidator,
)
from bridge.provider.exchange import TokenExchangeGrant
from bridge.provider.grants import BridgeOpenIDCode, CodeGrant, Grantee, RefreshGrant, S256Challenge
from bridge.provider.mtls import METHODS as MTLS_METHODS
from bridge.provider.mtls import TlsClientAuth, token_type
from bridge.provider.par import RequestObjects
from bridge.provider.tokens import TokenUse

EXPIRED = {"idle": "idle_expired", "absolute": "absolute_expired", "session_idle": "idle_expired"}


class BridgeAuthorizationServer(AuthorizationServer):
    """Authlib's server with the running bridge at hand (`self.bridge`) for its grants and endpoints."""

    def __init__(self, app, bridge):
        super().__init__(app)
        self.bridge = bridge
        self.issuer = bridge.settings.issuer
        self.register_token_generator("default", self.generate_token)

    def query_client(self, client_id):
        found = self.bridge.policies.client(client_id) if isinstance(client_id, str) else None
        return OAuthClient(*found) if found else None

    def save_token(self, token, request):
        pass   # tokens are stored when generated (bridge.provider.tokens)

    def generate_token(self, grant_type, client, user: Grantee, scope, expires_in=None, include_refresh_token=True,
                       jkt: str = ""):
        """`jkt`: the DPoP key (RFC 9449) or certificate (RFC 8705, mtls.py) the access token, and a public
        client's refresh token, are bound to."""
        bridge = self.bridge
        # No refresh token to a client whose policy does not allow the refresh_token grant (it could not use it).
        refresh = include_refresh_token and client.check_grant_type("refresh_token")
        token = bridge.tokens.issue(user.sid, client.client_id, scope or "", user.service, user.family,
                                    user.deadline, refresh=refresh, jkt=jkt,
                                    bind_refresh=client.client.public)
        metrics.token_issued(grant_type)
        bridge.record("token_issued", service=user.service, client=client.client_id, grant=grant_type,
                      national_id=user.authn.identity.national_id, mie=user.authn.mie, sid=user.sid)
        return {"token_type": token_type(jkt), "scope": scope or "", **token}

    def token_used(self, use: TokenUse) -> bool:
        """Apply what a token check found: lazy idle/absolute expiry notifies the app (back-channel)."""
        sessions = self.bridge.sessions
        session_over = use.session is not None and self.bridge.clock.now() >= use.session["deadline"]
        if use.status == "absolute" and session_over:
            sessions.end(use.sid, "absolute_expired")
        elif use.status in ("idle", "absolute"):
            sessions.end_client(use.sid, use.record["c"], EXPIRED[use.status])
        elif use.status == "session_idle":
            sessions.end(use.sid, "idle_expired")
        return use.status == "ok"

    def create_oauth2_request(self, request):
        # The request itself, not Flask's proxy: Authlib reads it a few dozen times per call.
        if isinstance(request, OAuth2Request):
            return request   # built by the bridge (/par)
        return FlaskOAuth2Request(request if request is not None else flask_request._get_current_object())

    def handle_error_response(self, request, error):
        """RFC 9207 §2: `iss` on every authorization response, errors included (Authlib adds it on success only)."""
        response = super().handle_error_response(request, error)
        if error.redirect_uri and response.location:
            response.location = add_params_to_uri(response.location, {"iss": self.issuer})
        return response

    def authenticate_client(self, request, methods, endpoint="token"):
        """RFC 6749 §2.3: a client uses one authentication method per request, never the header and the body."""
        basic = request.headers.get("Authorization", "")[:6].lower() == "basic "
        form = request.form
        if basic and (form.get("client_secret") or form.get("client_assertion")):
            raise InvalidRequestError("Use one client authentication method: the Authorization header or the "
                                      "body, not both (RFC 6749 section 2.3).")
        return super().authenticate_client(request, methods, endpoint)


class BridgeIssuer(IssuerParameter):
    def __init__(self, issuer: str):
        self.issuer = issuer

    def get_issuer(self):
        return self.issuer


def build_server(app, bridge) -> AuthorizationServer:
    server = BridgeAuthorizationServer(app, bridge)
    server.register_grant(CodeGrant, [BridgeOpenIDCode(bridge), S256Challenge(required=True)])
    server.register_grant(RefreshGrant)
    server.register_grant(CibaGrant)   # CIBA poll mode relayed to PSC CIBA (ciba.py)
    server.register_grant(TokenExchangeGrant)   # RFC 8693: PSC token relay (exchange.py)
    server.register_grant(DeviceGrant, [DeviceOpenID(bridge)])   # RFC 8628 (device.py)
    server.register_extension(BridgeIssuer(bridge.settings.issuer))
    server.register_extension(RequestObjects(bridge))   # PAR request_uri and JAR request (par.py)
    server.register_client_auth_method(PrivateKeyJwt.CLIENT_AUTH_METHOD, PrivateKeyJwt(bridge, leeway=30))
    for method in MTLS_METHODS:
        server.register_client_auth_method(method, TlsClientAuth(bridge, method))
    protector = BodyOrHeaderProtector()
    protector.register_token_validator(TokenValidator(server))
    protector.register_token_validator(DpopTokenValidator(server))
    server.register_endpoint(BridgeUserInfo(resource_protector=protector))
    server.register_endpoint(Introspection)
    server.register_endpoint(Revocation)
    server.register_endpoint(EndSession)
    server.register_endpoint(DeviceAuthorization)
    return server
