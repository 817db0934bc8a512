"""The admin console: protected by the bridge itself, sessions and kill (back-channel), audit search and chain
status, services, report download; CSRF and the admin policy on every action."""
from __future__ import annotations

import json

import pytest
import requests

from bridge.admin.views import paris_stamp
from tests.support.bridge import DPI, AppClient, at
from tests.support.console import console_login, csrf_of, start_stack
from tests.support.html import parse


@pytest.fixture
def stack(tmp_path, redis_url, psc_emulator_factory, receiver):
    return start_stack(tmp_path, redis_url, psc_emulator_factory, receiver.url)


def audit_lines(server) -> list[dict]:
    return [json.loads(line) for line in server.bridge.settings.audit_path.read_text().splitlines()]


def doctor_session(server, receiver):
    """A pharmacist logged in to the DPI: the session the admin will see and kill."""
    app = AppClient(server.url, **at(receiver.url, DPI))
    result = app.login(requests.Session(), user="899700000002")
    assert "code" in result
    return app


def test_admin_sees_sessions_and_kills_one_with_backchannel_logout(stack, receiver):
    doctor_session(stack, receiver)
    admin = requests.Session()
    page = console_login(admin, stack.url)
    assert page.status_code == 200 and 'data-subject="899700000002"' in page.text
    assert 'data-client="dpi-web"' in page.text and "Sessions en cours" in page.text
    sid = next(s.sid for s in stack.bridge.sessions.list() if s.authn.identity.national_id == "899700000002")

    # Without the CSRF token nothing happens, and the refusal is audited.
    refused = admin.post(f"{stack.url}/admin/sessions/{sid}/kill", data={}, allow_redirects=False, timeout=10)
    assert refused.status_code == 403 and 'data-error-code="csrf"' in refused.text
    assert any(s.sid == sid for s in stack.bridge.sessions.list())

    done = admin.post(f"{stack.url}/admin/sessions/{sid}/kill", data={"csrf": csrf_of(page.text)}, timeout=10)
    assert done.status_code == 200 and 'id="killed"' in done.text and f'data-sid="{sid}"' not in done.text
    notice = parse(done.text).find(id="killed").text
    assert "899700000002" in notice and sid not in notice and "1 application(s)" in notice   # a person, not a sid
    stack.bridge.backchannel.wait()
    assert receiver.tokens_for("/dpi/backchannel-logout"), "the DPI got no back-channel logout"
    actions = [x for x in audit_lines(stack) if x["event"] == "admin_action"]
    assert [a["outcome"] for a in actions] == ["denied", "info"]
    assert actions[1]["details"]["command"] == "kill_session" and actions[1]["details"]["target_sid"] == sid
    assert actions[1]["subject"] == "899700000001"
    ended = [x for x in audit_lines(stack) if x["event"] == "logout" and x["reason"] == "admin_kill"]
    assert ended and ended[0]["subject"] == "899700000002"


def test_sessions_show_the_workstation_and_ending_one_needs_a_confirmation(stack, receiver):
    app = AppClient(stack.url, **at(receiver.url, DPI))
    browser = requests.Session()
    browser.headers["User-Agent"] = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
                                     "Gecko) Chrome/131.0.0.0 Safari/537.36")
    assert "code" in app.login(browser, user="899700000002")
    admin = requests.Session()
    page = parse(console_login(admin, stack.url).text)
    sid = next(s.sid for s in stack.bridge.sessions.list() if s.authn.identity.national_id == "899700000002")
    article = page.find("article", data_sid=sid)
    assert article.find(data_device=True).text == "127.0.0.1 · Chrome 131 · Windows"
    kill = article.find("button", data_kill=sid)
    assert kill.parent.parent.tag == "details"   # the button that ends the session sits behind a disclosure
    assert "sera déconnecté(e) de 1 application(s)" in kill.parent.text


def test_a_non_admin_professional_gets_a_french_403(stack):
    page = console_login(requests.Session(), stack.url, user="899700000002")
    assert page.status_code == 403
    assert "Accès réservé aux administrateurs" in page.text and 'data-error-code="admin_forbidden"' in page.text
    assert "vous ne figurez pas parmi les administrateurs" in page.text
    denied = [x for x in audit_lines(stack) if x["event"] == "login_denied" and x["service"] == "admin"]
    assert denied and denied[0]["reason"] == "not_admin" and denied[0]["subject"] == "899700000002"


