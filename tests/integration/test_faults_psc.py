"""PSC misbehaving, through whole logins (docs/operations.md#pro-santé-connect-failing): garbage on each endpoint,
slow answers, rotating keys. Each case: a clear French page with its error code, an audit line, no session, no
code for the app, never a 500 and never a hung worker.

The PSC emulator is real (in this process); garbage comes from a WSGI layer in front of it that replaces the answer
of one path, as a broken reverse proxy or a PSC incident page would. Timeouts, trickling answers, oversized answers
and the JWKS cache rules are in test_psc_bad_input.py and test_psc_upstream_edges.py."""
from __future__ import annotations

import json
import threading
import time
from urllib.parse import urlsplit

import pytest
import requests

from tests.support.bridge import PORTAIL, AppClient

HTML_ERROR = b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"


class Tamper:
    """WSGI middleware on the emulator's app: counts hits per path; replaces the answer of tampered paths."""

    def __init__(self, app):
        self.app, self.inner = app, app.wsgi_app
        self.answers: dict[str, tuple[int, str, bytes]] = {}
        self.delays: dict[str, float] = {}
        self.hits: dict[str, int] = {}
        self.lock = threading.Lock()
        app.wsgi_app = self

    def __call__(self, environ, start_response):
        path = environ["PATH_INFO"]
        with self.lock:
            self.hits[path] = self.hits.get(path, 0) + 1
        time.sleep(self.delays.get(path, 0))
        if path not in self.answers:
            return self.inner(environ, start_response)
        status, content_type, body = self.answers[path]
        start_response(f"{status} X", [("Content-Type", content_type), ("Content-Length", str(len(body)))])
        return [body]


@pytest.fixture
def psc(bridge_factory, tmp_path):
    return tampered(bridge_factory, tmp_path)


def tampered(bridge_factory, tmp_path, **env):
    trail = tmp_path / "audit.log"
    server = bridge_factory(env={"BRIDGE_AUDIT_PATH": str(trail), **env})
    server.trail, server.tamper = trail, Tamper(server.psc.app)
    meta = requests.get(server.psc.discovery_url, timeout=10).json()
    server.paths = {"discovery": urlsplit(server.psc.discovery_url).path,
                    **{name: urlsplit(meta[key]).path for name, key in (("token", "token_endpoint"),
                                                                       ("jwks", "jwks_uri"),
                                                                       ("userinfo", "userinfo_endpoint"))}}
    return server


def audit(server) -> list[dict]:
    return [json.loads(line) for line in server.trail.read_text().splitlines()]


def refused(server, code: str, status: int | None = None):
    """A login that must stop on a page with `code`, audited, without session nor code."""
    browser, succeeded = requests.Session(), successes(server)
    outcome = AppClient(server.url, **PORTAIL).login(browser, user="899700000002")
    assert not isinstance(outcome, dict), f"the app received {outcome}"
    assert 400 <= outcome.status_code < 600 and outcome.status_code != 500, outcome.status_code
    assert status is None or outcome.status_code == status
    assert f'data-error-code="{code}"' in outcome.text, outcome.text[-600:]
    assert "Connexion impossible" in outcome.text
    assert "bridge_session" not in browser.cookies
    failed = [line for line in audit(server) if line["event"] == "login_failed"]
    assert failed and failed[-1]["reason"] == code and failed[-1]["outcome"] == "failure", failed[-1:]
    assert successes(server) == succeeded
    return outcome


def successes(server) -> int:
    return sum(1 for line in audit(server) if line["event"] == "login_succeeded") if server.trail.exists() else 0


GARBAGE = {
    "html_error_page": (502, "text/html", HTML_ERROR),
    "html_with_200": (200, "text/html; charset=utf-8", HTML_ERROR.replace(b"502 Bad Gateway", b"Maintenance")),
    "not_json": (200, "application/json", b"this is not json"),
    "truncated_json": (200, "application/json", b'{"keys": [{"kty": "RSA", "kid": "k1", "n": "sXch'),
    "json_array": (200, "application/json", b"[1, 2, 3]"),
    "empty": (200, "application/json", b""),
}
EXPECTED = {"discovery": "psc_discovery", "token": "psc_error", "jwks": "psc_jwks", "userinfo": "userinfo_invalid"}


