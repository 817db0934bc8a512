"""The attestation report, generated like `bridge attest` does (live self-checks by bridge.sandbox.selfcheck),
checked section by section against the policies; then printed to PDF and rendered to PNG to prove the pages are
not empty."""
from __future__ import annotations

import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest

from bridge.attest import render_html, render_pdf
from bridge.audit import Audit
from bridge.clock import Clock
from bridge.config import Settings
from bridge.policy import effective_limits, load_policies, login_means, paris_epoch, rule_catalogue
from bridge.policy.rules import ORGANISATIONAL
from bridge.sandbox.selfcheck import build_report
from tests.support.html import parse

ARTIFACTS = Path(__file__).resolve().parents[1] / "e2e" / "artifacts"
TODAY = date(2026, 11, 20)
RESERVE_POLICY = """\
service: reserve-demo
name: Service avec réserve (test)
clients:
  - client_id: reserve-web
    client_secret_sha256: 07f4acac118140b0f01f34a44264fd3caea382fdf734b0cf2aac4728215e92f7
    redirect_uris: [https://reserve.example.org/cb]
allowed_mie: [psc, cps-pin]
historical_teleservice: true
idle_timeout: 45m
max_session: 4h
attestation:
  status: reserves
  signed_on: 2026-06-01
  valid_until: 2027-05-31
  reserves:
    - requirement: RIE-PS 13
      action_plan: badgeuse sur les postes partagés
      due: 2027-03-31
"""


def write_audit(path: Path) -> None:
    """A small trail over two days: what the statistics must count."""
    clock = Clock(fixed=paris_epoch(date(2026, 11, 18), 10))
    audit = Audit(path, secret_key="k" * 32, pseudonymize=False, required=True, clock=clock)
    for mie in ("psc-card", "psc-card", "psc-card"):
        audit.record("login_succeeded", outcome="success", service="dpi", client="dpi-web", national_id="8", mie=mie)
    clock.set(paris_epoch(date(2026, 11, 19), 10))
    for mie in ("psc-ecps", "psc-ecps"):
        audit.record("login_succeeded", outcome="success", service="dpi", client="dpi-web", national_id="8", mie=mie)
    audit.record("login_denied", outcome="denied", service="dpi", client="dpi-web",
                 reason="single_factor,session_too_old")
    audit.record("idle_expired", outcome="info", client="dpi-web", reason="idle_expired")   # client only, as written
    audit.record("idle_expired", outcome="info", client="dpi-web", reason="idle_expired")
    audit.record("login_succeeded", outcome="success", service="teleservice-historique", client="teleservice-web",
                 mie="cps-pin")
    clock.set(paris_epoch(date(2026, 10, 1), 10))   # outside the period: not counted
    audit.record("login_succeeded", outcome="success", service="dpi", client="dpi-web", mie="psc-card")


@pytest.fixture(scope="module")
def setup(tmp_path_factory, pcscd):
    with pytest.MonkeyPatch.context() as env:
        env.setenv("BRIDGE_ATTEST_VPCD_PORT", str(pcscd.port))   # the card self-check uses this test's vpcd reader
        yield _build(tmp_path_factory)


def _build(tmp_path_factory):
    base = tmp_path_factory.mktemp("attest")
    policies = base / "policies"
    shutil.copytree("policies", policies)
    (policies / "reserve-demo.yaml").write_text(RESERVE_POLICY)
    write_audit(base / "audit.jsonl")
    settings = Settings(policies_dir=policies, keys_dir=base / "keys", audit_path=base / "audit.jsonl")
    now = paris_epoch(TODAY, 12)
    loaded = load_policies(policies, now=now)
    report = build_report(loaded, settings, clock=Clock(fixed=now), period_from=date(2026, 11, 1),
                          period_to=TODAY)
    return loaded, settings, report, now, base


@pytest.fixture(scope="module")
def page(setup):
    return parse(render_html(setup[2]))