def test_without_the_admin_policy_the_console_and_its_actions_are_refused(tmp_path, redis_url, psc_emulator_factory,
                                                                         receiver):
    server = start_stack(tmp_path, redis_url, psc_emulator_factory, receiver.url, with_admin=False)
    doctor_session(server, receiver)
    sid = server.bridge.sessions.list()[0].sid
    page = requests.get(f"{server.url}/admin/", timeout=10)
    assert page.status_code == 404 and 'data-error-code="admin_disabled"' in page.text
    action = requests.post(f"{server.url}/admin/sessions/{sid}/kill", data={"csrf": "x"}, timeout=10)
    assert action.status_code == 404 and 'data-error-code="admin_disabled"' in action.text
    assert [s.sid for s in server.bridge.sessions.list()] == [sid]


def test_a_forged_console_cookie_cannot_act(stack, receiver):
    doctor_session(stack, receiver)
    sid = stack.bridge.sessions.list()[0].sid
    forged = requests.post(f"{stack.url}/admin/sessions/{sid}/kill", data={"csrf": "guess"},
                           cookies={"bridge_admin": "forged"}, timeout=10)
    assert forged.status_code == 403 and 'data-error-code="admin_login_required"' in forged.text
    assert stack.bridge.sessions.list()[0].sid == sid


def test_audit_search_and_a_tampered_trail_shows_a_broken_chain(stack, receiver):
    doctor_session(stack, receiver)
    admin = requests.Session()
    console_login(admin, stack.url)
    found = admin.get(f"{stack.url}/admin/audit", params={"event": "login_succeeded", "subject": "899700000002"},
                      timeout=10)
    assert 'data-chain="ok"' in found.text
    rows = found.text.count('<tr data-event="login_succeeded">')
    assert rows == 1, found.text
    shown = parse(found.text).find("tr", data_event="login_succeeded").find("time")
    assert "Heure (Paris)" in found.text and shown.attr("datetime").endswith("Z")
    assert shown.text == paris_stamp(shown.attr("datetime")) != shown.attr("datetime")   # dd/mm/yyyy, Paris
    trail = stack.bridge.settings.audit_path
    lines = trail.read_text().splitlines()
    victim = next(i for i, line in enumerate(lines) if '"login_succeeded"' in line and "899700000002" in line)
    lines[victim] = lines[victim].replace('"psc-card"', '"cps-pin"')   # someone rewrites history
    trail.write_text("\n".join(lines) + "\n")
    broken = admin.get(f"{stack.url}/admin/audit", timeout=10)
    assert 'data-chain="broken"' in broken.text and "Chaîne rompue" in broken.text
    assert f"audit.jsonl:{victim + 2}" in broken.text   # the next line's prev no longer matches


def test_services_page_shows_policies_warnings_and_errors_on_disk(stack):
    admin = requests.Session()
    console_login(admin, stack.url)
    page = admin.get(f"{stack.url}/admin/services", timeout=10)
    for service in ("admin", "demo-portail", "dpi", "teleservice-historique"):
        assert f'data-service="{service}"' in page.text
    assert 'id="disk-ok"' in page.text
    row = parse(page.text).find("tr", data_service="teleservice-historique")
    assert row.find(data_means="declared").text.startswith("déclarés :")
    assert row.find(data_means="offered").text.startswith("proposés aujourd'hui :")
    for code in ("attested", "none", "(none)"):   # words, not the policy's codes
        assert code not in row.find(data_attestation=True).text.split()
    admin_row = parse(page.text).find("tr", data_service="admin").text
    assert "client public, PKCE)" in admin_row and "(none)" not in admin_row
    (stack.policies_dir / "broken.yaml").write_text("service: broken\nclients: []\nallowed_mie: [password]\n")
    page = admin.get(f"{stack.url}/admin/services", timeout=10)
    assert 'id="disk-errors"' in page.text and "broken.yaml" in page.text


