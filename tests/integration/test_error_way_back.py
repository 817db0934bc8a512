"""No dead end: a refusal at PSC reaches the app as its OAuth error (with state and iss), and every bridge error
page offers a way back (the app, the chooser, a retry) and a support reference."""
from __future__ import annotations

import json
import re
from html import unescape
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests

from tests.support.bridge import PORTAIL, AppClient, form_fields
from tests.support.html import parse

TELESERVICE = {"client_id": "teleservice-web", "client_secret": "teleservice-secret",
               "redirect_uri": "http://127.0.0.1:8002/teleservice/callback", "scope": "openid profile rpps"}


def set_faults(psc, faults: dict) -> None:
    requests.post(f"{psc.url}/_emulator/faults", json=faults, timeout=10).raise_for_status()


def query(url: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def to_psc_page(browser, url: str) -> tuple[str, requests.Response]:
    """Follow redirects from the app's /authorize until the PSC emulator's page (or any page)."""
    for _ in range(8):
        response = browser.get(url, allow_redirects=False, timeout=30)
        if not response.is_redirect:
            return url, response
        url = urljoin(url, response.headers["Location"])
    raise AssertionError("too many redirects")


def cancel_at_psc(browser, page_url: str, page: requests.Response) -> str:
    """Click « Annuler » on the emulator's page: the URL PSC sends the browser back to."""
    action, hidden = form_fields(page.text)
    answer = browser.post(urljoin(page_url, action), data={**hidden, "action": "cancel"}, allow_redirects=False,
                          timeout=30)
    assert answer.is_redirect
    return urljoin(page_url, answer.headers["Location"])


def links(page: requests.Response) -> dict:
    return {kind: unescape(href) for href, kind in re.findall(r'href="([^"]+)" data-way-back="([a-z]+)"', page.text)}


def audit_lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_cancel_at_psc_returns_access_denied_with_state_and_iss(bridge_factory, tmp_path):
    trail = tmp_path / "audit.log"
    server = bridge_factory(env={"BRIDGE_AUDIT_PATH": str(trail)})
    app, browser = AppClient(server.url, **PORTAIL), requests.Session()
    page_url, page = to_psc_page(browser, app.authorize_url())
    assert 'value="cancel"' in page.text, "not the emulator's page"
    outcome = app.follow(browser, cancel_at_psc(browser, page_url, page))
    assert isinstance(outcome, dict), outcome.text[-600:]
    assert outcome["error"] == "access_denied" and outcome["state"] == app.pending["state"]
    assert outcome["iss"] == server.url and "code" not in outcome
    assert outcome["error_description"].isascii()
    assert "bridge_session" not in browser.cookies
    failed = [line for line in audit_lines(trail) if line["event"] == "login_failed"]
    assert failed and failed[-1]["reason"] == "psc_access_denied" and failed[-1]["outcome"] == "failure"
    assert failed[-1]["service"] == "demo-portail" and failed[-1]["client"] == "demo-portail"
    assert failed[-1]["request_id"]


@pytest.mark.parametrize("error", ["login_required", "consent_required", "interaction_required",
                                   "account_selection_required", "temporarily_unavailable", "access_denied"])
def test_each_refusal_the_app_handles_is_relayed(bridge_server, error):
    set_faults(bridge_server.psc, {"authorize_error": error})
    app, browser = AppClient(bridge_server.url, **PORTAIL), requests.Session()
    outcome = app.login(browser)
    assert isinstance(outcome, dict), outcome.text[-600:]
    assert outcome["error"] == error and outcome["state"] == app.pending["state"]
    assert outcome["iss"] == bridge_server.url


def test_the_relay_is_bound_to_the_browser_that_started_the_login(bridge_server):
    app, browser = AppClient(bridge_server.url, **PORTAIL), requests.Session()
    page_url, page = to_psc_page(browser, app.authorize_url())
    back = cancel_at_psc(browser, page_url, page)
    other = requests.get(back, allow_redirects=False, timeout=30)   # another browser: no login of its own
    assert other.status_code == 502 and 'data-error-code="psc_access_denied"' in other.text
    assert "Location" not in other.headers and not links(other)
    assert 'data-way-back="none"' in other.text


def test_an_error_at_psc_the_app_cannot_handle_is_a_page_with_a_way_back(bridge_server):
    set_faults(bridge_server.psc, {"authorize_error": "invalid_scope"})
    app, browser = AppClient(bridge_server.url, **PORTAIL), requests.Session()
    page = app.login(browser)
    assert not isinstance(page, dict) and page.status_code == 502
    assert 'data-error-code="psc_error"' in page.text and "Connexion impossible" in page.text
    found = links(page)
    assert set(found) == {"app", "retry"}, found        # PSC is the portal's only means: a retry, no chooser
    assert re.search(r"Référence de la demande : <code>[\w-]+</code>", page.text)
    set_faults(bridge_server.psc, {})
    again = app.follow(browser, urljoin(bridge_server.url, found["retry"]))   # the same login, PSC works again
    assert "code" in again and again["state"] == app.pending["state"]


def test_back_to_the_app_gives_it_access_denied_and_ends_the_login(bridge_factory, tmp_path):
    trail = tmp_path / "audit.log"
    bridge_server = bridge_factory(env={"BRIDGE_AUDIT_PATH": str(trail)})
    set_faults(bridge_server.psc, {"token_error": "invalid_grant"})   # the token endpoint fails
    app, browser = AppClient(bridge_server.url, **PORTAIL), requests.Session()
    page = app.login(browser)
    assert 'data-error-code="psc_error"' in page.text and page.status_code == 502
    back = urljoin(bridge_server.url, links(page)["app"])
    outcome = app.follow(browser, back)
    assert outcome["error"] == "access_denied" and outcome["state"] == app.pending["state"]
    assert outcome["iss"] == bridge_server.url
    used = browser.get(back, allow_redirects=False, timeout=30)       # the login is over
    assert used.status_code == 400 and 'data-error-code="txn_invalid"' in used.text
    reasons = [line["reason"] for line in audit_lines(trail) if line["event"] == "login_failed"]
    assert reasons == ["psc_error", "user_went_back"], reasons


def test_a_callback_without_code_is_a_page_with_a_way_back(bridge_server):
    app, browser = AppClient(bridge_server.url, **PORTAIL), requests.Session()
    page_url, _ = to_psc_page(browser, app.authorize_url())
    psc_state, issuer = query(page_url)["state"], bridge_server.psc.config.issuer
    page = browser.get(f"{bridge_server.url}/psc/callback", params={"state": psc_state, "iss": issuer}, timeout=30)
    assert page.status_code == 502 and 'data-error-code="psc_error"' in page.text
    assert "app" in links(page)


def test_the_chooser_is_offered_when_the_service_has_other_means(bridge_server):
    app, browser = AppClient(bridge_server.url, **TELESERVICE), requests.Session()
    chooser = browser.get(app.authorize_url(), timeout=30)
    assert 'data-mie="cps-pin"' in chooser.text
    psc_url = re.search(r'href="([^"]+)" data-mie="psc"', chooser.text).group(1)
    set_faults(bridge_server.psc, {"authorize_error": "server_error"})
    page = app.follow(browser, urljoin(chooser.url, unescape(psc_url)))
    found = links(page)
    assert set(found) == {"app", "chooser"}, found
    assert browser.get(urljoin(bridge_server.url, found["chooser"]), timeout=30).text.count("data-mie=") >= 2


def test_unknown_page_is_titled_page_introuvable(bridge_server):
    page = requests.get(f"{bridge_server.url}/nowhere", timeout=10)
    assert page.status_code == 404
    assert "<h1" in page.text and "Page introuvable</h1>" in page.text and "Connexion impossible" not in page.text
    assert "<title>Page introuvable" in page.text and 'data-way-back="none"' in page.text
    english = requests.get(f"{bridge_server.url}/nowhere?lang=en", timeout=10)
    assert "Page not found</h1>" in english.text and "Go back to your application" in english.text


def test_bad_redirect_uri_is_explained_in_french_with_the_app_home(bridge_server):
    app = AppClient(bridge_server.url, **{**PORTAIL, "redirect_uri": "http://evil.example/cb"})
    page = requests.get(app.authorize_url(), allow_redirects=False, timeout=10)
    assert page.status_code == 400 and "Location" not in page.headers
    assert 'data-error-code="invalid_redirect_uri"' in page.text
    reason = re.search(r"<p data-reason>(.*?)</p>", page.text, re.S).group(1)
    assert "L'adresse de retour « http://evil.example/cb » n'est pas enregistrée" in unescape(reason)
    assert links(page) == {"home": "http://127.0.0.1:8002/portail/"}   # the registered home, never the bad URI
    english = requests.get(app.authorize_url() + "&lang=en", timeout=10)
    assert "is not registered for the application" in unescape(english.text)


def test_missing_redirect_uri_is_explained(bridge_server):
    page = requests.get(f"{bridge_server.url}/authorize", params={
        "client_id": "demo-portail", "response_type": "code", "scope": "openid"}, timeout=10)
    assert 'data-error-code="invalid_redirect_uri"' in page.text and "(redirect_uri)" in page.text


def test_logout_confirmation_has_a_cancel_back_to_the_app(bridge_server):
    app, browser = AppClient(bridge_server.url, **PORTAIL), requests.Session()
    assert "code" in app.login(browser)
    home = "http://127.0.0.1:8002/portail/"
    page = browser.get(f"{bridge_server.url}/logout", timeout=10, params={
        "client_id": "demo-portail", "post_logout_redirect_uri": home, "state": "s1"})
    assert "Voulez-vous vous déconnecter" in page.text
    cancel = re.search(r'<a href="([^"]+)" data-cancel>Annuler</a>', page.text).group(1)
    assert unescape(cancel) == home                            # valid URI, no state: not a logout answer
    unknown = browser.get(f"{bridge_server.url}/logout", timeout=10, params={
        "client_id": "demo-portail", "post_logout_redirect_uri": "http://evil.example/"})
    assert re.search(r'<a href="/" data-cancel>', unknown.text) or unknown.status_code == 400
    plain = browser.get(f"{bridge_server.url}/logout", timeout=10)
    assert re.search(r'<a href="/" data-cancel>Annuler</a>', plain.text)
    assert "bridge_session" in browser.cookies                 # cancelling changed nothing


def test_logged_out_page_says_so(bridge_server):
    page = requests.get(f"{bridge_server.url}/logout", timeout=10)   # no session: nothing to confirm
    assert "Vous êtes déconnecté" in page.text and "data-logged-out" in page.text
    assert "vous êtes déconnecté de toutes les applications" in page.text


def test_favicon_is_served_as_svg(bridge_server):
    page = requests.get(f"{bridge_server.url}/nowhere", timeout=10)
    href = re.search(r'<link rel="icon" type="image/svg\+xml" href="([^"]+)"', page.text).group(1)
    icon = requests.get(urljoin(bridge_server.url, href), timeout=10)
    assert icon.status_code == 200 and icon.headers["Content-Type"].startswith("image/svg+xml")
    assert icon.text.startswith("<svg")
    legacy = requests.get(f"{bridge_server.url}/favicon.ico", timeout=10)   # asked for JSON documents
    assert legacy.status_code == 200 and legacy.url.endswith(href)


def test_the_bridge_root_says_what_it_is_in_french_and_english(bridge_server):
    page = requests.get(f"{bridge_server.url}/", timeout=10)
    assert page.status_code == 200 and 'data-page="home"' in page.text
    assert "Cette adresse n'est pas une application" in unescape(page.text)
    assert parse_links(page.text)["discovery"].endswith("/.well-known/openid-configuration")   # for integrators
    english = requests.get(f"{bridge_server.url}/?lang=en", timeout=10)
    assert "This address is not an application" in english.text


def test_an_unknown_address_at_the_psc_emulator_is_a_french_page(bridge_server):
    page = requests.get(f"{bridge_server.psc.url}/nowhere", timeout=10)
    assert page.status_code == 404 and "Page introuvable" in page.text and "Not Found" not in page.text
    assert "/.well-known/openid-configuration" in page.text


def parse_links(html: str) -> dict:
    return {a.attr("data-link"): a.attr("href") for a in parse(html).find_all("a", data_link=True)}
