"""PSC token relay: OAuth 2.0 Token Exchange (RFC 8693) at /token.

A client whose policy lists the token-exchange grant trades one of its own bridge access tokens (subject_token,
subject_token_type access_token) for the current PSC access token of the SSO session behind it, for an `audience`
or `resource` its policy's `psc_audiences` lists. PSC does not scope its access tokens by audience (the API's own
authorization server takes the PSC token as its subject token), so the audience is the bridge's policy check only.

Authlib 1.x has no RFC 8693 grant (authlib.oauth2.rfc8693 is an empty package): this is a BaseGrant with
TokenEndpointMixin, like RefreshGrant. Errors follow RFC 8693 §2.2.2: a subject token that is invalid for any
reason (unknown, expired, revoked, another client's, its session ended) is invalid_request; an audience not
allowed is invalid_target; PSC unreachable is 503 temporarily_unavailable (the session is kept).
"""
from __future__ import annotations

from authlib.oauth2.base import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidRequestError, UnauthorizedClientError, grants

from bridge import metrics
from bridge.model import Authentication
from bridge.policy.clients import TOKEN_EXCHANGE
from bridge.provider import dpop, mtls
from bridge.provider.grants import TOKEN_ENDPOINT_AUTH_METHODS
from bridge.upstream import psc_tokens

ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
SUBJECT_PROBLEMS = {"missing": "unknown or expired", "ended": "ended", "wrong_client": "not this client's",
                    "revoked": "revoked", "client_ended": "ended", "idle": "expired (idle)",
                    "absolute": "expired", "session_idle": "expired (idle)", "reused": "revoked"}


class InvalidTargetError(OAuth2Error):
    error = "invalid_target"   # RFC 8693 §2.2.2


class TemporarilyUnavailableError(OAuth2Error):
    error = "temporarily_unavailable"
    status_code = 503

    def get_headers(self):
        return [*super().get_headers(), ("Retry-After", str(psc_tokens.RETRY_AFTER))]


class TokenExchangeGrant(grants.BaseGrant, grants.TokenEndpointMixin):
    GRANT_TYPE = TOKEN_EXCHANGE
    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_ENDPOINT_AUTH_METHODS

    def validate_token_request(self):
        bridge = self.server.bridge
        jkt = dpop.token_endpoint_jkt(bridge, self.request)   # a DPoP-bound subject token needs its proof
        client = self.authenticate_token_endpoint_client()
        self.request.client, self.request.dpop_jkt = client, jkt
        form = self.request.form
        self.request.targets = targets = [*form.getlist("audience"), *form.getlist("resource")]
        if not client.check_grant_type(self.GRANT_TYPE):
            self._refused("unauthorized_client")
            raise UnauthorizedClientError("This client may not use token exchange (its policy's grant_types).")
        for name in ("actor_token", "actor_token_type"):
            if form.get(name):
                self._refused("actor_not_supported")
                raise InvalidRequestError("Delegation (actor_token) is not supported.")
        if not form.get("subject_token"):
            self._refused("no_subject_token")
            raise InvalidRequestError("Missing 'subject_token'.")
        if form.get("subject_token_type") != ACCESS_TOKEN_TYPE:
            self._refused("subject_token_type")
            raise InvalidRequestError(f"subject_token_type must be {ACCESS_TOKEN_TYPE}.")
        if form.get("requested_token_type", ACCESS_TOKEN_TYPE) != ACCESS_TOKEN_TYPE:
            self._refused("requested_token_type")
            raise InvalidRequestError(f"requested_token_type must be {ACCESS_TOKEN_TYPE} (a PSC access token).")
        if not targets:
            self._refused("no_audience")
            raise InvalidRequestError("Name the API: 'audience' or 'resource' (one of the client's psc_audiences).")
        unknown = [t for t in targets if t not in client.client.psc_audiences]
        if unknown:
            self._refused("audience_not_allowed")
            raise InvalidTargetError(f"Audience not allowed for this client: {unknown[0][:256]}")

    def create_token_response(self):
        bridge, client = self.server.bridge, self.request.client
        use = bridge.tokens.use_access(self.request.form["subject_token"], touch=False, jkt=self.request.dpop_jkt,
                                       certificate=mtls.binding(bridge))
        status = use.status
        if status == "ok" and use.record["c"] != client.client_id:
            status = "wrong_client"   # another client's token: never relayed, even by a client allowed to
        if status != "ok":
            self.server.token_used(use)   # lazy expiry, as any other use
            if status == "wrong_key":
                self._refused("subject_token_wrong_key", sid=use.sid)
                raise InvalidRequestError("The subject token is bound: send its DPoP proof or client certificate.")
            self._refused(f"subject_token_{status}", sid=use.sid)
            raise InvalidRequestError(f"The subject token is {SUBJECT_PROBLEMS.get(status, 'invalid')}.")
        national_id = Authentication.peek(use.session["authn"])[0]
        try:
            access_token, expires_in = psc_tokens.current_access(bridge, use.sid)
        except psc_tokens.RelayError as exc:
            self._refused(f"psc_{exc.code}", sid=use.sid, national_id=national_id)
            if exc.code == "unavailable":
                raise TemporarilyUnavailableError(exc.detail) from None
            raise InvalidRequestError(f"No Pro Sante Connect token for this subject token: {exc.detail}.") from None
        metrics.token_issued("token_exchange")
        metrics.psc_relay("exchanged")
        bridge.record("token_exchanged", "success", client=client.client_id, service=use.record["v"],
                      audience=",".join(self.request.targets), national_id=national_id, sid=use.sid)
        return 200, {"access_token": access_token, "issued_token_type": ACCESS_TOKEN_TYPE, "token_type": "Bearer",
                     "expires_in": expires_in}, self.TOKEN_RESPONSE_HEADER

    def _refused(self, reason: str, **fields) -> None:
        client = self.request.client
        metrics.psc_relay("unavailable" if reason == "psc_unavailable" else "refused")
        self.server.bridge.record("token_exchanged", "failure", client=client.client_id if client else "",
                                  audience=",".join(getattr(self.request, "targets", []))[:512], reason=reason,
                                  **fields)
