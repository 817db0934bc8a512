"""The provider's endpoints besides /authorize and /token (Authlib): userinfo with its bearer tokens, introspection
(RFC 7662), revocation (RFC 7009), RP-initiated logout, and private_key_jwt client authentication (RFC 7523).
Each reaches the running bridge through `self.server.bridge`."""
from __future__ import annotations

from authlib.integrations.flask_oauth2 import ResourceProtector
from authlib.oauth2.rfc6749 import InvalidClientError, InvalidRequestError, TokenMixin
from authlib.oauth2.rfc6750 import BearerTokenValidator, InvalidTokenError
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oidc.core import UserInfoEndpoint
from authlib.oidc.rpinitiated import EndSessionEndpoint
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from bridge.model import Authentication
from bridge.provider import dpop, mtls
from bridge.provider.claims import subject
from bridge.provider.clients import OAuthClient
from bridge.provider.grants import TOKEN_ENDPOINT_AUTH_METHODS, Grantee, id_token_claims, is_own_id_token
from bridge.provider.tokens import TokenUse

CLIENT_ASSERTION_ALGS = ("RS256", "PS256", "ES256")   # private_key_jwt (RFC 7523), advertised as such


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


class PrivateKeyJwt(JWTBearerClientAssertion):
    CLIENT_AUTH_METHOD = "private_key_jwt"

    def __init__(self, bridge, leeway: int = 30):
        super().__init__(leeway=leeway)
        self.bridge = bridge

    def get_audiences(self):
        issuer = self.bridge.settings.issuer
        return [f"{issuer}/token", issuer, f"{issuer}/par"]   # RFC 9126 section 2: the PAR endpoint too

    def validate_jti(self, claims, jti):
        ttl = max(60, int(claims.get("exp", 0) - self.bridge.clock.now()) + 60)
        return self.bridge.store.add(f"jti:{claims['sub']}:{jti}", "1", ttl)

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


class TokenValidator(BearerTokenValidator):
    """Bearer tokens; a DPoP-bound token (RFC 9449) presented as one is refused with a DPoP challenge, a
    certificate-bound one (RFC 8705) without its certificate with a Bearer invalid_token."""

    def __init__(self, server):
        super().__init__()
        self.server = server

    def authenticate_token(self, token_string):
        return self.check(token_string, "", mtls.binding(self.server.bridge))

    def check(self, token_string, jkt: str, certificate: str = ""):
        use = self.server.bridge.tokens.use_access(token_string, jkt=jkt, certificate=certificate)
        if use.status == "wrong_key" and mtls.is_certificate_bound(use.record.get("j")):
            raise InvalidTokenError(description="This access token is bound to a client certificate (RFC 8705): "
                                    "send it over TLS with that certificate.")
        if use.status == "wrong_key":
            raise dpop.wrong_key(self.TOKEN_TYPE)
        return StoredToken(use, self.server.query_client(use.record["c"])) if self.server.token_used(use) else None


class DpopTokenValidator(TokenValidator):
    """`Authorization: DPoP <token>` with a `DPoP` proof whose `ath` is the token's hash and key the bound one."""
    TOKEN_TYPE = "dpop"

    def authenticate_token(self, token_string):
        from flask import request as http

        token = self.check(token_string, dpop.resource_jkt(self.server.bridge, http, token_string))
        if token is None:
            raise dpop.DpopResourceError("invalid_token", "The access token is invalid or expired.")
        return token


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


class BridgeUserInfo(UserInfoEndpoint):
    def get_issuer(self):
        return self.server.bridge.settings.issuer

    def generate_user_info(self, user: Grantee, scope):
        return id_token_claims(self.server.bridge, user, scope, userinfo=True)

    def resolve_private_key(self):
        return self.server.bridge.keys.signing_key("RS256")


