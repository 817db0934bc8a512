"""CIBA poll mode at the bridge (/bc-authorize + /token), relayed to the PSC emulator's CIBA, over HTTP.

The bridge and the emulator each have a clock the test moves (no sleeping): `tick` advances both.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet

from bridge.clock import Clock
from bridge.config import ConfigError, load_settings
from tests.support.bridge import rewrite_policies
from tests.support.redis import RedisServer

ROOT = Path(__file__).resolve().parents[2]
GRANT = "urn:openid:params:grant-type:ciba"
THICK = ("dpi-lourd", "dpi-lourd-secret")          # policies/dpi.yaml: grant_types lists CIBA
WEB = ("dpi-web", "dpi-secret")                    # the same service's web client: no CIBA
PHARMACY_POLICY = """
service: pharmacie
name: Logiciel de pharmacie (test)
clients:
  - client_id: pharma-lourd
    name: Pharmacie client lourd
    # SHA-256 of "pharma-secret"
    client_secret_sha256: df68fdfab30d39186d3d6ce721fea22f7dafe105db09aaaccb56039f510a7019
    token_endpoint_auth_method: client_secret_basic
    grant_types: [urn:openid:params:grant-type:ciba]
    scopes: [openid, profile, rpps]
allowed_mie: [psc]
professions: ["21"]
"""


def _bridge(bridge_factory, tmp_path, name="audit", **env):
    clock = Clock()
    audit = tmp_path / f"{name}.jsonl"
    server = bridge_factory(env={"BRIDGE_AUDIT_PATH": str(audit), **env}, clock=clock)
    server.clock, server.audit = clock, audit
    return server


def tick(server, seconds: float) -> None:
    server.clock.advance(seconds)
    server.psc.advance_clock(seconds)


def bc_authorize(server, auth=THICK, **form):
    data = {"scope": "openid profile rpps", "login_hint": "899700000002", "binding_message": "42", **form}
    return requests.post(f"{server.url}/bc-authorize", data={k: v for k, v in data.items() if v is not None},
                         auth=auth, timeout=30)


def poll(server, auth_req_id, auth=THICK):
    return requests.post(f"{server.url}/token", data={"grant_type": GRANT, "auth_req_id": auth_req_id}, auth=auth,
                         timeout=30)


def decide(server, decision, user="899700000002", auth_mode="MOBILE"):
    answer = requests.post(f"{server.psc.url}/_emulator/ciba", json={"login_hint": user, "decision": decision,
                                                                     "auth_mode": auth_mode}, timeout=10)
    assert answer.status_code == 200, answer.text


def audit_lines(server) -> list[dict]:
    return [json.loads(line) for line in server.audit.read_text().splitlines()]


def ciba_metric(server, event: str) -> float:
    text = requests.get(server.url + "/metrics", timeout=10).text
    found = re.search(rf'^bridge_ciba_requests_total{{event="{event}"}} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


def started(server, **form) -> str:
    answer = bc_authorize(server, **form)
    assert answer.status_code == 200, answer.text
    return answer.json()["auth_req_id"]


def test_discovery_advertises_ciba_poll(bridge_factory, tmp_path):
    meta = requests.get(_bridge(bridge_factory, tmp_path).url + "/.well-known/openid-configuration", timeout=10).json()
    assert meta["backchannel_authentication_endpoint"] == meta["issuer"] + "/bc-authorize"
    assert meta["backchannel_token_delivery_modes_supported"] == ["poll"]
    assert meta["backchannel_user_code_parameter_supported"] is False
    assert GRANT in meta["grant_types_supported"]


def test_approved_at_psc_gives_tokens_once_and_an_sso_session(bridge_factory, tmp_path):
    server = _bridge(bridge_factory, tmp_path)
    answer = bc_authorize(server)
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    body = answer.json()
    assert body["expires_in"] == 120 and body["interval"] == 5 and len(body["auth_req_id"]) >= 40
    pending = requests.get(f"{server.psc.url}/_emulator/ciba", timeout=10).json()
    assert [(p["login_hint"], p["binding_message"], p["channel"]) for p in pending] == [("899700000002", "42",
                                                                                        "MOBILE")]
    assert poll(server, body["auth_req_id"]).json()["error"] == "authorization_pending"
    tick(server, 6)
    assert poll(server, body["auth_req_id"]).json()["error"] == "authorization_pending"   # PSC asked: pending
    decide(server, "approve")
    tick(server, 6)
    tokens = poll(server, body["auth_req_id"])
    assert tokens.status_code == 200, tokens.text
    token = tokens.json()
    assert token["access_token"] and token["refresh_token"] and token["token_type"] == "Bearer"
    meta = requests.get(server.url + "/.well-known/openid-configuration", timeout=10).json()
    keys = KeySet.import_key_set(requests.get(meta["jwks_uri"], timeout=10).json())
    claims = jwt.decode(token["id_token"], keys).claims
    assert claims["iss"] == meta["issuer"] and claims["aud"] == ["dpi-lourd"] and claims["sid"]
    assert claims["acr"] == "eidas1" and "nonce" not in claims
    assert claims["exp"] > server.clock.now()
    userinfo = requests.get(meta["userinfo_endpoint"], headers={"Authorization": f"Bearer {token['access_token']}"},
                            timeout=10)
    assert userinfo.status_code == 200 and userinfo.json()["sub"] == claims["sub"]
    # Single use.
    tick(server, 6)
    reused = poll(server, body["auth_req_id"])
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    events = [(line["event"], line.get("details", {}).get("channel", "")) for line in audit_lines(server)]
    assert ("ciba_requested", "MOBILE") in events and ("login_succeeded", "ciba") in events
    issued = [line for line in audit_lines(server) if line["event"] == "token_issued"]
    assert issued and issued[-1]["details"]["grant"] == GRANT
    # The SSO session is a session like any other: ending it ends the client's tokens.
    server.bridge.sessions.end(claims["sid"], "logout")
    assert requests.get(meta["userinfo_endpoint"], headers={"Authorization": f"Bearer {token['access_token']}"},
                        timeout=10).status_code == 401


def test_polling_too_fast_is_slow_down_and_the_interval_grows(bridge_factory, tmp_path):
    server = _bridge(bridge_factory, tmp_path)
    auth_req_id = started(server)
    assert poll(server, auth_req_id).json()["error"] == "authorization_pending"
    assert poll(server, auth_req_id).json()["error"] == "slow_down"
    tick(server, 6)
    assert poll(server, auth_req_id).json()["error"] == "slow_down"      # 6 s < 10 s: now 15 s from here
    tick(server, 14)
    assert poll(server, auth_req_id).json()["error"] == "slow_down"
    tick(server, 21)
    assert poll(server, auth_req_id).json()["error"] == "authorization_pending"


def test_denied_at_psc_is_access_denied(bridge_factory, tmp_path):
    server = _bridge(bridge_factory, tmp_path)
    auth_req_id = started(server)
    decide(server, "deny")
    tick(server, 6)
    answer = poll(server, auth_req_id)
    assert answer.status_code == 400 and answer.json()["error"] == "access_denied"
    tick(server, 6)
    assert poll(server, auth_req_id).json()["error"] == "access_denied"
    failed = [line for line in audit_lines(server) if line["event"] == "login_failed"]
    assert failed[-1]["reason"] == "psc_access_denied" and failed[-1]["details"]["upstream"] == "psc-ciba"


def test_expired_request_is_expired_token(bridge_factory, tmp_path):
    server = _bridge(bridge_factory, tmp_path)
    auth_req_id = started(server)
    tick(server, 121)
    answer = poll(server, auth_req_id)
    assert answer.status_code == 400 and answer.json()["error"] == "expired_token"
    decide_late = requests.post(f"{server.psc.url}/_emulator/ciba", json={"login_hint": "899700000002",
                                                                          "decision": "approve"}, timeout=10)
    assert decide_late.status_code == 404   # expired at PSC too


def test_requested_expiry_shortens_the_request(bridge_factory, tmp_path):
    server = _bridge(bridge_factory, tmp_path)
    answer = bc_authorize(server, requested_expiry="30")
    assert answer.json()["expires_in"] == 30
    tick(server, 31)
    assert poll(server, answer.json()["auth_req_id"]).json()["error"] == "expired_token"


def test_a_client_not_allowed_ciba_is_unauthorized_client(bridge_factory, tmp_path):
    server = _bridge(bridge_factory, tmp_path)
    answer = bc_authorize(server, auth=WEB)
    assert answer.status_code == 400 and answer.json()["error"] == "unauthorized_client"
    auth_req_id = started(server)
    answer = poll(server, auth_req_id, auth=WEB)
    assert answer.status_code == 400 and answer.json()["error"] == "unauthorized_client"
    assert requests.get(f"{server.psc.url}/_emulator/ciba", timeout=10).json()[0]["client_id"] == "bridge-test"


def test_bad_requests(bridge_factory, tmp_path):
    server = _bridge(bridge_factory, tmp_path)
    missing = bc_authorize(server, login_hint=None)
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    assert bc_authorize(server, scope="profile").json()["error"] == "invalid_scope"
    assert bc_authorize(server, channel="SMS").json()["error"] == "invalid_request"
    assert bc_authorize(server, requested_expiry="-3").json()["error"] == "invalid_request"
    assert bc_authorize(server, binding_message="4" * 65).json()["error"] == "invalid_binding_message"
    assert bc_authorize(server, binding_message="4\n2").status_code == 400   # control characters: refused up front
    assert bc_authorize(server, auth=("dpi-lourd", "wrong")).status_code == 401
    unknown = poll(server, "forged-auth-req-id")
    assert unknown.status_code == 400 and unknown.json()["error"] == "invalid_grant"
    assert requests.post(f"{server.url}/token", data={"grant_type": GRANT}, auth=THICK,
                         timeout=10).json()["error"] == "invalid_request"
    assert requests.get(f"{server.psc.url}/_emulator/ciba", timeout=10).json() == []   # none reached PSC


def test_unknown_login_hint_is_unknown_user_id(bridge_factory, tmp_path):
    server = _bridge(bridge_factory, tmp_path)
    answer = bc_authorize(server, login_hint="899799999999")
    assert answer.status_code == 400 and answer.json()["error"] == "unknown_user_id"
    failed = [line for line in audit_lines(server) if line["event"] == "login_failed"]
    assert failed[-1]["reason"] == "psc_unknown_user_id"


def test_policy_refusal_is_access_denied_with_audit_and_no_token(bridge_factory, tmp_path):
    policies = rewrite_policies(tmp_path / "policies", "http://127.0.0.1:8002", {"pharmacie.yaml": PHARMACY_POLICY})
    server = _bridge(bridge_factory, tmp_path, BRIDGE_POLICIES_DIR=str(policies))
    pharma = ("pharma-lourd", "pharma-secret")
    refused_before = ciba_metric(server, "refused")
    auth_req_id = started(server, auth=pharma, login_hint="899700000003")   # Léa, profession 50: not allowed
    decide(server, "approve", user="899700000003")
    tick(server, 6)
    answer = poll(server, auth_req_id, auth=pharma)
    assert answer.status_code == 400 and answer.json()["error"] == "access_denied"
    assert "access_token" not in answer.text
    tick(server, 6)
    assert poll(server, auth_req_id, auth=pharma).json()["error"] == "access_denied"
    lines = audit_lines(server)
    denied = [line for line in lines if line["event"] == "login_denied"]
    assert denied and "profession_not_allowed" in denied[-1]["reason"] and denied[-1]["service"] == "pharmacie"
    assert not [line for line in lines if line["event"] in ("token_issued", "login_succeeded")]
    assert ciba_metric(server, "refused") == refused_before + 1
    # The pharmacist is allowed.
    auth_req_id = started(server, auth=pharma, login_hint="899700000002")
    decide(server, "approve")
    tick(server, 6)
    assert poll(server, auth_req_id, auth=pharma).status_code == 200


def test_psc_unreachable_is_a_clear_error_and_no_token(bridge_factory, tmp_path):
    closed = _bridge(bridge_factory, tmp_path, "closed", BRIDGE_PSC_CIBA_ENDPOINT="http://127.0.0.1:9/ciba")
    answer = bc_authorize(closed)
    assert answer.status_code == 503 and answer.json()["error"] == "temporarily_unavailable"
    server = _bridge(bridge_factory, tmp_path)
    auth_req_id = started(server)
    decide(server, "approve")
    server.psc.stop()
    tick(server, 6)
    answer = poll(server, auth_req_id)
    assert answer.status_code == 503 and answer.json()["error"] == "temporarily_unavailable"
    assert "access_token" not in answer.text
    failed = [line for line in audit_lines(server) if line["event"] == "login_failed"]
    assert failed[-1]["reason"] == "psc_unreachable"


def test_the_documented_ciba_example_runs(bridge_factory, tmp_path):
    server = bridge_factory()   # real clocks: the example sleeps its interval (5 s) once
    command = [sys.executable, str(ROOT / "docs/examples/ciba_client.py"), "--issuer", server.url, "--client-id",
               "dpi-lourd", "--client-secret", "dpi-lourd-secret", "--login-hint", "899700000002",
               "--binding-message", "57"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path) as run:
        pending = []
        for _ in range(200):   # the professional's phone shows the request once the example has sent it
            pending = requests.get(f"{server.psc.url}/_emulator/ciba", timeout=10).json()
            if pending or run.poll() is not None:
                break
            time.sleep(0.05)
        assert pending and pending[0]["binding_message"] == "57" and pending[0]["login_hint"] == "899700000002"
        decide(server, "approve")
        out, err = run.communicate(timeout=90)
    assert run.returncode == 0, err
    claims = json.loads(out)
    assert claims["aud"] == ["dpi-lourd"] and claims["iss"] == server.bridge.settings.issuer
    assert "le code affiché doit être 57" in err


def test_bc_authorize_is_rate_limited_per_address(bridge_factory, tmp_path):
    server = _bridge(bridge_factory, tmp_path, BRIDGE_RATE_LIMIT_AUTHORIZE="2/minute")
    assert [bc_authorize(server).status_code for _ in range(2)] == [200, 200]
    limited = bc_authorize(server)
    assert limited.status_code == 429 and limited.json()["error"] == "slow_down" and limited.headers["Retry-After"]
    assert len(requests.get(f"{server.psc.url}/_emulator/ciba", timeout=10).json()) == 2   # PSC not asked again


def test_ciba_settings_are_checked():
    settings = load_settings({"BRIDGE_PSC_CIBA_CHANNEL": "card", "BRIDGE_PSC_CIBA_ENDPOINT": "https://psc.example/c"})
    assert (settings.psc_ciba_channel, settings.psc_ciba_endpoint) == ("CARD", "https://psc.example/c")
    with pytest.raises(ConfigError, match="BRIDGE_PSC_CIBA_CHANNEL"):
        load_settings({"BRIDGE_PSC_CIBA_CHANNEL": "SMS"})
    with pytest.raises(ConfigError, match="BRIDGE_PSC_CIBA_ENDPOINT"):
        load_settings({"BRIDGE_PSC_CIBA_ENDPOINT": "psc.example/ciba"})


def test_store_outage_fails_closed(bridge_factory, tmp_path):
    own = RedisServer(tmp_path, aof=True).start()   # AOF: what the store held is there after the restart
    try:
        server = _bridge(bridge_factory, tmp_path, BRIDGE_STORE_URL=own.url)
        auth_req_id = started(server)
        decide(server, "approve")
        own.stop()
        tick(server, 6)
        answer = poll(server, auth_req_id)
        assert answer.status_code == 503 and answer.json()["error"] == "temporarily_unavailable"
        assert "access_token" not in answer.text
        refused = bc_authorize(server)
        assert refused.status_code == 503 and refused.json()["error"] == "temporarily_unavailable"
        own.start()   # back: PSC's approval is still waiting, the client gets its tokens once
        tick(server, 6)
        assert "access_token" in poll(server, auth_req_id).json()
    finally:
        own.stop()


SITUATION_POLICY = """
service: situations
name: Situations (test)
clients:
  - client_id: situations-lourd
    name: Situations client lourd
    # SHA-256 of "pharma-secret"
    client_secret_sha256: df68fdfab30d39186d3d6ce721fea22f7dafe105db09aaaccb56039f510a7019
    token_endpoint_auth_method: client_secret_basic
    grant_types: [urn:openid:params:grant-type:ciba]
    scopes: [openid, profile, rpps]
