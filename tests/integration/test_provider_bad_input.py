"""Downstream bad input gets the RFC 6749 error codes; nothing is issued."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import requests

from tests.support.bridge import PORTAIL, AppClient


def query(url: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_unknown_client_gets_a_page_not_a_redirect(bridge_server):
    response = requests.get(f"{bridge_server.url}/authorize", allow_redirects=False, timeout=10, params={
        "client_id": "nope", "response_type": "code", "redirect_uri": "https://evil.example/cb", "scope": "openid"})
    assert response.status_code == 400 and 'data-error-code="invalid_client"' in response.text
    assert "Location" not in response.headers


def test_unregistered_redirect_uri_gets_a_page_not_a_redirect(bridge_server):
    response = requests.get(f"{bridge_server.url}/authorize", allow_redirects=False, timeout=10, params={
        "client_id": "demo-portail", "response_type": "code", "scope": "openid",
        "redirect_uri": PORTAIL["redirect_uri"] + "/../evil"})
    assert response.status_code == 400 and "Location" not in response.headers


def test_plain_pkce_is_refused(bridge_server):
    response = requests.get(f"{bridge_server.url}/authorize", allow_redirects=False, timeout=10, params={
        "client_id": "demo-portail", "response_type": "code", "scope": "openid", "state": "s1",
        "redirect_uri": PORTAIL["redirect_uri"], "code_challenge": "a" * 43, "code_challenge_method": "plain"})
    assert response.status_code == 302
    assert query(response.headers["Location"])["error"] == "invalid_request"


def login_code(bridge_server):
    app = AppClient(bridge_server.url, **PORTAIL)
    return app, app.login(requests.Session(), user="899700000002")["code"]


def test_wrong_code_verifier_is_invalid_grant(bridge_server):
    app, code = login_code(bridge_server)
    response = requests.post(app.metadata["token_endpoint"], timeout=10, auth=("demo-portail", "demo-portail-secret"),
                             data={"grant_type": "authorization_code", "code": code, "code_verifier": "x" * 50,
                                   "redirect_uri": PORTAIL["redirect_uri"]})
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_missing_code_verifier_is_refused(bridge_server):
    app, code = login_code(bridge_server)
    response = requests.post(app.metadata["token_endpoint"], timeout=10, auth=("demo-portail", "demo-portail-secret"),
                             data={"grant_type": "authorization_code", "code": code,
                                   "redirect_uri": PORTAIL["redirect_uri"]})
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


def test_code_reuse_is_invalid_grant(bridge_server):
    app, code = login_code(bridge_server)
    assert "access_token" in app.exchange(code)
    response = requests.post(app.metadata["token_endpoint"], timeout=10, auth=("demo-portail", "demo-portail-secret"),
                             data={"grant_type": "authorization_code", "code": code,
                                   "code_verifier": app.pending["verifier"], "redirect_uri": PORTAIL["redirect_uri"]})
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_wrong_client_secret_is_invalid_client(bridge_server):
    app, code = login_code(bridge_server)
    response = requests.post(app.metadata["token_endpoint"], timeout=10, auth=("demo-portail", "wrong"),
                             data={"grant_type": "authorization_code", "code": code,
                                   "code_verifier": app.pending["verifier"], "redirect_uri": PORTAIL["redirect_uri"]})
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_code_of_another_client_is_invalid_grant(bridge_server):
    _, code = login_code(bridge_server)
    response = requests.post(f"{bridge_server.url}/token", timeout=10, auth=("dpi-web", "dpi-secret"),
                             data={"grant_type": "authorization_code", "code": code, "code_verifier": "x" * 50,
                                   "redirect_uri": "http://127.0.0.1:8002/dpi/callback"})
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_userinfo_without_valid_token_is_401(bridge_server):
    response = requests.get(f"{bridge_server.url}/userinfo", timeout=10, headers={"Authorization": "Bearer forged"})
    assert response.status_code == 401
    assert "invalid_token" in response.headers.get("WWW-Authenticate", "") + response.text
