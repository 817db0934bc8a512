"""The real bridge served over HTTP on a free port, wired to the PSC emulator and a real Redis.

The app in the tests is a real OIDC client doing the spec steps (AppClient below), and the "browser" is a
requests.Session that follows redirects and posts the HTML forms the way a user would.
"""
from __future__ import annotations

import atexit
import functools
import re
import shutil
import tempfile
import threading
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.jwk import KeySet
from werkzeug.serving import make_server

from app import create_app
from bridge.config import load_settings

PORTAIL = {"client_id": "demo-portail", "client_secret": "demo-portail-secret",
           "redirect_uri": "http://127.0.0.1:8002/portail/callback", "scope": "openid profile email rpps"}
DPI = {"client_id": "dpi-web", "client_secret": "dpi-secret",
       "redirect_uri": "http://127.0.0.1:8002/dpi/callback", "scope": "openid profile rpps"}


@dataclass
class BridgeServer:
    url: str
    app: object
    server: object
    thread: threading.Thread

    @property
    def bridge(self):
        return self.app.extensions["bridge"]

    def stop(self) -> None:
        sweeper = self.app.extensions.get("sweeper")
        if sweeper:
            sweeper.stop()
        self.server.shutdown()
        self.thread.join(5)


@functools.lru_cache(maxsize=1)
def default_card_trust() -> dict:
    """The shipped policies allow cps-pin (teleservice-historique), so a bridge needs BRIDGE_TRUST_DIR: by default
    the test PKI's (seed "pytest", like the `test_pki` fixture, so its CA certificates are the same)."""
    from bridge.sandbox.testpki import TestPki

    directory = Path(tempfile.mkdtemp(prefix="bridge-test-trust-"))
    atexit.register(shutil.rmtree, directory, True)
    pki = TestPki("pytest", directory)
    return {"BRIDGE_TRUST_DIR": str(pki.trust_dir()), "BRIDGE_CRL_DIR": str(pki.crl_dir(include_legacy=False))}


def start_bridge(env: dict, *, clock=None, store=None, reserved=None) -> BridgeServer:
    server = reserved or make_server("127.0.0.1", 0, None, threaded=True)
    url = f"http://127.0.0.1:{server.port}"
    if "BRIDGE_TRUST_DIR" not in env:
        env = {**default_card_trust(), **env}
    settings = load_settings({"BRIDGE_PUBLIC_URL": url, **env})
    app = create_app(settings, clock=clock, store=store)
    server.app = app
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return BridgeServer(url, app, server, thread)


@pytest.fixture
def bridge_factory(psc_emulator_factory, redis_url, tmp_path):
    """Start a bridge + its own PSC emulator; keyword overrides go to the emulator config, env= to the bridge."""
    started = []

    def factory(env: dict | None = None, clock=None, store=None, psc_client: dict | None = None,
                **emulator_overrides):
        from bridge.sandbox.psc import EmulatedClient

        reserved = make_server("127.0.0.1", 0, None, threaded=True)
        bridge_url = f"http://127.0.0.1:{reserved.port}"
        client = EmulatedClient(**{"client_id": "bridge-test", "secret": "bridge-test-secret",
                                   "redirect_uris": [f"{bridge_url}/psc/callback"],
                                   "post_logout_redirect_uris": [f"{bridge_url}/logout/done"], **(psc_client or {})})
        psc = psc_emulator_factory(clients=[client], **emulator_overrides)
        full_env = {"BRIDGE_STORE_URL": redis_url, "BRIDGE_SWEEP_INTERVAL": "0", "BRIDGE_RATE_LIMIT_AUTHORIZE": "off",
                    "BRIDGE_RATE_LIMIT_TOKEN": "off", "BRIDGE_KEYS_DIR": str(tmp_path / "keys"),
                    "BRIDGE_PSC_DISCOVERY_URL": psc.discovery_url, "BRIDGE_PSC_CLIENT_ID": "bridge-test",
                    "BRIDGE_PSC_CLIENT_SECRET": "bridge-test-secret", **(env or {})}
        server = start_bridge(full_env, clock=clock, store=store, reserved=reserved)
        server.psc = psc
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()


@pytest.fixture
def bridge_server(bridge_factory):
    return bridge_factory()


def form_fields(html: str) -> tuple[str, dict]:
    """(action, hidden fields) of the first form of a page; enough for the bridge's and the emulator's forms."""
    action = unescape(re.search(r'<form[^>]*action="([^"]*)"', html).group(1))
    hidden = {unescape(n): unescape(v) for n, v in
              re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html)}
    return action, hidden


