"""Identities beyond RPPS over HTTP with the PSC emulator: a Pro Santé Identité professional (SubjectNameID "",
PSISubjectNameID a UUID) logs in where the policy lists `psi` in identity_kinds and is refused, audited, with no
session, where it does not (the default)."""
from __future__ import annotations

import json
from html import unescape

import pytest
import requests

from bridge.sandbox.professionals import PSI_USER
from bridge.sessions import COOKIE
from tests.support.bridge import PORTAIL, AppClient, rewrite_policies

PSI_POLICY = """# A service that admits Pro Santé Identité staff (docs/policies.md, identity_kinds).
service: psi-portail
name: Portail ouvert aux personnels PSI
clients:
  - client_id: psi-web
    client_secret_sha256: c66d35171d4a33bea07cb405d60d3a0c8a9cd1cad1b8e646edfe5ef473c5e2b4
    redirect_uris: [http://127.0.0.1:8002/psi/callback]
    scopes: [openid, profile, rpps]
allowed_mie: [psc]
identity_kinds: [rpps, adeli, psi]
"""
PSI_APP = {"client_id": "psi-web", "client_secret": "secours-secret",
           "redirect_uri": "http://127.0.0.1:8002/psi/callback", "scope": "openid profile rpps"}


@pytest.fixture
def server(bridge_factory, tmp_path):
    policies = rewrite_policies(tmp_path / "policies", "http://127.0.0.1:8002", {"psi-portail.yaml": PSI_POLICY})
    return bridge_factory(env={"BRIDGE_POLICIES_DIR": str(policies),
                               "BRIDGE_AUDIT_PATH": str(tmp_path / "audit" / "audit.jsonl")})


def audit(server) -> list[dict]:
    return [json.loads(line) for line in server.bridge.settings.audit_path.read_text().splitlines()]


def test_a_psi_identity_logs_in_where_the_policy_lists_psi(server):
    app, browser = AppClient(server.url, **PSI_APP), requests.Session()
    result = app.login(browser, user=PSI_USER)
    tokens = app.exchange(result["code"])
    claims = app.verify_id_token(tokens["id_token"])
    assert claims["sub"] == PSI_USER
    info = requests.get(app.metadata["userinfo_endpoint"], timeout=10,
                        headers={"Authorization": f"Bearer {tokens['access_token']}"}).json()
    assert (info["national_id"], info["national_id_type"]) == (PSI_USER, "psi")
    assert (info["given_name"], info["family_name"]) == ("Inès", "FAURE")
    line = next(line for line in audit(server) if line["event"] == "login_succeeded")
    assert line["subject"] == PSI_USER and line["service"] == "psi-portail"


def test_a_psi_identity_is_refused_where_the_policy_does_not_list_it(server):
    app, browser = AppClient(server.url, **PORTAIL), requests.Session()
    page = app.login(browser, user=PSI_USER)
    assert isinstance(page, requests.Response) and page.status_code == 403
    assert "type d'identifiant national" in unescape(page.text) and "Pro Santé Identité" in page.text
    assert COOKIE not in browser.cookies
    denied = [line for line in audit(server) if line["event"] == "login_denied"]
    assert [(d["subject"], d["reason"], d["service"]) for d in denied] == \
        [(PSI_USER, "identity_kind_not_allowed", "demo-portail")]
    assert not [line for line in audit(server) if line["event"] == "login_succeeded"]


def test_the_refusal_in_english(server):
    app, browser = AppClient(server.url, **PORTAIL), requests.Session()
    browser.headers["Accept-Language"] = "en"
    page = app.login(browser, user=PSI_USER)
    assert page.status_code == 403 and "does not admit your kind of national id" in page.text


def test_an_rpps_professional_still_logs_in_on_both(server):
    for conf in (PSI_APP, PORTAIL):
        app = AppClient(server.url, **conf)
        result = app.login(requests.Session(), user="899700000002")
        assert app.verify_id_token(app.exchange(result["code"])["id_token"])["sub"] == "899700000002"
