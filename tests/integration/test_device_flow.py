"""Device authorization grant (RFC 8628) over HTTP: a kiosk client (the shipped poste-de-soins of the DPI policy)
asks /device_authorization, polls /token like a kiosk, while the professional types the code at /device in a
browser (requests.Session) and logs in through the PSC emulator. Time moves with the bridge's injected clock."""
from __future__ import annotations

import json
from urllib.parse import urljoin

import pytest
import redis
import requests
from joserfc import jwt
from joserfc.jwk import KeySet

from bridge.clock import Clock
from bridge.login.device import ALPHABET, FAILURES_PER_BROWSER, LIFETIME, normalize
from tests.support.bridge import form_fields
from tests.support.psc import psc_login
from tests.support.redis import RedisServer

GRANT = "urn:ietf:params:oauth:grant-type:device_code"
KIOSK = ("poste-de-soins", "poste-de-soins-secret")
DPI = ("dpi-web", "dpi-secret")   # same service, code flow only
USER = "899700000002"


@pytest.fixture
def stack(bridge_factory, tmp_path, redis_url):
    clock = Clock()
    trail = tmp_path / "audit.jsonl"
    server = bridge_factory(env={"BRIDGE_AUDIT_PATH": str(trail)}, clock=clock)
    server.clock, server.trail, server.redis = clock, trail, redis.Redis.from_url(redis_url)
    return server


def audit(server, event: str) -> list[dict]:
    return [line for line in map(json.loads, server.trail.read_text().splitlines()) if line["event"] == event]


def authorize(server, auth=KIOSK, **data) -> requests.Response:
    return requests.post(f"{server.url}/device_authorization", auth=auth, data={"scope": "openid profile rpps", **data},
                         timeout=10)


def device(server) -> dict:
    answer = authorize(server)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Cache-Control"] == "no-store"
    return answer.json()


def poll(server, device_code: str, auth=KIOSK) -> requests.Response:
    return requests.post(f"{server.url}/token", auth=auth, data={"grant_type": GRANT, "device_code": device_code},
                         timeout=10)


def error(answer: requests.Response) -> str:
    assert answer.status_code == 400, answer.text
    assert "access_token" not in answer.json()
    return answer.json()["error"]


def type_code(server, browser, typed: str, *, prefill: str = "") -> requests.Response:
    page = browser.get(f"{server.url}/device", params={"user_code": prefill} if prefill else None, timeout=10)
    action, hidden = form_fields(page.text)
    return browser.post(urljoin(server.url, action), data={**hidden, "user_code": typed}, allow_redirects=False,
                        timeout=10)


