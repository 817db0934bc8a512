"""Probes, metrics endpoint and request log of the bridge served in-process (werkzeug) with a real Redis and the
PSC emulator. The same code runs under gunicorn: see test_serving.py."""
from __future__ import annotations

import json
import logging
from urllib.parse import parse_qsl, urlsplit

import requests

from bridge import metrics
from tests.support.bridge import PORTAIL, AppClient
from tests.support.redis import free_port

METRICS_TOKEN = "scrape-token-0123456789abcdef"


def readyz(server) -> tuple[int, dict]:
    response = requests.get(server.url + "/readyz", timeout=20)
    body = response.json()
    return response.status_code, {check["name"]: check for check in body["checks"]} | {"status": body["status"]}


def test_ready_when_store_policies_keys_and_psc_are(bridge_server):
    status, checks = readyz(bridge_server)
    assert status == 200 and checks["status"] == "ready"
    assert checks["store"]["ok"] and checks["policies"]["ok"] and checks["signing_keys"]["ok"]
    assert checks["psc_discovery"] == {**checks["psc_discovery"], "ok": True, "detail": "ok"}
    health = requests.get(bridge_server.url + "/healthz", timeout=10)
    assert health.status_code == 200 and health.json() == {"status": "ok"}


def test_store_down_is_not_ready_but_alive(bridge_factory):
    dead = f"redis://127.0.0.1:{free_port()}/0"
    server = bridge_factory(env={"BRIDGE_STORE_URL": dead})
    errors_before = metrics.STORE_ERRORS.labels("ping", "ConnectionError")._value.get()
    status, checks = readyz(server)
    assert status == 503 and checks["status"] == "not_ready"
    assert checks["store"]["ok"] is False and checks["store"]["detail"] == "StoreUnavailable"
    assert checks["policies"]["ok"] and checks["signing_keys"]["ok"] and checks["psc_discovery"]["ok"]
    assert requests.get(server.url + "/healthz", timeout=10).status_code == 200  # liveness has no dependency
    assert metrics.STORE_ERRORS.labels("ping", "ConnectionError")._value.get() == errors_before + 1
    assert "127.0.0.1" not in json.dumps(checks)  # no hosts or URLs in a public answer


def test_psc_never_reached_is_not_ready_but_a_cached_discovery_is(bridge_factory):
    server = bridge_factory()
    server.psc.stop()
    status, checks = readyz(server)
    assert status == 503 and checks["psc_discovery"] == {**checks["psc_discovery"], "ok": False,
                                                          "detail": "psc_unreachable"}

    server = bridge_factory()
    assert readyz(server)[0] == 200  # fetched and cached
    server.psc.stop()
    assert readyz(server)[0] == 200  # fresh cache: PSC not called
    from bridge.upstream.psc import METADATA_TTL

    server.bridge.psc._metadata_at -= METADATA_TTL + 1  # the cache has expired and PSC is down
    status, checks = readyz(server)
    assert status == 200 and checks["psc_discovery"]["detail"] == "stale cache (psc_unreachable)"


def test_missing_keys_or_policies_are_not_ready(bridge_server):
    bridge = bridge_server.bridge
    es256 = bridge.keys.current.pop("ES256")
    try:
        status, checks = readyz(bridge_server)
        assert status == 503 and checks["signing_keys"] == {**checks["signing_keys"], "ok": False,
                                                             "detail": "missing ES256"}
    finally:
        bridge.keys.current["ES256"] = es256
    services = dict(bridge.policies.services)
    bridge.policies.services.clear()
    try:
        status, checks = readyz(bridge_server)
        assert status == 503 and checks["policies"]["ok"] is False
    finally:
        bridge.policies.services.update(services)
    assert readyz(bridge_server)[0] == 200


