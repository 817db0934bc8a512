"""The report's live card + PIN self-check: a real cps-pin login with a virtual card in pcscd's vpcd reader, the
audit lines it produced cited; without pcscd/vpcd the check says which evidence is missing, and is not a pass."""
from __future__ import annotations

from pathlib import Path

from bridge.attest import render_html
from bridge.config import Settings
from bridge.policy import load_policies
from bridge.sandbox.selfcheck import build_report
from tests.support.html import parse

SERVICE = "teleservice-historique"


def card_check(tmp_path, lang="fr"):
    settings = Settings(policies_dir=Path("policies"), keys_dir=tmp_path / "keys")
    report = build_report(load_policies(Path("policies")), settings, service=SERVICE, lang=lang)
    page = parse(render_html(report))
    return report, page.find("article", data_check="card_pin_login")


def test_card_pin_login_through_the_virtual_card_and_the_agent(pcscd, tmp_path, monkeypatch):
    monkeypatch.setenv("BRIDGE_ATTEST_VPCD_PORT", str(pcscd.port))
    report, article = card_check(tmp_path)
    check = next(c for c in report.services[0].checks if c.id == "card_pin_login")
    assert check.passed is True, (check.observed, check.steps)
    assert article.attr("data-passed") == "true"
    rows = article.find_all("tr", data_event="login_succeeded")
    assert rows and "cps-pin" in rows[0].text and SERVICE in rows[0].text
    assert any("/login/cps/proof" in s for s in check.steps) and any("/v1/sign" in s for s in check.steps)


def test_without_vpcd_the_report_says_which_evidence_is_missing(tmp_path, monkeypatch):
    monkeypatch.setattr("bridge.sandbox.selfcheck.card_check.VPCD_DRIVER", tmp_path / "no-such-driver.so")
    report, article = card_check(tmp_path)
    check = next(c for c in report.services[0].checks if c.id == "card_pin_login")
    assert check.passed is None and article.attr("data-passed") == "none"
    assert "preuve non produite" in check.observed and "vpcd" in check.observed
    assert "non exécuté" in article.text and "conforme" not in article.text.replace("NON CONFORME", "")
    summary = parse(render_html(report)).find("tr", data_summary=SERVICE)
    assert summary.find(data_not_run="1").text == "1 non exécuté(s)"   # the synthesis says why it is not n / n


def test_a_vpcd_port_nobody_listens_on_is_named_not_a_crash(pcscd, tmp_path, monkeypatch):
    import socket

    with socket.socket() as probe:   # a port just freed: nothing listens there
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    monkeypatch.setenv("BRIDGE_ATTEST_VPCD_PORT", str(closed))
    report, article = card_check(tmp_path)
    check = next(c for c in report.services[0].checks if c.id == "card_pin_login")
    assert check.passed is None and article.attr("data-passed") == "none"
    assert f"port {closed}" in check.observed and "BRIDGE_ATTEST_VPCD_PORT" in check.observed
