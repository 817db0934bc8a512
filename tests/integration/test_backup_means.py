"""The backup means (RIE-PS 16) over HTTP with a real Redis and the PSC emulator: an administrator activates a
one-time code in the console, the professional logs in with it through the same login pipeline; and every bad
input: reused, expired (injected clock), another person, another service, self-activation, no admin session or
CSRF, too many failures (R8 lockout), a service whose policy does not allow `backup`, revocation."""
from __future__ import annotations

import json
import re
from html import unescape
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests

from bridge.clock import Clock
from bridge.sessions import COOKIE
from bridge.upstream.backup import FAILURES_PER_PERSON
from tests.integration.test_cps_login import DPI
from tests.support.bridge import AppClient, at
from tests.support.console import console_login, csrf_of, start_stack

ADMIN, PRO, OTHER = "899700000001", "899700000002", "899700000003"
SECOURS_POLICY = """# A test service that allows the backup means (docs/backup.md).
service: {service}
name: Secours {service}
clients:
  - client_id: {service}-web
    client_secret_sha256: c66d35171d4a33bea07cb405d60d3a0c8a9cd1cad1b8e646edfe5ef473c5e2b4
    redirect_uris: [http://127.0.0.1:8002/{service}/callback]
    scopes: [openid, profile, rpps]
allowed_mie: [psc, backup]
historical_teleservice: true
attestation:
  status: attested
  signed_on: 2026-10-01
  valid_until: 2029-09-30
"""


def client(receiver, service: str) -> dict:
    return at(receiver.url, {"client_id": f"{service}-web", "client_secret": "secours-secret",
                             "redirect_uri": f"http://127.0.0.1:8002/{service}/callback",
                             "scope": "openid profile rpps"})


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def stack(tmp_path, redis_url, psc_emulator_factory, receiver, clock):
    policies = tmp_path / "policies"
    policies.mkdir()
    for service in ("secours-a", "secours-b"):
        (policies / f"{service}.yaml").write_text(
            SECOURS_POLICY.format(service=service).replace("http://127.0.0.1:8002", receiver.url))
    server = start_stack(tmp_path, redis_url, psc_emulator_factory, receiver.url, clock=clock,
                         env_extra={"BRIDGE_BACKUP_CODE_TTL": "2h"})
    yield server
    server.stop()


@pytest.fixture
def admin(stack):
    browser = requests.Session()
    assert console_login(browser, stack.url).status_code == 200
    return browser


def audit(stack) -> list[dict]:
    return [json.loads(line) for line in stack.bridge.settings.audit_path.read_text().splitlines()]


def activate(stack, admin, national_id=PRO, services=("secours-a",), family="BERNARD", given="Hugo",
             csrf: str | None = None) -> requests.Response:
    page = admin.get(f"{stack.url}/admin/backup/", timeout=10)
    data = {"csrf": csrf if csrf is not None else csrf_of(page.text), "national_id": national_id,
            "family_name": family, "given_name": given, "services": list(services)}
    return admin.post(f"{stack.url}/admin/backup/activate", data=data, allow_redirects=False, timeout=10)


def code_of(answer: requests.Response) -> str:
    assert answer.status_code == 200, answer.text
    return re.search(r'id="backup-code" data-code="([^"]+)"', answer.text).group(1)


