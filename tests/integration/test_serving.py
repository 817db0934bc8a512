"""The production entrypoint, outside a container: `bridge serve` (the image's CMD) runs gunicorn with several
workers on a free port, with a real Redis and the PSC emulator; a real OIDC client logs in through it."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from tests.support.bridge import PORTAIL, AppClient
from tests.support.serving import PSC_SECRET, ROOT, SECRET_KEY, bridge_command

PUBLIC_PARAMETERS = {"client_id", "scope", "response_type", "code_challenge_method", "acr_values", "iss",
                     "redirect_uri", "post_logout_redirect_uri", "prompt", "login_hint", "max_age", "ui_locales"}


def metric_value(text: str, name: str, **labels) -> float:
    """Sum of the samples of `name` whose labels include `labels`."""
    total = 0.0
    for line in text.splitlines():
        match = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? ([0-9.eE+-]+)$", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(3) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(match.group(4))
    return total


def test_bridge_serve_runs_a_full_oidc_login_under_gunicorn(served_bridge):
    app, browser = AppClient(served_bridge.url, **PORTAIL), requests.Session()
    result = app.login(browser, user="899700000002", auth_mode="CARD")
    assert result["iss"] == served_bridge.url and result["state"] == app.pending["state"]
    tokens = app.exchange(result["code"])
    claims = app.verify_id_token(tokens["id_token"])  # signed by a key that every worker publishes
    assert claims["sub"] == "899700000002" and claims["mie"] == "psc-card"
    for _ in range(4):  # several requests: both workers answer with the same keys and sessions
        info = requests.get(app.metadata["userinfo_endpoint"], timeout=10,
                            headers={"Authorization": f"Bearer {tokens['access_token']}"})
        assert info.status_code == 200 and info.json()["sub"] == "899700000002"
        assert requests.get(app.metadata["jwks_uri"], timeout=10).json() == \
            requests.get(app.metadata["jwks_uri"], timeout=10).json()

    ready = requests.get(served_bridge.url + "/readyz", timeout=10)
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["status"] == "ready"
    assert [c["name"] for c in body["checks"]] == ["store", "policies", "signing_keys", "psc_discovery",
                                                  "certificates"]
    assert all(c["ok"] for c in body["checks"])

    scrape = requests.get(served_bridge.url + "/metrics", timeout=10).text
    assert metric_value(scrape, "bridge_http_requests_total", endpoint="/token", status="200") == 1
    assert metric_value(scrape, "bridge_http_requests_total", endpoint="/userinfo", status="200") == 4
    assert metric_value(scrape, "bridge_upstream_request_duration_seconds_count", endpoint="token") == 1
    assert metric_value(scrape, "bridge_upstream_request_duration_seconds_count", endpoint="userinfo") == 1


def test_metrics_add_up_the_values_of_every_worker(served_bridge):
    def scrape() -> str:
        return requests.get(served_bridge.url + "/metrics", timeout=10).text

    deadline = time.monotonic() + 60
    while metric_value(scrape(), "bridge_app_starts_total") < 2 and time.monotonic() < deadline:
        time.sleep(0.1)  # each worker counts its start once it has booted
    pids = {re.search(r"_(\d+)\.db$", p.name).group(1) for p in served_bridge.metrics_dir.glob("counter_*.db")}
    assert len(pids) == 2, f"metric files of {pids}: the two workers do not share the metrics directory"
    before = metric_value(scrape(), "bridge_http_requests_total", endpoint="/healthz")
    requests_made = 24
    for _ in range(requests_made):
        assert requests.get(served_bridge.url + "/healthz", timeout=10).status_code == 200
    for _ in range(4):  # whichever worker answers the scrape, it reports the values of both
        text = scrape()
        assert metric_value(text, "bridge_app_starts_total") == 2
        assert metric_value(text, "bridge_http_requests_total", endpoint="/healthz") == before + requests_made


def test_sigterm_lets_the_request_in_flight_finish(served_bridge_factory):
    """Graceful shutdown: PSC answers the token request slowly; SIGTERM arrives meanwhile; the user's login
    still completes and the server exits 0."""
    served = served_bridge_factory(env={"BRIDGE_GRACEFUL_TIMEOUT": "30"})
    token_requested = threading.Event()

    @served.psc.app.before_request
    def _spy():
        from flask import request

        if request.path.endswith("/token"):
            token_requested.set()

    served.psc.set_faults({"token_delay": 2})
    app, browser = AppClient(served.url, **PORTAIL), requests.Session()
    from tests.support.psc import psc_login

    first = browser.get(app.authorize_url(), allow_redirects=True, timeout=10)
    callback = psc_login(browser, first.url, user="899700000002")
    outcome: dict = {}
    worker = threading.Thread(target=lambda: outcome.update(
        response=browser.get(callback, allow_redirects=False, timeout=60)))
    worker.start()
    assert token_requested.wait(30), "the bridge never called PSC's token endpoint"
    served.process.send_signal(signal.SIGTERM)
    worker.join(60)
    response = outcome["response"]
    assert response.status_code == 302 and response.headers["Location"].startswith(PORTAIL["redirect_uri"])
    assert "code=" in response.headers["Location"]
    assert served.process.wait(60) == 0
    events = [line.get("event", "") for line in served.log_lines()]
    assert any("Handling signal: term" in event for event in events)


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
def test_a_full_login_leaves_no_secret_code_or_token_in_the_logs(served_bridge_factory, level):
    """Everything `bridge serve` writes (stdout + stderr) during a login, token, userinfo and logout: JSON lines
    only, one request line per request, and none of the secrets, codes, states, tokens or cookies."""
    served_bridge = served_bridge_factory(env={"BRIDGE_LOG_LEVEL": level})
    psc_tokens: list[dict] = []

    @served_bridge.psc.app.after_request
    def _record(response):
        from flask import request

        if request.path.endswith("/token") and response.is_json:
            psc_tokens.append(response.get_json())
        return response

    seen: list[requests.Response] = []
    browser = requests.Session()
    browser.hooks["response"].append(lambda response, *a, **k: seen.append(response))
    app = AppClient(served_bridge.url, **PORTAIL)
    result = app.login(browser, user="899700000002")
    tokens = app.exchange(result["code"])
    requests.get(app.metadata["userinfo_endpoint"], timeout=10,
                 headers={"Authorization": f"Bearer {tokens['access_token']}"}).raise_for_status()
    logout = browser.get(f"{served_bridge.url}/logout", timeout=10, allow_redirects=False,
                         params={"id_token_hint": tokens["id_token"], "client_id": PORTAIL["client_id"]})
    assert logout.status_code in (200, 302)
    assert psc_tokens, "PSC's token response was not seen"

    secrets_ = {"app client secret": PORTAIL["client_secret"], "PSC client secret": PSC_SECRET,
                "bridge secret key": SECRET_KEY, "authorization code": result["code"],
                "app state": app.pending["state"], "nonce": app.pending["nonce"],
                "PKCE verifier": app.pending["verifier"], "access token": tokens["access_token"],
                "id token": tokens["id_token"]}
    for index, psc in enumerate(psc_tokens):
        for name in ("access_token", "id_token", "refresh_token"):
            if psc.get(name):
                secrets_[f"PSC {name} #{index}"] = psc[name]
    for index, response in enumerate(seen):  # every code, state, txn... that travelled in a URL, every cookie
        for url in [response.url, response.headers.get("Location", "")]:
            for name, value in parse_qsl(urlsplit(url).query):
                if name not in PUBLIC_PARAMETERS and len(value) >= 8:
                    secrets_[f"URL parameter {name} ({urlsplit(url).path}, #{index})"] = value
    for cookie in browser.cookies:
        secrets_[f"cookie {cookie.name}"] = cookie.value
    assert sum(name.startswith("URL parameter code ") for name in secrets_) >= 2  # PSC's code and the bridge's

    time.sleep(0.5)  # let the workers flush their last line (no assertion on time)
    logs = served_bridge.logs()
    leaked = [name for name, value in secrets_.items() if value and value in logs]
    assert not leaked, f"found in the logs: {leaked}"

    lines = served_bridge.log_lines()  # every line is JSON (json.loads raises otherwise)
    assert (level == "DEBUG") == any(line.get("level") == "debug" for line in lines)
    requests_logged = [line for line in lines if line.get("event") == "request"]
    callback = [line for line in requests_logged if line["path"] == "/psc/callback"]
    assert len(callback) == 1 and callback[0]["status"] == 302 and callback[0]["method"] == "GET"
    callback_response = next(r for r in seen if urlsplit(r.url).path == "/psc/callback")
    assert callback[0]["request_id"] == callback_response.headers["X-Request-Id"]
    assert isinstance(callback[0]["duration_ms"], float)
    assert {"/authorize", "/login/psc", "/psc/callback", "/token", "/userinfo", "/logout"} <= \
        {line["path"] for line in requests_logged}
    assert not any("?" in line["path"] for line in requests_logged)
    # the application's own events carry the request id of the request they belong to
    succeeded = [line for line in lines if line.get("event") == "login_succeeded"]
    assert succeeded and succeeded[0]["request_id"] == callback[0]["request_id"]


def test_bad_serving_settings_stop_start_up_with_one_line(tmp_path, redis_url):
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), "HOME": str(tmp_path),
           "BRIDGE_POLICIES_DIR": str(ROOT / "policies"), "BRIDGE_KEYS_DIR": str(tmp_path / "keys")}
    for extra, variable in (({"BRIDGE_WORKERS": "many"}, "BRIDGE_WORKERS"),
                            ({"BRIDGE_BIND": "localhost"}, "BRIDGE_BIND"),
                            ({"BRIDGE_WORKERS": "2"}, "BRIDGE_STORE_URL"),  # memory:// with two workers
                            ({"BRIDGE_STORE_URL": redis_url, "BRIDGE_ENV": "production"}, "BRIDGE_PUBLIC_URL")):
        result = subprocess.run(bridge_command(), env={**env, **extra}, cwd=tmp_path, capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 2, result.stderr
        assert result.stderr.strip().count("\n") == 0 and variable in result.stderr, result.stderr


def _authorize_status(url: str, redirect_uri: str) -> int:
    return requests.get(f"{url}/authorize", allow_redirects=False, timeout=10, params={
        "response_type": "code", "client_id": PORTAIL["client_id"], "redirect_uri": redirect_uri,
        "scope": "openid", "state": "s" * 16, "nonce": "n" * 16, "code_challenge": "c" * 43,
        "code_challenge_method": "S256"}).status_code


def _workers(master: int) -> set[int]:
    return {int(pid) for pid in subprocess.run(["pgrep", "-P", str(master)], capture_output=True,
                                               text=True).stdout.split()}


def test_a_bad_policy_file_never_takes_the_bridge_down_and_a_good_one_applies_on_reload(served_bridge_factory,
                                                                                        tmp_path):
    """Workers run the policies validated at start or at the last SIGHUP: a worker restarted after someone broke
    a file on disk keeps the previous set (gunicorn would otherwise stop everything when a new worker cannot
    load the app), a reload with a broken file is refused with the file and field in the log, and a reload with
    valid files applies them."""
    policies = tmp_path / "policies"
    shutil.copytree(ROOT / "policies", policies)
    served = served_bridge_factory(env={"BRIDGE_POLICIES_DIR": str(policies),
                                        "BRIDGE_AUDIT_PATH": str(tmp_path / "audit.jsonl")})
    other = "http://127.0.0.1:8002/portail/other-callback"
    assert _authorize_status(served.url, other) == 400          # not registered
    portal = policies / "demo-portail.yaml"
    original = portal.read_text()
    portal.write_text(original.replace("redirect_uris: [", f"redirect_uris: [{other}, ").replace(
        "idle_timeout: 30m", "idle_timeout: 3 days"))           # a valid URI next to an invalid timeout

    victim = sorted(_workers(served.process.pid))[0]            # a worker dies (OOM, timeout...) and is replaced
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while (victim in _workers(served.process.pid) or len(_workers(served.process.pid)) < 2) \
            and time.monotonic() < deadline:
        time.sleep(0.1)
    for _ in range(6):                                          # every worker: the previous set
        assert _authorize_status(served.url, other) == 400
        assert _authorize_status(served.url, PORTAIL["redirect_uri"]) == 302

    served.process.send_signal(signal.SIGHUP)                   # reload with the broken file: refused
    deadline = time.monotonic() + 30
    while "policy refused on reload" not in served.logs() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1)
    assert served.process.poll() is None and requests.get(served.url + "/readyz", timeout=10).status_code == 200
    refused = [line for line in served.log_lines() if "policy refused on reload" in line.get("event", "")]
    assert any(f"{portal}:" in line["event"] and "idle_timeout" in line["event"] for line in refused), refused
    assert _authorize_status(served.url, other) == 400
    audit = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert any(entry["event"] == "policy_refused" and "idle_timeout" in entry["reason"] for entry in audit)

    portal.write_text(original.replace("redirect_uris: [", f"redirect_uris: [{other}, "))
    served.process.send_signal(signal.SIGHUP)                   # reload with valid files: applied
    deadline = time.monotonic() + 30
    while _authorize_status(served.url, other) != 302 and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(2)                                               # the old workers have finished
    assert all(_authorize_status(served.url, other) == 302 for _ in range(6))
    assert served.terminate() == 0