def start_login(server, browser, typed: str) -> requests.Response:
    """Up to the PSC emulator: the code typed, the confirmation page, « Se connecter »; the redirect to the
    emulator, with `.txn` the login transaction's id."""
    confirm = type_code(server, browser, typed)
    assert confirm.status_code == 200 and 'data-step="confirm"' in confirm.text, confirm.text
    action, hidden = form_fields(confirm.text)
    answer = browser.post(urljoin(server.url, action), data=hidden, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    assert answer.headers["Location"].startswith("/login/psc?txn=")   # only PSC means in the DPI policy
    login = browser.get(urljoin(server.url, answer.headers["Location"]), allow_redirects=False, timeout=10)
    assert login.status_code == 302
    login.txn = answer.headers["Location"].split("txn=", 1)[1]
    return login


def approve(server, browser, typed: str, user: str = USER) -> requests.Response:
    login = start_login(server, browser, typed)
    callback = psc_login(browser, login.headers["Location"], user=user)
    return browser.get(callback, allow_redirects=False, timeout=30)


def test_discovery_advertises_the_device_grant(stack):
    meta = requests.get(f"{stack.url}/.well-known/openid-configuration", timeout=10).json()
    assert meta["device_authorization_endpoint"] == f"{stack.url}/device_authorization"
    assert GRANT in meta["grant_types_supported"]


def test_kiosk_polls_while_the_professional_logs_in_then_gets_tokens_once(stack):
    started = device(stack)
    code = started["user_code"]
    assert len(code) == 9 and code[4] == "-" and all(ch in ALPHABET for ch in code.replace("-", ""))
    assert started["verification_uri"] == f"{stack.url}/device"
    assert started["verification_uri_complete"] == f"{stack.url}/device?user_code={code}"
    assert started["expires_in"] == LIFETIME and started["interval"] == 5
    assert error(poll(stack, started["device_code"])) == "authorization_pending"

    browser = requests.Session()   # typed as a person would: lowercase, a space instead of the dash
    done = approve(stack, browser, code.lower().replace("-", " "))
    assert done.status_code == 200 and 'data-step="done"' in done.text
    assert "Connexion réussie, vous pouvez revenir à l'appareil" in done.text

    stack.clock.advance(5)
    tokens = poll(stack, started["device_code"])
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    assert body["token_type"] == "Bearer" and "refresh_token" not in body   # no refresh_token grant in its policy
    keys = KeySet.import_key_set(requests.get(f"{stack.url}/jwks", timeout=10).json())
    claims = jwt.decode(body["id_token"], keys, algorithms=["RS256", "ES256"]).claims
    assert claims["aud"] == ["poste-de-soins"] and claims["sub"] == USER and claims["iss"] == stack.url
    assert claims["acr"] and claims["auth_time"] and claims["sid"]
    me = requests.get(f"{stack.url}/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"}, timeout=10)
    assert me.status_code == 200 and me.json()["sub"] == USER

    stack.clock.advance(5)
    assert error(poll(stack, started["device_code"])) == "invalid_grant"   # single use
    assert [e["reason"] for e in audit(stack, "token_revoked")] == ["device_code_reuse"]
    issued = audit(stack, "token_issued")
    assert [e["details"]["grant"] for e in issued] == [GRANT] and issued[0]["subject"] == USER
    requested, approved = audit(stack, "device_authorization_requested"), audit(stack, "device_approved")
    assert len(requested) == 1 and len(approved) == 1
    assert requested[0]["details"]["device"] == approved[0]["details"]["device"]
    assert started["device_code"] not in stack.trail.read_text()
    for key in stack.redis.scan_iter("*"):   # never the raw device code in the store
        assert started["device_code"].encode() not in key
    again = type_code(stack, requests.Session(), code)   # the code cannot be typed again
    assert again.status_code == 400 and 'id="device-wrong"' in again.text
    metrics = requests.get(f"{stack.url}/metrics", timeout=10).text
    for line in ('bridge_device_authorizations_total{event="requested"}',
                 'bridge_device_authorizations_total{event="approved"}',
                 'bridge_device_authorizations_total{event="wrong_code"}',
                 f'bridge_tokens_issued_total{{grant_type="{GRANT}"}}'):
        assert line in metrics


def test_polling_too_fast_gets_slow_down_and_the_interval_grows(stack):
    started = device(stack)
    assert error(poll(stack, started["device_code"])) == "authorization_pending"
    assert error(poll(stack, started["device_code"])) == "slow_down"
    stack.clock.advance(5)   # the old interval is now too fast: 10 s
    assert error(poll(stack, started["device_code"])) == "slow_down"
    stack.clock.advance(15)  # 15 s: the interval is 15 s after two slow_down
    assert error(poll(stack, started["device_code"])) == "authorization_pending"


def test_expired_device_code(stack):
    started = device(stack)
    stack.clock.advance(LIFETIME + 1)
    assert error(poll(stack, started["device_code"])) == "expired_token"
    late = type_code(stack, requests.Session(), started["user_code"])   # nor can it be approved any more
    assert late.status_code == 400 and 'id="device-wrong"' in late.text


def test_approval_after_expiry_is_refused(stack):
    from bridge.provider.device import devices

    started = device(stack)
    pending = devices(stack.bridge).by_user_code(normalize(started["user_code"]))
    stack.clock.advance(LIFETIME + 1)   # the professional took too long
    assert not devices(stack.bridge).approve(pending, {"authn": {}, "sid": "x", "service": "dpi", "deadline": 0,
                                                       "family": "f"})
    assert error(poll(stack, started["device_code"])) == "expired_token"


def test_wrong_user_codes_are_limited_per_browser_and_audited(stack):
    started = device(stack)
    browser = requests.Session()
    for n in range(FAILURES_PER_BROWSER):
        wrong = type_code(stack, browser, "BCDF-GHJK" if normalize(started["user_code"]) != "BCDFGHJK" else "ZZZZ-ZZZZ")
        assert wrong.status_code == 400 and 'id="device-wrong"' in wrong.text
        assert f"Essais restants : {FAILURES_PER_BROWSER - n - 1}" in wrong.text
    refused = type_code(stack, browser, started["user_code"])   # even the right code, now
    assert refused.status_code == 429 and 'id="device-locked"' in refused.text and "15 min" in refused.text
    lines = audit(stack, "device_code_wrong")
    assert [line["details"].get("browser_count") for line in lines[:FAILURES_PER_BROWSER]] == \
        list(range(1, FAILURES_PER_BROWSER + 1))
    assert lines[-1]["reason"] == "locked" and lines[-1]["outcome"] == "failure"
    other = requests.Session()   # another browser (same address, below its limit) still can
    assert 'data-step="confirm"' in type_code(stack, other, started["user_code"]).text
    stack.clock.advance(15 * 60 + 1)   # the window is over (and that code too: a new one)
    assert 'data-step="confirm"' in type_code(stack, browser, device(stack)["user_code"]).text


