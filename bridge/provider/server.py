"""Authlib AuthorizationServer wiring: code + PKCE (S256), OpenID Connect, refresh with rotation, userinfo,
introspection (RFC 7662), revocation (RFC 7009), RP-initiated logout, private_key_jwt (RFC 7523)."""
from __future__ import annotations

import secrets
from dataclasses import dataclass

from authlib.common.urls import add_params_to_uri
from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2.rfc6749 import InvalidClientError, InvalidGrantError, InvalidRequestError, TokenMixin, grants
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oauth2.rfc9207 import IssuerParameter
from authlib.oidc.core import OpenIDCode, UserInfo, UserInfoEndpoint
from authlib.oidc.core.errors import RequestNotSupportedError, RequestURINotSupportedError
from authlib.oidc.core.models import AuthorizationCodeMixin
from authlib.oidc.rpinitiated import EndSessionEndpoint
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from bridge import metrics
from bridge.model import Authentication
from bridge.provider.claims import subject, user_claims
from bridge.provider.clients import OAuthClient
from bridge.provider.tokens import TokenUse, new_token

ID_TOKEN_TTL = 300
CLIENT_ASSERTION_ALGS = ("RS256", "PS256", "ES256")   # private_key_jwt (RFC 7523), advertised as such
EXPIRED = {"idle": "idle_expired", "absolute": "absolute_expired", "session_idle": "idle_expired"}


def assertion_keys(assertion: str, keys):
    """The keys to try on a client assertion. With a `kid`, joserfc picks the one key; without it (Authlib's
    default, allowed by RFC 7523), every registered key of the algorithm's type, since a client may hold several."""
    try:
        header = jws.extract_compact(assertion.encode()).headers()
    except (JoseError, ValueError):
        return [keys]
    if not isinstance(keys, KeySet) or header.get("kid") or len(keys.keys) == 1:
        return [keys]
    types = KeySet.algorithm_keys.get(header.get("alg"), [])
    return [key for key in keys if key.key_type in types and key.get("alg") in (None, header.get("alg"))]


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


class StoredToken(TokenMixin):
    """An access token that passed the one-round-trip check (status ok)."""

    def __init__(self, use: TokenUse, client: OAuthClient | None):
        self.use, self.client, self.scope = use, client, use.record["s"]

    def check_client(self, client): return client.get_client_id() == self.use.record["c"]
    def get_scope(self): return self.scope
    def get_expires_in(self): return 0
    def is_expired(self): return False
    def is_revoked(self): return False
    def get_client(self): return self.client

    def get_user(self) -> Grantee:
        return Grantee(Authentication.from_dict(self.use.session["authn"]), self.use.sid, self.use.record["v"])


class BridgeAuthorizationServer(AuthorizationServer):
    """Accepts an explicit request: after login the app's original /authorize request is replayed."""

    issuer = ""

    def create_oauth2_request(self, request):
        from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Request
        from flask import request as flask_request

        # The request itself, not Flask's proxy: Authlib reads it a few dozen times per call.
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


# Caps on /authorize parameters (characters): an anonymous request is stored during the login (issue 12 #10).
PARAM_LIMITS = {"state": 1024, "nonce": 512, "scope": 1024, "login_hint": 256, "id_token_hint": 8192,
                "acr_values": 256, "redirect_uri": 2048, "client_id": 256, "code_challenge": 128,
                "max_age": 10, "ui_locales": 64, "claims_locales": 64, "prompt": 64, "display": 16,
                "response_type": 32, "code_challenge_method": 16, "response_mode": 16}
SUPPORTED_PROMPTS = {"none", "login"}