class Professional:
    """A browser logging in to a service with a backup code, as templates/backup_login.html does."""

    def __init__(self, stack, receiver, service="secours-a"):
        self.stack, self.http = stack, requests.Session()
        self.app = AppClient(stack.url, **client(receiver, service))

    def page(self) -> requests.Response:
        chooser = self.http.get(self.app.authorize_url(), timeout=10)
        assert chooser.status_code == 200 and 'data-mie="backup"' in chooser.text, chooser.text
        link = re.search(r'href="([^"]+)" data-mie="backup"', chooser.text).group(1)
        return self.http.get(urljoin(chooser.url, unescape(link)), timeout=10)

    def submit(self, national_id: str, code: str, page: requests.Response | None = None) -> requests.Response:
        page = page or self.page()
        assert page.status_code == 200, page.text
        txn = re.search(r'name="txn" value="([^"]+)"', page.text).group(1)
        return self.http.post(f"{self.stack.url}/login/backup", allow_redirects=False, timeout=10,
                              data={"txn": txn, "csrf": csrf_of(page.text), "national_id": national_id,
                                    "code": code})

    def tokens(self, answer: requests.Response) -> dict:
        assert answer.status_code == 302, answer.text
        query = parse_qs(urlsplit(answer.headers["Location"]).query)
        return self.app.verify_id_token(self.app.exchange(query["code"][0])["id_token"])


def refused(answer: requests.Response, code: str, status: int) -> None:
    assert answer.status_code == status, answer.text
    assert f'data-error="{code}"' in answer.text
    assert COOKIE not in answer.cookies


def test_admin_activates_and_the_professional_logs_in_once(stack, admin, receiver):
    answer = activate(stack, admin, services=("secours-a", "secours-b"))
    code = code_of(answer)
    assert answer.headers["Cache-Control"] == "no-store"
    assert code not in admin.get(f"{stack.url}/admin/backup/", timeout=10).text   # shown once
    pro = Professional(stack, receiver)
    page = pro.page()
    assert '<label for="backup-code">' in page.text and '<label for="backup-national-id">' in page.text
    answer = pro.submit(PRO, code.lower(), page)
    assert COOKIE in answer.cookies
    claims = pro.tokens(answer)
    assert (claims["sub"], claims["amr"], claims["acr"]) == (PRO, ["pwd"], "eidas1")
    refused(Professional(stack, receiver, "secours-b").submit(PRO, code), "backup_code_used", 400)
    lines = audit(stack)
    activation = next(line for line in lines if line["details"].get("command") == "activate_backup_code")
    assert (activation["outcome"], activation["subject"], activation["details"]["professional"]) == \
        ("success", ADMIN, PRO)
    assert activation["details"]["services"] == ["secours-a", "secours-b"]
    assert activation["details"]["ttl"] == 7200
    used = next(line for line in lines if line["event"] == "login_succeeded" and line["mie"] == "backup")
    assert (used["mie"], used["subject"], used["details"]["backup_id"]) == \
        ("backup", PRO, activation["details"]["backup_id"])
    assert not any(code in json.dumps(line) or code.replace("-", "") in json.dumps(line) for line in lines)


def test_the_login_page_in_english(stack, receiver):
    pro = Professional(stack, receiver)
    pro.http.headers["Accept-Language"] = "en"
    page = pro.page()
    assert "Log in with a backup code" in page.text and "National id (RPPS, ADELI or Pro Santé Identité)" in page.text
    answer = pro.submit(PRO, "AAAA-BBBB-CCCC", page)
    assert answer.status_code == 400 and "Wrong national id or backup code" in answer.text


def test_expired_after_the_configured_ttl(stack, admin, receiver, clock):
    code = code_of(activate(stack, admin))
    clock.advance(2 * 3600)
    refused(Professional(stack, receiver).submit(PRO, code), "backup_code_expired", 400)
    assert audit(stack)[-1]["reason"] == "backup_code_expired"


def test_another_person_and_another_service(stack, admin, receiver):
    code = code_of(activate(stack, admin))
    refused(Professional(stack, receiver).submit(OTHER, code), "backup_code_invalid", 400)
    refused(Professional(stack, receiver, "secours-b").submit(PRO, code), "backup_code_other_service", 403)
    failed = [line for line in audit(stack) if line["event"] == "login_failed"]
    assert [(f["subject"], f["reason"], f["service"]) for f in failed] == \
        [(OTHER, "backup_code_invalid", "secours-a"), (PRO, "backup_code_other_service", "secours-b")]
    pro = Professional(stack, receiver)
    assert pro.tokens(pro.submit(PRO, code))["sub"] == PRO   # neither used it up


