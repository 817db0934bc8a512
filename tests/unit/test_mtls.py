"""RFC 8705 pieces without HTTP: the policy fields of mTLS clients and the stored binding's cnf / token type."""
from __future__ import annotations

import pytest

from bridge.policy.clients import read_client
from bridge.policy.report import Report
from bridge.provider import mtls

BASE = {"client_id": "dpi", "redirect_uris": ["https://dpi.example/cb"], "scopes": ["openid"]}
JWKS = {"keys": [{"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                  "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}


def test_tls_client_auth_keeps_the_subject_dn_in_rfc_4514_form():
    report = Report("p.yaml")
    client = read_client(report, {**BASE, "token_endpoint_auth_method": "tls_client_auth",
                                  "tls_client_auth_subject_dn": "CN=dpi.example,O=Hopital\\, Test,C=FR"}, 0, dev=False)
    assert not report.errors
    assert client.tls_client_auth_subject_dn == "CN=dpi.example,O=Hopital\\, Test,C=FR"
    assert client.client_secret_sha256 == "" and not client.public


@pytest.mark.parametrize("fields, complaint", [
    ({"token_endpoint_auth_method": "tls_client_auth"}, "needs the certificate's subject DN"),
    ({"token_endpoint_auth_method": "tls_client_auth", "tls_client_auth_subject_dn": "not a dn"}, "RFC 4514"),
    ({"token_endpoint_auth_method": "tls_client_auth", "tls_client_auth_subject_dn": 12}, "subject DN"),
    ({"tls_client_auth_subject_dn": "CN=x"}, "only with token_endpoint_auth_method: tls_client_auth"),
    ({"token_endpoint_auth_method": "self_signed_tls_client_auth"}, "needs the client's public keys"),
    ({"token_endpoint_auth_method": "tls_client_auth", "tls_client_auth_subject_dn": "CN=x",
      "client_secret_sha256": "a" * 64}, "must be absent")])
def test_bad_mtls_client_fields_are_reported(fields, complaint):
    report = Report("p.yaml")
    read_client(report, {**BASE, **fields}, 0, dev=False)
    assert any(complaint in str(error) for error in report.errors), report.errors


def test_self_signed_client_with_keys_loads():
    report = Report("p.yaml")
    client = read_client(report, {**BASE, "token_endpoint_auth_method": "self_signed_tls_client_auth",
                                  "jwks": JWKS}, 0, dev=False)
    assert not report.errors and client.jwks == JWKS


def test_binding_cnf_and_token_type():
    assert mtls.cnf("x5t#S256:abc") == {"x5t#S256": "abc"} and mtls.token_type("x5t#S256:abc") == "Bearer"
    assert mtls.cnf("jkt1") == {"jkt": "jkt1"} and mtls.token_type("jkt1") == "DPoP"
    assert mtls.token_type("") == "Bearer" and mtls.token_type(None) == "Bearer"
