"""Pushed authorization requests (RFC 9126) and signed request objects (JAR, RFC 9101).

/par authenticates the client as /token does (Authlib's `authenticate_client`), validates the authorization request
with the very grant /authorize uses, and keeps the validated parameters 60 s under a single-use
`urn:ietf:params:oauth:request_uri:…`. /authorize resolves `request_uri` (PAR only: nothing is ever fetched, so no
SSRF) and `request` (a request object signed with a key of the client's registered `jwks`, by value) in the
`before_get_authorization_grant` hook, before the grant sees the parameters — one validator for every path.

The request object is verified by Authlib's `JWTAuthenticationRequest` (signature, allowed algorithms, `client_id`
equal outside and inside, no nested `request`/`request_uri`); what it leaves to the server is checked here: `iss`
(the client), `aud` (the issuer), a bounded `exp`, and an outer `response_type` that contradicts the inner one.
Its `request_uri` support fetches URLs: not used (support_request_uri=False), PAR's URNs are resolved here.
"""
from __future__ import annotations

import hashlib
import json
import secrets

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload, OAuth2Request
from authlib.oauth2.rfc9101 import JWTAuthenticationRequest
from authlib.oauth2.rfc9101.errors import InvalidRequestObjectError, InvalidRequestUriError
from joserfc import jwt
from joserfc.jwk import KeySet

from bridge.logs import log
from bridge.provider.endpoints import CLIENT_ASSERTION_ALGS
from bridge.provider.grants import PARAM_LIMITS, TOKEN_ENDPOINT_AUTH_METHODS

PAR_TTL = 60                                   # seconds a pushed request waits for its /authorize (RFC 9126 §2.2)
REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"
REQUEST_OBJECT_ALGS = CLIENT_ASSERTION_ALGS    # RS256, PS256, ES256; never `none`
REQUEST_OBJECT_MAX_LIFETIME = 3600             # exp at most one hour ahead (FAPI 2.0 asks 60 min from nbf)
LEEWAY = 30
CLIENT_AUTH_PARAMS = ("client_secret", "client_assertion", "client_assertion_type")


def _key(request_uri: str) -> str:
    return "par:" + hashlib.sha256(request_uri.encode()).hexdigest()


def stored_params(data: dict) -> dict:
    """The validated parameters the bridge understands (those /authorize caps), as strings."""
    return {k: v for k, v in data.items() if k in PARAM_LIMITS and isinstance(v, str) and v}


def plain_params(claims: dict) -> dict:
    """A request object's claims as /authorize parameters: numbers (max_age) as text, objects as JSON."""
    params = {}
    for name, value in claims.items():
        if isinstance(value, bool):
            raise InvalidRequestObjectError(f"'{name}' must not be a boolean.")
        if isinstance(value, (int, float)):
            value = str(int(value))
        elif isinstance(value, (dict, list)):
            value = json.dumps(value, separators=(",", ":"))
        params[name] = value
    return params