class Introspection(IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt",  # not public clients
                           *mtls.METHODS]

    def query_token(self, token_string, token_type_hint):
        """Active only when using the token would succeed now (RFC 7662 §2.2): the same checks as a
        refresh or a userinfo call, so a token of an ended session, client or family is inactive."""
        tokens = self.server.bridge.tokens
        kinds = ("refresh_token", "access_token") if token_type_hint == "refresh_token" else \
            ("access_token", "refresh_token")
        for kind in kinds:
            use = tokens.check_refresh(token_string) if kind == "refresh_token" else tokens.use_access(token_string)
            if use.status != "missing":
                return _Introspected(kind=kind, sid=use.sid, record=use.record, session=use.session) \
                    if self.server.token_used(use) else None
        return None

    def check_permission(self, token, client, request):
        # Only the clients of the token's own service may introspect it.
        return client.service.service == token["record"]["v"]

    def introspect_token(self, token):
        bridge = self.server.bridge
        record, session = token["record"], token["session"]
        answer = {"active": True, "client_id": record["c"], "scope": record["s"],
                  "exp": int(min(record["e"], session["deadline"])), "iss": bridge.settings.issuer,
                  "aud": record["c"], "sid": token["sid"]}
        if token["kind"] == "access_token":  # RFC 7662 §2.2: the RFC 6749 §7.1 type; refresh tokens have none
            answer["token_type"] = mtls.token_type(record.get("j"))
        if record.get("j"):   # RFC 9449 §6.2, RFC 8705 §3.2: the resource server checks the binding
            answer["cnf"] = mtls.cnf(record["j"])
        national_id, auth_time, acr, mie = Authentication.peek(session["authn"])
        service = bridge.policies.services[record["v"]]
        answer.update(sub=subject(service, national_id, bridge.settings.secret_key), auth_time=auth_time, acr=acr,
                      mie=mie)
        return answer


class Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = TOKEN_ENDPOINT_AUTH_METHODS

    def query_token(self, token_string, token_type_hint):
        tokens = self.server.bridge.tokens
        kinds = ["refresh_token", "access_token"] if token_type_hint != "access_token" else ["access_token"]
        for kind in kinds:
            found = (tokens.lookup_refresh if kind == "refresh_token" else tokens.lookup_access)(token_string)
            if found:
                return _Revocable(token_string, kind, found[1])
        return None

    def revoke_token(self, token, request):
        self.server.bridge.tokens.revoke(token.value, token.kind)
        self.server.bridge.record("token_revoked", client=token.record["c"], reason="client_request",
                                  kind=token.kind)


class EndSession(EndSessionEndpoint):
    def resolve_client_from_id_token_claims(self, claims):
        aud = claims.get("aud")
        audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        client_id = claims.get("azp") or (audiences[0] if len(audiences) == 1 else None)
        return self.server.query_client(client_id) if client_id in audiences else None

    def get_server_jwks(self):
        return KeySet.import_key_set(self.server.bridge.keys.jwks())

    def _validate_id_token_hint(self, id_token_hint):
        # Authlib checks the signature only: a logout token (every app receives them) or a token of another
        # issuer signed with a shared key must not pass for an ID token. Expiry is not checked (§2: expired
        # ID tokens are valid hints); the web layer asks the user unless `sid` names this browser's session.
        claims = super()._validate_id_token_hint(id_token_hint)
        if not is_own_id_token(claims, self.server.bridge.settings.issuer) or "sid" not in claims:
            raise InvalidRequestError("id_token_hint is not an ID token issued by this bridge.")
        return claims

    def end_session(self, end_session_request):
        pass  # the web layer ends the SSO session itself (it also needs PSC's logout and the cookie)


class _Introspected(dict):
    """What introspection found; a dict with the two checks Authlib asks of a token."""

    def is_expired(self): return False
    def is_revoked(self): return False


class _Revocable(TokenMixin):
    def __init__(self, value: str, kind: str, record: dict):
        self.value, self.kind, self.record = value, kind, record

    def check_client(self, client): return client.get_client_id() == self.record["c"]
