"""The per-client `require_pushed_authorization_requests` field (RFC 9126 §5): a boolean, checked by the loader."""
from __future__ import annotations

from bridge.policy.clients import read_client
from bridge.policy.report import Report

BASE = {"client_id": "app", "token_endpoint_auth_method": "none", "redirect_uris": ["https://app.example/cb"]}


def test_require_par_defaults_to_false_and_reads_true():
    report = Report("p.yaml")
    assert read_client(report, BASE, 0, dev=False).require_pushed_authorization_requests is False
    client = read_client(report, {**BASE, "require_pushed_authorization_requests": True}, 0, dev=False)
    assert client.require_pushed_authorization_requests is True and not report.errors


def test_require_par_must_be_a_boolean():
    report = Report("p.yaml")
    client = read_client(report, {**BASE, "require_pushed_authorization_requests": "yes"}, 0, dev=False)
    assert client.require_pushed_authorization_requests is False
    assert any("require_pushed_authorization_requests" in str(error) for error in report.errors)
