"""Consent for third-party clients over HTTP (bridge + PSC emulator + Redis): the policy's `consent: required`
client (demo-editeur) asks the professional once per scope set, a refusal gives the app access_denied and nothing
else, and « Mes autorisations » withdraws a consent together with the client's tokens."""
from __future__ import annotations

import json
from urllib.parse import parse_qs, urljoin, urlsplit

import requests

from tests.support.bridge import PORTAIL, AppClient, form_fields
from tests.support.html import parse
from tests.support.redis import RedisServer

EDITEUR = {"client_id": "demo-editeur", "client_secret": "demo-editeur-secret",
           "redirect_uri": "http://127.0.0.1:8002/editeur/callback", "scope": "openid profile rpps"}
USER = "899700000002"
NAME = "Application tierce de l'éditeur (démo)"


def query_of(location: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def decide(server, page, browser, decision: str, **override):
    action, hidden = form_fields(page.text)
    return browser.post(urljoin(server.url, action), data={**hidden, "decision": decision, **override},
                        allow_redirects=False, timeout=10)


def consent_page(server, browser, app=None):
    app = app or AppClient(server.url, **EDITEUR)
    page = app.login(browser, user=USER)
    assert not isinstance(page, dict), f"no consent page: {page}"
    assert page.status_code == 200 and 'data-page="consent"' in page.text, page.text
    return app, page


def allowed_tokens(server, browser) -> tuple[AppClient, dict]:
    app, page = consent_page(server, browser)
    answer = decide(server, page, browser, "allow")
    assert answer.status_code == 302 and answer.headers["Location"].startswith(EDITEUR["redirect_uri"])
    return app, app.exchange(query_of(answer.headers["Location"])["code"])


def test_first_login_asks_in_words_then_allow_gives_the_code_and_the_next_login_skips(bridge_server):
    browser = requests.Session()
    app, page = consent_page(bridge_server, browser)
    tree = parse(page.text)
    assert NAME in tree.find("h1").text
    claims = [li.text for li in tree.find("ul", id="consent-claims").find_all("li")]
    assert "Vos nom et prénom" in claims and "Votre identifiant national (RPPS ou ADELI)" in claims
    assert any(c.startswith("Votre situation d'exercice") for c in claims)
    assert "Votre adresse e-mail" not in claims   # not asked: not shown
    answer = decide(bridge_server, page, browser, "allow")
    query = query_of(answer.headers["Location"])
    assert query["state"] == app.pending["state"] and query["iss"] == bridge_server.bridge.settings.issuer
    assert "access_token" in app.exchange(query["code"])
    again = AppClient(bridge_server.url, **EDITEUR).login(browser, user=USER)
    assert isinstance(again, dict) and "code" in again


def test_a_wider_scope_set_asks_again_also_on_the_sso_reuse_path(bridge_server):
    browser = requests.Session()
    allowed_tokens(bridge_server, browser)
    wider = AppClient(bridge_server.url, **{**EDITEUR, "scope": "openid profile email rpps"})
    page = wider.login(browser, user=USER)
    assert page.status_code == 200 and 'data-page="consent"' in page.text
    assert "Votre adresse e-mail" in [li.text for li in parse(page.text).find("ul", id="consent-claims").find_all("li")]
    assert decide(bridge_server, page, browser, "allow").status_code == 302
    narrower = AppClient(bridge_server.url, **{**EDITEUR, "scope": "openid profile"})
    assert "code" in narrower.login(browser, user=USER)    # a subset of what was granted


def test_prompt_none_without_consent_is_consent_required(bridge_server):
    browser = requests.Session()
    assert "code" in AppClient(bridge_server.url, **PORTAIL).login(browser, user=USER)   # a session, first-party
    app = AppClient(bridge_server.url, **EDITEUR)
    answer = browser.get(app.authorize_url(prompt="none"), allow_redirects=False, timeout=10)
    assert query_of(answer.headers["Location"])["error"] == "consent_required"
    _app, page = consent_page(bridge_server, browser)   # the SSO session serves: no PSC, the consent page
    assert "code" in query_of(decide(bridge_server, page, browser, "allow").headers["Location"])


def audit_lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_refuse_sends_access_denied_with_state_and_iss_and_issues_nothing(bridge_factory, tmp_path):
    trail = tmp_path / "audit.jsonl"
    bridge_server = bridge_factory(env={"BRIDGE_AUDIT_PATH": str(trail)})
    browser = requests.Session()
    app, page = consent_page(bridge_server, browser)
    answer = decide(bridge_server, page, browser, "refuse")
    assert answer.status_code == 302 and answer.headers["Location"].startswith(EDITEUR["redirect_uri"])
    query = query_of(answer.headers["Location"])
    assert query["error"] == "access_denied" and "code" not in query
    assert query["state"] == app.pending["state"] and query["iss"] == bridge_server.bridge.settings.issuer
    # The person did log in: the SSO session stays, but the refused client has no part in it (no token).
    session = bridge_server.bridge.sessions.load(browser.cookies.get("bridge_session"))
    assert session is not None and "demo-editeur" not in session.clients
    assert bridge_server.bridge.consents.list(USER) == {}
    assert decide(bridge_server, page, browser, "allow").status_code == 400   # the login is over
    events = [(line["event"], line["outcome"]) for line in audit_lines(trail) if line["event"].startswith("consent")]
    assert events == [("consent_asked", "info"), ("consent_refused", "denied")]
    assert consent_page(bridge_server, browser)   # asked again next time


def test_a_first_party_client_never_asks(bridge_server):
    result = AppClient(bridge_server.url, **PORTAIL).login(requests.Session(), user=USER)
    assert isinstance(result, dict) and "code" in result


def test_missing_csrf_is_refused(bridge_server):
    browser = requests.Session()
    _app, page = consent_page(bridge_server, browser)
    assert decide(bridge_server, page, browser, "allow", csrf="").status_code == 400
    assert bridge_server.bridge.consents.list(USER) == {}
    allowed = decide(bridge_server, page, browser, "allow")   # the real form still works
    assert allowed.status_code == 302
    mine = browser.get(f"{bridge_server.url}/me/authorizations", timeout=10)
    _action, hidden = form_fields(mine.text)
    refused = browser.post(f"{bridge_server.url}/me/authorizations", timeout=10, allow_redirects=False,
                           data={"client_id": "demo-editeur", "csrf": "x" * 64})
    assert refused.status_code == 400 and "demo-editeur" in bridge_server.bridge.consents.list(USER)
    other = requests.Session()   # a token read in one browser is worth nothing in another
    assert other.post(f"{bridge_server.url}/me/authorizations", data=hidden, timeout=10).status_code == 401


def test_revoking_on_mes_autorisations_removes_the_consent_and_the_tokens(bridge_factory, tmp_path):
    trail = tmp_path / "audit.jsonl"
    bridge_server = bridge_factory(env={"BRIDGE_AUDIT_PATH": str(trail)})
    browser = requests.Session()
    _app, tokens = allowed_tokens(bridge_server, browser)
    auth = (EDITEUR["client_id"], EDITEUR["client_secret"])
    home = browser.get(f"{bridge_server.url}/", timeout=10)
    assert 'data-link="authorizations"' in home.text
    mine = browser.get(f"{bridge_server.url}/me/authorizations", timeout=10)
    assert mine.status_code == 200
    item = parse(mine.text).find("li", data_client="demo-editeur")
    assert item is not None and NAME in item.find("h2").text
    action, hidden = form_fields(mine.text)
    done = browser.post(urljoin(bridge_server.url, action), data=hidden, allow_redirects=False, timeout=10)
    assert done.status_code == 303
    after = browser.get(urljoin(bridge_server.url, done.headers["Location"]), timeout=10)
    assert 'id="auth-revoked"' in after.text and 'data-client="demo-editeur"' not in after.text
    assert bridge_server.bridge.consents.list(USER) == {}
    for token in (tokens["access_token"], tokens["refresh_token"]):
        assert requests.post(f"{bridge_server.url}/introspect", data={"token": token}, auth=auth,
                             timeout=10).json() == {"active": False}
    refresh = requests.post(f"{bridge_server.url}/token", auth=auth, timeout=10,
                            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert refresh.status_code == 400 and refresh.json()["error"] == "invalid_grant"
    consent_page(bridge_server, browser)   # the next login asks again
    events = [line["event"] for line in audit_lines(trail) if line["event"].startswith("consent")]
    assert events == ["consent_asked", "consent_given", "consent_revoked", "consent_asked"]


def test_mes_autorisations_without_a_session_invites_to_log_in(bridge_server):
    page = requests.get(f"{bridge_server.url}/me/authorizations", timeout=10)
    assert page.status_code == 401 and 'id="auth-login"' in page.text
    assert 'data-link="authorizations"' not in requests.get(f"{bridge_server.url}/", timeout=10).text


def test_store_outage_on_the_consent_page_is_a_503(bridge_factory, tmp_path):
    own = RedisServer(tmp_path).start()
    try:
        server = bridge_factory(env={"BRIDGE_STORE_URL": own.url})
        browser = requests.Session()
        _app, page = consent_page(server, browser)
        own.stop()
        answer = decide(server, page, browser, "allow")
        assert answer.status_code == 503 and 'data-error-code="store_unavailable"' in answer.text
        mine = browser.get(f"{server.url}/me/authorizations", timeout=30)
        assert mine.status_code == 503
    finally:
        own.stop()
