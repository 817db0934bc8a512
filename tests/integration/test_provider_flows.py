"""The provider as any OIDC library sees it: refresh, introspection, revocation, logout, back-channel, expiry.

Time is advanced with the bridge's injectable clock; the back-channel receiver is a real HTTP server.
"""
from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet

from bridge.clock import Clock
from tests.support.bridge import DPI, PORTAIL, AppClient, at, rewrite_policies

EVENT = "http://schemas.openid.net/event/backchannel-logout"


@pytest.fixture
def stack(bridge_factory, receiver, tmp_path):
    clock = Clock()
    policies = rewrite_policies(tmp_path / "policies", receiver.url)
    server = bridge_factory(env={"BRIDGE_POLICIES_DIR": str(policies)}, clock=clock)
    server.clock, server.receiver = clock, receiver
    return server


def login(server, conf, browser=None, **kwargs):
    browser = browser or requests.Session()
    app = AppClient(server.url, **at(server.receiver.url, conf))
    result = app.login(browser, **{"user": "899700000002", **kwargs})
    return app, browser, app.exchange(result["code"])


def userinfo(server, access_token, method="GET"):
    return requests.request(method, f"{server.url}/userinfo", timeout=10,
                            headers={"Authorization": f"Bearer {access_token}"})


def refresh(server, conf, refresh_token):
    return requests.post(f"{server.url}/token", timeout=10, auth=(conf["client_id"], conf["client_secret"]),
                         data={"grant_type": "refresh_token", "refresh_token": refresh_token})


def logout_claims(server, token: str) -> dict:
    keys = KeySet.import_key_set(requests.get(f"{server.url}/jwks", timeout=10).json())
    decoded = jwt.decode(token, keys, algorithms=["RS256"])
    assert decoded.header["typ"] == "logout+jwt"
    return decoded.claims


# -- refresh ------------------------------------------------------------------------------------------------
def test_refresh_rotates_and_the_new_access_token_works(stack):
    _, _, tokens = login(stack, PORTAIL)
    answer = refresh(stack, PORTAIL, tokens["refresh_token"])
    assert answer.status_code == 200
    new = answer.json()
    assert new["refresh_token"] != tokens["refresh_token"] and 0 < new["expires_in"] <= 300
    assert userinfo(stack, new["access_token"]).json()["sub"] == "899700000002"


def test_replayed_rotated_refresh_token_revokes_the_family(stack):
    _, _, tokens = login(stack, PORTAIL)
    new = refresh(stack, PORTAIL, tokens["refresh_token"]).json()
    replay = refresh(stack, PORTAIL, tokens["refresh_token"])
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert refresh(stack, PORTAIL, new["refresh_token"]).json()["error"] == "invalid_grant"
    assert userinfo(stack, new["access_token"]).status_code == 401


def test_refresh_with_another_clients_token_is_refused(stack):
    _, _, tokens = login(stack, PORTAIL)
    answer = refresh(stack, DPI, tokens["refresh_token"])
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"
    assert refresh(stack, PORTAIL, tokens["refresh_token"]).status_code == 200  # still the owner's


def test_code_reuse_revokes_the_tokens_it_issued(stack):
    app = AppClient(stack.url, **at(stack.receiver.url, PORTAIL))
    code = app.login(requests.Session(), user="899700000002")["code"]
    tokens = app.exchange(code)
    again = requests.post(f"{stack.url}/token", timeout=10, auth=("demo-portail", "demo-portail-secret"),
                          data={"grant_type": "authorization_code", "code": code,
                                "code_verifier": app.pending["verifier"], "redirect_uri": app.redirect_uri})
    assert again.json()["error"] == "invalid_grant"
    assert userinfo(stack, tokens["access_token"]).status_code == 401
    assert refresh(stack, PORTAIL, tokens["refresh_token"]).json()["error"] == "invalid_grant"


# -- userinfo, introspection, revocation --------------------------------------------------------------------
def test_userinfo_get_and_post(stack):
    _, _, tokens = login(stack, PORTAIL)
    assert userinfo(stack, tokens["access_token"], "GET").json()["profession"] == "21"
    assert userinfo(stack, tokens["access_token"], "POST").json()["profession"] == "21"


