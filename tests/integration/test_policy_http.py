"""The RIE v2 policy engine seen through HTTP: chooser per service, step-up, denials without a code."""
from __future__ import annotations

import re

import requests

from tests.support.bridge import DPI, PORTAIL, AppClient, at, rewrite_policies

TELESERVICE = {"client_id": "teleservice-web", "client_secret": "teleservice-secret",
               "redirect_uri": "http://127.0.0.1:8002/teleservice/callback", "scope": "openid profile rpps"}
STRICT = """
service: officine
name: Officine (test)
clients:
  - client_id: officine-web
    client_secret_sha256: f7c62450ea45b6b3b790755cb68fb151b6e7b70e4805a863923b66d3f578f2c0
    redirect_uris: [http://127.0.0.1:8002/officine/callback]
allowed_mie: [psc-card, cps-pin]   # PSC offered (card through PSC), but not e-CPS
historical_teleservice: true
professions: ["21"]                # pharmaciens only
attestation: {status: attested, signed_on: 2026-10-01, valid_until: 2029-09-30}
"""
OFFICINE = {"client_id": "officine-web", "client_secret": "dpi-secret",
            "redirect_uri": "http://127.0.0.1:8002/officine/callback", "scope": "openid profile"}


def chooser_means(server, conf) -> tuple[int, list[str], str]:
    browser = requests.Session()
    first = browser.get(AppClient(server.url, **conf).authorize_url(), allow_redirects=False, timeout=10)
    location = first.headers["Location"]
    if location.startswith("/login/psc"):
        return first.status_code, ["psc (direct)"], location
    page = browser.get(server.url + location, timeout=10)
    return page.status_code, re.findall(r'data-mie="([^"]+)"', page.text), location


def test_the_chooser_shows_exactly_the_allowed_means(bridge_factory):
    server = bridge_factory()
    # Only PSC means: no chooser, straight to PSC.
    for conf in (PORTAIL, DPI):
        assert chooser_means(server, conf)[1] == ["psc (direct)"]
    status, means, _ = chooser_means(server, TELESERVICE)
    assert status == 200 and means == ["psc", "cps-pin", "local-fido", "backup"]   # PSC first (RIE-PS 03), then direct


def test_an_ecps_session_is_stepped_up_for_a_service_that_needs_a_card(bridge_factory, receiver, tmp_path):
    policies = rewrite_policies(tmp_path / "p", receiver.url, {"officine.yaml": STRICT})
    server = bridge_factory(env={"BRIDGE_POLICIES_DIR": str(policies)})
    browser = requests.Session()
    AppClient(server.url, **at(receiver.url, PORTAIL)).login(browser, user="899700000002", auth_mode="MOBILE")
    officine = AppClient(server.url, **at(receiver.url, OFFICINE))
    step = browser.get(officine.authorize_url(), allow_redirects=False, timeout=10)
    assert step.headers["Location"].startswith("/login?")  # not a code: the e-CPS session does not satisfy it
    page = browser.get(server.url + step.headers["Location"], timeout=10)
    assert re.findall(r'data-mie="([^"]+)"', page.text) == ["psc-card", "cps-pin"]
    # Re-authenticating with the card through PSC satisfies the service, in the same SSO session.
    result = officine.follow(browser, server.url + step.headers["Location"].replace("/login?", "/login/psc?"),
                             user="899700000002", auth_mode="CARD")
    assert officine.verify_id_token(officine.exchange(result["code"])["id_token"])["mie"] == "psc-card"


def test_a_denied_login_gets_a_french_page_and_no_code(bridge_factory, receiver, tmp_path):
    policies = rewrite_policies(tmp_path / "p", receiver.url, {"officine.yaml": STRICT})
    server = bridge_factory(env={"BRIDGE_POLICIES_DIR": str(policies)})
    officine = AppClient(server.url, **at(receiver.url, OFFICINE))
    browser = requests.Session()
    step = browser.get(officine.authorize_url(), allow_redirects=False, timeout=10)
    outcome = officine.follow(browser, server.url + step.headers["Location"].replace("/login?", "/login/psc?"),
                              user="899700000003", auth_mode="CARD")   # a sage-femme
    assert not isinstance(outcome, dict), "the app received a code"
    assert outcome.status_code == 403 and "Accès refusé" in outcome.text and "profession" in outcome.text.lower()