@pytest.mark.parametrize("kind", sorted(GARBAGE))
@pytest.mark.parametrize("endpoint", sorted(EXPECTED))
def test_garbage_from_psc_is_a_clear_page_audited_without_session(psc, endpoint, kind):
    psc.tamper.answers[psc.paths[endpoint]] = GARBAGE[kind]
    # an HTTP error from the token endpoint is PSC (or its proxy) failing: « injoignable », like a refused connection
    refused(psc, "psc_unreachable" if (endpoint, kind) == ("token", "html_error_page") else EXPECTED[endpoint])


def test_an_empty_jwks_is_refused(psc):
    psc.tamper.answers[psc.paths["jwks"]] = (200, "application/json", b'{"keys": []}')
    refused(psc, "psc_jwks")


def test_valid_json_with_a_wrong_content_type_is_read(psc):
    """text/plain on a JSON discovery document and JWKS (seen behind proxies): the body decides, as PSC's own
    libraries do; a body that is not JSON is refused whatever its type (above)."""
    for endpoint in ("discovery", "jwks"):
        body = requests.get(psc.psc.url + psc.paths[endpoint], timeout=10).content
        psc.tamper.answers[psc.paths[endpoint]] = (200, "text/plain", body)
    assert "code" in AppClient(psc.url, **PORTAIL).login(requests.Session(), user="899700000002")


def test_a_psc_outage_page_then_recovery_needs_no_restart(psc):
    """PSC answers its error page for a while: each login fails cleanly; once PSC is back the next login works
    (no bad discovery document or JWKS kept in a cache)."""
    for endpoint in ("discovery", "jwks"):
        psc.tamper.answers[psc.paths[endpoint]] = GARBAGE["html_error_page"]
        refused(psc, EXPECTED[endpoint])
        del psc.tamper.answers[psc.paths[endpoint]]
    assert "code" in AppClient(psc.url, **PORTAIL).login(requests.Session(), user="899700000002")


@pytest.mark.parametrize("endpoint", ["discovery", "jwks", "userinfo"])
def test_a_slow_psc_is_a_timeout_page_audited_without_session(bridge_factory, tmp_path, endpoint):
    """(The token endpoint's delay: test_psc_bad_input.py.) BRIDGE_PSC_READ_TIMEOUT 1 s, PSC answering in 3 s."""
    server = tampered(bridge_factory, tmp_path, BRIDGE_PSC_READ_TIMEOUT="1")
    server.tamper.delays[server.paths[endpoint]] = 3
    refused(server, "psc_timeout", 504)
    # the worker was released: the bridge answers the next request (a health check) at once
    assert requests.get(f"{server.url}/healthz", timeout=5).status_code == 200


# -- keys rotating ------------------------------------------------------------------------------------------------
def rotate(server) -> None:
    requests.post(f"{server.psc.url}/_emulator/rotate-keys", timeout=10).raise_for_status()


def test_rotated_keys_are_fetched_once_and_then_cached(psc):
    app = AppClient(psc.url, **PORTAIL)
    assert "code" in app.login(requests.Session(), user="899700000002")
    jwks = psc.paths["jwks"]
    assert psc.tamper.hits[jwks] == 1
    rotate(psc)
    assert "code" in app.login(requests.Session(), user="899700000003")
    assert psc.tamper.hits[jwks] == 2              # the new kid: one refetch
    for user in ("899700000001", "899700000002"):
        assert "code" in app.login(requests.Session(), user=user)
    assert psc.tamper.hits[jwks] == 2              # then cached again


def test_an_unknown_kid_costs_one_jwks_fetch_per_login_and_is_refused(psc):
    """A PSC signing with a key it does not publish: every login is refused (id_token_kid) and the bridge refetches
    the JWKS once per login, not in a loop: no storm against PSC."""
    app = AppClient(psc.url, **PORTAIL)
    assert "code" in app.login(requests.Session(), user="899700000002")
    requests.post(f"{psc.psc.url}/_emulator/faults", json={"id_token_kid_unknown": True}, timeout=10)
    before = psc.tamper.hits[psc.paths["jwks"]]
    for _ in range(3):
        refused(psc, "id_token_kid")
    assert psc.tamper.hits[psc.paths["jwks"]] - before == 3