def test_an_admin_cannot_activate_a_code_for_themselves(stack, admin):
    answer = activate(stack, admin, national_id=ADMIN, family="MARTIN", given="Camille")
    assert answer.status_code == 403 and 'data-error="backup_self_activation"' in answer.text
    assert 'id="backup-code"' not in answer.text
    line = audit(stack)[-1]
    assert (line["event"], line["outcome"], line["reason"], line["details"]["command"]) == \
        ("admin_action", "denied", "backup_self_activation", "activate_backup_code")
    assert 'id="no-pending"' in admin.get(f"{stack.url}/admin/backup/", timeout=10).text


def test_activation_needs_an_admin_session_csrf_and_a_service_that_allows_backup(stack, admin):
    anonymous = requests.post(f"{stack.url}/admin/backup/activate", data={"national_id": PRO, "services": "secours-a"},
                              allow_redirects=False, timeout=10)
    assert anonymous.status_code == 403
    assert activate(stack, admin, csrf="forged").status_code == 403
    answer = activate(stack, admin, services=("dpi",))   # dpi's policy does not list backup
    assert answer.status_code == 400 and 'data-error="backup_activation_incomplete"' in answer.text
    page = admin.get(f"{stack.url}/admin/backup/", timeout=10).text
    assert 'value="secours-a"' in page and 'value="dpi"' not in page
    assert not [line for line in audit(stack) if line["details"].get("command") == "activate_backup_code"]


def test_too_many_failures_lock_the_person(stack, admin, receiver):
    code = code_of(activate(stack, admin))
    pro = Professional(stack, receiver)
    for _ in range(FAILURES_PER_PERSON):
        refused(pro.submit(PRO, "AAAA-BBBB-CCCC"), "backup_code_invalid", 400)
    answer = pro.submit(PRO, code)   # the right code, now: refused all the same until the delay is over
    refused(answer, "backup_locked", 429)
    assert "15 minutes" in answer.text
    reasons = [line["reason"] for line in audit(stack) if line["event"] == "login_failed"]
    assert reasons[-2:] == ["backup_lockout", "backup_locked"]
    stack.bridge.clock.advance(15 * 60)   # (the bridge's clock only: its tokens would look issued in the future)
    answer = pro.submit(PRO, code)
    assert answer.status_code == 302 and "code=" in answer.headers["Location"] and COOKIE in answer.cookies


def test_a_service_that_does_not_allow_backup(stack, receiver, admin):
    code = code_of(activate(stack, admin))
    http = requests.Session()
    dpi = AppClient(stack.url, **at(receiver.url, DPI))
    first = http.get(dpi.authorize_url(), allow_redirects=False, timeout=10)
    txn = parse_qs(urlsplit(first.headers["Location"]).query)["txn"][0]
    page = http.get(f"{stack.url}/login/backup", params={"txn": txn}, timeout=10)
    assert page.status_code == 403 and 'id="deny-title"' in page.text and "backup-code" not in page.text
    answer = http.post(f"{stack.url}/login/backup", allow_redirects=False, timeout=10,
                       data={"txn": txn, "csrf": "x", "national_id": PRO, "code": code})
    assert answer.status_code == 403 and COOKIE not in answer.cookies   # CSRF first: nothing checked
    denied = [line for line in audit(stack) if line["event"] == "login_denied"]
    assert denied and denied[-1]["reason"] == "mie_not_allowed" and denied[-1]["service"] == "dpi"


def test_revocation_of_an_unused_code(stack, admin, receiver):
    code = code_of(activate(stack, admin))
    page = admin.get(f"{stack.url}/admin/backup/", timeout=10).text
    assert f'data-pending="{PRO}"' in page
    answer = admin.post(f"{stack.url}/admin/backup/revoke", data={"csrf": csrf_of(page), "national_id": PRO},
                        allow_redirects=False, timeout=10)
    assert answer.status_code == 302
    refused(Professional(stack, receiver).submit(PRO, code), "backup_code_invalid", 400)
    line = next(line for line in audit(stack) if line["details"].get("command") == "revoke_backup_code")
    assert line["subject"] == ADMIN and line["details"]["professional"] == PRO


