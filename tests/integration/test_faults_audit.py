"""Audit disk full (docs/audit.md, docs/operations.md#audit-unavailable): with BRIDGE_AUDIT_REQUIRED=1 nothing is
issued without its audit line (the login page, the code exchange, the refresh all answer 503); once space is back
the bridge resumes without a restart and the chain verifies; with BRIDGE_AUDIT_REQUIRED=0 logins go on.

"Disk full" is the audit file replaced by a symlink to /dev/full (every write fails with ENOSPC), the file kept
aside and put back to free the space: no root needed, the bridge's own write path is the real one. The login page
case of the required audit is test_audit_flow.py::test_unwritable_required_audit_fails_closed."""
from __future__ import annotations

import json
import os

import requests

from bridge.audit import verify_chain
from tests.support.bridge import PORTAIL, AppClient


class Disk:
    def __init__(self, trail):
        self.trail, self.aside = trail, trail.with_name(trail.name + ".aside")

    def fill(self) -> None:
        os.replace(self.trail, self.aside)
        self.trail.symlink_to("/dev/full")

    def free(self) -> None:
        self.trail.unlink()
        os.replace(self.aside, self.trail)


def token(server, data: dict) -> requests.Response:
    return requests.post(f"{server.url}/token", data=data, timeout=30,
                         auth=(PORTAIL["client_id"], PORTAIL["client_secret"]))


def write_failures(server) -> float:
    import re

    text = requests.get(f"{server.url}/metrics", timeout=10).text
    found = re.search(r'^bridge_audit_write_failures_total\{sink="file"\} (\S+)$', text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def events(trail) -> list[str]:
    return [json.loads(line)["event"] for line in trail.read_text().splitlines()]


def test_a_full_disk_stops_code_exchange_and_refresh_then_recovers(bridge_factory, tmp_path):
    trail = tmp_path / "audit.log"
    server = bridge_factory(env={"BRIDGE_AUDIT_PATH": str(trail), "BRIDGE_AUDIT_REQUIRED": "1"})
    first = AppClient(server.url, **PORTAIL)
    tokens = first.exchange(first.login(requests.Session(), user="899700000002")["code"])
    app = AppClient(server.url, **PORTAIL)
    code = app.login(requests.Session(), user="899700000003")["code"]
    disk = Disk(trail)
    failures = write_failures(server)
    disk.fill()
    try:
        exchange = token(server, {"grant_type": "authorization_code", "code": code, "redirect_uri": PORTAIL[
            "redirect_uri"], "code_verifier": app.pending["verifier"]})
        refresh = token(server, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
        for answer in (exchange, refresh):
            assert answer.status_code == 503, answer.text
            assert answer.json()["error"] == "temporarily_unavailable" and "access_token" not in answer.text
        assert write_failures(server) >= failures + 2      # bridge_audit_write_failures_total{sink="file"}
    finally:
        disk.free()
    # Space back: the next requests are audited again, on the same chain, without a restart.
    again = AppClient(server.url, **PORTAIL)
    assert "access_token" in again.exchange(again.login(requests.Session(), user="899700000001")["code"])
    assert events(trail).count("token_issued") == 2      # the first login's and this one's: none while full
    assert verify_chain([trail]).ok


def test_a_full_disk_with_the_audit_not_required_lets_logins_through(bridge_factory, tmp_path):
    """BRIDGE_AUDIT_REQUIRED=0 (development default): availability first, a warning audit_unavailable in the log
    for each lost line; the file's chain is intact afterwards (nothing half-written)."""
    trail = tmp_path / "audit.log"
    server = bridge_factory(env={"BRIDGE_AUDIT_PATH": str(trail), "BRIDGE_AUDIT_REQUIRED": "0"})
    AppClient(server.url, **PORTAIL).login(requests.Session(), user="899700000002")
    disk = Disk(trail)
    disk.fill()
    try:
        app = AppClient(server.url, **PORTAIL)
        assert "access_token" in app.exchange(app.login(requests.Session(), user="899700000003")["code"])
    finally:
        disk.free()
    assert "token_issued" not in events(trail) and verify_chain([trail]).ok