def test_introspection_only_for_the_tokens_own_service(stack):
    _, _, tokens = login(stack, PORTAIL)
    own = requests.post(f"{stack.url}/introspect", timeout=10, auth=("demo-portail", "demo-portail-secret"),
                        data={"token": tokens["access_token"]}).json()
    assert own["active"] is True and own["sub"] == "899700000002" and own["client_id"] == "demo-portail"
    assert own["exp"] > 0 and own["sid"] and own["mie"] == "psc-card"
    other = requests.post(f"{stack.url}/introspect", timeout=10, auth=("dpi-web", "dpi-secret"),
                          data={"token": tokens["access_token"]}).json()
    assert other == {"active": False}
    garbage = requests.post(f"{stack.url}/introspect", timeout=10, auth=("demo-portail", "demo-portail-secret"),
                            data={"token": "x" * 5000}).json()
    assert garbage == {"active": False}
    rt = requests.post(f"{stack.url}/introspect", timeout=10, auth=("demo-portail", "demo-portail-secret"),
                       data={"token": tokens["refresh_token"], "token_type_hint": "refresh_token"}).json()
    # RFC 7662 §2.2: token_type is an RFC 6749 §7.1 type; a refresh token has none (and is not "Bearer").
    assert rt["active"] is True and "token_type" not in rt and own["token_type"] == "Bearer"


def test_introspection_needs_client_authentication(stack):
    _, _, tokens = login(stack, PORTAIL)
    answer = requests.post(f"{stack.url}/introspect", timeout=10, data={"token": tokens["access_token"]})
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"


def test_revoking_the_refresh_token_kills_its_access_tokens(stack):
    _, _, tokens = login(stack, PORTAIL)
    answer = requests.post(f"{stack.url}/revoke", timeout=10, auth=("demo-portail", "demo-portail-secret"),
                           data={"token": tokens["refresh_token"], "token_type_hint": "refresh_token"})
    assert answer.status_code == 200
    assert refresh(stack, PORTAIL, tokens["refresh_token"]).json()["error"] == "invalid_grant"
    assert userinfo(stack, tokens["access_token"]).status_code == 401


def test_revoking_an_access_token(stack):
    _, _, tokens = login(stack, PORTAIL)
    requests.post(f"{stack.url}/revoke", timeout=10, auth=("demo-portail", "demo-portail-secret"),
                  data={"token": tokens["access_token"]}).raise_for_status()
    assert userinfo(stack, tokens["access_token"]).status_code == 401
    assert refresh(stack, PORTAIL, tokens["refresh_token"]).status_code == 200  # RFC 7009: the grant lives on


def test_another_client_cannot_revoke(stack):
    _, _, tokens = login(stack, PORTAIL)
    answer = requests.post(f"{stack.url}/revoke", timeout=10, auth=("dpi-web", "dpi-secret"),
                           data={"token": tokens["access_token"]})
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"
    assert userinfo(stack, tokens["access_token"]).status_code == 200


# -- inactivity per service, absolute deadline, back-channel -----------------------------------------------------
def test_services_have_their_own_inactivity_in_one_sso_session(stack):
    browser = requests.Session()
    _, _, portail = login(stack, PORTAIL, browser)   # portal: idle 30 min
    _, _, dpi = login(stack, DPI, browser)           # DPI: idle 15 min, same SSO session (no PSC page)
    stack.clock.advance(10 * 60)
    portail = refresh(stack, PORTAIL, portail["refresh_token"]).json()   # only the portal is used
    stack.clock.advance(6 * 60)                       # DPI idle for 16 min, portal for 6
    assert refresh(stack, DPI, dpi["refresh_token"]).json()["error"] == "invalid_grant"
    portail = refresh(stack, PORTAIL, portail["refresh_token"]).json()   # the portal keeps working
    assert userinfo(stack, portail["access_token"]).status_code == 200
    stack.bridge.backchannel.wait()
    tokens = stack.receiver.tokens_for("/dpi/backchannel-logout")
    assert len(tokens) == 1 and not stack.receiver.tokens_for("/portail/")
    claims = logout_claims(stack, tokens[0])
    assert claims["aud"] == "dpi-web" and claims["iss"] == stack.url and EVENT in claims["events"]
    assert claims["sid"] and "nonce" not in claims and claims["jti"] and claims["iat"]
    # Coming back to the DPI asks for a fresh authentication (PSC again), the portal is untouched.
    dpi_app = AppClient(stack.url, **at(stack.receiver.url, DPI))
    first = browser.get(dpi_app.authorize_url(), allow_redirects=False, timeout=10)
    assert first.headers["Location"].startswith("/login/psc")


