"""Every upstream failure stops the login with a French page and an error code: no session, no code."""
from __future__ import annotations

import time

import pytest
import requests

from tests.support.bridge import PORTAIL, AppClient


def set_faults(psc, faults: dict) -> None:
    requests.post(f"{psc.url}/_emulator/faults", json=faults, timeout=10).raise_for_status()


def attempt(bridge_server, **login):
    browser, app = requests.Session(), AppClient(bridge_server.url, **PORTAIL)
    outcome = app.login(browser, **login)
    return browser, outcome


def assert_refused(browser, outcome, code_prefix: str):
    assert not isinstance(outcome, dict), f"the app received {outcome}"
    assert outcome.status_code >= 400
    assert f'data-error-code="{code_prefix}' in outcome.text, outcome.text[-800:]
    assert "Connexion impossible" in outcome.text
    assert "bridge_session" not in browser.cookies


@pytest.mark.parametrize("faults, code", [
    ({"id_token_claims": {"iss": "https://evil.example/auth/realms/esante-wallet"}}, "id_token_iss"),
    ({"id_token_claims": {"aud": "someone-else"}}, "id_token_aud"),
    ({"id_token_claims": {"nonce": "replayed-nonce"}}, "id_token_nonce"),
    ({"id_token_alg": "none"}, "id_token_alg"),
    ({"id_token_bad_signature": True}, "id_token_signature"),
    ({"id_token_claims": {"exp": 1000, "iat": 900}}, "id_token_expired"),
    ({"id_token_claims": {"iat": 4102444800}}, "id_token_iat"),
    ({"id_token_claims": {"acr": None}}, "id_token_acr"),
    ({"id_token_claims": {"acr": "eidas0"}}, "acr_unknown"),      # not in the acr table (bridge.acr)
    ({"id_token_kid_unknown": True}, "id_token_kid"),
    ({"userinfo_claims": {"sub": "someone-else"}}, "sub_mismatch"),
    ({"userinfo_claims": {"SubjectNameID": None}}, "subject_missing"),
    ({"authorize_error": "invalid_scope"}, "psc_error"),     # access_denied goes back to the app (test_error_way_back)
    ({"token_error": "invalid_grant"}, "psc_error"),
])
def test_bad_upstream_response_is_refused(bridge_server, faults, code):
    set_faults(bridge_server.psc, faults)
    browser, outcome = attempt(bridge_server, user="899700000002")
    assert_refused(browser, outcome, code)


def test_psc_timeout_gives_a_clear_page_within_the_configured_time(bridge_factory):
    server = bridge_factory(env={"BRIDGE_PSC_READ_TIMEOUT": "1"})
    set_faults(server.psc, {"token_delay": 3})
    started = time.monotonic()
    browser, outcome = attempt(server, user="899700000002")
    assert_refused(browser, outcome, "psc_timeout")
    assert outcome.status_code == 504
    assert time.monotonic() - started < 10  # generous bound: the worker was released, not blocked


def test_psc_unreachable_is_a_clear_page(bridge_factory):
    from tests.support.redis import free_port

    dead = f"http://127.0.0.1:{free_port()}/auth/realms/esante-wallet/.well-known/wallet-openid-configuration"
    server = bridge_factory(env={"BRIDGE_PSC_DISCOVERY_URL": dead})
    browser, outcome = attempt(server, user="899700000002")
    assert_refused(browser, outcome, "psc_unreachable")


def test_rotated_psc_keys_are_refetched_once(bridge_server):
    app, browser = AppClient(bridge_server.url, **PORTAIL), requests.Session()
    app.login(browser, user="899700000002")                 # JWKS now cached by the bridge
    requests.post(f"{bridge_server.psc.url}/_emulator/rotate-keys", timeout=10).raise_for_status()
    result = AppClient(bridge_server.url, **PORTAIL).login(requests.Session(), user="899700000003")
    assert "code" in result


def test_replayed_callback_is_refused(bridge_server):
    from tests.support.psc import psc_login

    app, browser = AppClient(bridge_server.url, **PORTAIL), requests.Session()
    page = browser.get(app.authorize_url(), timeout=10)
    callback = psc_login(browser, page.url, user="899700000002")
    first = browser.get(callback, allow_redirects=False, timeout=10)
    assert first.status_code == 302
    again = browser.get(callback, allow_redirects=False, timeout=10)
    assert again.status_code == 400 and 'data-error-code="state_invalid"' in again.text


def test_unknown_state_is_refused(bridge_server):
    response = requests.get(f"{bridge_server.url}/psc/callback?code=abc&state=forged", timeout=10)
    assert response.status_code == 400 and 'data-error-code="state_invalid"' in response.text


@pytest.mark.parametrize("overrides", [{"id_token_alg": "HS256"}, {"userinfo_format": "jwt"}])
def test_hs256_id_token_and_jwt_userinfo_are_accepted(bridge_factory, overrides):
    server = bridge_factory(**overrides)
    browser, outcome = attempt(server, user="899700000002")
    assert "code" in outcome
