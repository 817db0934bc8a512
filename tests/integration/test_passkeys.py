"""Passkeys over HTTP (issue 18 items 1-2) with a real Redis, the PSC emulator and a software authenticator
(tests/support/fido.py): enrolment on /me/means right after a PSC login, login with the key on a service whose
policy allows local-fido (the same pipeline: the app gets its code, the ID token says local-fido), and the bad
input: enrolment too late or without CSRF, assertions without UV or for another origin, a cloned key, a revoked or
expired key (injected clock), the R8 lockout, a service that does not allow the means, an administrator's revoke."""
from __future__ import annotations

import json
import re
from html import unescape
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests

from bridge.clock import Clock
from tests.support.bridge import AppClient, at
from tests.support.console import console_login, csrf_of, start_stack
from tests.support.fido import SoftKey

PRO = "899700000002"
TELESERVICE = {"client_id": "teleservice-web", "client_secret": "teleservice-secret",
               "redirect_uri": "http://127.0.0.1:8002/teleservice/callback", "scope": "openid profile rpps"}
DPI = {"client_id": "dpi-web", "client_secret": "dpi-secret",
       "redirect_uri": "http://127.0.0.1:8002/dpi/callback", "scope": "openid profile rpps"}


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def env():
    return {}


@pytest.fixture
def stack(tmp_path, redis_url, psc_emulator_factory, receiver, clock, env):
    server = start_stack(tmp_path, redis_url, psc_emulator_factory, receiver.url, clock=clock, env_extra=env)
    server.receiver = receiver
    yield server
    server.stop()


def audit(stack) -> list[dict]:
    return [json.loads(line) for line in stack.bridge.settings.audit_path.read_text().splitlines()]


def psc_session(stack, user=PRO) -> requests.Session:
    """A browser with a fresh PSC login (the DPI service offers PSC alone: no chooser)."""
    browser = requests.Session()
    answer = AppClient(stack.url, **at(stack.receiver.url, DPI)).login(browser, user=user)
    assert "code" in answer, answer
    return browser


def enrol(stack, browser, soft: SoftKey, name="Clé bleue", **register) -> requests.Response:
    page = browser.get(f"{stack.url}/me/means", timeout=10)
    csrf = csrf_of(page.text)
    options = browser.post(f"{stack.url}/me/means/options", json={"csrf": csrf}, timeout=10)
    assert options.status_code == 200, options.text
    credential = soft.register(options.json(), **{"origin": stack.url, **register})
    return browser.post(f"{stack.url}/me/means/register", data={"csrf": csrf, "credential": credential, "name": name},
                        allow_redirects=False, timeout=10)


def passkey_login(stack, soft: SoftKey, browser=None, client=TELESERVICE, **assertion):
    """/authorize -> chooser -> /login/fido -> options -> assertion -> verify; (app answer or page, browser)."""
    browser = browser or requests.Session()
    app = AppClient(stack.url, **at(stack.receiver.url, client))
    chooser = browser.get(app.authorize_url(), timeout=10)
    link = re.search(r'href="([^"]*/login/fido\?txn=[^"]+)"', chooser.text)
    assert link, chooser.text
    page = browser.get(urljoin(stack.url, unescape(link.group(1))), timeout=10)
    txn = parse_qs(urlsplit(page.url).query)["txn"][0]
    csrf = csrf_of(page.text)
    options = browser.post(f"{stack.url}/login/fido/options", json={"txn": txn, "csrf": csrf}, timeout=10)
    assert options.status_code == 200, options.text
    answer = browser.post(f"{stack.url}/login/fido/verify", allow_redirects=False, timeout=10, data={
        "txn": txn, "csrf": csrf, "credential": soft.assert_(options.json(), **{"origin": stack.url, **assertion})})
    if answer.is_redirect and answer.headers["Location"].startswith(app.redirect_uri):
        query = {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["Location"]).query).items()}
        return app.verify_id_token(app.exchange(query["code"])["id_token"]), answer
    return None, answer


