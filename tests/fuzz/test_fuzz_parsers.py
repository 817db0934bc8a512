"""Every parser of untrusted input, fed garbage: a typed refusal, never an unhandled exception or a 500."""
from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.clock import Clock
from bridge.config import load_settings
from bridge.store.memory import MemoryStore
from bridge.upstream.psc import PscClient, PscError
from bridge.upstream.psc_claims import ClaimsError, identity_from_userinfo, mie_from_claims

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
                    lambda inner: (st.lists(inner, max_size=4)
                                   | st.dictionaries(st.text(max_size=12), inner, max_size=5)),
                    max_leaves=25)
PSC_KEYS = st.sampled_from(["SubjectNameID", "SubjectRefPro", "exercices", "activities", "codeProfession",
                            "given_name", "family_name", "email", "authMode", "amr", "sub"])
CLAIMS = st.dictionaries(PSC_KEYS | st.text(max_size=8), JSON, max_size=8)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@given(CLAIMS)
def test_userinfo_mapping_refuses_cleanly(claims):
    try:
        identity = identity_from_userinfo(claims)
    except ClaimsError as exc:
        assert exc.code in ("subject_missing", "userinfo_invalid")
    else:
        assert identity.national_id.strip() == identity.national_id and identity.national_id


@given(st.lists(CLAIMS, max_size=3))
def test_mie_from_any_claims(claim_sets):
    mie, amr = mie_from_claims(claim_sets, {"CARD": "psc-card", "MOBILE": "psc-ecps"})
    assert mie in ("psc", "psc-card", "psc-ecps", "psc-delegated") and all(isinstance(v, str) for v in amr)


@pytest.fixture(scope="module")
def rp():
    from tests.support.redis import free_port

    dead = f"http://127.0.0.1:{free_port()}/x/.well-known/wallet-openid-configuration"
    client = PscClient(load_settings({"BRIDGE_PSC_DISCOVERY_URL": dead}), MemoryStore(), Clock())
    client._metadata = {"issuer": "https://psc.example/realm", "authorization_endpoint": "https://w/auth",
                        "token_endpoint": "https://psc.example/token", "jwks_uri": dead}
    client._metadata_at = float("inf")  # never refetched during the run
    from joserfc.jwk import KeySet, RSAKey

    client._jwks = KeySet([RSAKey.generate_key(2048, private=False, parameters={"kid": "k1"})])
    return client


JWT_PARTS = st.one_of(
    st.text(max_size=60),
    st.builds(lambda h, p, s: ".".join([b64(json.dumps(h).encode()), b64(json.dumps(p).encode()), b64(s)]),
              st.dictionaries(st.sampled_from(["alg", "kid", "typ", "crit", "jku"]),
                              st.sampled_from(["none", "HS256", "RS256", "ES256", "PS256", "k1", 1, None, [], "x"]),
                              max_size=4),
              CLAIMS, st.binary(max_size=64)))


@given(JWT_PARTS)
def test_id_token_verification_refuses_cleanly(rp, token):
    with pytest.raises(PscError):
        rp.verify_id_token(token, nonce="n")


@pytest.fixture(scope="module")
def trust(tmp_path_factory):
    from bridge.pki import TrustStore
    from bridge.sandbox.testpki import TestPki

    pki = TestPki("fuzz", tmp_path_factory.mktemp("pki"))
    return TrustStore.from_directory(pki.trust_dir(), pki.crl_dir()), pki.card("899700000001")


@given(st.binary(max_size=600), st.binary(max_size=300), st.text(max_size=30), st.text(max_size=30), st.booleans())
def test_card_proof_verification_refuses_cleanly(trust, certificate, signature, origin, challenge, real_cert):
    from bridge.pki import PkiError, verify_proof

    store, card = trust
    der = card.cert_der if real_cert else certificate
    with pytest.raises(PkiError):  # garbage certificate, or a real one with a garbage signature
        verify_proof(der, signature, origin or "https://x", challenge or "c", store,
                     card.certificate.not_valid_before_utc.timestamp() + 60)


@pytest.fixture(scope="module")
def web():
    import tempfile

    from app import create_app
    from tests.support.bridge import default_card_trust

    settings = load_settings({"BRIDGE_KEYS_DIR": tempfile.mkdtemp(), "BRIDGE_SWEEP_INTERVAL": "0",
                              **default_card_trust()})
    return create_app(settings).test_client()


PARAMS = st.dictionaries(st.sampled_from(["client_id", "response_type", "redirect_uri", "scope", "state", "nonce",
                                          "prompt", "max_age", "code_challenge", "code_challenge_method",
                                          "id_token_hint", "login_hint", "acr_values", "grant_type", "code",
                                          "refresh_token", "code_verifier", "token", "token_type_hint",
                                          "client_assertion", "client_assertion_type", "post_logout_redirect_uri",
                                          "txn", "activity", "csrf", "request", "request_uri"])
                         | st.text(max_size=10),
                         st.text(max_size=80) | st.sampled_from(["demo-portail", "code", "openid", "none", "login",
                                                                 "http://127.0.0.1:8002/portail/callback", "S256",
                                                                 "urn:ietf:params:oauth:request_uri:x", "a.b.c"]),
                         max_size=8)


@given(st.sampled_from(["/authorize", "/token", "/userinfo", "/introspect", "/revoke", "/logout", "/psc/callback",
                        "/login", "/login/psc", "/login/activity", "/par"]),
       st.sampled_from(["GET", "POST"]), PARAMS, st.sampled_from([None, "Basic ZGVtby1wb3J0YWlsOng=", "Bearer a.b",
                                                                  "Basic !!!", "Bearer " + "x" * 300]))
def test_endpoints_never_answer_500(web, path, method, params, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    if method == "GET":
        response = web.get(path, query_string=params, headers=headers)
    else:
        response = web.post(path, data=params, headers=headers)
    assert response.status_code < 500, (path, method, params, response.status_code)
