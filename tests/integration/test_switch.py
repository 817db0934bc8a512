"""User switching over HTTP: /switch from an application or from the bridge's own pages ends the current session
(back-channel logout, audit reason `switch`) only after a confirmed POST, and starts a fresh login that shows
nothing of the previous user. A login by another person on the same browser ends the previous session first."""
from __future__ import annotations

import json
import re
from html import unescape
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests

from bridge.cps_number import logical_number
from bridge.sessions import COOKIE
from tests.integration.test_cps_login import TELESERVICE, CpsBrowser
from tests.support.bridge import DPI, PORTAIL, AppClient, at, form_fields, rewrite_policies
from tests.support.psc import psc_login


@pytest.fixture
def trust_env(test_pki):
    return {"BRIDGE_TRUST_DIR": str(test_pki.trust_dir()), "BRIDGE_CRL_DIR": str(test_pki.crl_dir())}


@pytest.fixture
def server(bridge_factory, receiver, tmp_path, trust_env):
    policies = rewrite_policies(tmp_path / "policies", receiver.url)
    trail = tmp_path / "audit.log"
    server = bridge_factory(env={**trust_env, "BRIDGE_POLICIES_DIR": str(policies), "BRIDGE_AUDIT_PATH": str(trail)})
    server.receiver, server.trail = receiver, trail
    return server


def audit(server, event: str) -> list[dict]:
    return [line for line in map(json.loads, server.trail.read_text().splitlines()) if line["event"] == event]


def psc_session(server, conf=PORTAIL, user="899700000002", browser=None):
    """A PSC login of `user` for the app `conf` (one activity: no choice page); (app, browser, tokens)."""
    browser = browser or requests.Session()
    app = AppClient(server.url, **at(server.receiver.url, conf))
    return app, browser, app.exchange(app.login(browser, user=user)["code"])


def card_session(server, material, http=None, **authorize):
    browser = CpsBrowser(server, client=at(server.receiver.url, TELESERVICE), http=http, **authorize)
    browser.code(browser.login_with(material))
    return browser


def sid(server, browser: requests.Session) -> str | None:
    session = server.bridge.sessions.load(browser.cookies.get(COOKIE))
    return session.sid if session else None


def confirm_and_post(server, browser: requests.Session, page: requests.Response) -> requests.Response:
    assert page.status_code == 200 and 'data-page="switch"' in page.text, page.text[:1500]
    action, hidden = form_fields(page.text[page.text.index('data-page="switch"'):])
    return browser.post(urljoin(server.url, action), data=hidden, allow_redirects=False, timeout=10)


def test_an_app_links_to_switch_with_its_authorize_parameters(server):
    app, browser, tokens = psc_session(server)
    before = sid(server, browser)
    url = app.authorize_url(login_hint="899700000002").replace("/authorize?", "/switch?")
    page = browser.get(url, timeout=10)
    assert "La session de Hugo BERNARD sera fermée dans toutes les applications." in unescape(page.text)
    assert 'method="post"' in page.text and 'name="csrf"' in page.text
    assert sid(server, browser) == before                       # GET ends nothing
    answer = confirm_and_post(server, browser, page)
    # A PSC session: PSC's end_session first, then back to the bridge, then the fresh login.
    assert answer.status_code == 302 and answer.headers["Location"].startswith(server.psc.issuer)
    assert sid(server, browser) is None and COOKIE in answer.headers.get("Set-Cookie", "")
    back = browser.get(answer.headers["Location"], allow_redirects=False, timeout=10)
    done = browser.get(urljoin(server.url, back.headers["Location"]), allow_redirects=False, timeout=10)
    fresh = urlsplit(done.headers["Location"])
    assert fresh.path == "/authorize"
    query = parse_qs(fresh.query)
    assert query["prompt"] == ["login"] and query["client_id"] == [PORTAIL["client_id"]]
    assert "login_hint" not in query and query["state"] == [app.pending["state"]]
    server.bridge.backchannel.wait()
    assert server.receiver.tokens_for("/portail/backchannel-logout")
    assert {line["reason"] for line in audit(server, "logout")} == {"switch"}
    assert requests.get(f"{server.url}/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"},
                        timeout=10).status_code == 401
    # The next person logs in; the app gets its code for them.
    result = app.follow(browser, urljoin(server.url, done.headers["Location"]), user="899700000003")
    assert app.verify_id_token(app.exchange(result["code"])["id_token"])["sub"] == "899700000003"