def test_absolute_deadline_ends_everything(stack):
    browser = requests.Session()
    _, _, portail = login(stack, PORTAIL, browser)
    _, _, dpi = login(stack, DPI, browser)
    for _ in range(17):  # keep both active, 15 min steps, past 4 h
        stack.clock.advance(15 * 60 - 1)
        for conf, tokens in ((PORTAIL, portail), (DPI, dpi)):
            answer = refresh(stack, conf, tokens["refresh_token"])
            if answer.status_code != 200:
                break
            tokens.update(answer.json())
    assert refresh(stack, PORTAIL, portail["refresh_token"]).json()["error"] == "invalid_grant"
    assert userinfo(stack, portail["access_token"]).status_code == 401
    stack.bridge.backchannel.wait()
    assert stack.receiver.tokens_for("/portail/backchannel-logout")
    assert stack.receiver.tokens_for("/dpi/backchannel-logout")


def test_sweeper_notices_expiry_without_any_request(stack):
    from bridge.sweeper import sweep_once

    login(stack, DPI)
    stack.clock.advance(16 * 60)
    assert sweep_once(stack.bridge) >= 1
    assert len(stack.receiver.tokens_for("/dpi/backchannel-logout")) == 1
    assert sweep_once(stack.bridge) == 0   # nothing twice


def test_backchannel_failure_is_retried_and_reported(stack):
    stack.receiver.status = 500
    stack.bridge.backchannel.backoff = 0.01
    outcomes = []
    stack.bridge.backchannel.listeners.append(
        lambda client, outcome, attempts: outcomes.append((client, outcome, attempts)))
    login(stack, DPI)
    stack.clock.advance(16 * 60)
    stack.bridge.sessions.sweep()
    stack.bridge.backchannel.wait()
    assert outcomes == [("dpi-web", "failed", 3)]
    assert len(stack.receiver.tokens_for("/dpi/backchannel-logout")) == 3


# -- RP-initiated logout -----------------------------------------------------------------------------------------
def test_rp_initiated_logout_ends_psc_too_and_returns_with_state(stack):
    browser = requests.Session()
    app, _, tokens = login(stack, PORTAIL, browser)
    login(stack, DPI, browser)
    target = PORTAIL["post_logout_redirect"] if "post_logout_redirect" in PORTAIL else f"{stack.receiver.url}/portail/"
    response = browser.get(f"{stack.url}/logout", allow_redirects=False, timeout=10, params={
        "id_token_hint": tokens["id_token"], "post_logout_redirect_uri": target, "state": "xyz"})
    # The DPI registered front-channel logout: the "logged out" page with its iframe comes first, its "Continuer"
    # link (followed by the page's script) goes on to PSC's logout (tests/integration/test_frontchannel_logout.py).
    assert response.status_code == 200 and 'data-client="dpi-web"' in response.text
    psc_logout = html.unescape(re.search(r'id="fc-continue" href="([^"]+)"', response.text).group(1))
    assert psc_logout.startswith(stack.psc.issuer) and "id_token_hint=" in psc_logout  # explicit: PSC too
    back = browser.get(psc_logout, allow_redirects=False, timeout=10)
    done = browser.get(back.headers["Location"], allow_redirects=False, timeout=10)
    assert done.headers["Location"] == f"{target}?state=xyz"
    stack.bridge.backchannel.wait()
    assert stack.receiver.tokens_for("/dpi/backchannel-logout") and stack.receiver.tokens_for("/portail/")
    assert userinfo(stack, tokens["access_token"]).status_code == 401