allowed_mie: [psc]
modes: [{mode}]
"""


def test_practice_situation_without_a_page(bridge_factory, tmp_path):
    """Camille has one liberal (L) and two salaried (S) situations: one that fits is taken, two cannot be chosen."""
    for mode, expected in (("L", 200), ("S", 400)):
        policies = rewrite_policies(tmp_path / f"policies-{mode}", "http://127.0.0.1:8002",
                                    {"situations.yaml": SITUATION_POLICY.format(mode=mode)})
        server = _bridge(bridge_factory, tmp_path, f"audit-{mode}", BRIDGE_POLICIES_DIR=str(policies))
        auth = ("situations-lourd", "pharma-secret")
        auth_req_id = started(server, auth=auth, login_hint="899700000001")
        decide(server, "approve", user="899700000001")
        tick(server, 6)
        answer = poll(server, auth_req_id, auth=auth)
        assert answer.status_code == expected, answer.text
        if expected == 400:
            assert answer.json()["error"] == "access_denied"
            denied = [line for line in audit_lines(server) if line["event"] == "login_denied"]
            assert "activity_choice_unavailable" in denied[-1]["reason"]


def test_psc_garbage_or_errors(bridge_factory, tmp_path):
    """An error status from PSC's token endpoint is passing (503, the request stays); tokens that fail the checks
    are final (PSC's request is spent): access_denied, audited with the check's code, never a token."""
    server = _bridge(bridge_factory, tmp_path)
    auth_req_id = started(server)
    decide(server, "approve")
    server.psc.set_faults({"token_status": 500})
    tick(server, 6)
    answer = poll(server, auth_req_id)
    assert answer.status_code == 503 and answer.json()["error"] == "temporarily_unavailable"
    server.psc.set_faults({"id_token_bad_signature": True})
    tick(server, 6)
    answer = poll(server, auth_req_id)
    assert answer.status_code == 400 and answer.json()["error"] == "access_denied"
    assert "id_token_signature" in answer.json()["error_description"]
    server.psc.set_faults({})
    tick(server, 6)
    assert poll(server, auth_req_id).json()["error"] == "access_denied"
    failed = [line for line in audit_lines(server) if line["event"] == "login_failed"]
    assert [line["reason"] for line in failed] == ["psc_error", "id_token_signature"]
    assert not [line for line in audit_lines(server) if line["event"] == "token_issued"]


BACKCHANNEL_POLICY = """
service: lourd
name: Client lourd (test)
clients:
  - client_id: lourd
    name: Client lourd
    # SHA-256 of "pharma-secret"
    client_secret_sha256: df68fdfab30d39186d3d6ce721fea22f7dafe105db09aaaccb56039f510a7019
    token_endpoint_auth_method: client_secret_basic
    grant_types: [urn:openid:params:grant-type:ciba]
    scopes: [openid, profile, rpps]
    backchannel_logout_uri: http://127.0.0.1:8002/lourd/backchannel-logout
allowed_mie: [psc]
idle_timeout: 10m
"""


def _session_tokens(server, auth) -> tuple[dict, dict]:
    auth_req_id = started(server, auth=auth)
    decide(server, "approve")
    tick(server, 6)
    token = poll(server, auth_req_id, auth=auth).json()
    meta = requests.get(server.url + "/.well-known/openid-configuration", timeout=10).json()
    keys = KeySet.import_key_set(requests.get(meta["jwks_uri"], timeout=10).json())
    return token, jwt.decode(token["id_token"], keys).claims


def test_the_ciba_session_gets_back_channel_logout_and_the_idle_limit(bridge_factory, tmp_path, receiver):
    policies = rewrite_policies(tmp_path / "policies", receiver.url, {"lourd.yaml": BACKCHANNEL_POLICY})
    server = _bridge(bridge_factory, tmp_path, BRIDGE_POLICIES_DIR=str(policies))
    auth = ("lourd", "pharma-secret")
    token, claims = _session_tokens(server, auth)
    server.bridge.sessions.end(claims["sid"], "logout")
    for _ in range(100):   # delivered by the back-channel worker
        if receiver.tokens_for("/lourd/backchannel-logout"):
            break
        time.sleep(0.05)
    logout = jwt.decode(receiver.tokens_for("/lourd/backchannel-logout")[0],
                        KeySet.import_key_set(requests.get(server.url + "/jwks", timeout=10).json())).claims
    assert logout["sid"] == claims["sid"] and logout["aud"] in ("lourd", ["lourd"])
    # Another CIBA login, then 11 minutes without use: the service's inactivity limit ends the tokens.
    token, _ = _session_tokens(server, auth)
    introspect = {"token": token["access_token"]}
    assert requests.post(server.url + "/introspect", data=introspect, auth=auth, timeout=10).json()["active"]
    tick(server, 11 * 60)
    assert requests.post(server.url + "/introspect", data=introspect, auth=auth, timeout=10).json() == {
        "active": False}


def test_acr_values_are_checked_on_the_result(bridge_factory, tmp_path):
    """eidas2 asked: an e-CPS approval (eidas1) is refused and audited; a card approval (eidas2) gets it."""
    server = _bridge(bridge_factory, tmp_path)
    for auth_mode, expected in (("MOBILE", "access_denied"), ("CARD", None)):
        auth_req_id = started(server, acr_values="eidas2", channel=auth_mode)
        decide(server, "approve", auth_mode=auth_mode)
        tick(server, 6)
        answer = poll(server, auth_req_id).json()
        assert answer.get("error") == expected, answer
    denied = [line for line in audit_lines(server) if line["event"] == "login_denied"]
    assert [line["reason"] for line in denied] == ["acr_not_satisfied"]
    meta = requests.get(server.url + "/.well-known/openid-configuration", timeout=10).json()
    keys = KeySet.import_key_set(requests.get(meta["jwks_uri"], timeout=10).json())
    assert jwt.decode(answer["id_token"], keys).claims["acr"] == "eidas2"


def test_waiting_is_not_counted_as_failed_token_requests(bridge_factory, tmp_path):
    server = _bridge(bridge_factory, tmp_path, BRIDGE_RATE_LIMIT_TOKEN_FAILURES="3/minute")
    auth_req_id = started(server)
    for _ in range(5):   # many workstations of one client behind one address: pending is no failure
        tick(server, 6)
        assert poll(server, auth_req_id).json()["error"] == "authorization_pending"
    assert [poll(server, "forged").status_code for _ in range(4)] == [400, 400, 400, 429]
