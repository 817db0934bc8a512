"""Shared-workstation mode over HTTP: the browser's mark (GET /poste-partage), or a service's
`shared_workstation: true`; then every page shows « Poste partagé », who is logged in and a one-click logout of
every application, and the SSO cookie is a session cookie."""
from __future__ import annotations

import re
from html import unescape
from http.cookies import SimpleCookie

import pytest
import requests

from bridge.sessions import COOKIE
from tests.integration.test_cps_login import TELESERVICE, CpsBrowser
from tests.support.bridge import PORTAIL, AppClient, at, rewrite_policies

MARK = "bridge_shared"


@pytest.fixture
def trust_env(test_pki):
    return {"BRIDGE_TRUST_DIR": str(test_pki.trust_dir()), "BRIDGE_CRL_DIR": str(test_pki.crl_dir())}


def start(bridge_factory, receiver, tmp_path, trust_env, teleservice_extra: str = ""):
    policies = rewrite_policies(tmp_path / "policies", receiver.url)
    if teleservice_extra:
        path = policies / "teleservice-historique.yaml"
        path.write_text(path.read_text() + teleservice_extra)
    server = bridge_factory(env={**trust_env, "BRIDGE_POLICIES_DIR": str(policies)})
    server.receiver = receiver
    return server


@pytest.fixture
def server(bridge_factory, receiver, tmp_path, trust_env):
    return start(bridge_factory, receiver, tmp_path, trust_env)


def set_cookie(response: requests.Response, name: str):
    for header in response.raw.headers.getlist("Set-Cookie"):
        cookie = SimpleCookie(header)
        if name in cookie:
            return cookie[name], header
    return None, ""


def bar(html: str) -> str:
    found = re.search(r"<aside class=\"session-bar[^>]*>.*?</aside>", html, re.S)
    return unescape(found.group(0)) if found else ""


def test_the_mark_is_a_long_lived_cookie_set_and_cleared_by_its_url(server):
    browser = requests.Session()
    page = browser.get(f"{server.url}/poste-partage?actif=1", timeout=10)
    assert page.status_code == 200 and 'data-marked="true"' in page.text
    morsel, header = set_cookie(page, MARK)
    assert morsel.value == "1" and int(morsel["max-age"]) == 365 * 24 * 3600
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Path=/" in header
    assert "Poste partagé" in bar(browser.get(f"{server.url}/", timeout=10).text)
    # A link (from anywhere) only shows the page: removing the mark takes its form, with the browser's token.
    still = browser.get(f"{server.url}/poste-partage?actif=0", timeout=10)
    assert 'data-marked="true"' in still.text and browser.cookies.get(MARK) == "1"
    forged = browser.post(f"{server.url}/poste-partage", data={"actif": "0", "csrf": "0" * 64}, timeout=10)
    assert forged.status_code == 403 and browser.cookies.get(MARK) == "1"
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', still.text).group(1)
    cleared = browser.post(f"{server.url}/poste-partage", data={"actif": "0", "csrf": token}, timeout=10)
    assert 'data-marked="false"' in cleared.text and MARK not in browser.cookies
    assert bar(browser.get(f"{server.url}/", timeout=10).text) == ""
    assert browser.get(f"{server.url}/poste-partage?actif=oui", timeout=10).status_code == 400


def test_a_kiosk_start_url_marks_the_browser_then_opens_a_registered_application(server):
    answer = requests.get(f"{server.url}/poste-partage", params={"actif": "1", "application": "demo-portail"},
                          allow_redirects=False, timeout=10)
    assert answer.status_code == 302 and answer.headers["Location"] == f"{server.receiver.url}/portail/"
    assert set_cookie(answer, MARK)[0].value == "1"
    unknown = requests.get(f"{server.url}/poste-partage", params={"actif": "1", "application": "evil"},
                           allow_redirects=False, timeout=10)
    assert unknown.status_code == 400 and "Location" not in unknown.headers


def test_on_a_marked_workstation_every_page_names_who_is_logged_in_with_a_one_click_logout(server):
    browser = requests.Session()
    browser.get(f"{server.url}/poste-partage?actif=1", timeout=10)
    app = AppClient(server.url, **at(server.receiver.url, PORTAIL))
    tokens = app.exchange(app.login(browser, user="899700000002")["code"])
    home = browser.get(f"{server.url}/", timeout=10)
    notice = bar(home.text)
    assert "Poste partagé" in notice and "Connecté : Hugo BERNARD" in notice
    assert "899700000002" not in notice                                   # a name, never an identifier
    assert "data-shared-home" in home.text
    assert "Session en cours : Hugo BERNARD, ouverte à " in unescape(home.text)
    assert "Applications de cette session : Portail de démonstration" in unescape(home.text)
    csrf = re.search(r'data-logout-all>\s*<input type="hidden" name="csrf" value="([^"]+)"', home.text).group(1)
    for path in ("/logout/done", "/nowhere"):                             # other pages carry it too
        assert "Connecté : Hugo BERNARD" in bar(browser.get(f"{server.url}{path}", timeout=10).text)
    out = browser.post(f"{server.url}/logout", data={"csrf": csrf}, allow_redirects=False, timeout=10)
    assert out.status_code in (200, 302) and 'name="csrf"' not in (out.text if out.status_code == 200 else "")
    assert server.bridge.sessions.load(browser.cookies.get(COOKIE)) is None
    server.bridge.backchannel.wait()
    assert server.receiver.tokens_for("/portail/backchannel-logout")
    assert requests.get(f"{server.url}/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"},
                        timeout=10).status_code == 401
    after = bar(browser.get(f"{server.url}/", timeout=10).text)
    assert "Poste partagé" in after and "BERNARD" not in after


def test_the_sso_cookie_is_a_session_cookie(server, test_pki):
    browser = requests.Session()
    browser.get(f"{server.url}/poste-partage?actif=1", timeout=10)
    card = CpsBrowser(server, client=at(server.receiver.url, TELESERVICE), http=browser)
    answer = card.login_with(test_pki.card("899700000001"))
    morsel, header = set_cookie(answer, COOKIE)
    assert morsel is not None and not morsel["max-age"] and not morsel["expires"], header
    assert "Connecté : PAUL MEDECIN" in bar(answer.text)                 # the page after the proof names them


def test_a_service_can_ask_for_shared_mode_without_the_mark(bridge_factory, receiver, tmp_path, trust_env,
                                                             test_pki):
    server = start(bridge_factory, receiver, tmp_path, trust_env, teleservice_extra="shared_workstation: true\n")
    card = CpsBrowser(server, client=at(server.receiver.url, TELESERVICE))
    assert "Poste partagé" in bar(card.start().text)                     # its chooser, before anyone logs in
    card.page()
    card.code(card.login_with(test_pki.card("899700000001")))
    assert "Connecté : PAUL MEDECIN" in bar(card.http.get(f"{server.url}/", timeout=10).text)
    other = requests.Session()                                            # a PSC-only service, unmarked browser
    AppClient(server.url, **at(server.receiver.url, PORTAIL)).login(other, user="899700000002")
    assert bar(other.get(f"{server.url}/", timeout=10).text) == ""


def test_an_unmarked_workstation_shows_no_notice(server):
    browser = requests.Session()
    AppClient(server.url, **at(server.receiver.url, PORTAIL)).login(browser, user="899700000002")
    home = browser.get(f"{server.url}/", timeout=10)
    assert "Poste partagé" not in home.text and "data-shared-home" not in home.text