def test_enrol_after_psc_then_log_in_with_the_key(stack):
    browser, soft = psc_session(stack), SoftKey()
    answer = enrol(stack, browser, soft)
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/me/means?done=added")
    listed = browser.get(f"{stack.url}/me/means?done=added", timeout=10).text
    assert "Clé bleue" in listed and 'data-done="added"' in listed
    claims, _ = passkey_login(stack, soft)
    assert claims is not None
    assert claims["sub"] and claims["amr"] == ["hwk", "user", "mfa"] and claims["acr"] == "eidas1"
    assert claims.get("family_name"), claims   # the identity kept at enrolment: the claims work
    events = [(line["event"], line["mie"]) for line in audit(stack)]
    assert ("fido_enrolled", "local-fido") in events and ("login_succeeded", "local-fido") in events


def test_the_chooser_offers_the_key_only_where_the_policy_allows_it(stack):
    browser, soft = psc_session(stack), SoftKey()
    enrol(stack, browser, soft)
    chooser = requests.Session().get(AppClient(stack.url, **at(stack.receiver.url, TELESERVICE)).authorize_url(),
                                     timeout=10)
    assert 'data-mie="local-fido"' in chooser.text
    # dpi allows PSC alone: a forged /login/fido for its login is refused by the policy
    other = requests.Session()
    first = other.get(AppClient(stack.url, **at(stack.receiver.url, DPI)).authorize_url(), allow_redirects=False,
                      timeout=10)
    txn = parse_qs(urlsplit(first.headers["Location"]).query)["txn"][0]
    assert other.get(f"{stack.url}/login/fido?txn={txn}", timeout=10).status_code == 403


def test_no_enrolment_without_a_recent_strong_login(stack, clock):
    browser = psc_session(stack)
    csrf = csrf_of(browser.get(f"{stack.url}/me/means", timeout=10).text)
    clock.advance(301)   # BRIDGE_FIDO_ENROL_WINDOW: 5 minutes
    page = browser.get(f"{stack.url}/me/means", timeout=10)
    assert 'data-refusal="fido_enrol_too_old"' in page.text and 'id="means-relogin"' in page.text
    assert 'id="enrol-form"' not in page.text
    options = browser.post(f"{stack.url}/me/means/options", json={"csrf": csrf}, timeout=10)
    assert options.status_code == 403 and options.json()["error"] == "fido_enrol_too_old"


def test_enrolment_needs_a_session_and_the_csrf_token(stack):
    assert requests.get(f"{stack.url}/me/means", timeout=10).status_code == 401
    browser = psc_session(stack)
    assert browser.post(f"{stack.url}/me/means/options", json={"csrf": "forged"}, timeout=10).status_code == 403


def test_a_registration_for_another_origin_is_refused(stack):
    browser = psc_session(stack)
    answer = enrol(stack, browser, SoftKey(), origin="https://evil.example")
    assert answer.status_code == 403 and 'data-error-code="fido_wrong_origin"' in answer.text
    assert [line["reason"] for line in audit(stack) if line["event"] == "fido_enrolled"] == ["fido_wrong_origin"]


@pytest.mark.parametrize("assertion,code", [({"uv": False}, "fido_no_user_verification"),
                                            ({"origin": "https://evil.example"}, "fido_wrong_origin"),
                                            ({"rp_id": "evil.example"}, "fido_wrong_rp")])
def test_bad_assertions_create_no_session(stack, assertion, code):
    soft = SoftKey()
    enrol(stack, psc_session(stack), soft)
    claims, answer = passkey_login(stack, soft, **assertion)
    assert claims is None and answer.status_code == 403 and f'data-error-code="{code}"' in answer.text
    assert "Set-Cookie" not in answer.headers or "bridge_session" not in answer.headers["Set-Cookie"]


def test_a_cloned_key_is_refused_and_audited(stack):
    soft = SoftKey()
    enrol(stack, psc_session(stack), soft)
    assert passkey_login(stack, soft)[0] is not None
    assert passkey_login(stack, soft)[0] is not None
    claims, answer = passkey_login(stack, soft, counter=1)
    assert claims is None and 'data-error-code="fido_cloned"' in answer.text
    assert [line["details"]["key_id"] for line in audit(stack) if line["event"] == "fido_cloned"]