def check_authorization_params(data: dict, redirect_uri: str, state: str | None) -> None:
    """What Authlib lets through at /authorize but the bridge does not support, refused by its own error code
    (OIDC Core §3.1.2.6, §6) and redirected to the app, rather than silently ignored."""
    def refuse(error_cls, description=None):
        # An oversized state cannot be echoed back (Authlib would copy it): the bridge's error page instead.
        back = redirect_uri if len(state or "") <= PARAM_LIMITS["state"] else None
        raise error_cls(description=description, redirect_uri=back, state=state)

    if "request" in data:
        refuse(RequestNotSupportedError, "Request objects (request) are not supported.")
    if "request_uri" in data:
        refuse(RequestURINotSupportedError, "request_uri is not supported.")
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


class BodyOrHeaderProtector(ResourceProtector):
    """RFC 6750 §2.1 and §2.2: the bearer token in the Authorization header or in a form-encoded POST body
    (pyoidc and idpyoidc send it there by default); never both, never in the query (§2.3: it leaks into logs)."""

    def parse_request_authorization(self, request):
        from flask import request as http

        body = http.form.get("access_token") if http.method == "POST" and \
            http.mimetype == "application/x-www-form-urlencoded" else None
        if "access_token" in http.args:
            raise InvalidRequestError("The access token is not accepted in the query; send it in the "
                                      "Authorization header (RFC 6750 section 2.1).")
        if body is None:
            return super().parse_request_authorization(request)
        if request.headers.get("Authorization"):
            raise InvalidRequestError("Send the access token once: in the Authorization header or in the body.")
        return self.get_token_validator("bearer"), body


def id_token_claims(bridge, user: Grantee, scope: str, userinfo: bool = False) -> UserInfo:
    """Claims for the ID token (with `sid`) or userinfo; `sub` is the national id or pairwise per service."""
    service = bridge.policies.services[user.service]
    sub = subject(service, user.authn.identity.national_id, bridge.settings.secret_key)
    claims = user_claims(user.authn, set(scope.split()), sub)
    if not userinfo:
        claims["sid"] = user.sid
    return UserInfo(claims)


