"""Proxy e-Santé mode (optional): the bridge calls a DMP-like API (bridge/sandbox/dmp.py) for an app, exchanging the
session's PSC access token at the API's authorization server and calling it over mTLS with the bridge's
certificate. Real parts over HTTPS: bridge, PSC emulator, the DMP-like target."""
from __future__ import annotations

import pytest
import requests

from bridge.sandbox.dmp import serve_dmp
from bridge.sandbox.tls import server_ssl_context
from tests.support.psc_relay import login


@pytest.fixture
def proxy_stack(relay_stack_factory, psc_tls):
    context = server_ssl_context(psc_tls, require_client_cert=False)
    dmp = serve_dmp("", "", server_ssl_context(psc_tls, require_client_cert=True), verify=str(psc_tls.ca_cert))
    stack = relay_stack_factory(
        ssl_context=context, verify=str(psc_tls.ca_cert), audiences=(dmp.url,),
        psc_client={"secret": "", "auth_method": "tls_client_auth",
                    "tls_client_cert_sha256": psc_tls.client_cert_sha256},
        env={"BRIDGE_PSC_CLIENT_CERT": str(psc_tls.client_cert), "BRIDGE_PSC_CLIENT_KEY": str(psc_tls.client_key),
             "BRIDGE_PSC_CA_BUNDLE": str(psc_tls.ca_cert), "BRIDGE_PSC_CLIENT_SECRET": ""})
    dmp.state.psc_issuer, dmp.state.psc_jwks_url = stack.psc.issuer, f"{stack.psc.issuer}/protocol/openid-connect/certs"
    stack.dmp = dmp
    yield stack
    dmp.stop()


def call(stack, access_token: str, url: str, method: str = "GET", headers: dict | None = None,
         **kwargs) -> requests.Response:
    return requests.request(method, f"{stack.url}/psc-proxy", params={"url": url}, timeout=30,
                            headers={"Authorization": f"Bearer {access_token}", **(headers or {})}, **kwargs)


def test_the_bridge_calls_the_api_with_its_certificate_and_the_exchanged_token(proxy_stack):
    tokens, _ = login(proxy_stack)
    answer = call(proxy_stack, tokens["access_token"], f"{proxy_stack.dmp.url}/api/dmp/documents?ins=123")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"path": "dmp/documents", "method": "GET", "professional": "899700000002",
                             "query": {"ins": "123"}, "body": ""}
    posted = call(proxy_stack, tokens["access_token"], f"{proxy_stack.dmp.url}/api/dmp/documents", "POST",
                  data=b'{"doc": 1}', headers={"Content-Type": "application/json"})
    assert posted.status_code == 200 and posted.json()["body"] == '{"doc": 1}'
    assert len(proxy_stack.dmp.state.exchanges) == 1            # the API token is kept between calls
    assert proxy_stack.dmp.state.exchanges[0][1] == "899700000002"
    lines = [line for line in proxy_stack.trail.read_text().splitlines() if '"token_exchanged"' in line]
    assert lines and '"via":"proxy"' in lines[-1] and tokens["access_token"] not in proxy_stack.trail.read_text()


def test_only_the_clients_listed_apis_are_reached(proxy_stack):
    tokens, _ = login(proxy_stack)
    for url in ("https://evil.example/api/x", f"{proxy_stack.dmp.url}x/api", f"{proxy_stack.dmp.url}/api/../token"):
        answer = call(proxy_stack, tokens["access_token"], url)
        assert answer.status_code == 403 and answer.json()["error"] == "invalid_target", url
    basic, _ = login(proxy_stack, "lgc-basic")
    answer = call(proxy_stack, basic["access_token"], f"{proxy_stack.dmp.url}/api/x")
    assert answer.status_code == 403 and answer.json()["error"] == "unauthorized_client"
    assert call(proxy_stack, "not-a-token", f"{proxy_stack.dmp.url}/api/x").status_code == 401
    assert not proxy_stack.dmp.state.calls


def test_without_a_client_certificate_the_proxy_is_off(relay_stack):
    tokens, _ = login(relay_stack)
    answer = call(relay_stack, tokens["access_token"], "https://dmp.example/api/x")
    assert answer.status_code == 404 and answer.json()["error"] == "not_enabled"
