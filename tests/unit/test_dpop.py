"""bridge/provider/dpop.py without HTTP: the policy field, the nonce slots, htu normalisation, the proof's key."""
from __future__ import annotations

import pytest
from joserfc.jwk import ECKey, RSAKey

from bridge.policy.clients import read_client
from bridge.policy.report import Report
from bridge.provider import dpop

BASE = {"client_id": "app", "token_endpoint_auth_method": "none", "redirect_uris": ["https://app.example/cb"]}
SECRET = "s" * 32


def test_dpop_bound_access_tokens_is_a_boolean_defaulting_to_false():
    report = Report("p.yaml")
    assert read_client(report, BASE, 0, dev=False).dpop_bound_access_tokens is False
    assert read_client(report, {**BASE, "dpop_bound_access_tokens": True}, 0, dev=False).dpop_bound_access_tokens
    assert not report.errors
    client = read_client(report, {**BASE, "dpop_bound_access_tokens": "yes"}, 0, dev=False)
    assert client.dpop_bound_access_tokens is False
    assert any("dpop_bound_access_tokens" in str(error) for error in report.errors)


def test_a_nonce_lives_its_slot_and_the_next():
    start = 1_800_000_000.0 - 1_800_000_000.0 % dpop.NONCE_WINDOW
    value = dpop.nonce(SECRET, start)
    assert dpop.nonce_ok(SECRET, start + dpop.NONCE_WINDOW - 1, value)
    assert dpop.nonce_ok(SECRET, start + 2 * dpop.NONCE_WINDOW - 1, value)
    assert not dpop.nonce_ok(SECRET, start + 2 * dpop.NONCE_WINDOW, value)
    assert not dpop.nonce_ok("t" * 32, start, value)           # another deployment's secret
    assert not dpop.nonce_ok(SECRET, start, None) and not dpop.nonce_ok(SECRET, start, 12)


@pytest.mark.parametrize("htu, same", [
    ("https://Bridge.Example/token?x=1#f", True), ("HTTPS://bridge.example/token", True),
    ("https://bridge.example/token/", False), ("https://bridge.example:8443/token", False),
    ("https://bridge.example/userinfo", False), ("http://[bad", False)])
def test_htu_is_compared_without_query_and_fragment(htu, same):
    assert (dpop.bare_uri(htu) == dpop.bare_uri("https://bridge.example/token")) is same


def test_the_proof_key_must_be_public_asymmetric_and_large_enough():
    assert dpop.public_key({"jwk": ECKey.generate_key("P-256").as_dict(private=False)})
    assert dpop.public_key({"jwk": RSAKey.generate_key(2048).as_dict(private=False)})
    for bad in (ECKey.generate_key("P-256").as_dict(private=True), RSAKey.generate_key(1024).as_dict(private=False),
                {"kty": "oct", "k": "AAAA"}, {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}, "jwk", None):
        with pytest.raises(dpop.InvalidDpopProof):
            dpop.public_key({"jwk": bad})