def test_a_revoked_key_no_longer_logs_in(stack):
    browser, soft = psc_session(stack), SoftKey()
    enrol(stack, browser, soft)
    page = browser.get(f"{stack.url}/me/means", timeout=10).text
    key = re.search(r'data-revoke="([^"]+)"', page).group(1)
    revoked = browser.post(f"{stack.url}/me/means/revoke", data={"csrf": csrf_of(page), "key": key},
                           allow_redirects=False, timeout=10)
    assert revoked.status_code == 303
    assert "means-none" in browser.get(f"{stack.url}/me/means", timeout=10).text
    claims, answer = passkey_login(stack, soft)
    assert claims is None and 'data-error-code="fido_key_revoked"' in answer.text
    assert [line["details"]["by"] for line in audit(stack) if line["event"] == "fido_revoked"] == ["owner"]


def test_the_attestation_report_shows_enrolment_and_lifecycle_enforced_with_their_evidence(stack):
    """RIE-PS 07 (R12) and 08/09 (R13): organisational for ANS's means, applied by the bridge to passkeys."""
    from bridge.attest import build_report

    browser = psc_session(stack)
    enrol(stack, browser, SoftKey())
    enrol(stack, browser, SoftKey(), name="Clé rouge")
    page = browser.get(f"{stack.url}/me/means", timeout=10).text
    key = re.search(r'data-revoke="([^"]+)"', page).group(1)
    browser.post(f"{stack.url}/me/means/revoke", data={"csrf": csrf_of(page), "key": key}, timeout=10)
    b = stack.bridge
    for lang, enrolled, revoked in (("fr", "; 2 enrôlement(s) sur la période", "; 1 révocation(s) sur la période"),
                                    ("en", "; 2 enrolment(s) in the period", "; 1 revocation(s) in the period")):
        report = build_report(b.policies, b.settings, clock=b.clock, lang=lang)
        rules = {s.id: {r.code: r for r in s.rules} for s in report.services}
        tele, dpi = rules["teleservice-historique"], rules["dpi"]
        assert tele["enrollment"].status == tele["mie_lifecycle"].status == "enforced"
        assert "BRIDGE_FIDO_ENROL_WINDOW = 5m" in tele["enrollment"].detail
        assert tele["enrollment"].detail.endswith(enrolled) and tele["mie_lifecycle"].detail.endswith(revoked)
        assert "BRIDGE_FIDO_KEY_LIFETIME" in tele["mie_lifecycle"].detail
        assert dpi["enrollment"].status == dpi["mie_lifecycle"].status == "organisational"


def test_rename_needs_the_csrf_token(stack):
    browser = psc_session(stack)
    enrol(stack, browser, SoftKey())
    page = browser.get(f"{stack.url}/me/means", timeout=10).text
    key = re.search(r'data-revoke="([^"]+)"', page).group(1)
    assert browser.post(f"{stack.url}/me/means/rename", data={"csrf": "x", "key": key, "name": "Bureau"},
                        timeout=10).status_code == 403
    done = browser.post(f"{stack.url}/me/means/rename", data={"csrf": csrf_of(page), "key": key, "name": "Bureau"},
                        allow_redirects=False, timeout=10)
    assert done.status_code == 303 and "Bureau" in browser.get(f"{stack.url}/me/means", timeout=10).text
    assert "fido_renamed" in [line["event"] for line in audit(stack)]


@pytest.mark.parametrize("env", [{"BRIDGE_FIDO_KEY_LIFETIME": "30d"}])
def test_an_expired_key_is_refused(stack, clock):
    # A lifetime shorter than the 3-year maximum: the policy's attestation (valid until 2029) still holds then.
    soft = SoftKey()
    enrol(stack, psc_session(stack), soft)
    clock.advance(30 * 86400 + 60)
    claims, answer = passkey_login(stack, soft)
    assert claims is None and 'data-error-code="fido_key_expired"' in answer.text


def test_too_many_failures_lock_the_key(stack):
    soft = SoftKey()
    enrol(stack, psc_session(stack), soft)
    for _ in range(5):
        assert passkey_login(stack, soft, uv=False)[1].status_code == 403
    claims, answer = passkey_login(stack, soft)   # the right assertion now: refused all the same, for a while
    assert claims is None and answer.status_code == 429 and 'data-error-code="fido_locked_key"' in answer.text
    lockouts = [line["details"] for line in audit(stack) if line["reason"] == "fido_lockout"]
    assert lockouts[0]["scope"] == "key" and lockouts[1]["detail"].startswith("key locked out")