def test_metrics_endpoint_and_malformed_scrapes(bridge_server):
    url = bridge_server.url + "/metrics"
    plain = requests.get(url, timeout=10)
    assert plain.status_code == 200 and plain.headers["Content-Type"].startswith("text/plain")
    assert "bridge_http_requests_total" in plain.text and "bridge_logins_total" in plain.text
    openmetrics = requests.get(url, timeout=10, headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert openmetrics.status_code == 200 and "openmetrics" in openmetrics.headers["Content-Type"]
    assert openmetrics.text.rstrip().endswith("# EOF")
    for accept in ("application/openmetrics-text; version=abc", "text/plain; version=x.y", "*/*;q=bogus",
                   ";;;,,,", "\u00e9t\u00e9/\u00e9t\u00e9", "application/openmetrics-text;version=;escaping="):
        response = requests.get(url, timeout=10, headers={"Accept": accept.encode("utf-8")})
        assert response.status_code == 200, (accept, response.status_code)
        assert "bridge_http_requests_total" in response.text
    for method in ("POST", "PUT", "DELETE"):
        response = requests.request(method, url, timeout=10, data=b"x")
        assert response.status_code == 405, (method, response.status_code)
    assert requests.head(url, timeout=10).status_code == 200


def test_metrics_show_when_each_crl_expires(bridge_factory, test_pki, tmp_path):
    """Direct card logins fail closed once a CA's CRL is stale: operators alert on
    bridge_crl_next_update_timestamp_seconds - time() (docs/card.md), read from the CRL files at scrape time."""
    crl_dir = test_pki.crl_dir(tmp_path / "crl", include_legacy=False)
    server = bridge_factory(env={"BRIDGE_TRUST_DIR": str(test_pki.trust_dir(tmp_path / "trust")),
                                 "BRIDGE_CRL_DIR": str(crl_dir)})

    def scrape() -> dict[str, float]:
        text = requests.get(server.url + "/metrics", timeout=10).text
        return {line.split('issuer="', 1)[1].split('"}', 1)[0]: float(line.rsplit(" ", 1)[1])
                for line in text.splitlines() if line.startswith("bridge_crl_next_update_timestamp_seconds{")}

    intermediate = test_pki.ca("fort-personnes").subject.rfc4514_string()
    trust = server.bridge.cps.trust
    fresh_until = test_pki.crl("fort-personnes").next_update_utc.timestamp()   # every CA's CRL: same dates
    expected = {cert.subject.rfc4514_string(): fresh_until for cert in trust.roots + trust.intermediates}
    assert intermediate in expected and scrape() == expected
    (crl_dir / "ACI-FO-PP-TEST.crl").unlink()    # the intermediate CA's CRL disappears: the next scrape says so
    assert scrape() == {**expected, intermediate: 0.0}


def test_metrics_token_is_required_when_configured(bridge_factory):
    server = bridge_factory(env={"BRIDGE_METRICS_TOKEN": METRICS_TOKEN})
    url = server.url + "/metrics"
    missing = requests.get(url, timeout=10)
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert "bridge_" not in missing.text
    for header in (f"Bearer {METRICS_TOKEN}x", f"Basic {METRICS_TOKEN}", "Bearer", METRICS_TOKEN, "Bearer é"):
        assert requests.get(url, timeout=10, headers={"Authorization": header.encode()}).status_code == 401, header
    good = requests.get(url, timeout=10, headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert good.status_code == 200 and "bridge_http_requests_total" in good.text
    assert requests.get(server.url + "/healthz", timeout=10).status_code == 200  # probes stay open


def test_http_requests_are_counted_by_url_rule(bridge_server):
    def count(endpoint: str, status: str) -> float:
        return metrics.HTTP_REQUESTS.labels(endpoint, "GET", status)._value.get()

    jwks, missing = count("/jwks", "200"), count("<unmatched>", "404")
    for _ in range(3):
        requests.get(bridge_server.url + "/jwks", timeout=10)
    requests.get(bridge_server.url + "/no/such/page/" + "x" * 40, timeout=10)
    assert count("/jwks", "200") == jwks + 3
    assert count("<unmatched>", "404") == missing + 1  # unknown paths do not create new label values


def test_in_process_login_logs_no_secret_and_one_line_per_request(bridge_server, capfd, caplog):
    caplog.set_level(logging.INFO)  # the production level; DEBUG is covered under gunicorn (test_serving.py),
    # where the bridge's records cannot be mixed up with this test client's own urllib3 records
    seen: list[requests.Response] = []
    browser = requests.Session()
    browser.hooks["response"].append(lambda response, *a, **k: seen.append(response))
    app = AppClient(bridge_server.url, **PORTAIL)
    result = app.login(browser, user="899700000002")
    tokens = app.exchange(result["code"])
    requests.get(app.metadata["userinfo_endpoint"], timeout=10,
                 headers={"Authorization": f"Bearer {tokens['access_token']}", "X-Request-Id": "probe-request-0001"})

    secrets_ = {"app client secret": PORTAIL["client_secret"], "PSC client secret": "bridge-test-secret",
                "code": result["code"], "state": app.pending["state"], "nonce": app.pending["nonce"],
                "verifier": app.pending["verifier"], "access token": tokens["access_token"],
                "id token": tokens["id_token"]}
    for index, response in enumerate(seen):
        for url in (response.url, response.headers.get("Location", "")):
            for name, value in parse_qsl(urlsplit(url).query):
                if name in ("code", "state", "nonce", "code_challenge", "txn", "session_state"):
                    secrets_[f"{name} #{index}"] = value
    for cookie in browser.cookies:
        secrets_[f"cookie {cookie.name}"] = cookie.value

    err = capfd.readouterr().err
    everything = err + "\n" + caplog.text  # stderr and every stdlib record (werkzeug's access log included)
    leaked = [name for name, value in secrets_.items() if value and value in everything]
    assert not leaked, f"found in the logs: {leaked}"

    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    logged = [line for line in lines if line.get("event") == "request"]
    assert {"/authorize", "/login/psc", "/psc/callback", "/token", "/userinfo"} <= {line["path"] for line in logged}
    probe = [line for line in logged if line["request_id"] == "probe-request-0001"]
    assert len(probe) == 1 and probe[0]["path"] == "/userinfo" and probe[0]["status"] == 200
    werkzeug = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert any("/psc/callback" in message for message in werkzeug)  # the dev server's line, without its query