def test_services_page_shows_the_crl_of_each_certification_authority(stack, tmp_path):
    admin = requests.Session()
    console_login(admin, stack.url)
    trust = stack.bridge.cps.trust
    cas = [cert.subject.rfc4514_string() for cert in trust.roots + trust.intermediates]
    page = admin.get(f"{stack.url}/admin/services", timeout=10)
    assert "Listes de révocation IGC-Santé" in page.text
    assert page.text.count('data-crl-state="fresh"') == len(cas) and all(ca in page.text for ca in cas)
    (tmp_path / "no-crl").mkdir()
    trust.crls.crl_dir = tmp_path / "no-crl"     # the operator's CRL directory is emptied
    page = admin.get(f"{stack.url}/admin/services", timeout=10)
    assert page.text.count('data-crl-state="missing"') == len(cas) and "absente" in page.text


def test_report_download_is_audited(stack, monkeypatch):
    import bridge.sandbox.psc
    from bridge.sandbox.selfcheck.lab import Lab

    started = []   # the emulator or the self-checks' lab bridge, were they started by the console
    monkeypatch.setattr(bridge.sandbox.psc, "serve", lambda *a, **k: started.append("psc emulator"))
    monkeypatch.setattr(Lab, "__init__", lambda *a, **k: started.append("lab"))
    admin = requests.Session()
    page = console_login(admin, stack.url)
    form = admin.get(f"{stack.url}/admin/report", timeout=10)
    assert 'id="download"' in form.text and 'name="self_checks"' not in form.text
    assert "produits par la commande bridge attest (planifiez-la, par ex. chaque nuit)" in form.text
    refused = admin.post(f"{stack.url}/admin/report", data={"service": "dpi"}, timeout=10)
    assert refused.status_code == 403
    report = admin.post(f"{stack.url}/admin/report", timeout=60,
                        data={"csrf": csrf_of(page.text), "service": "dpi", "format": "html", "lang": "fr",
                              "self_checks": "1"})
    assert report.status_code == 200 and "attachment" in report.headers["Content-Disposition"]
    assert 'data-service="dpi"' in report.text and 'data-service="admin"' not in report.text
    assert "unsafe-inline" in report.headers["Content-Security-Policy"]
    assert 'data-self-checks="not-run"' in report.text and "data-check=" not in report.text
    assert started == []   # generated from the policies, settings and audit trail only
    actions = [x for x in audit_lines(stack) if x["event"] == "admin_action" and x["outcome"] == "info"]
    assert actions[-1]["details"] == {"command": "attestation_report", "target_service": "dpi", "format": "html"}