def test_the_attestation_report_shows_the_rule_enforced_with_its_evidence(stack, admin, receiver):
    from bridge.attest import build_report

    code = code_of(activate(stack, admin, services=("secours-a", "secours-b")))
    pro = Professional(stack, receiver)
    pro.tokens(pro.submit(PRO, code))
    b = stack.bridge
    for lang, words in (("fr", "1 activation(s), 1 utilisation(s) sur la période"),
                        ("en", "1 activation(s), 1 use(s) in the period")):
        report = build_report(b.policies, b.settings, clock=b.clock, lang=lang)
        rules = {s.id: next(r for r in s.rules if r.code == "backup_mie") for s in report.services}
        assert (rules["secours-a"].status, rules["secours-a"].kind) == ("enforced", "enforced")
        assert rules["secours-a"].detail == f"allowed_mie ∋ backup; BRIDGE_BACKUP_CODE_TTL = 2h; {words}"
        assert "1 activation(s), 0 " in rules["secours-b"].detail
        assert rules["dpi"].status == "not_applicable"


def test_a_store_outage_fails_closed(tmp_path, psc_emulator_factory, receiver):
    from tests.support.redis import RedisServer

    own = RedisServer(tmp_path).start()
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "secours-a.yaml").write_text(
        SECOURS_POLICY.format(service="secours-a").replace("http://127.0.0.1:8002", receiver.url))
    server = start_stack(tmp_path, own.url, psc_emulator_factory, receiver.url)
    try:
        admin = requests.Session()
        assert console_login(admin, server.url).status_code == 200
        code = code_of(activate(server, admin))
        pro = Professional(server, receiver)
        page = pro.page()
        own.stop()
        answer = pro.submit(PRO, code, page)
        assert answer.status_code == 503 and COOKIE not in answer.cookies and not answer.is_redirect
        assert 'data-error-code="store_unavailable"' in answer.text
    finally:
        server.stop()
        own.stop()


def test_the_policy_still_decides_a_psi_identity_refused_by_identity_kinds(stack, admin, receiver):
    from bridge.sandbox.professionals import PSI_USER

    code = code_of(activate(stack, admin, national_id=PSI_USER, family="FAURE", given="Inès"))
    answer = Professional(stack, receiver).submit(PSI_USER, code)
    assert answer.status_code == 403 and COOKIE not in answer.cookies and 'id="deny-title"' in answer.text
    denied = [line for line in audit(stack) if line["event"] == "login_denied"]
    assert (denied[-1]["subject"], denied[-1]["reason"], denied[-1]["mie"]) == \
        (PSI_USER, "identity_kind_not_allowed", "backup")


def test_a_forged_form_is_refused_before_the_code_is_looked_at(stack, admin, receiver):
    code = code_of(activate(stack, admin))
    pro = Professional(stack, receiver)
    page = pro.page()
    txn = re.search(r'name="txn" value="([^"]+)"', page.text).group(1)
    data = {"txn": txn, "national_id": PRO, "code": code}
    forged = pro.http.post(f"{stack.url}/login/backup", data={**data, "csrf": "forged"}, allow_redirects=False,
                           timeout=10)
    assert forged.status_code == 403 and COOKIE not in forged.cookies
    elsewhere = requests.post(f"{stack.url}/login/backup", data={**data, "csrf": csrf_of(page.text)},
                              allow_redirects=False, timeout=10)   # another browser: the txn is not bound to it
    assert elsewhere.status_code == 400 and COOKIE not in elsewhere.cookies
    assert [line["reason"] for line in audit(stack) if line["event"] == "login_failed"] == ["csrf", "txn_invalid"]
    assert pro.tokens(pro.submit(PRO, code, page))["sub"] == PRO   # the code is still unused