class AppClient:
    """A local app doing the OIDC code flow with PKCE against the bridge, as any standard library would."""

    def __init__(self, bridge_url: str, client_id: str, client_secret: str | None, redirect_uri: str,
                 scope: str = "openid profile rpps"):
        self.bridge_url, self.redirect_uri = bridge_url, redirect_uri
        self.oauth = OAuth2Session(client_id, client_secret, scope=scope, redirect_uri=redirect_uri,
                                   code_challenge_method="S256",
                                   token_endpoint_auth_method="client_secret_basic" if client_secret else "none")
        self.metadata = requests.get(f"{bridge_url}/.well-known/openid-configuration", timeout=10).json()
        self.pending: dict = {}

    def authorize_url(self, **extra) -> str:
        import secrets

        state, nonce, verifier = secrets.token_urlsafe(12), secrets.token_urlsafe(12), secrets.token_urlsafe(48)
        url, _ = self.oauth.create_authorization_url(self.metadata["authorization_endpoint"], state=state,
                                                     nonce=nonce, code_verifier=verifier, **extra)
        self.pending = {"state": state, "nonce": nonce, "verifier": verifier}
        return url

    def follow(self, browser: requests.Session, url: str, *, user="899700000001", auth_mode="CARD",
               activity: str | None = None, max_steps: int = 12) -> requests.Response | dict:
        """Drive the browser until the app's redirect_uri (returns its query as a dict) or a final page."""
        from tests.support.psc import psc_login

        for _ in range(max_steps):
            if url.startswith(self.redirect_uri):
                return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
            response = browser.get(url, allow_redirects=False, timeout=30, verify=browser.verify)
            if response.is_redirect:
                url = urljoin(url, response.headers["Location"])
                continue
            if response.status_code == 200 and 'name="auth_mode"' in response.text:  # the PSC emulator's page
                url = psc_login(browser, url, user=user, auth_mode=auth_mode)
                continue
            if response.status_code == 200 and 'name="activity"' in response.text:
                action, hidden = form_fields(response.text)
                choice = activity or re.search(r'name="activity" value="([^"]+)"', response.text).group(1)
                response = browser.post(urljoin(url, action), data={**hidden, "activity": choice},
                                        allow_redirects=False, timeout=30)
                if response.is_redirect:
                    url = urljoin(url, response.headers["Location"])
                    continue
            return response
        raise AssertionError("too many redirects")

    def login(self, browser: requests.Session, **kwargs):
        extra = {k: kwargs.pop(k) for k in list(kwargs) if k in ("prompt", "max_age", "login_hint", "acr_values")}
        return self.follow(browser, self.authorize_url(**extra), **kwargs)

    def exchange(self, code: str) -> dict:
        return dict(self.oauth.fetch_token(self.metadata["token_endpoint"], code=code,
                                           code_verifier=self.pending["verifier"], timeout=10))

    def verify_id_token(self, id_token: str) -> dict:
        keys = KeySet.import_key_set(requests.get(self.metadata["jwks_uri"], timeout=10).json())
        claims = jwt.decode(id_token, keys, algorithms=["RS256", "ES256"]).claims
        registry = jwt.JWTClaimsRegistry(iss={"essential": True, "value": self.metadata["issuer"]},
                                         aud={"essential": True, "value": self.oauth.client_id},
                                         nonce={"essential": True, "value": self.pending["nonce"]},
                                         exp={"essential": True}, iat={"essential": True})
        registry.validate(claims)
        return claims


class Receiver:
    """A tiny app backend: records back-channel logout tokens POSTed to it (any path)."""

    def __init__(self):
        from werkzeug.wrappers import Request, Response

        self.received: list[tuple[str, str]] = []   # (path, logout_token)
        self.status = 200

        @Request.application
        def app(request):
            self.received.append((request.path, request.form.get("logout_token", "")))
            return Response("", status=self.status)

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def tokens_for(self, path_prefix: str) -> list[str]:
        return [token for path, token in self.received if path.startswith(path_prefix)]


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.server.shutdown()


def rewrite_policies(directory, base_url: str, extra: dict[str, str] | None = None):
    """Copy policies/*.yaml into `directory` with the demo apps' URLs pointing at `base_url`."""
    from pathlib import Path

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for source in Path("policies").glob("*.yaml"):
        (directory / source.name).write_text(source.read_text().replace("http://127.0.0.1:8002", base_url))
    for name, text in (extra or {}).items():
        (directory / name).write_text(text.replace("http://127.0.0.1:8002", base_url))
    return directory


def at(base_url: str, conf: dict) -> dict:
    """A client configuration whose redirect URI points at base_url instead of the demo apps' port."""
    return {**conf, "redirect_uri": conf["redirect_uri"].replace("http://127.0.0.1:8002", base_url)}