def test_an_administrator_revokes_a_key_and_ends_the_sessions_it_opened(stack):
    soft = SoftKey()
    enrol(stack, psc_session(stack), soft)
    holder = requests.Session()
    assert passkey_login(stack, soft, browser=holder)[0] is not None
    assert holder.get(f"{stack.url}/me/means", timeout=10).status_code == 200   # a live session, opened by the key
    admin = requests.Session()
    assert console_login(admin, stack.url).status_code == 200
    page = admin.get(f"{stack.url}/admin/passkeys/?national_id={PRO}", timeout=10)
    key = re.search(r'data-revoke="([^"]+)"', page.text).group(1)
    forged = admin.post(f"{stack.url}/admin/passkeys/revoke", data={"csrf": "x", "national_id": PRO, "key": key},
                        timeout=10)
    assert forged.status_code == 403
    done = admin.post(f"{stack.url}/admin/passkeys/revoke", allow_redirects=False, timeout=10,
                      data={"csrf": csrf_of(page.text), "national_id": PRO, "key": key})
    assert done.status_code == 303 and "ended=1" in done.headers["Location"]
    assert holder.get(f"{stack.url}/me/means", timeout=10).status_code == 401   # its session ended with it
    assert passkey_login(stack, soft)[0] is None
    assert [line for line in audit(stack) if line["event"] == "logout" and line["reason"] == "fido_revoked"]
    lines = [line for line in audit(stack) if line["event"] == "fido_revoked"]
    assert lines[0]["details"]["by"] == "admin" and lines[0]["details"]["admin"] == "899700000001"


def test_a_store_outage_during_a_passkey_login_fails_closed(tmp_path, psc_emulator_factory, receiver, clock):
    from tests.support.redis import RedisServer

    own = RedisServer(tmp_path).start()
    server = start_stack(tmp_path, own.url, psc_emulator_factory, receiver.url, clock=clock)
    server.receiver = receiver
    try:
        soft = SoftKey()
        enrol(server, psc_session(server), soft)
        browser = requests.Session()
        app = AppClient(server.url, **at(receiver.url, TELESERVICE))
        chooser = browser.get(app.authorize_url(), timeout=10)
        page = browser.get(urljoin(server.url, unescape(re.search(r'href="([^"]*/login/fido\?txn=[^"]+)"',
                                                                  chooser.text).group(1))), timeout=10)
        txn, csrf = parse_qs(urlsplit(page.url).query)["txn"][0], csrf_of(page.text)
        options = browser.post(f"{server.url}/login/fido/options", json={"txn": txn, "csrf": csrf}, timeout=10).json()
        own.stop()
        answer = browser.post(f"{server.url}/login/fido/verify", allow_redirects=False, timeout=30, data={
            "txn": txn, "csrf": csrf, "credential": soft.assert_(options, origin=server.url)})
        assert answer.status_code == 503 and "bridge_session" not in answer.headers.get("Set-Cookie", "")
    finally:
        own.stop()
        server.stop()


def test_the_pages_speak_english_too(stack):
    browser = psc_session(stack)
    page = browser.get(f"{stack.url}/me/means?lang=en", timeout=10).text
    assert "My login means" in page and "Register a key" in page and "Mes moyens" not in page
    other = requests.Session()
    chooser = other.get(AppClient(stack.url, **at(stack.receiver.url, TELESERVICE)).authorize_url(), timeout=10)
    assert "Security key or passkey (FIDO2)" in other.get(chooser.url + "&lang=en", timeout=10).text


@pytest.mark.parametrize("env", [{"BRIDGE_RATE_LIMIT_AUTHORIZE": "2/minute"}])
def test_the_passkey_endpoints_are_rate_limited_per_address(stack):
    for path in ("/login/fido/options", "/login/fido/verify", "/me/means/options", "/me/means/register"):
        answers = [requests.post(f"{stack.url}{path}", data={"txn": "x"}, timeout=10).status_code for _ in range(3)]
        assert 429 not in answers[:2] and answers[2] == 429, (path, answers)
