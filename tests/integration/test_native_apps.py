"""Issue 17 item 1: a desktop app (RFC 8252) over HTTP against a bridge and its PSC emulator: a public client with
a portless loopback redirect URI, any port at run time, everything else exact, and docs/examples/desktop_login.py
run for real with the browser played by tests.support.loopback_browser."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.support.bridge import AppClient, rewrite_policies

ROOT = Path(__file__).resolve().parents[2]
DESKTOP_POLICY = """
service: desktop
name: DPI de bureau
clients:
  - client_id: dpi-desktop
    token_endpoint_auth_method: none
    redirect_uris: ['http://127.0.0.1/callback', 'http://[::1]/callback']
    scopes: [openid, profile]
allowed_mie: [psc]
idle_timeout: 30m
max_session: 4h
"""


@pytest.fixture
def server(bridge_factory, receiver, tmp_path):
    policies = rewrite_policies(tmp_path / "policies", receiver.url, {"desktop.yaml": DESKTOP_POLICY})
    return bridge_factory(env={"BRIDGE_POLICIES_DIR": str(policies)})


def desktop(server, redirect_uri: str) -> AppClient:
    return AppClient(server.url, "dpi-desktop", None, redirect_uri, scope="openid profile")


def authorize(server, redirect_uri: str) -> requests.Response:
    return requests.get(desktop(server, redirect_uri).authorize_url(), allow_redirects=False, timeout=10)


def test_a_desktop_app_logs_in_on_the_port_it_got(server):
    app = desktop(server, "http://127.0.0.1:54321/callback")
    answer = app.login(requests.Session(), user="899700000002")
    tokens = app.exchange(answer["code"])
    assert app.verify_id_token(tokens["id_token"])["aud"] == ["dpi-desktop"]


@pytest.mark.parametrize("redirect_uri", ["http://127.0.0.1:1/callback", "http://127.0.0.1:65535/callback",
                                          "http://[::1]:40000/callback"])
def test_any_port_is_accepted(server, redirect_uri):
    response = authorize(server, redirect_uri)
    assert response.status_code in (302, 303) and not response.headers["Location"].startswith(redirect_uri)


@pytest.mark.parametrize("redirect_uri", ["http://127.0.0.1:5000/other", "http://127.0.0.1:5000/callback/",
                                          "http://127.0.0.1:5000/callback?x=1", "http://localhost:5000/callback",
                                          "http://127.0.0.2:5000/callback", "https://127.0.0.1:5000/callback",
                                          "http://127.0.0.1:0/callback"])
def test_a_different_path_host_or_scheme_is_refused(server, redirect_uri):
    response = authorize(server, redirect_uri)
    assert response.status_code == 400 and "Location" not in response.headers


def test_the_code_is_redeemed_on_the_same_port_only(server):
    app = desktop(server, "http://127.0.0.1:54321/callback")
    answer = app.login(requests.Session(), user="899700000002")
    refused = requests.post(app.metadata["token_endpoint"], timeout=10, data={
        "grant_type": "authorization_code", "code": answer["code"], "client_id": "dpi-desktop",
        "redirect_uri": "http://127.0.0.1:54322/callback", "code_verifier": app.pending["verifier"]})
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"


def test_pkce_is_required(server):
    app = desktop(server, "http://127.0.0.1:54321/callback")
    query = {k: v[0] for k, v in parse_qs(urlsplit(app.authorize_url()).query).items()
             if not k.startswith("code_challenge")}
    response = requests.get(app.metadata["authorization_endpoint"], params=query, allow_redirects=False, timeout=10)
    back = parse_qs(urlsplit(response.headers["Location"]).query)
    assert back["error"] == ["invalid_request"] and "PKCE" in back["error_description"][0]


def test_the_documented_desktop_example_runs(server, tmp_path):
    browser = tmp_path / "browser"
    browser.write_text(f'#!/bin/sh\ncd "{ROOT}" && exec "{sys.executable}" -m tests.support.loopback_browser "$1"\n')
    browser.chmod(0o755)
    done = subprocess.run([sys.executable, str(ROOT / "docs/examples/desktop_login.py"), "--issuer", server.url,
                           "--client-id", "dpi-desktop", "--timeout", "60"], capture_output=True, text=True,
                          timeout=90, env={**os.environ, "BROWSER": str(browser)}, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    claims = json.loads(done.stdout)
    assert claims["aud"] == ["dpi-desktop"] and claims["iss"] == server.bridge.settings.issuer and claims["sub"]
    assert "Ouverture du navigateur" in done.stderr and "redirect_uri=http%3A%2F%2F127.0.0.1%3A" in done.stderr