def test_a_forged_or_missing_token_ends_nothing(server):
    app, browser, _ = psc_session(server)
    page = browser.get(app.authorize_url().replace("/authorize?", "/switch?"), timeout=10)
    _, hidden = form_fields(page.text[page.text.index('data-page="switch"'):])
    for csrf in ("forged", ""):
        answer = browser.post(f"{server.url}/switch", data={**hidden, "csrf": csrf}, allow_redirects=False,
                              timeout=10)
        assert answer.status_code == 403 and 'data-error-code="csrf"' in answer.text
    stranger = requests.post(f"{server.url}/switch", data=hidden, allow_redirects=False, timeout=10)
    assert stranger.status_code == 403                       # another browser: the token is bound to this one
    assert sid(server, browser) is not None


def test_without_a_session_switch_goes_straight_to_a_fresh_login(server):
    app = AppClient(server.url, **at(server.receiver.url, PORTAIL))
    answer = requests.get(app.authorize_url(id_token_hint="x.y.z").replace("/authorize?", "/switch?"),
                          allow_redirects=False, timeout=10)
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/authorize?")
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query["prompt"] == ["login"] and "id_token_hint" not in query


@pytest.mark.parametrize("query", ["", "client_id=nobody", "txn=forged"])
def test_switch_needs_a_known_app_or_a_pending_login(server, query):
    answer = requests.get(f"{server.url}/switch?{query}", allow_redirects=False, timeout=10)
    assert answer.status_code == 400


def test_from_the_bridges_pages_the_pending_login_starts_again_for_the_next_person(server, test_pki):
    first = card_session(server, test_pki.card("899700000001"))
    browser = first.http
    # The app asks for a fresh login (prompt=login): the chooser offers « Changer d'utilisateur ».
    again = CpsBrowser(server, client=at(server.receiver.url, TELESERVICE), http=browser, prompt="login")
    chooser = again.start()
    link = re.search(r'href="([^"]*/switch\?txn=[^"]+)" data-switch', chooser.text)
    assert link, chooser.text[:3000]
    assert "data-switch" in again.page().text                  # the PIN page too
    page = browser.get(urljoin(server.url, unescape(link.group(1))), timeout=10)
    answer = confirm_and_post(server, browser, page)
    assert answer.status_code == 302 and answer.headers["Location"] == f"/login?txn={again.txn}"
    assert sid(server, browser) is None
    txn = server.bridge.transactions.get(again.txn)
    assert txn.forced and not txn.authenticated and txn.login_hint == ""
    # The next person logs in on that same pending login.
    nxt = test_pki.card("899700000003", family_name="SAGEFEMME", given_name="LEA")
    assert again.code(again.login_with(nxt))["code"]
    assert server.bridge.sessions.load(browser.cookies[COOKIE]).authn.identity.national_id == "899700000003"


def test_a_different_person_on_the_same_browser_ends_the_previous_session_first(server, test_pki):
    first = card_session(server, test_pki.card("899700000001"))
    browser = first.http
    previous = sid(server, browser)
    second = CpsBrowser(server, client=at(server.receiver.url, TELESERVICE), http=browser, prompt="login")
    second.code(second.login_with(test_pki.card("899700000002", family_name="PHARMACIEN")))
    now = server.bridge.sessions.load(browser.cookies[COOKIE])
    assert now.sid != previous and now.authn.identity.national_id == "899700000002"
    assert server.bridge.sessions.find(previous) is None
    replaced = [line for line in audit(server, "logout") if line["reason"] == "replaced"]
    assert replaced and replaced[0]["subject"] == "899700000001" and replaced[0]["details"]["sid"] == previous
    server.bridge.backchannel.wait()
    assert server.receiver.tokens_for("/teleservice/backchannel-logout")


def test_the_same_person_again_keeps_the_session(server, test_pki):
    material = test_pki.card("899700000001")
    first = card_session(server, material)
    previous = sid(server, first.http)
    card_session(server, material, http=first.http, prompt="login")
    assert sid(server, first.http) == previous and not audit(server, "logout")


def _activity_page(server, browser: requests.Session, location: str) -> requests.Response:
    """From the bridge's chooser through PSC to the page that follows the login (the activity choice here)."""
    url = urljoin(server.url, location)
    for _ in range(8):
        response = browser.get(url, allow_redirects=False, timeout=10)
        if response.status_code == 200 and 'name="auth_mode"' in response.text:
            url = psc_login(browser, url, user="899700000001")
            continue
        if response.is_redirect:
            url = urljoin(url, response.headers["Location"])
            continue
        return response
    raise AssertionError("too many redirects")


