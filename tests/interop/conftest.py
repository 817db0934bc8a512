"""Interop suite: certified client libraries (Node and Python) against a real `bridge serve` on Redis + PSC emulator.

Every test carries `@pytest.mark.client(library, operation)`; the outcomes are written to a results JSON
(var/interop-results.json, or $INTEROP_RESULTS) that tests/interop/matrix.py turns into docs/provider.md's matrix.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import pytest
import requests
from joserfc.jwk import ECKey, RSAKey

from tests.support.bridge import PORTAIL, AppClient, at, rewrite_policies

HERE = Path(__file__).resolve().parent
NODE_DIR = HERE / "node"
ROOT = HERE.parent.parent
RESULTS = Path(os.environ.get("INTEROP_RESULTS", ROOT / "var" / "interop-results.json"))

RSA_KEY = RSAKey.generate_key(2048, private=True, parameters={"kid": "interop-rsa"})
EC_KEY = ECKey.generate_key("P-256", private=True, parameters={"kid": "interop-ec"})
KEY_FOR = {"RS256": RSA_KEY, "PS256": RSA_KEY, "ES256": EC_KEY}
USER = "899700000002"

JWT_CLIENT = "interop-jwt"
PUBLIC_CLIENT = "interop-public"
POST_CLIENT, POST_SECRET = "interop-post", "interop-post-secret"
INTEROP_POLICY = f"""
service: interop
name: Interop clients
clients:
  - client_id: {JWT_CLIENT}
    token_endpoint_auth_method: private_key_jwt
    jwks: {{"keys": [{json.dumps(RSA_KEY.as_dict(private=False))}, {json.dumps(EC_KEY.as_dict(private=False))}]}}
    redirect_uris: [http://127.0.0.1:8002/jwt/callback]
    scopes: [openid, profile]
  - client_id: {PUBLIC_CLIENT}
    token_endpoint_auth_method: none
    redirect_uris: [http://127.0.0.1:8002/public/callback]
    post_logout_redirect_uris: [http://127.0.0.1:8002/public/]
    scopes: [openid, profile]
  - client_id: {POST_CLIENT}
    client_secret_sha256: {hashlib.sha256(POST_SECRET.encode()).hexdigest()}
    token_endpoint_auth_method: client_secret_post
    redirect_uris: [http://127.0.0.1:8002/post/callback]
    post_logout_redirect_uris: [http://127.0.0.1:8002/post/]
    scopes: [openid, profile]
allowed_mie: [psc]
subject_type: public
idle_timeout: 30m
max_session: 4h
"""


def pytest_configure(config):
    config.addinivalue_line("markers", "client(library, operation): a client library doing one operation (matrix)")


_results: dict[str, dict] = {}


def _library(item) -> str | None:
    marker = item.get_closest_marker("client")
    if marker is None:
        return None
    library = marker.args[0]
    if library == "node":   # parametrized over the Node libraries
        library = item.callspec.params["lib"]
    return library


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    marker = item.get_closest_marker("client")
    if marker is None or (report.when != "call" and report.outcome == "passed"):
        return
    if hasattr(report, "wasxfail"):
        result = "xfail" if report.skipped else "xpass"
    else:
        result = {"passed": "pass", "failed": "fail", "skipped": "skip"}[report.outcome]
    key = item.nodeid
    if report.when != "call" and key in _results:
        return
    reason = ""
    xfail = item.get_closest_marker("xfail")
    if xfail is not None:
        reason = xfail.kwargs.get("reason", "")
    operation = marker.args[1]
    params = getattr(getattr(item, "callspec", None), "params", {})
    if "alg" in params:
        operation = f"{operation} {params['alg']}"
    _results[key] = {"library": _library(item), "operation": operation, "result": result, "reason": reason}


def pytest_sessionfinish(session):
    if not _results:
        return
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    previous = {}
    if RESULTS.exists():   # a partial run (one file) keeps the other rows
        try:
            previous = json.loads(RESULTS.read_text())
        except ValueError:
            previous = {}
    RESULTS.write_text(json.dumps({**previous, **_results}, indent=1, sort_keys=True))


# ------------------------------------------------------------------------------------------------ the bridge
@pytest.fixture
def server(bridge_factory, receiver, tmp_path):
    """A bridge whose apps (demo-portail, the interop clients) live at the receiver's URL."""
    policies = rewrite_policies(tmp_path / "policies", receiver.url, {"interop.yaml": INTEROP_POLICY})
    server = bridge_factory(env={"BRIDGE_POLICIES_DIR": str(policies)})
    server.receiver = receiver
    server.issuer = server.bridge.settings.issuer
    server.portail = at(receiver.url, PORTAIL)
    server.portail_logout = f"{receiver.url}/portail/"
    return server


@pytest.fixture
def server_without_logout_state(bridge_factory, receiver, tmp_path):
    """Like `server`, with a PSC that drops `state` on its post-logout redirect (as real PSC-like issuers do)."""
    policies = rewrite_policies(tmp_path / "policies", receiver.url, {"interop.yaml": INTEROP_POLICY})
    server = bridge_factory(env={"BRIDGE_POLICIES_DIR": str(policies)}, omit_logout_state=True)
    server.receiver, server.issuer = receiver, server.bridge.settings.issuer
    server.portail, server.portail_logout = at(receiver.url, PORTAIL), f"{receiver.url}/portail/"
    return server


def redirect_uri(server, client_id: str) -> str:
    path = {JWT_CLIENT: "jwt", PUBLIC_CLIENT: "public", POST_CLIENT: "post", "demo-portail": "portail"}[client_id]
    return f"{server.receiver.url}/{path}/callback"


def browser_login(server, url: str, callback: str, browser: requests.Session | None = None) -> str:
    """The user's browser from the library's authorization URL to the app's callback: that callback URL."""
    driver = AppClient.__new__(AppClient)   # only follow(): no Authlib session or discovery needed
    driver.bridge_url, driver.redirect_uri = server.url, callback
    result = driver.follow(browser if browser is not None else requests.Session(), url, user=USER)
    assert isinstance(result, dict), f"login did not come back to {callback}: {getattr(result, 'status_code', '')}"
    return f"{callback}?{urlencode(result)}"


def query(url: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def follow_logout(browser: requests.Session, url: str, target: str, max_steps: int = 8) -> str:
    """Follow the RP-initiated logout redirects (bridge, PSC, bridge) until the app's page: that URL."""
    for _ in range(max_steps):
        if url.startswith(target):
            return url
        response = browser.get(url, allow_redirects=False, timeout=30)
        if not response.is_redirect:
            return url
        url = urljoin(url, response.headers["Location"])
    raise AssertionError("too many redirects")


# ------------------------------------------------------------------------------------------------ Node
def node_available() -> str:
    """The `node` binary, or pytest.fail: a missing Node runtime is a failure (CI or not), never a skip."""
    node = shutil.which("node")
    missing = []
    if node is None:
        missing.append("`node` is not on PATH (apt-get install nodejs npm)")
    for package in ("openid-client", "oauth4webapi"):
        if not (NODE_DIR / "node_modules" / package / "package.json").exists():
            missing.append(f"{package} is not installed (npm ci --prefix tests/interop/node)")
    if missing:
        where = "in CI" if os.environ.get("CI") else "locally"
        pytest.fail(f"Node interop clients unavailable {where}: " + "; ".join(missing) + ". Run `make test-deps`.",
                    pytrace=False)
    return node


def run_node(lib: str, step: str, **payload) -> dict:
    node = node_available()
    done = subprocess.run([node, str(NODE_DIR / "oidc.mjs"), lib, step], input=json.dumps(payload),
                          capture_output=True, text=True, timeout=60, cwd=NODE_DIR)
    assert done.returncode == 0 and done.stdout, f"node {lib} {step}: rc={done.returncode} {done.stderr[-2000:]}"
    return json.loads(done.stdout)


class NodeSession:
    """One long-running `node oidc.mjs <lib> session`: the library's configuration and JWKS cache persist
    between steps, as in a running app."""

    def __init__(self, lib: str, **common):
        self.common = common
        self.process = subprocess.Popen([node_available(), str(NODE_DIR / "oidc.mjs"), lib, "session"],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True, cwd=NODE_DIR)

    def __call__(self, step: str, **payload) -> dict:
        self.process.stdin.write(json.dumps({**self.common, **payload, "step": step}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line, f"node session ended: {self.process.stderr.read()[-2000:]}"
        return json.loads(line)

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(10)
