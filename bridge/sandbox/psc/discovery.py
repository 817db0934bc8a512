"""The realm's discovery document, shaped like PSC's (Keycloak metadata, docs/sources.md, PSC).

Some values are advertised exactly as PSC does although neither PSC nor the emulator honours them
(private_key_jwt, implicit/hybrid response types, acr_values_supported ["0","0"]): a relying party must not
trust them, and the emulator keeps that trap. Endpoints the emulator does not implement (PAR, device,
check_session_iframe) are left out rather than advertised as 404s.
"""
from __future__ import annotations

from .config import EmulatorConfig
from .core import SCOPES_SUPPORTED

SIGNING_ALGS = ["PS384", "RS384", "EdDSA", "ES384", "HS256", "HS512", "ES256", "RS256", "HS384", "ES512",
                "PS256", "PS512", "RS512"]
CLIENT_AUTH_METHODS = ["private_key_jwt", "client_secret_basic", "client_secret_post", "tls_client_auth",
                       "client_secret_jwt"]


def discovery_document(config: EmulatorConfig) -> dict:
    oidc = config.oidc_base
    endpoints = {
        "token_endpoint": f"{oidc}/token",
        "revocation_endpoint": f"{oidc}/revoke",
        "introspection_endpoint": f"{oidc}/token/introspect",
        "userinfo_endpoint": f"{oidc}/userinfo",
        "end_session_endpoint": f"{oidc}/logout",
        "backchannel_authentication_endpoint": f"{oidc}/ext/ciba/auth",
    }
    return {
        "issuer": config.issuer,
        "authorization_endpoint": config.authorization_endpoint,
        **endpoints,
        "jwks_uri": f"{oidc}/certs",
        "frontchannel_logout_session_supported": True,
        "frontchannel_logout_supported": True,
        "grant_types_supported": ["authorization_code", "refresh_token", "urn:openid:params:grant-type:ciba"],
        "backchannel_token_delivery_modes_supported": ["poll"],   # PSC also lists ping; the emulator polls only
        "backchannel_user_code_parameter_supported": False,
        "acr_values_supported": ["0", "0"],
        "response_types_supported": ["code", "none", "id_token", "token", "id_token token", "code id_token",
                                     "code token", "code id_token token"],
        "subject_types_supported": ["public", "pairwise"],
        "prompt_values_supported": ["none", "login", "consent"],
        "id_token_signing_alg_values_supported": SIGNING_ALGS,
        "id_token_encryption_alg_values_supported": ["RSA-OAEP", "RSA-OAEP-256", "RSA1_5"],
        "id_token_encryption_enc_values_supported": ["A256GCM", "A192GCM", "A128GCM", "A128CBC-HS256",
                                                     "A192CBC-HS384", "A256CBC-HS512"],
        "userinfo_signing_alg_values_supported": SIGNING_ALGS + ["none"],
        "request_object_signing_alg_values_supported": SIGNING_ALGS + ["none"],
        "response_modes_supported": ["query", "fragment", "form_post", "query.jwt", "fragment.jwt",
                                     "form_post.jwt", "jwt"],
        "token_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "token_endpoint_auth_signing_alg_values_supported": SIGNING_ALGS,
        "introspection_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "introspection_endpoint_auth_signing_alg_values_supported": SIGNING_ALGS,
        "revocation_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "revocation_endpoint_auth_signing_alg_values_supported": SIGNING_ALGS,
        "claims_supported": ["aud", "sub", "iss", "auth_time", "name", "given_name", "family_name",
                             "preferred_username", "email", "acr", "SubjectNameID", "SubjectRefPro", "otherIds"],
        "claim_types_supported": ["normal"],
        "claims_parameter_supported": True,
        "scopes_supported": list(SCOPES_SUPPORTED),
        "request_parameter_supported": True,
        "request_uri_parameter_supported": True,
        "require_request_uri_registration": True,
        "code_challenge_methods_supported": ["plain", "S256"],
        "tls_client_certificate_bound_access_tokens": True,
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        "authorization_response_iss_parameter_supported": True,
        "mtls_endpoint_aliases": endpoints,
    }
