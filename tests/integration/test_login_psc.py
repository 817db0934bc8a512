"""End to end over HTTP: app -> bridge -> PSC emulator -> bridge -> app, with a real Redis store."""
from __future__ import annotations

import flask
import pytest
import requests

from tests.support.bridge import DPI, PORTAIL, AppClient


def test_login_gives_the_app_a_code_and_tokens_for_the_national_id(bridge_server):
    app, browser = AppClient(bridge_server.url, **PORTAIL), requests.Session()
    result = app.login(browser, user="899700000002", auth_mode="CARD")
    assert result["state"] == app.pending["state"]
    assert result["iss"] == bridge_server.url  # RFC 9207
    tokens = app.exchange(result["code"])
    assert tokens["token_type"].lower() == "bearer" and 0 < tokens["expires_in"] <= 300
    claims = app.verify_id_token(tokens["id_token"])
    assert claims["sub"] == "899700000002"
    assert claims["acr"] == "eidas2" and claims["mie"] == "psc-card"   # PSC: eidas2 for CPS-card logins
    assert {"sc", "pin", "mfa"} <= set(claims["amr"])
    assert isinstance(claims["auth_time"], int) and claims["sid"]
    info = requests.get(app.metadata["userinfo_endpoint"], timeout=10,
                        headers={"Authorization": f"Bearer {tokens['access_token']}"}).json()
    assert info["sub"] == "899700000002" and info["profession"] == "21"
    assert info["national_id_type"] == "rpps" and info["activity"]["organization"]


def test_ecps_is_recognised(bridge_server):
    app = AppClient(bridge_server.url, **PORTAIL)
    result = app.login(requests.Session(), user="899700000003", auth_mode="MOBILE")
    claims = app.verify_id_token(app.exchange(result["code"])["id_token"])
    assert claims["mie"] == "psc-ecps" and "swk" in claims["amr"]


def test_only_psc_means_go_straight_to_psc(bridge_server):
    app, browser = AppClient(bridge_server.url, **PORTAIL), requests.Session()
    first = browser.get(app.authorize_url(), allow_redirects=False, timeout=10)
    assert first.status_code == 302 and first.headers["Location"].startswith("/login/psc")
    second = browser.get(bridge_server.url + first.headers["Location"], allow_redirects=False, timeout=10)
    psc_meta = requests.get(bridge_server.psc.discovery_url, timeout=10).json()
    assert second.headers["Location"].startswith(psc_meta["authorization_endpoint"])
    location = second.headers["Location"]
    assert "acr_values=eidas1" in location and "code_challenge_method=S256" in location


def test_several_activities_ask_for_the_situation_d_exercice(bridge_server):
    app, browser = AppClient(bridge_server.url, **PORTAIL), requests.Session()
    page = app.login(browser, user="899700000001", activity="__stop__", max_steps=8)
    # With an invalid choice the bridge re-shows the chooser (400) instead of guessing.
    assert page.status_code == 400 and 'name="activity"' in page.text
    result = app.login(browser, user="899700000001", activity="0-1")
    info = requests.get(app.metadata["userinfo_endpoint"], timeout=10, headers={
        "Authorization": f"Bearer {app.exchange(result['code'])['access_token']}"}).json()
    assert info["activity"]["mode"] == "S"  # the second activity of the médecin is the salaried one


def test_sso_second_service_reuses_the_session_without_psc(bridge_server):
    browser = requests.Session()
    portail = AppClient(bridge_server.url, **PORTAIL)
    portail.login(browser, user="899700000002")
    dpi = AppClient(bridge_server.url, **DPI)
    response = browser.get(dpi.authorize_url(), allow_redirects=False, timeout=10)
    assert response.status_code == 302 and response.headers["Location"].startswith(DPI["redirect_uri"])
    code = dict(p.split("=", 1) for p in response.headers["Location"].split("?", 1)[1].split("&"))["code"]
    assert dpi.verify_id_token(dpi.exchange(code)["id_token"])["sub"] == "899700000002"


def test_prompt_none_without_session_is_login_required(bridge_server):
    app = AppClient(bridge_server.url, **PORTAIL)
    result = app.follow(requests.Session(), app.authorize_url(prompt="none"))
    assert result["error"] == "login_required" and result["state"] == app.pending["state"]


def test_prompt_login_forces_a_new_psc_authentication(bridge_server):
    browser, app = requests.Session(), AppClient(bridge_server.url, **PORTAIL)
    app.login(browser, user="899700000002")
    response = browser.get(app.authorize_url(prompt="login"), allow_redirects=False, timeout=10)
    assert response.headers["Location"].startswith("/login/psc")


def test_login_started_in_another_browser_is_refused(bridge_server):
    """Login CSRF: the PSC callback only completes in the browser that started the transaction."""
    from tests.support.psc import psc_login

    app, victim, attacker = AppClient(bridge_server.url, **PORTAIL), requests.Session(), requests.Session()
    first = attacker.get(app.authorize_url(), allow_redirects=True, timeout=10)
    callback = psc_login(attacker, first.url, user="899700000002")
    response = victim.get(callback, allow_redirects=False, timeout=10)
    assert response.status_code == 400 and 'data-error-code="txn_invalid"' in response.text
    assert "bridge_session" not in response.headers.get("Set-Cookie", "")