def expected_status(rule, service) -> str:
    if any(f"RIE-PS {n}" in rule.source for n in ("13",)) and service.attestation.reserves:
        return "reserve"
    if rule.code in ("enrollment", "mie_lifecycle") and "local-fido" in service.allowed_mie:
        return "enforced"   # the bridge applies RIE-PS 07/08 to its passkeys (test_passkeys.py)
    if rule.kind == ORGANISATIONAL:
        return "organisational"
    return ""


def test_every_service_has_its_section_with_identification_and_means(setup, page):
    policies, _settings, _report, now, _ = setup
    sections = {s.attr("data-service"): s for s in page.find_all("section", class_="service")}
    assert set(sections) == set(policies.services)
    for service in policies.services.values():
        section = sections[service.service]
        assert section.find(data_field="name").text == service.name
        assert section.find(data_field="id").text == service.service
        rows = {row.attr("data-client"): row for row in section.find_all("tr", data_client=True)}
        assert set(rows) == {c.client_id for c in service.clients}
        for client in service.clients:
            uris = {u.text for u in rows[client.client_id].find_all(data_redirect_uri=True)}
            assert uris == set(client.redirect_uris)
        means = section.find_all("tr", data_mie=True)
        assert [m.attr("data-mie") for m in means] == list(service.allowed_mie)
        offered = {m.id for m in login_means(service, now)}
        for row in means:
            if row.attr("data-mie") != "psc":
                assert (row.attr("data-offered") == "true") == (row.attr("data-mie") in offered)
    psc_row = sections["dpi"].find("tr", data_mie="psc")
    assert "PKCE S256" in psc_row.text and "acr_values=eidas1" in psc_row.text
    card_row = sections["teleservice-historique"].find("tr", data_mie="cps-pin")
    assert "GIP-CPS" in card_row.text and "CRL" in card_row.text


def test_every_rule_has_a_status_matching_the_policy(setup, page):
    policies, *_ = setup
    codes = [r.code for r in rule_catalogue()]
    for service in policies.services.values():
        section = page.find("section", data_service=service.service)
        rows = {r.attr("data-rule"): r for r in section.find_all("tr", data_rule=True)}
        assert list(rows) == codes
        for rule in rule_catalogue():
            status = rows[rule.code].attr("data-status")
            assert status in ("enforced", "reserve", "organisational", "not_applicable")
            if expected_status(rule, service):
                assert status == expected_status(rule, service), (service.service, rule.code)
    dpi = page.find("section", data_service="dpi")
    assert dpi.find("tr", data_rule="attestation_missing").attr("data-status") == "not_applicable"
    assert dpi.find("tr", data_rule="single_factor").attr("data-status") == "enforced"
    tele = page.find("section", data_service="teleservice-historique")
    assert tele.find("tr", data_rule="attestation_missing").attr("data-status") == "enforced"
    reserve = page.find("section", data_service="reserve-demo").find("tr", data_rule="idle_timeout_too_long")
    assert reserve.attr("data-status") == "reserve"
    plan = reserve.find(data_reserve_due="2027-03-31")
    assert "badgeuse sur les postes partagés" in plan.text


def test_timeouts_attestation_and_calendar(setup, page):
    policies, _s, report, now, _ = setup
    for service in policies.services.values():
        section = page.find("section", data_service=service.service)
        limits = effective_limits(service, now)
        assert section.find(data_idle_effective=True).attr("data-idle-effective") == str(limits.idle_timeout)
        assert section.find(data_max_effective=True).attr("data-max-effective") == str(limits.max_session)
        attestation = section.find("table", data_part="attestation")
        assert attestation.attr("data-needed") == ("true" if "cps-pin" in service.allowed_mie else "false")
    assert page.find("section", data_service="reserve-demo").find(data_idle_effective=True).attr(
        "data-idle-effective") == str(45 * 60)   # above the cap, excused by the reserve
    tele = page.find("section", data_service="teleservice-historique")
    assert tele.find(data_valid_until=True).attr("data-valid-until") == "2029-09-30"
    deadlines = {d.attr("data-deadline"): int(d.attr("data-days-left")) for d in page.find_all(data_deadline=True)}
    assert deadlines == {"2026-12-31": 41, "2028-12-31": 772}


