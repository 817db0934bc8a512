"""The audit trail as the login flow writes it: every decision, chained, no secrets; fail closed when required."""
from __future__ import annotations

import json

import requests

from bridge.audit import verify_chain
from tests.support.bridge import DPI, PORTAIL, AppClient


def lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_login_is_audited_end_to_end_without_secrets(bridge_factory, tmp_path):
    trail = tmp_path / "audit" / "bridge.log"
    server = bridge_factory(env={"BRIDGE_AUDIT_PATH": str(trail)})
    app, browser = AppClient(server.url, **PORTAIL), requests.Session()
    tokens = app.exchange(app.login(browser, user="899700000002")["code"])
    refreshed = requests.post(f"{server.url}/token", auth=("demo-portail", "demo-portail-secret"), timeout=10, data={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}).json()
    requests.get(f"{server.url}/logout", params={"id_token_hint": tokens["id_token"]}, timeout=10,
                 cookies=browser.cookies, allow_redirects=False)
    server.bridge.backchannel.wait()
    events = [line["event"] for line in lines(trail)]
    for expected in ("policy_loaded", "login_started", "login_succeeded", "token_issued", "token_refreshed", "logout"):
        assert expected in events, events
    success = next(line for line in lines(trail) if line["event"] == "login_succeeded")
    assert success["subject"] == "899700000002" and success["mie"] == "psc-card"
    assert success["service"] == "demo-portail"
    assert success["request_id"]
    text = trail.read_text()
    for secret in (tokens["access_token"], tokens["refresh_token"], tokens["id_token"], refreshed["access_token"],
                   "demo-portail-secret", "bridge-test-secret"):
        assert secret not in text
    assert verify_chain([trail]).ok


def test_denials_and_upstream_failures_are_audited(bridge_factory, tmp_path):
    trail = tmp_path / "audit.log"
    server = bridge_factory(env={"BRIDGE_AUDIT_PATH": str(trail)})
    requests.post(f"{server.psc.url}/_emulator/faults", json={"id_token_claims": {"acr": "eidas0"}}, timeout=10)
    AppClient(server.url, **PORTAIL).login(requests.Session(), user="899700000002")
    failed = [line for line in lines(trail) if line["event"] == "login_failed"]
    assert failed and failed[0]["reason"] == "acr_unknown" and failed[0]["outcome"] == "failure"


def test_pseudonymized_subjects(bridge_factory, tmp_path):
    trail = tmp_path / "audit.log"
    server = bridge_factory(env={"BRIDGE_AUDIT_PATH": str(trail), "BRIDGE_AUDIT_PSEUDONYMIZE": "1"})
    AppClient(server.url, **DPI).login(requests.Session(), user="899700000002")
    success = next(line for line in lines(trail) if line["event"] == "login_succeeded")
    assert success["subject"].startswith("h:") and "899700000002" not in trail.read_text()


def test_unwritable_required_audit_fails_closed(bridge_factory, tmp_path):
    trail = tmp_path / "audit.log"
    server = bridge_factory(env={"BRIDGE_AUDIT_PATH": str(trail), "BRIDGE_AUDIT_REQUIRED": "1"})
    trail.unlink()
    (tmp_path / "audit.log.head").unlink(missing_ok=True)
    trail.symlink_to("/dev/full")  # ENOSPC on every write: the disk is full
    browser = requests.Session()
    outcome = AppClient(server.url, **PORTAIL).login(browser, user="899700000002")
    assert not isinstance(outcome, dict), "a code was issued without an audit line"
    assert outcome.status_code == 503 and 'data-error-code="audit_unavailable"' in outcome.text
    assert "bridge_session" not in browser.cookies