def test_pages_after_prompt_login_or_a_switch_never_show_the_previous_user(server, test_pki):
    """Shared workstation (the notice names who is logged in): A logs in with a card; the app asks for a fresh
    login; then A's session is switched away. No page of the next logins names A, their national id or card."""
    browser = requests.Session()
    browser.get(f"{server.url}/poste-partage?actif=1", timeout=10)
    card_a = test_pki.card("899700000009", family_name="DUPONTEL", given_name="ARMAND")
    a = card_session(server, card_a, http=browser)
    previous = ("DUPONTEL", "ARMAND", "899700000009", card_a.serial, logical_number(card_a.serial) or card_a.serial)
    home = browser.get(f"{server.url}/", timeout=10)
    assert "Connecté : ARMAND DUPONTEL" in unescape(home.text)          # A's own pages do name A

    def clean(response: requests.Response) -> None:
        page = unescape(response.text)
        assert "Poste partagé" in page                                   # the notice is there, without A
        for value in previous:
            assert value not in page, (value, response.url)

    fresh = CpsBrowser(server, client=at(server.receiver.url, TELESERVICE), http=browser, prompt="login")
    clean(fresh.start())                                                 # chooser after prompt=login
    clean(fresh.page())                                                  # PIN page
    switch = browser.get(f"{server.url}/switch?txn={fresh.txn}", timeout=10)
    chooser = browser.get(urljoin(server.url, confirm_and_post(server, browser, switch).headers["Location"]),
                          timeout=10)
    clean(chooser)                                                       # chooser after the switch
    clean(fresh.page())                                                  # PIN page after the switch
    activity = _activity_page(server, browser, f"/login/psc?txn={fresh.txn}")
    assert 'name="activity"' in activity.text
    clean(activity)                                                      # B (PSC, three activities) chooses
    assert a.has_session()
    # Someone else again, refused (a CPE card on a CPS/CPF service): the denial page names nobody before.
    other = CpsBrowser(server, client=at(server.receiver.url, TELESERVICE), http=browser, prompt="login")
    other.start()
    other.page()
    other.csrf = server.bridge.transactions.get(other.txn).csrf      # the notice's logout form comes first
    denied = other.login_with(test_pki.card("899700000010", kind="CPE", family_name="ECHO"))
    assert denied.status_code == 403
    clean(denied)
    assert "MARTIN" not in unescape(denied.text)                         # nor B


def test_switch_is_offered_from_the_activity_choice(server):
    browser = requests.Session()
    app = AppClient(server.url, **at(server.receiver.url, DPI))
    first = browser.get(app.authorize_url(), allow_redirects=False, timeout=10)
    page = _activity_page(server, browser, first.headers["Location"])
    assert 'name="activity"' in page.text and "data-switch" in page.text


def test_the_demo_app_s_switch_link_hands_over_to_the_next_person(bridge_factory, tmp_path, trust_env):
    """The demo portal's « Changer d'utilisateur »: its authorization request sent to /switch; after the confirmation
    and PSC's end_session, the next person logs in and the app shows them."""
    import threading

    from werkzeug.serving import make_server

    from bridge.sandbox.apps import create_demo_apps

    apps = make_server("127.0.0.1", 0, None, threaded=True)
    apps_url = f"http://127.0.0.1:{apps.port}"
    server = bridge_factory(env={**trust_env, "BRIDGE_POLICIES_DIR": str(rewrite_policies(tmp_path / "p", apps_url))})
    apps.app = create_demo_apps(server.url, apps_url)
    threading.Thread(target=apps.serve_forever, daemon=True).start()
    try:
        browser = requests.Session()

        def through(url: str, user: str) -> requests.Response:
            for _ in range(12):
                response = browser.get(url, allow_redirects=False, timeout=10)
                if response.status_code == 200 and 'name="auth_mode"' in response.text:
                    url = psc_login(browser, url, user=user)
                elif response.is_redirect:
                    url = urljoin(url, response.headers["Location"])
                else:
                    return response
            raise AssertionError("too many redirects")

        home = through(f"{apps_url}/portail/login", "899700000002")
        assert "Hugo BERNARD" in unescape(home.text) and 'id="switch-user"' in home.text
        page = through(f"{apps_url}/portail/switch", "unused")
        assert "La session de Hugo BERNARD sera fermée" in unescape(page.text)
        answer = confirm_and_post(server, browser, page)
        after = through(urljoin(server.url, answer.headers["Location"]), "899700000003")
        assert "Léa PETIT" in unescape(after.text) and "Hugo BERNARD" not in unescape(after.text)
    finally:
        apps.shutdown()