def test_console_shows_and_serves_the_latest_run_of_bridge_attest(stack, tmp_path, monkeypatch):
    from dataclasses import replace

    from click.testing import CliRunner

    from bridge.attest import SelfCheckRun, build_report, render_html
    from bridge.attest.model import SelfCheck
    from bridge.attest.store import store_run
    from bridge.cli import main
    from bridge.clock import Clock

    attest_dir = tmp_path / "attest"
    monkeypatch.setattr(stack.bridge, "settings", replace(stack.bridge.settings, attest_dir=attest_dir))
    admin = requests.Session()
    console_login(admin, stack.url)
    empty = admin.get(f"{stack.url}/admin/report", timeout=10)
    assert 'data-no-run="empty"' in empty.text and str(attest_dir) in empty.text

    env = {"BRIDGE_POLICIES_DIR": str(stack.policies_dir), "BRIDGE_KEYS_DIR": str(tmp_path / "cli-keys"),
           "BRIDGE_ENV": "development", "BRIDGE_ATTEST_DIR": str(attest_dir)}
    stored = CliRunner().invoke(main, ["attest", "--service", "dpi", "--no-self-checks",
                                       "--out", str(tmp_path / "dpi.html")], env=env)
    assert stored.exit_code == 0, stored.stderr
    (run_id,) = [p.name for p in attest_dir.iterdir()]
    summary = json.loads((attest_dir / run_id / "summary.json").read_text())
    page = parse(admin.get(f"{stack.url}/admin/report", timeout=10).text)
    latest = page.find(id="latest-run")
    assert latest.attr("data-run") == run_id
    shown = latest.find("time")
    assert shown.attr("datetime") == summary["generated_at"] and shown.text == paris_stamp(summary["generated_at"])
    assert latest.find(data_services=True).text == "dpi" and "non exécutés" in latest.text
    link = latest.find("a", data_download="html")
    assert [a.attr("data-download") for a in latest.find_all("a", data_download=True)] == ["html"]
    served = admin.get(f"{stack.url}{link.attr('href')}", timeout=10)
    assert served.status_code == 200 and served.content == (attest_dir / run_id / "report.html").read_bytes()
    assert served.headers["Content-Type"] == "text/html; charset=utf-8"
    assert served.headers["Content-Disposition"] == f'attachment; filename="attestation-{run_id}.html"'
    assert served.headers["Content-Security-Policy"] == "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    actions = [x for x in audit_lines(stack) if x["event"] == "admin_action" and x["outcome"] == "info"]
    assert actions[-1]["details"] == {"command": "attestation_report", "target_service": "dpi", "format": "html",
                                      "run": run_id}

    # A later run, with its self-checks (as `bridge attest` stores them) and a PDF: now the latest.
    def check(name, passed):
        return SelfCheck(name, "dpi" if name != "legacy_card" else "", name, "", "", passed)
    checks = SelfCheckRun({"dpi": (check("single_factor", True), check("idle_logout", False),
                                   check("card_pin_login", None))}, (check("legacy_card", True),))
    later = build_report(stack.bridge.policies, stack.bridge.settings, clock=Clock(fixed=summary_epoch(summary) + 3600),
                         checks=checks)
    newer = store_run(attest_dir, later, render_html(later), b"%PDF-1.7 stored", policies_dir=stack.policies_dir)
    latest = parse(admin.get(f"{stack.url}/admin/report", timeout=10).text).find(id="latest-run")
    assert latest.attr("data-run") == newer.id != run_id
    counts = latest.find(data_checks_passed=True)
    assert (counts.attr("data-checks-passed"), counts.attr("data-checks-failed"),
            counts.attr("data-checks-not-run")) == ("2", "1", "1")
    assert "2 conforme(s), 1 non conforme(s), 1 non exécuté(s)" in counts.text and "dpi:idle_logout" in counts.text
    pdf = admin.get(f"{stack.url}{latest.find('a', data_download='pdf').attr('href')}", timeout=10)
    assert pdf.status_code == 200 and pdf.content == b"%PDF-1.7 stored"
    assert pdf.headers["Content-Type"] == "application/pdf" and "attachment" in pdf.headers["Content-Disposition"]

    for wrong in (f"/admin/report/runs/{run_id}/report.txt", "/admin/report/runs/20260101T000000Z/report.html",
                  f"/admin/report/runs/..%2F{run_id}/report.html", "/admin/report/runs/summary/report.html"):
        assert admin.get(f"{stack.url}{wrong}", timeout=10).status_code == 404, wrong
    outsider = requests.get(f"{stack.url}{link.attr('href')}", allow_redirects=False, timeout=10)
    assert outsider.status_code == 302 and outsider.headers["Location"].endswith("/admin/login")


def test_console_says_how_to_get_a_run_when_none_is_stored(stack, monkeypatch):
    from dataclasses import replace

    monkeypatch.setattr(stack.bridge, "settings", replace(stack.bridge.settings, attest_dir=None))
    admin = requests.Session()
    console_login(admin, stack.url)
    page = admin.get(f"{stack.url}/admin/report", timeout=10)
    notice = parse(page.text).find(data_no_run="unset")
    assert notice is not None and "BRIDGE_ATTEST_DIR n'est pas défini" in notice.text
    assert "planifiez cette commande (par ex. chaque nuit)" in notice.text
    english = admin.get(f"{stack.url}/admin/report?lang=en", timeout=10)
    assert "No run stored: BRIDGE_ATTEST_DIR is not set" in english.text


def summary_epoch(summary: dict) -> float:
    from datetime import datetime

    return datetime.fromisoformat(summary["generated_at"].replace("Z", "+00:00")).timestamp()


def test_console_cookie_is_strict_and_console_follows_the_sso_session(stack):
    admin = requests.Session()
    console_login(admin, stack.url)
    cookie = next(c for c in admin.cookies if c.name == "bridge_admin")
    assert cookie.has_nonstandard_attr("HttpOnly") and cookie.path == "/admin"
    assert cookie.get_nonstandard_attr("SameSite") == "Strict"
    session = stack.bridge.sessions.list()[0]
    stack.bridge.sessions.end(session.sid, "logout", session)   # the admin's SSO session ends elsewhere
    again = admin.get(f"{stack.url}/admin/", allow_redirects=False, timeout=10)
    assert again.status_code == 302 and again.headers["Location"].endswith("/admin/login")
