"""Device authorization grant (RFC 8628) on Authlib's classes: /device_authorization (DeviceAuthorizationEndpoint)
and the device_code grant at /token (DeviceCodeGrant), backed by the store (bridge.login.device).

Where Authlib's defaults are replaced: an unknown device code is invalid_grant (Authlib: invalid_request), a device
code of another client too (Authlib: unauthorized_client, which would confirm the code exists); the decision is
collected once in one atomic store operation; the client authentication methods are the token endpoint's; the ID
token is the code grant's (BridgeOpenIDCode, without nonce: RFC 8628 has none).
"""
from __future__ import annotations

import secrets

from authlib.consts import default_json_headers
from authlib.oauth2.rfc6749 import (
    AccessDeniedError,
    InvalidGrantError,
    InvalidRequestError,
    UnauthorizedClientError,
)
from authlib.oauth2.rfc6749.hooks import hooked
from authlib.oauth2.rfc8628 import (
    DEVICE_CODE_GRANT_TYPE,
    AuthorizationPendingError,
    DeviceAuthorizationEndpoint,
    DeviceCodeGrant,
    ExpiredTokenError,
    SlowDownError,
)
from authlib.oidc.core.grants.code import OpenIDToken

from bridge import metrics
from bridge.login.device import Devices, display
from bridge.model import Authentication
from bridge.provider import dpop, mtls
from bridge.provider.grants import TOKEN_ENDPOINT_AUTH_METHODS, BridgeOpenIDCode, Grantee, StoredCode

MAX_DEVICE_CODE = 128   # ours are 43 characters; anything longer is not worth a store lookup


def devices(bridge) -> Devices:
    return Devices(bridge.store, bridge.clock, bridge.settings)


def audit_ref(digest: str) -> str:
    """What the audit and logs call a device authorization: a prefix of the device code's hash, never the code."""
    return digest[:16]


def unauthorized(client) -> UnauthorizedClientError:
    return UnauthorizedClientError(f"This client may not use the {DEVICE_CODE_GRANT_TYPE} grant "
                                   "(its policy's grant_types).")


class DeviceAuthorization(DeviceAuthorizationEndpoint):
    """POST /device_authorization (RFC 8628 §3.1): client_id (or client authentication) and scope."""
    CLIENT_AUTH_METHODS = TOKEN_ENDPOINT_AUTH_METHODS

    def create_endpoint_response(self, request):
        bridge = self.server.bridge
        client = self.authenticate_client(request)
        if not client.check_grant_type(DEVICE_CODE_GRANT_TYPE):
            bridge.record("device_authorization_requested", "denied", service=client.service.service,
                          client=client.client_id, reason="unauthorized_client")
            raise unauthorized(client)
        scope = request.payload.data.get("scope") or "openid"
        if len(scope) > 1024:
            raise InvalidRequestError("scope is longer than 1024 characters.")
        scope = client.get_allowed_scope(scope)   # what the client may have, as at /authorize
        if "openid" not in scope.split():
            raise InvalidRequestError("The scope must include openid (this is an OpenID Connect provider).")
        device_code, pending = devices(bridge).create(client.client_id, client.service.service, scope)
        bridge.record("device_authorization_requested", "info", service=client.service.service,
                      client=client.client_id, device=audit_ref(pending.hash), scope=scope)
        metrics.device_authorization("requested")
        uri = f"{bridge.settings.issuer}/device"
        data = {"device_code": device_code, "user_code": display(pending.user_code), "verification_uri": uri,
                "verification_uri_complete": f"{uri}?user_code={display(pending.user_code)}",
                "expires_in": round(pending.expires_at - bridge.clock.now()), "interval": pending.interval}
        return 200, data, default_json_headers


class DeviceOpenID(BridgeOpenIDCode):
    """The code grant's ID token for the device grant: only its token hook (no /authorize here)."""
    __call__ = OpenIDToken.__call__


class DeviceGrant(DeviceCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_ENDPOINT_AUTH_METHODS

    def validate_token_request(self):
        bridge = self.server.bridge
        jkt = dpop.token_endpoint_jkt(bridge, self.request)
        device_code = self.request.form.get("device_code")
        if not device_code:
            raise InvalidRequestError("Missing 'device_code' in request.")
        client = self.authenticate_token_endpoint_client()
        if not client.check_grant_type(self.GRANT_TYPE):
            raise unauthorized(client)
        dpop.require(client, jkt)
        if len(device_code) > MAX_DEVICE_CODE:
            raise InvalidGrantError("Unknown device_code.")
        poll = devices(bridge).poll(device_code, client.client_id)
        self._answer(bridge, client, poll)
        grant = poll.grant
        if bridge.sessions.find(grant["sid"]) is None:   # the professional logged out (or timed out) meanwhile
            bridge.record("device_denied", "denied", reason="session_ended", **self._fields(client, poll))
            raise AccessDeniedError("The user's session ended before the device collected its tokens.")
        authn = Authentication.from_dict(grant["authn"])
        self.request.user = Grantee(authn, grant["sid"], grant["service"], grant["family"], grant["deadline"])
        self.request.client, self.request.scope = client, poll.request.scope
        self.request.dpop_jkt = jkt or mtls.binding(bridge)
        self.request.authorization_code = StoredCode({"authn": grant["authn"]})   # auth_time, acr, amr

    @staticmethod
    def _fields(client, poll) -> dict:
        fields = {"service": client.service.service, "client": client.client_id}
        if poll.request is not None:
            fields["device"] = audit_ref(poll.request.hash)
        return fields

    def _answer(self, bridge, client, poll) -> None:
        """Every poll that does not end in tokens raises its RFC 8628 §3.5 error here."""
        fields = self._fields(client, poll)
        if poll.status in ("unknown", "wrong_client"):
            raise InvalidGrantError("Unknown device_code.")
        if poll.status == "used":
            bridge.record("token_revoked", "failure", reason="device_code_reuse", **fields)
            raise InvalidGrantError("This device_code was already used.")
        if poll.status == "expired":
            raise ExpiredTokenError("The device_code has expired: request a new one.")
        if poll.status == "slow_down":
            raise SlowDownError(f"Polled too fast: wait {poll.interval} seconds between requests.")
        if poll.status == "pending":
            raise AuthorizationPendingError()
        if poll.status == "denied":
            raise AccessDeniedError("The user refused, or was refused, the authorization.")

    def generate_token(self, user=None, scope=None, grant_type=None, expires_in=None, include_refresh_token=True):
        return self.server.generate_token(grant_type or self.GRANT_TYPE, self.request.client, user, scope,
                                          expires_in, include_refresh_token, jkt=self.request.dpop_jkt)

    @hooked
    def create_token_response(self):
        client = self.request.client
        token = self.generate_token(user=self.request.user, scope=self.request.scope,
                                    include_refresh_token=client.check_grant_type("refresh_token"))
        return 200, token, self.TOKEN_RESPONSE_HEADER


def new_family() -> str:
    return secrets.token_urlsafe(12)