def build_server(app, bridge) -> tuple[AuthorizationServer, ResourceProtector]:
    clock, settings, tokens = bridge.clock, bridge.settings, bridge.tokens

    def query_client(client_id):
        found = bridge.policies.client(client_id) if isinstance(client_id, str) else None
        return OAuthClient(*found) if found else None

    def generate_token(grant_type, client, user: Grantee, scope, expires_in=None, include_refresh_token=True):
        token = tokens.issue(user.sid, client.client_id, scope or "", user.service, user.family, user.deadline,
                             refresh=include_refresh_token)
        metrics.token_issued(grant_type)
        bridge.record("token_issued", service=user.service, client=client.client_id, grant=grant_type,
                      national_id=user.authn.identity.national_id, mie=user.authn.mie, sid=user.sid)
        return {"token_type": "Bearer", "scope": scope or "", **token}

    def token_used(use: TokenUse) -> bool:
        """Apply what a token check found: lazy idle/absolute expiry notifies the app (back-channel)."""
        session_over = use.session is not None and clock.now() >= use.session["deadline"]
        if use.status == "absolute" and session_over:
            bridge.sessions.end(use.sid, "absolute_expired")
        elif use.status in ("idle", "absolute"):
            bridge.sessions.end_client(use.sid, use.record["c"], EXPIRED[use.status])
        elif use.status == "session_idle":
            bridge.sessions.end(use.sid, "idle_expired")
        return use.status == "ok"

    class CodeGrant(grants.AuthorizationCodeGrant):
        TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]

        def validate_authorization_request(self):
            redirect_uri = super().validate_authorization_request()
            check_authorization_params(self.request.payload.data, redirect_uri, self.request.payload.state)
            return redirect_uri

        def generate_authorization_code(self):
            return new_token(self.request.user.sid)

        def save_authorization_code(self, code, request):
            grantee: Grantee = request.user
            data = request.payload.data
            tokens.save_code(code, {
                "client_id": request.client.client_id, "redirect_uri": request.payload.redirect_uri,
                "scope": request.scope, "nonce": data.get("nonce"), "sid": grantee.sid,
                "code_challenge": data.get("code_challenge"), "code_challenge_method": data.get("code_challenge_method"),
                "authn": grantee.authn.to_dict(), "service": grantee.service, "deadline": grantee.deadline,
                "family": secrets.token_urlsafe(12)})

        def query_authorization_code(self, code, client):
            data, reused = tokens.take_code(code)  # consumed on first read: a code works once, whatever next
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
        TOKEN_ENDPOINT_AUTH_METHODS = CodeGrant.TOKEN_ENDPOINT_AUTH_METHODS

        def validate_token_request(self):
            client = self.authenticate_token_endpoint_client()
            if not client.check_grant_type(self.GRANT_TYPE):
                raise grants.UnauthorizedClientError()
            if not self.request.form.get("refresh_token"):
                raise InvalidRequestError("Missing 'refresh_token' in request.")
            self.request.client = client

        def create_token_response(self):
            client = self.request.client
            use, token = tokens.refresh(self.request.form["refresh_token"], client.client_id)
            if token is None:
                token_used(use)
                if use.status == "reused":
                    bridge.record("token_revoked", "failure", client=client.client_id, reason="refresh_reuse")
                raise InvalidGrantError(f"Refresh token is {use.status.replace('_', ' ')}.")
            metrics.token_issued("refresh_token")
            bridge.record("token_refreshed", client=client.client_id, service=use.record["v"], sid=use.sid)
            return 200, token, self.TOKEN_RESPONSE_HEADER

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

    class PrivateKeyJwt(JWTBearerClientAssertion):
        CLIENT_AUTH_METHOD = "private_key_jwt"

        def get_audiences(self):
            return [f"{settings.issuer}/token", settings.issuer]

        def validate_jti(self, claims, jti):
            ttl = max(60, int(claims.get("exp", 0) - clock.now()) + 60)
            return bridge.store.add(f"jti:{claims['sub']}:{jti}", "1", ttl)

        def resolve_client_public_key(self, client):
            if not client.client.jwks:  # a client registered with a secret, or without keys: not this method
                raise InvalidClientError(status_code=401, description="This client has no registered keys "
                                         "(jwks) for private_key_jwt.")
            return KeySet.import_key_set(client.client.jwks)

        def process_assertion_claims(self, assertion, resolve_key):
            for key in assertion_keys(assertion, resolve_key):
                try:  # joserfc accepts only its "recommended" algorithms by default, which leaves PS256 out.
                    token = jwt.decode(assertion, key, algorithms=list(CLIENT_ASSERTION_ALGS))
                except (JoseError, ValueError):
                    continue
                self.verify_claims(token.claims)
                return token.claims
            raise InvalidClientError(status_code=401, description="The client assertion is not signed by "
                                     "a registered key of the client.")

    class BridgeIssuer(IssuerParameter):
        def get_issuer(self):
            return settings.issuer

    server = BridgeAuthorizationServer(app, query_client=query_client, save_token=lambda token, request: None)
    server.issuer = settings.issuer
    server.register_token_generator("default", generate_token)
    server.register_grant(CodeGrant, [BridgeOpenIDCode(require_nonce=False), S256Challenge(required=True)])
    server.register_grant(RefreshGrant)
    server.register_extension(BridgeIssuer())
    server.register_client_auth_method(PrivateKeyJwt.CLIENT_AUTH_METHOD, PrivateKeyJwt(leeway=30))

    class TokenValidator(BearerTokenValidator):
        def authenticate_token(self, token_string):
            use = tokens.use_access(token_string)
            return StoredToken(use, query_client(use.record["c"])) if token_used(use) else None

    protector = BodyOrHeaderProtector()
    protector.register_token_validator(TokenValidator())

    class BridgeUserInfo(UserInfoEndpoint):
        def get_issuer(self):
            return settings.issuer

        def generate_user_info(self, user: Grantee, scope):
            return id_token_claims(bridge, user, scope, userinfo=True)

        def resolve_private_key(self):
            return bridge.keys.signing_key("RS256")

    class Introspection(IntrospectionEndpoint):
        CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]  # not public clients

        def query_token(self, token_string, token_type_hint):
            """Active only when using the token would succeed now (RFC 7662 §2.2): the same checks as a
            refresh or a userinfo call, so a token of an ended session, client or family is inactive."""
            kinds = ("refresh_token", "access_token") if token_type_hint == "refresh_token" else \
                ("access_token", "refresh_token")
            for kind in kinds:
                use = tokens.check_refresh(token_string) if kind == "refresh_token" else tokens.use_access(token_string)
                if use.status != "missing":
                    return _Introspected(kind=kind, sid=use.sid, record=use.record, session=use.session) \
                        if token_used(use) else None
            return None

        def check_permission(self, token, client, request):
            # Only the clients of the token's own service may introspect it.
            return client.service.service == token["record"]["v"]

        def introspect_token(self, token):
            record, session = token["record"], token["session"]
            answer = {"active": True, "client_id": record["c"], "scope": record["s"],
                      "exp": int(min(record["e"], session["deadline"])), "iss": settings.issuer,
                      "aud": record["c"], "sid": token["sid"]}
            if token["kind"] == "access_token":
                answer["token_type"] = "Bearer"  # RFC 7662 §2.2: the RFC 6749 §7.1 type; refresh tokens have none
            national_id, auth_time, acr, mie = Authentication.peek(session["authn"])
            service = bridge.policies.services[record["v"]]
            answer.update(sub=subject(service, national_id, settings.secret_key), auth_time=auth_time, acr=acr,
                          mie=mie)
            return answer

    class Revocation(RevocationEndpoint):
        CLIENT_AUTH_METHODS = CodeGrant.TOKEN_ENDPOINT_AUTH_METHODS

        def query_token(self, token_string, token_type_hint):
            kinds = ["refresh_token", "access_token"] if token_type_hint != "access_token" else ["access_token"]
            for kind in kinds:
                found = (tokens.lookup_refresh if kind == "refresh_token" else tokens.lookup_access)(token_string)
                if found:
                    return _Revocable(token_string, kind, found[1])
            return None

        def revoke_token(self, token, request):
            tokens.revoke(token.value, token.kind)
            bridge.record("token_revoked", client=token.record["c"], reason="client_request", kind=token.kind)

    class EndSession(EndSessionEndpoint):
        def resolve_client_from_id_token_claims(self, claims):
            aud = claims.get("aud")
            audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
            client_id = claims.get("azp") or (audiences[0] if len(audiences) == 1 else None)
            return query_client(client_id) if client_id in audiences else None

        def get_server_jwks(self):
            return KeySet.import_key_set(bridge.keys.jwks())

        def _validate_id_token_hint(self, id_token_hint):
            # Authlib checks the signature only: a logout token (every app receives them) or a token of another
            # issuer signed with a shared key must not pass for an ID token. Expiry is not checked (§2: expired
            # ID tokens are valid hints); the web layer asks the user unless `sid` names this browser's session.
            claims = super()._validate_id_token_hint(id_token_hint)
            if claims.get("iss") != settings.issuer or "events" in claims or "sid" not in claims:
                raise InvalidRequestError("id_token_hint is not an ID token issued by this bridge.")
            return claims

        def end_session(self, end_session_request):
            pass  # the web layer ends the SSO session itself (it also needs PSC's logout and the cookie)

    server.register_endpoint(BridgeUserInfo(resource_protector=protector))
    server.register_endpoint(Introspection)
    server.register_endpoint(Revocation)
    server.register_endpoint(EndSession)
    return server, protector


class _Introspected(dict):
    """What introspection found; a dict with the two checks Authlib asks of a token."""

    def is_expired(self): return False
    def is_revoked(self): return False


class _Revocable(TokenMixin):
    def __init__(self, value: str, kind: str, record: dict):
        self.value, self.kind, self.record = value, kind, record

    def check_client(self, client): return client.get_client_id() == self.record["c"]
