"""pytest plugin: a real PSC emulator per test, test TLS material, and a browser-like login helper.

    def test_something(psc_emulator):
        url = psc_authorize_url(psc_emulator, state="s", nonce="n")
        callback = psc_login(requests.Session(), url, user="899700000002", auth_mode="MOBILE")

`psc_emulator` registers the client PSC_TEST_CLIENT_ID / PSC_TEST_CLIENT_SECRET (client_secret_basic, post
accepted) with PSC_TEST_REDIRECT_URI and PSC_TEST_POST_LOGOUT_URI. `psc_emulator_factory(**overrides)` starts
others: `redirect_uri=` (str or list), `post_logout_redirect_uri=`, `auth_method=`, `tls_client_cert_sha256=`,
`ssl_context=`, `clients=` (replaces the test client) and any EmulatorConfig field (`id_token_alg="HS256"`,
`userinfo_format="jwt"`, `send_iss=False`, `omit_logout_state=True`, `wallet_url=`...). Each is stopped after
the test.
"""
from __future__ import annotations

import base64
import hashlib
import secrets
from html.parser import HTMLParser
from urllib.parse import urlencode, urljoin

import pytest
import requests

from bridge.sandbox.psc import EmulatedClient, EmulatorConfig, EmulatorServer, serve
from bridge.sandbox.tls import TlsFiles, make_test_tls

PSC_TEST_CLIENT_ID = "bridge-test"
PSC_TEST_CLIENT_SECRET = "bridge-test-secret"
PSC_TEST_REDIRECT_URI = "http://127.0.0.1:8000/psc/callback"
PSC_TEST_POST_LOGOUT_URI = "http://127.0.0.1:8000/logout/done"


@pytest.fixture
def psc_emulator_factory():
    started: list[EmulatorServer] = []

    def start(*, redirect_uri: str | list[str] = PSC_TEST_REDIRECT_URI,
              post_logout_redirect_uri: str | list[str] = PSC_TEST_POST_LOGOUT_URI,
              auth_method: str = "client_secret_basic", tls_client_cert_sha256: str = "",
              ssl_context=None, host: str = "127.0.0.1", **config_overrides) -> EmulatorServer:
        if "clients" not in config_overrides:
            config_overrides["clients"] = [EmulatedClient(
                PSC_TEST_CLIENT_ID, "" if auth_method == "tls_client_auth" else PSC_TEST_CLIENT_SECRET,
                _as_list(redirect_uri), _as_list(post_logout_redirect_uri), auth_method=auth_method,
                tls_client_cert_sha256=tls_client_cert_sha256)]
        server = serve(EmulatorConfig(**config_overrides), host=host, port=0, ssl_context=ssl_context)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def psc_emulator(psc_emulator_factory) -> EmulatorServer:
    return psc_emulator_factory()


@pytest.fixture
def psc_tls(tmp_path) -> TlsFiles:
    return make_test_tls(tmp_path / "psc-tls")


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge)."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def psc_authorize_url(emulator: EmulatorServer, *, client_id: str = PSC_TEST_CLIENT_ID,
                      redirect_uri: str = PSC_TEST_REDIRECT_URI, **params: str) -> str:
    """The authorize URL a relying party would build (scope `openid scope_all`, acr eidas1) plus `params`;
    a None value leaves the parameter out."""
    query = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
             "scope": "openid scope_all", "acr_values": "eidas1", **params}
    query = {name: value for name, value in query.items() if value is not None}
    return f"{emulator.authorization_endpoint}?{urlencode(query)}"


class _LoginForm(HTMLParser):
    """The emulator's login form: action, hidden fields and the radio values offered."""

    def __init__(self):
        super().__init__()
        self.action: str | None = None
        self.hidden: dict[str, str] = {}
        self.radios: dict[str, list[str]] = {}

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "form" and self.action is None:
            self.action = attributes.get("action", "")
        elif tag == "input" and attributes.get("type") == "hidden":
            self.hidden[attributes["name"]] = attributes.get("value", "")
        elif tag == "input" and attributes.get("type") == "radio":
            self.radios.setdefault(attributes["name"], []).append(attributes.get("value", ""))


def psc_login(session: requests.Session, authorize_url: str, user: str = "899700000001",
              auth_mode: str = "CARD") -> str:
    """Follow `authorize_url` like a browser, submit the login form as `user` with `auth_mode`, and return the
    redirect Location (the relying party's callback URL) without following it. With a live SSO session the
    emulator answers the authorize request with the redirect at once: that Location is returned."""
    # verify=session.verify explicitly: requests lets REQUESTS_CA_BUNDLE override a Session's own CA otherwise.
    page = session.get(authorize_url, allow_redirects=False, timeout=10, verify=session.verify)
    if page.is_redirect:
        return page.headers["Location"]
    assert page.status_code == 200, f"authorize answered {page.status_code}: {page.text[:500]}"
    form = _LoginForm()
    form.feed(page.text)
    assert form.action is not None and "txn" in form.hidden, "no login form on the emulator page"
    assert user in form.radios.get("user", []), f"{user} is not offered on the login page"
    assert auth_mode in form.radios.get("auth_mode", []), f"{auth_mode} is not offered on the login page"
    answer = session.post(urljoin(page.url, form.action), allow_redirects=False, timeout=10, verify=session.verify,
                          data={**form.hidden, "user": user, "auth_mode": auth_mode, "action": "login"})
    assert answer.is_redirect, f"login form answered {answer.status_code}: {answer.text[:500]}"
    return answer.headers["Location"]