def test_live_self_checks_passed_with_their_audit_lines(setup, page):
    policies, *_ = setup
    for service in policies.services.values():
        section = page.find("section", data_service=service.service)
        checks = {c.attr("data-check"): c for c in section.find_all("article", data_check=True)}
        assert {"single_factor", "idle_logout"} <= set(checks), service.service
        if "cps-pin" in service.allowed_mie:
            assert "card_pin_login" in checks, service.service
        for check in checks.values():
            assert check.attr("data-passed") == "true", (service.service, check.text)
        assert checks["single_factor"].find_all("tr", data_event="login_denied")
        assert checks["idle_logout"].find_all("tr", data_event="idle_expired")
        assert checks["idle_logout"].find_all("tr", data_event="login_succeeded")
    legacy = page.find("section", class_="global-checks").find("article", data_check="legacy_card")
    assert legacy.attr("data-passed") == "true" and "legacy_chain" in legacy.text


def test_audit_statistics_and_chart(setup, page):
    assert page.find(data_chain=True).attr("data-chain") == "ok"
    dpi = page.find("section", data_service="dpi").find("div", data_part="stats")
    assert dpi.attr("data-logins") == "5" and dpi.attr("data-idle") == "2"
    logins = {r.attr("data-logins-mie"): r.find("td").text for r in dpi.find_all("tr", data_logins_mie=True)}
    assert logins == {"psc-card": "3", "psc-ecps": "2"}
    denials = {r.attr("data-denials-reason"): r.find("td").text for r in dpi.find_all("tr", data_denials_reason=True)}
    assert denials == {"single_factor": "1", "session_too_old": "1"}
    bars = dpi.find("svg").find_all("rect", data_mie=True)
    by_day = {(b.attr("data-bucket"), b.attr("data-mie")): int(b.attr("data-count")) for b in bars}
    assert by_day == {("2026-11-18", "psc-card"): 3, ("2026-11-19", "psc-ecps"): 2}
    tele = page.find("section", data_service="teleservice-historique").find("div", data_part="stats")
    assert tele.attr("data-logins") == "1"


def test_english_report(setup):
    policies, settings, _r, now, _ = setup
    report = build_report(policies, settings, clock=Clock(fixed=now), service="dpi", lang="en", self_checks=False)
    tree = parse(render_html(report))
    assert tree.find("html").attr("lang") == "en"
    assert "Conformity attestation report" in tree.find("h1").text
    single = tree.find("tr", data_rule="single_factor")
    assert "Authentication must combine two factors" in single.text and "enforced (at every login)" in single.text
    assert tree.find(data_self_checks=True).attr("data-self-checks") == "off"


@pytest.mark.skipif(shutil.which("pdftoppm") is None and not __import__("os").environ.get("CI"),
                    reason="poppler-utils (pdftoppm) not installed")
def test_pdf_renders_non_empty_pages(setup):
    from PIL import Image

    _p, _s, report, _n, base = setup
    pdf = base / "report.pdf"
    pdf.write_bytes(render_pdf(report))
    assert pdf.read_bytes().startswith(b"%PDF-")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", str(pdf),
                    str(ARTIFACTS / "report-page1")], check=True)
    image = Image.open(ARTIFACTS / "report-page1.png").convert("L")
    assert image.width > 500 and image.height > 700
    dark = sum(image.histogram()[:128])
    assert dark > 0.01 * image.width * image.height, "the first page is (almost) blank"
    text = subprocess.run(["pdftotext", "-f", "1", "-l", "1", str(pdf), "-"], check=True, capture_output=True,
                          text=True).stdout
    assert "Rapport d'attestation de conformité" in text and "Calendrier" in text
    pages = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True).stdout
    assert int(next(line.split()[-1] for line in pages.splitlines() if line.startswith("Pages:"))) >= len(
        report.services) + 1   # every service starts on its own page