def test_logout_without_hint_asks_for_confirmation_with_csrf(stack):
    browser = requests.Session()
    _, _, tokens = login(stack, PORTAIL, browser)
    page = browser.get(f"{stack.url}/logout", timeout=10, params={
        "post_logout_redirect_uri": f"{stack.receiver.url}/portail/"})
    assert page.status_code == 200 and 'name="csrf"' in page.text
    forged = browser.post(f"{stack.url}/logout", data={"csrf": "forged"}, allow_redirects=False, timeout=10)
    assert forged.status_code == 200 and userinfo(stack, tokens["access_token"]).status_code == 200
    from tests.support.bridge import form_fields

    _, hidden = form_fields(page.text)
    confirmed = browser.post(f"{stack.url}/logout", data=hidden, allow_redirects=False, timeout=10)
    assert userinfo(stack, tokens["access_token"]).status_code == 401
    # No valid id_token_hint: no redirect to the app, only to PSC's logout and back to our page.
    assert not confirmed.headers.get("Location", "").startswith(stack.receiver.url)


@pytest.mark.parametrize("target", ["https://evil.example/", "{receiver}/portail/?next=https://evil.example"])
def test_unregistered_post_logout_uri_is_not_followed(stack, target):
    browser = requests.Session()
    _, _, tokens = login(stack, PORTAIL, browser)
    response = browser.get(f"{stack.url}/logout", allow_redirects=True, timeout=10, params={
        "id_token_hint": tokens["id_token"], "post_logout_redirect_uri": target.format(receiver=stack.receiver.url)})
    assert response.url.startswith(stack.url) and "déconnecté" in response.text


def test_modified_id_token_hint_is_refused(stack):
    _, _, tokens = login(stack, PORTAIL)
    header, payload, signature = tokens["id_token"].split(".")
    forged = ".".join([header, payload[:-4] + ("AAAA" if not payload.endswith("AAAA") else "BBBB"), signature])
    response = requests.get(f"{stack.url}/logout", timeout=10, params={"id_token_hint": forged})
    assert response.status_code == 400 and 'data-error-code="invalid_logout"' in response.text


# -- request parameters -------------------------------------------------------------------------------------------
def test_prompt_none_with_a_session_answers_at_once(stack):
    browser = requests.Session()
    login(stack, PORTAIL, browser)
    app = AppClient(stack.url, **at(stack.receiver.url, DPI))
    result = app.follow(browser, app.authorize_url(prompt="none"))
    assert "code" in result


def test_max_age_forces_a_fresh_authentication(stack):
    browser = requests.Session()
    login(stack, PORTAIL, browser)
    stack.clock.advance(120)
    app = AppClient(stack.url, **at(stack.receiver.url, DPI))
    response = browser.get(app.authorize_url(max_age=60), allow_redirects=False, timeout=10)
    assert response.headers["Location"].startswith("/login/psc")


def test_id_token_hint_for_another_user_forces_login(stack):
    _, _, other = login(stack, PORTAIL, requests.Session(), user="899700000003")
    browser = requests.Session()
    login(stack, PORTAIL, browser, user="899700000002")
    app = AppClient(stack.url, **at(stack.receiver.url, DPI))
    response = browser.get(app.authorize_url(id_token_hint=other["id_token"]), allow_redirects=False, timeout=10)
    assert response.headers["Location"].startswith("/login/psc")


def test_login_hint_is_passed_to_psc(stack):
    app = AppClient(stack.url, **at(stack.receiver.url, PORTAIL))
    browser = requests.Session()
    first = browser.get(app.authorize_url(login_hint="899700000002"), allow_redirects=False, timeout=10)
    second = browser.get(stack.url + first.headers["Location"], allow_redirects=False, timeout=10)
    assert parse_qs(urlsplit(second.headers["Location"]).query)["login_hint"] == ["899700000002"]


# -- per-client grant_types ----------------------------------------------------------------------------------
def test_a_client_without_the_refresh_grant_gets_no_refresh_token_and_cannot_refresh(bridge_factory, receiver,
                                                                                       tmp_path):
    policies = rewrite_policies(tmp_path / "policies", receiver.url)
    path = policies / "demo-portail.yaml"
    path.write_text(path.read_text().replace("client_id: demo-portail\n",
                                             "client_id: demo-portail\n    grant_types: [authorization_code]\n", 1))
    server = bridge_factory(env={"BRIDGE_POLICIES_DIR": str(policies)})
    server.receiver = receiver
    _, _, tokens = login(server, PORTAIL)
    assert tokens["access_token"] and "refresh_token" not in tokens
    answer = refresh(server, PORTAIL, "anything")
    assert answer.status_code == 400 and answer.json()["error"] == "unauthorized_client"
    assert "grant_types" in answer.json()["error_description"]