def test_security_headers_and_cookie_flags(bridge_server):
    browser, app = requests.Session(), AppClient(bridge_server.url, **PORTAIL)
    first = browser.get(app.authorize_url(), allow_redirects=False, timeout=10)
    assert "HttpOnly" in first.headers["Set-Cookie"] and "SameSite=Lax" in first.headers["Set-Cookie"]
    for name in ("Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy", "X-Frame-Options",
                 "X-Request-Id"):
        assert first.headers.get(name), name
    assert first.headers["Referrer-Policy"] == "no-referrer"


def test_no_state_in_flask_s_cookie_session(bridge_server):
    """Sessions live in the store; Flask's signed cookie session is never opened nor written, and code that
    tried to write to it would fail instead of leaking state into a cookie."""
    browser, app = requests.Session(), AppClient(bridge_server.url, **PORTAIL)
    app.login(browser)
    assert {cookie.name for cookie in browser.cookies}.isdisjoint({"session", "bridge_flask_session"})
    with bridge_server.app.test_request_context("/"):
        assert not flask.session
        with pytest.raises(RuntimeError):
            flask.session["user"] = "someone"


@pytest.fixture
def card_only_portail(bridge_factory, tmp_path):
    """The shipped policies, with the portal accepting the CPS card through PSC only (e-CPS refused)."""
    import shutil
    from pathlib import Path

    policies = tmp_path / "policies"
    shutil.copytree(Path(__file__).resolve().parents[2] / "policies", policies)
    portail = policies / "demo-portail.yaml"
    portail.write_text(portail.read_text().replace("allowed_mie: [psc]", "allowed_mie: [psc-card]"))
    return bridge_factory(env={"BRIDGE_POLICIES_DIR": str(policies)})


def live_people(server) -> list[str]:
    return sorted(s.authn.identity.national_id for s in server.bridge.sessions.list())


def test_a_refused_psc_login_opens_no_session(card_only_portail):
    app, browser = AppClient(card_only_portail.url, **PORTAIL), requests.Session()
    page = app.login(browser, user="899700000003", auth_mode="MOBILE")
    assert page.status_code == 403 and "bridge_session" not in page.headers.get("Set-Cookie", "")
    assert live_people(card_only_portail) == [] and "bridge_session" not in browser.cookies


def test_a_refused_psc_login_by_someone_else_ends_the_previous_persons_session(card_only_portail):
    app, browser = AppClient(card_only_portail.url, **PORTAIL), requests.Session()
    assert "code" in app.login(browser, user="899700000002", auth_mode="CARD")
    assert live_people(card_only_portail) == ["899700000002"]
    page = app.login(browser, user="899700000003", auth_mode="MOBILE", prompt="login")
    assert page.status_code == 403
    assert live_people(card_only_portail) == []                         # neither the refused nor the previous
    assert "bridge_session" not in browser.cookies                      # the stale cookie was removed


def test_a_refused_psc_step_up_by_the_same_person_keeps_their_session(card_only_portail):
    app, browser = AppClient(card_only_portail.url, **PORTAIL), requests.Session()
    assert "code" in app.login(browser, user="899700000002", auth_mode="CARD")
    page = app.login(browser, user="899700000002", auth_mode="MOBILE", prompt="login")
    assert page.status_code == 403 and live_people(card_only_portail) == ["899700000002"]


def test_the_authorization_request_is_validated_once_per_login(bridge_server, monkeypatch):
    """The request /authorize validated is stored with the login and the code issued from it: no replay."""
    from bridge.provider.grants import CodeGrant

    calls = []
    original = CodeGrant.validate_authorization_request

    def counted(self):
        calls.append(self.request.payload.state)
        return original(self)

    monkeypatch.setattr(CodeGrant, "validate_authorization_request", counted)
    app = AppClient(bridge_server.url, **PORTAIL)
    result = app.login(requests.Session(), user="899700000002")
    assert result["state"] == app.pending["state"] and result["iss"] == bridge_server.url
    assert calls == [app.pending["state"]]
    assert app.verify_id_token(app.exchange(result["code"])["id_token"])["sub"] == "899700000002"


def test_a_redirect_uri_no_longer_registered_when_the_login_ends_gets_a_page_not_a_redirect(bridge_server):
    app, browser = AppClient(bridge_server.url, **PORTAIL), requests.Session()
    first = browser.get(app.authorize_url(), allow_redirects=False, timeout=10)
    txn_id = first.headers["Location"].split("txn=")[1]
    transactions = bridge_server.bridge.transactions
    txn = transactions.get(txn_id)
    txn.redirect_uri = "http://127.0.0.1:8002/portail/removed-callback"   # as if a policy reload removed it
    transactions.save(txn)
    page = app.follow(browser, bridge_server.url + first.headers["Location"], user="899700000002")
    assert not isinstance(page, dict) and page.status_code == 400 and 'data-error-code="txn_invalid"' in page.text
