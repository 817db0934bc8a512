"""Discovery says what the server does: its lists come from the tables that configure the grants and endpoints,
and every claim an ID token or userinfo can carry is in claims_supported (at_hash was missing)."""
from __future__ import annotations

from bridge.provider.claims import user_claims
from bridge.provider.endpoints import Introspection, Revocation
from bridge.provider.grants import TOKEN_ENDPOINT_AUTH_METHODS, S256Challenge
from bridge.provider.metadata import provider_metadata
from tests.unit.test_policy_support import login

ID_TOKEN_ONLY = {"iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "acr", "amr", "sid", "azp"}


def test_advertised_methods_are_the_servers_own():
    meta = provider_metadata("https://sso.example", ("eidas1",))
    assert meta["token_endpoint_auth_methods_supported"] == TOKEN_ENDPOINT_AUTH_METHODS
    assert meta["introspection_endpoint_auth_methods_supported"] == Introspection.CLIENT_AUTH_METHODS
    assert "none" not in meta["introspection_endpoint_auth_methods_supported"]      # public clients cannot
    assert meta["revocation_endpoint_auth_methods_supported"] == Revocation.CLIENT_AUTH_METHODS
    assert meta["code_challenge_methods_supported"] == S256Challenge.SUPPORTED_CODE_CHALLENGE_METHOD == ["S256"]
    assert meta["prompt_values_supported"] == ["none", "login"]


def test_every_claim_the_bridge_issues_is_advertised():
    meta = provider_metadata("https://sso.example", ("eidas1",))
    issued = set(user_claims(login("cps-pin"), set(meta["scopes_supported"]), "899700000001"))
    issued |= set(user_claims(login("psc-card"), set(meta["scopes_supported"]), "899700000001"))
    assert issued | ID_TOKEN_ONLY <= set(meta["claims_supported"]), sorted(issued - set(meta["claims_supported"]))