class RequestObjects(JWTAuthenticationRequest):
    """Resolves `request_uri` (PAR) and `request` (JAR) into the authorization request's parameters."""

    def __init__(self, bridge):
        super().__init__(support_request=True, support_request_uri=False)
        self.bridge = bridge
        self.claims_validator = jwt.JWTClaimsRegistry(
            now=lambda: int(bridge.clock.now()), leeway=LEEWAY, client_id={"essential": True},
            iss={"essential": True}, exp={"essential": True},
            aud={"essential": True, "value": bridge.settings.issuer})

    def __call__(self, authorization_server):
        authorization_server.register_hook("before_get_authorization_grant", self.resolve)

    def resolve(self, authorization_server, request: OAuth2Request):
        data = request.payload.data
        if "request_uri" in data:
            if "request" in data:
                raise InvalidRequestError("'request' and 'request_uri' are mutually exclusive (RFC 9101 §5).")
            request.payload = BasicOAuth2Payload(self.take(data["request_uri"], data.get("client_id")))
            request.pushed = True
        elif "request" in data:
            outer = dict(data)
            self.parse_authorization_request(authorization_server, request)
            claims = request.payload.data
            self.check_claims(claims, outer)
            request.payload = BasicOAuth2Payload(plain_params(claims))

    def take(self, request_uri, client_id) -> dict:
        """A pushed request, once: unknown, expired, used or another client's → invalid_request_uri."""
        if not client_id:
            raise InvalidRequestError("client_id is required with request_uri (RFC 9126 §4).")
        if not isinstance(request_uri, str) or not request_uri.startswith(REQUEST_URI_PREFIX):
            raise InvalidRequestUriError("Only request_uri values from the pushed authorization request endpoint "
                                         "(/par) are accepted.")
        record = self.bridge.store.consume_json(_key(request_uri))
        if record is None or record["exp"] <= self.bridge.clock.now():
            raise InvalidRequestUriError("request_uri is unknown, expired or already used.")
        if record["client_id"] != client_id:
            raise InvalidRequestUriError("request_uri was pushed by another client.")
        return record["params"]

    def check_claims(self, claims: dict, outer: dict) -> None:
        if claims["iss"] != claims["client_id"]:
            raise InvalidRequestObjectError("The request object's 'iss' must be the client_id.")
        if claims["exp"] > self.bridge.clock.now() + REQUEST_OBJECT_MAX_LIFETIME + LEEWAY:
            raise InvalidRequestObjectError(f"The request object's 'exp' is more than "
                                            f"{REQUEST_OBJECT_MAX_LIFETIME} s ahead.")
        if "response_type" in outer and outer["response_type"] != claims.get("response_type"):
            raise InvalidRequestError("response_type outside the request object contradicts the one inside "
                                      "(RFC 9101 §5).")

    def resolve_client_public_key(self, client):
        jwks = client.client.jwks
        if not jwks:
            raise InvalidRequestObjectError("The client has no registered keys (jwks) to verify request objects.")
        return KeySet.import_key_set(jwks)   # by value, from the policy: never fetched

    def get_server_metadata(self) -> dict:
        return {"request_object_signing_alg_values_supported": list(REQUEST_OBJECT_ALGS),
                "require_signed_request_object": True}


def _error(error: OAuth2Error):
    body = {"error": error.error}
    if error.description:
        body["error_description"] = error.description
    status = 401 if error.error == "invalid_client" else 400
    return body, status


def push(server, http_request):
    """POST /par (RFC 9126 §2): (body, status)."""
    request = server.create_oauth2_request(http_request)
    try:
        client = server.authenticate_client(request, TOKEN_ENDPOINT_AUTH_METHODS, endpoint="par")
        params = _pushed_params(request, client.client_id)
        authz = OAuth2Request("POST", f"{server.issuer}/authorize")
        authz.payload, authz.pushed = BasicOAuth2Payload(params), True
        grant = server.get_authorization_grant(authz)   # runs the request-object hook first
        grant.validate_no_multiple_request_parameter(authz)
        grant.validate_authorization_request()           # what /authorize validates, minus the user
    except OAuth2Error as error:
        return _error(error)
    except ValueError:   # Authlib refuses an error description with characters copied from the request
        return {"error": "invalid_request", "error_description": "malformed parameters"}, 400
    request_uri = REQUEST_URI_PREFIX + secrets.token_urlsafe(32)
    record = {"client_id": client.client_id, "params": stored_params(authz.payload.data),
              "exp": server.bridge.clock.now() + PAR_TTL}
    server.bridge.store.set_json(_key(request_uri), record, PAR_TTL)
    log.info("par_pushed", client=client.client_id)
    return {"request_uri": request_uri, "expires_in": PAR_TTL}, 201


def _pushed_params(request, client_id: str) -> dict:
    form = request.form
    repeated = [k for k in form if len(form.getlist(k)) > 1]
    if repeated:
        raise InvalidRequestError("A parameter is repeated (RFC 6749 section 3.1).")
    if "request_uri" in form:
        raise InvalidRequestError("request_uri is not allowed at the pushed authorization request endpoint.")
    if form.get("client_id", client_id) != client_id:
        raise InvalidRequestError("client_id differs from the authenticated client.")
    params = {k: v for k, v in form.items() if k not in CLIENT_AUTH_PARAMS}
    params["client_id"] = client_id
    return params