def test_garbage_user_codes_count_too(stack):
    browser = requests.Session()
    wrong = type_code(stack, browser, "<script>1234</script>")
    assert wrong.status_code == 400 and "<script>1234" not in wrong.text
    assert audit(stack, "device_code_wrong")[0]["details"]["browser_count"] == 1


def test_client_not_allowed_the_grant(stack):
    answer = authorize(stack, auth=DPI)
    assert answer.status_code == 400 and answer.json()["error"] == "unauthorized_client"
    assert "device_code" not in answer.json()
    started = device(stack)   # nor may it poll another client's device code
    assert poll(stack, started["device_code"], auth=DPI).json()["error"] == "unauthorized_client"
    assert audit(stack, "device_authorization_requested")[0]["outcome"] == "denied"


def test_unknown_device_code_and_bad_requests(stack):
    assert error(poll(stack, "x" * 43)) == "invalid_grant"
    assert error(poll(stack, "x" * 5000)) == "invalid_grant"
    missing = requests.post(f"{stack.url}/token", auth=KIOSK, data={"grant_type": GRANT}, timeout=10)
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    wrong_secret = authorize(stack, auth=("poste-de-soins", "nope"))
    assert wrong_secret.status_code == 401 and wrong_secret.json()["error"] == "invalid_client"
    no_openid = authorize(stack, scope="rpps")
    assert no_openid.status_code == 400 and no_openid.json()["error"] == "invalid_request"


def test_cancelled_login_gives_access_denied(stack):
    started = device(stack)
    browser = requests.Session()
    login = start_login(stack, browser, started["user_code"])
    # At PSC the professional changes their mind: the error page's « Retour à l'application » (/login/back).
    back = browser.get(f"{stack.url}/login/back", params={"txn": login.txn}, timeout=10)
    assert back.status_code == 200 and 'data-step="cancelled"' in back.text
    assert error(poll(stack, started["device_code"])) == "access_denied"
    denied = audit(stack, "device_denied")
    assert len(denied) == 1 and denied[0]["reason"] == "cancelled" and denied[0]["outcome"] == "denied"
    assert not audit(stack, "token_issued")
    stack.clock.advance(5)
    assert error(poll(stack, started["device_code"])) == "invalid_grant"   # the refusal is told once


def test_policy_denial_gives_access_denied(bridge_factory, tmp_path):
    import shutil

    policies = tmp_path / "policies"
    shutil.copytree("policies", policies)
    dpi = policies / "dpi.yaml"
    dpi.write_text(dpi.read_text().replace("allowed_mie: [psc]", "allowed_mie: [psc-ecps]"))   # no card login
    trail = tmp_path / "audit.jsonl"
    server = bridge_factory(env={"BRIDGE_POLICIES_DIR": str(policies), "BRIDGE_AUDIT_PATH": str(trail)})
    server.trail = trail
    started = device(server)
    page = approve(server, requests.Session(), started["user_code"])   # CARD: psc-card, not allowed here
    assert page.status_code == 403
    assert error(poll(server, started["device_code"])) == "access_denied"
    assert audit(server, "device_denied")[0]["reason"] == audit(server, "login_denied")[0]["reason"]
    assert not audit(server, "token_issued")


def test_store_outage_fails_closed(bridge_factory, tmp_path):
    own = RedisServer(tmp_path, aof=True).start()   # AOF: what the store held is there after the restart
    try:
        server = bridge_factory(env={"BRIDGE_STORE_URL": own.url})
        started = device(server)
        approve(server, requests.Session(), started["user_code"])
        own.stop()
        answer = poll(server, started["device_code"])
        assert answer.status_code == 503 and answer.json()["error"] == "temporarily_unavailable"
        assert "access_token" not in answer.json()
        assert authorize(server).status_code == 503
        own.start()   # back: the approval was not lost, the kiosk gets its tokens once
        assert "access_token" in poll(server, started["device_code"]).json()
    finally:
        own.stop()


def test_device_endpoints_are_rate_limited_per_address(bridge_factory):
    server = bridge_factory(env={"BRIDGE_RATE_LIMIT_AUTHORIZE": "2/minute"})
    assert [authorize(server).status_code for _ in range(2)] == [200, 200]
    over = authorize(server)
    assert over.status_code == 429 and over.json()["error"] == "slow_down" and over.headers["Retry-After"]


