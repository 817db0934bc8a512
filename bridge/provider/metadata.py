"""The provider's metadata (OpenID Connect Discovery 1.0 and RFC 8414), built and checked with Authlib's classes.

Only what works is advertised; what is not supported is said so and refused at /authorize with its own error code.
`request_uri` is supported with PAR's semantics only (RFC 9126): `require_request_uri_registration` is true and no
client registers `request_uris`, so no URI is ever fetched; any other than /par's URNs gets invalid_request_uri.
"""
from __future__ import annotations

from functools import lru_cache

from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from authlib.oidc.discovery import OpenIDProviderMetadata

from bridge.mie import CATALOGUE
from bridge.provider.dpop import ALGS as DPOP_ALGS
from bridge.provider.endpoints import CLIENT_ASSERTION_ALGS, Introspection, Revocation
from bridge.provider.grants import SUPPORTED_PROMPTS, TOKEN_ENDPOINT_AUTH_METHODS, S256Challenge
from bridge.provider.keys import ALGORITHMS
from bridge.provider.par import REQUEST_OBJECT_ALGS

# Read from the tables that configure the server, so what is advertised is what is accepted.
ID_TOKEN_ALGS = list(ALGORITHMS)
PROMPTS = sorted(SUPPORTED_PROMPTS, reverse=True)
CLAIMS = ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "acr", "amr", "sid", "azp", "mie",
          "given_name",
          "family_name", "name", "email", "national_id", "national_id_type", "profession", "profession_category",
          "savoir_faire", "activity", "card_type"]


# Grants beyond the code flow, advertised (with their endpoint) only when a client's policy allows them.
DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"   # RFC 8628: /device_authorization
CIBA = "urn:openid:params:grant-type:ciba"   # OpenID CIBA Core, poll mode: /bc-authorize (ciba.py)
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"   # RFC 8693 at /token: PSC token relay


def optional_grants(services) -> tuple[str, ...]:
    """The grant types some client of the policies allows besides authorization_code and refresh_token."""
    found = {g for s in services for c in s.clients for g in c.grant_types}
    return tuple(sorted(found - {"authorization_code", "refresh_token"}))


@lru_cache(maxsize=4)
def provider_metadata(issuer: str, acr_values: tuple[str, ...], grants: tuple[str, ...] = ()) -> dict:
    """Validated once per (issuer, acr values, optional grants): a wrong field fails start-up tests, not a client."""
    algs = list(CLIENT_ASSERTION_ALGS)
    extra: dict = {}
    if CIBA in grants:
        extra.update(backchannel_authentication_endpoint=f"{issuer}/bc-authorize",
                     backchannel_token_delivery_modes_supported=["poll"],
                     backchannel_user_code_parameter_supported=False)
    if DEVICE_CODE in grants:
        extra["device_authorization_endpoint"] = f"{issuer}/device_authorization"
    metadata = OpenIDProviderMetadata({
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "userinfo_endpoint": f"{issuer}/userinfo",
        "jwks_uri": f"{issuer}/jwks",
        "end_session_endpoint": f"{issuer}/logout",
        "introspection_endpoint": f"{issuer}/introspect",
        "revocation_endpoint": f"{issuer}/revoke",
        "pushed_authorization_request_endpoint": f"{issuer}/par",
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token",
                                  *(g for g in (DEVICE_CODE, CIBA, TOKEN_EXCHANGE) if g in grants)],
        "subject_types_supported": ["public", "pairwise"],
        "id_token_signing_alg_values_supported": ID_TOKEN_ALGS,
        "token_endpoint_auth_methods_supported": list(TOKEN_ENDPOINT_AUTH_METHODS),
        "token_endpoint_auth_signing_alg_values_supported": algs,
        "introspection_endpoint_auth_methods_supported": list(Introspection.CLIENT_AUTH_METHODS),
        "introspection_endpoint_auth_signing_alg_values_supported": algs,
        "revocation_endpoint_auth_methods_supported": list(Revocation.CLIENT_AUTH_METHODS),
        "revocation_endpoint_auth_signing_alg_values_supported": algs,
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        "frontchannel_logout_supported": True,
        "frontchannel_logout_session_supported": True,
        "code_challenge_methods_supported": list(S256Challenge.SUPPORTED_CODE_CHALLENGE_METHOD),
        "dpop_signing_alg_values_supported": list(DPOP_ALGS),   # RFC 9449 §5.1
        "tls_client_certificate_bound_access_tokens": True,     # RFC 8705 §3.3, same endpoints (mtls.py)
        "scopes_supported": ["openid", "profile", "email", "rpps"],
        "claims_supported": CLAIMS,
        "prompt_values_supported": PROMPTS,
        "acr_values_supported": list(acr_values),
        "authorization_response_iss_parameter_supported": True,
        "claims_parameter_supported": True,   # for id_token acr (essential): bridge.acr.requested
        "request_parameter_supported": True,
        "request_uri_parameter_supported": True,
        "require_request_uri_registration": True,
        "request_object_signing_alg_values_supported": list(REQUEST_OBJECT_ALGS),
        "require_pushed_authorization_requests": False,
        "mie_supported": list(CATALOGUE),
        **extra,
    })
    metadata.validate()
    AuthorizationServerMetadata(metadata).validate()
    return dict(metadata)
