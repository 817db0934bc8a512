"""The PSC emulator's CIBA (poll mode) over HTTP: request, pending, slow_down, approve/deny, expiry, tokens."""
from __future__ import annotations

import requests
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.support.psc import PSC_TEST_CLIENT_ID, PSC_TEST_CLIENT_SECRET

GRANT = "urn:openid:params:grant-type:ciba"
AUTH = (PSC_TEST_CLIENT_ID, PSC_TEST_CLIENT_SECRET)


def _endpoints(psc):
    meta = requests.get(psc.discovery_url, timeout=10).json()
    return meta["backchannel_authentication_endpoint"], meta["token_endpoint"], meta


def _start(psc, **form):
    endpoint, _, _ = _endpoints(psc)
    data = {"scope": "openid scope_all", "login_hint": "899700000001", "binding_message": "42",
            "acr_values": "eidas1", "channel": "MOBILE", **form}
    return requests.post(endpoint, data={k: v for k, v in data.items() if v is not None}, auth=AUTH, timeout=10)


def _poll(psc, auth_req_id, auth=AUTH):
    _, token, _ = _endpoints(psc)
    return requests.post(token, data={"grant_type": GRANT, "auth_req_id": auth_req_id}, auth=auth, timeout=10)


def _decide(psc, decision, user="899700000001", auth_mode=""):
    return requests.post(f"{psc.url}/_emulator/ciba", json={"login_hint": user, "decision": decision,
                                                            "auth_mode": auth_mode}, timeout=10)


def test_discovery_advertises_ciba_poll(psc_emulator):
    endpoint, _, meta = _endpoints(psc_emulator)
    assert endpoint == f"{psc_emulator.issuer}/protocol/openid-connect/ext/ciba/auth"
    assert GRANT in meta["grant_types_supported"]
    assert meta["backchannel_token_delivery_modes_supported"] == ["poll"]


def test_pending_then_slow_down_then_approved_tokens(psc_emulator):
    started = _start(psc_emulator)
    assert started.status_code == 200, started.text
    body = started.json()
    assert body["expires_in"] == 120 and body["interval"] == 5 and len(body["auth_req_id"]) >= 32
    listed = requests.get(f"{psc_emulator.url}/_emulator/ciba", timeout=10).json()
    assert [(r["login_hint"], r["binding_message"], r["channel"]) for r in listed] == [("899700000001", "42", "MOBILE")]
    assert _poll(psc_emulator, body["auth_req_id"]).json()["error"] == "authorization_pending"
    assert _poll(psc_emulator, body["auth_req_id"]).json()["error"] == "slow_down"   # polled at once again
    psc_emulator.advance_clock(10)   # past the grown interval (5 + 5)
    assert _poll(psc_emulator, body["auth_req_id"]).json()["error"] == "authorization_pending"
    assert _decide(psc_emulator, "approve", auth_mode="CARD").status_code == 200
    psc_emulator.advance_clock(10)
    tokens = _poll(psc_emulator, body["auth_req_id"])
    assert tokens.status_code == 200, tokens.text
    keys = KeySet.import_key_set(requests.get(_endpoints(psc_emulator)[2]["jwks_uri"], timeout=10).json())
    claims = jwt.decode(tokens.json()["id_token"], keys).claims
    assert claims["aud"] == PSC_TEST_CLIENT_ID and claims["SubjectNameID"] == "899700000001"
    assert claims["acr"] == "eidas2" and "nonce" not in claims
    access = jwt.decode(tokens.json()["access_token"], keys).claims
    assert access["authMode"] == "CARD"
    assert tokens.json()["refresh_token"]
    # Single use: the same auth_req_id again is unknown.
    assert _poll(psc_emulator, body["auth_req_id"]).json()["error"] == "invalid_grant"


def test_denied(psc_emulator):
    auth_req_id = _start(psc_emulator).json()["auth_req_id"]
    assert _decide(psc_emulator, "deny").status_code == 200
    answer = _poll(psc_emulator, auth_req_id)
    assert answer.status_code == 400 and answer.json()["error"] == "access_denied"


def test_expired(psc_emulator):
    auth_req_id = _start(psc_emulator).json()["auth_req_id"]
    psc_emulator.advance_clock(121)
    assert _poll(psc_emulator, auth_req_id).json()["error"] == "expired_token"


def test_bad_requests(psc_emulator):
    assert _start(psc_emulator, login_hint="000000000").json()["error"] == "unknown_user_id"
    assert _start(psc_emulator, login_hint=None).json()["error"] == "invalid_request"
    assert _start(psc_emulator, scope="scope_all").json()["error"] == "invalid_scope"
    assert _start(psc_emulator, channel="SMS").json()["error"] == "invalid_request"
    endpoint, _, _ = _endpoints(psc_emulator)
    anonymous = requests.post(endpoint, data={"scope": "openid", "login_hint": "899700000001"}, timeout=10)
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "invalid_client"
    assert _poll(psc_emulator, "forged").json()["error"] == "invalid_grant"
    assert _decide(psc_emulator, "approve", user="899700000002").status_code == 404   # nothing pending


def test_page_lists_and_answers(psc_emulator):
    auth_req_id = _start(psc_emulator, binding_message="73").json()["auth_req_id"]
    page = requests.get(f"{psc_emulator.config.wallet_url}/ciba", timeout=10)
    assert "73" in page.text and "Valider" in page.text
    requests.post(f"{psc_emulator.config.wallet_url}/ciba", data={"login_hint": "899700000001",
                                                                  "decision": "deny"}, timeout=10)
    assert _poll(psc_emulator, auth_req_id).json()["error"] == "access_denied"