def test_lifetime_interval_and_limit_are_settings(bridge_factory):
    server = bridge_factory(env={"BRIDGE_DEVICE_CODE_LIFETIME": "2m", "BRIDGE_DEVICE_POLL_INTERVAL": "10s",
                                 "BRIDGE_DEVICE_FAILURES_PER_BROWSER": "2"})
    started = device(server)
    assert (started["expires_in"], started["interval"]) == (120, 10)
    browser = requests.Session()
    assert [type_code(server, browser, "ZZZZ-ZZZZ").status_code for _ in range(2)] == [400, 400]
    assert type_code(server, browser, started["user_code"]).status_code == 429


def test_session_ended_before_the_poll_gives_access_denied(stack):
    started = device(stack)
    approve(stack, requests.Session(), started["user_code"])
    sid = audit(stack, "device_approved")[0]["details"]["sid"]
    stack.bridge.sessions.end(sid, "logout")   # the professional logged out on their phone before the kiosk polled
    assert error(poll(stack, started["device_code"])) == "access_denied"
    assert [e["reason"] for e in audit(stack, "device_denied")] == ["session_ended"]
    assert not audit(stack, "token_issued")


def test_the_practice_situation_step_then_approval(stack):
    started = device(stack)
    browser = requests.Session()
    login = start_login(stack, browser, started["user_code"])
    page = browser.get(psc_login(browser, login.headers["Location"], user="899700000001"), allow_redirects=False,
                       timeout=30)   # three practice situations: the bridge asks which one first
    page = browser.get(urljoin(stack.url, page.headers["Location"]), timeout=10)
    action, hidden = form_fields(page.text)
    done = browser.post(urljoin(stack.url, action), data={**hidden, "activity": "0-1"}, timeout=30)
    assert done.status_code == 200 and 'data-step="done"' in done.text
    tokens = poll(stack, started["device_code"]).json()
    assert tokens["access_token"]
    me = requests.get(f"{stack.url}/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"},
                      timeout=10).json()
    assert me["sub"] == "899700000001"


def test_a_third_party_kiosk_asks_the_professionals_consent_first(bridge_factory, tmp_path):
    import shutil

    policies = tmp_path / "policies"
    shutil.copytree("policies", policies)
    dpi = policies / "dpi.yaml"
    dpi.write_text(dpi.read_text().replace("    grant_types: [urn:ietf:params:oauth:grant-type:device_code]\n",
                                           "    grant_types: [urn:ietf:params:oauth:grant-type:device_code]\n"
                                           "    consent: required\n"))
    server = bridge_factory(env={"BRIDGE_POLICIES_DIR": str(policies)})
    started = device(server)
    browser = requests.Session()
    asked = approve(server, browser, started["user_code"])
    assert asked.status_code == 302 and "/login/consent" in asked.headers["Location"]
    page = browser.get(urljoin(server.url, asked.headers["Location"]), timeout=10)
    assert 'data-page="consent"' in page.text and "Poste de soins (démo)" in page.text
    assert error(poll(server, started["device_code"])) == "authorization_pending"   # nothing before the consent
    action, hidden = form_fields(page.text)
    done = browser.post(urljoin(server.url, action), data={**hidden, "decision": "allow"}, timeout=10)
    assert 'data-step="done"' in done.text
    assert "access_token" in poll(server, started["device_code"]).json()


def test_a_public_kiosk_with_refresh_tokens(bridge_factory, tmp_path):
    import shutil

    policies = tmp_path / "policies"
    shutil.copytree("policies", policies)
    dpi = policies / "dpi.yaml"
    dpi.write_text(dpi.read_text().replace("clients:\n", "clients:\n"
                                           "  - client_id: chariot-public\n"
                                           "    token_endpoint_auth_method: none\n"
                                           f"    grant_types: [{GRANT}, refresh_token]\n"
                                           "    scopes: [openid, profile, rpps]\n", 1))
    server = bridge_factory(env={"BRIDGE_POLICIES_DIR": str(policies)})
    answer = requests.post(f"{server.url}/device_authorization", data={"client_id": "chariot-public"}, timeout=10)
    assert answer.status_code == 200, answer.text
    started = answer.json()
    approve(server, requests.Session(), started["user_code"])
    tokens = requests.post(f"{server.url}/token", timeout=10, data={"grant_type": GRANT, "client_id": "chariot-public",
                                                                    "device_code": started["device_code"]}).json()
    assert tokens["scope"] == "openid" and tokens["refresh_token"]   # scope: openid when the kiosk asks none
    refreshed = requests.post(f"{server.url}/token", timeout=10, data={
        "grant_type": "refresh_token", "client_id": "chariot-public", "refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200 and refreshed.json()["access_token"]
