"""PSC token relay (RFC 8693 token exchange at /token), over HTTP against the bridge and the PSC emulator, with
injected clocks through PSC's refresh schedule (access token 2 min, refresh token 30 min)."""
from __future__ import annotations

import base64
import json

import requests

from bridge import metrics
from bridge.sandbox.tls import server_ssl_context
from bridge.sweeper import sweep_once
from bridge.upstream import psc_tokens
from tests.support.psc_relay import (
    ACCESS_TOKEN_TYPE,
    DMP,
    INSI,
    SECRET,
    TOKEN_EXCHANGE,
    audit,
    exchange,
    introspect_at_psc,
    login,
    sid_of,
    userinfo,
)


def relayed(event: str) -> float:
    return metrics.PSC_RELAY.labels(event)._value.get()


def test_exchange_gives_the_current_psc_access_token(relay_stack):
    tokens, _ = login(relay_stack)
    before = relayed("exchanged")
    answer = exchange(relay_stack, tokens["access_token"])
    assert relayed("exchanged") == before + 1
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["issued_token_type"] == ACCESS_TOKEN_TYPE and body["token_type"] == "Bearer"
    assert 0 < body["expires_in"] <= 120 and "refresh_token" not in body
    assert answer.headers["Cache-Control"] == "no-store"
    psc = introspect_at_psc(relay_stack, body["access_token"])
    assert psc["active"] and psc["SubjectNameID"] == "899700000002" and psc["azp"] == "bridge-test"
    assert exchange(relay_stack, tokens["access_token"], audience=None, resource=INSI).status_code == 200
    done = audit(relay_stack, "token_exchanged")
    assert [(d["outcome"], d["client"], d["details"]["audience"]) for d in done] == [
        ("success", "lgc-desktop", DMP), ("success", "lgc-desktop", INSI)]
    assert done[0]["subject"] == "899700000002"
    text = relay_stack.trail.read_text()
    assert body["access_token"] not in text and tokens["access_token"] not in text
    grants = requests.get(f"{relay_stack.url}/.well-known/openid-configuration", timeout=10).json()
    assert TOKEN_EXCHANGE in grants["grant_types_supported"]


def test_the_kept_tokens_are_encrypted_in_the_store(relay_stack):
    tokens, _ = login(relay_stack)
    psc_at = exchange(relay_stack, tokens["access_token"]).json()["access_token"]
    raw = relay_stack.bridge.store.get(f"psct:{{{sid_of(relay_stack, tokens['access_token'])}}}")
    assert raw and raw.startswith("v1.") and psc_at not in raw and psc_at.split(".")[1][:40] not in raw


def test_an_access_token_about_to_expire_is_refreshed_at_exchange_time(relay_stack):
    tokens, _ = login(relay_stack)
    first = exchange(relay_stack, tokens["access_token"]).json()["access_token"]
    relay_stack.advance(60)                      # 60 s left: still given as is
    assert exchange(relay_stack, tokens["access_token"]).json()["access_token"] == first
    relay_stack.advance(35)                      # 25 s left (< 30 s): refreshed first
    answer = exchange(relay_stack, tokens["access_token"]).json()
    assert answer["access_token"] != first and answer["expires_in"] > 100
    assert introspect_at_psc(relay_stack, answer["access_token"])["active"]
    assert [r["outcome"] for r in audit(relay_stack, "psc_refresh")] == ["success"]


def test_the_sweeper_keeps_the_psc_session_alive_past_the_first_refresh_token(relay_stack):
    tokens, _ = login(relay_stack)
    relay_stack.advance(27 * 60)
    assert sweep_once(relay_stack.bridge) == 0            # nothing due: the refresh token lapses at 30 min
    assert not audit(relay_stack, "psc_refresh")
    relay_stack.advance(60)                               # 28 min: within 2 min of the lapse
    assert userinfo(relay_stack, tokens["access_token"]).status_code in (200, 401)   # keeps the bridge session
    sweep_once(relay_stack.bridge)
    assert [r["outcome"] for r in audit(relay_stack, "psc_refresh")] == ["success"]
    refreshed = requests.post(f"{relay_stack.url}/token", auth=("lgc-desktop", SECRET), timeout=10, data={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}).json()
    relay_stack.advance(4 * 60)                           # 32 min: the first PSC refresh token is dead
    answer = exchange(relay_stack, refreshed["access_token"])
    assert answer.status_code == 200, answer.text
    assert introspect_at_psc(relay_stack, answer.json()["access_token"])["active"]


def test_a_client_not_allowed_token_exchange_is_refused(relay_stack):
    tokens, _ = login(relay_stack, "lgc-basic")
    answer = exchange(relay_stack, tokens["access_token"], client_id="lgc-basic")
    assert answer.status_code == 400 and answer.json()["error"] == "unauthorized_client"
    assert "access_token" not in answer.json()
    assert audit(relay_stack, "token_exchanged")[-1]["reason"] == "unauthorized_client"


def test_an_audience_the_policy_does_not_list_is_invalid_target(relay_stack):
    tokens, _ = login(relay_stack)
    answer = exchange(relay_stack, tokens["access_token"], audience="https://evil.example/api")
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_target"
    answer = exchange(relay_stack, tokens["access_token"], audience=None)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"
    assert [r["reason"] for r in audit(relay_stack, "token_exchanged")] == ["audience_not_allowed", "no_audience"]


def test_bad_token_types_are_invalid_request(relay_stack):
    tokens, _ = login(relay_stack)
    for extra in ({"subject_token_type": "urn:ietf:params:oauth:token-type:id_token"},
                  {"requested_token_type": "urn:ietf:params:oauth:token-type:refresh_token"},
                  {"actor_token": tokens["access_token"], "actor_token_type": ACCESS_TOKEN_TYPE},
                  {"subject": None}):
        answer = exchange(relay_stack, extra.pop("subject", tokens["access_token"]), **extra)
        assert answer.status_code == 400 and answer.json()["error"] == "invalid_request", extra


def test_a_revoked_subject_token_is_refused(relay_stack):
    tokens, _ = login(relay_stack)
    requests.post(f"{relay_stack.url}/revoke", auth=("lgc-desktop", SECRET), timeout=10,
                  data={"token": tokens["access_token"], "token_type_hint": "access_token"}).raise_for_status()
    answer = exchange(relay_stack, tokens["access_token"])
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"
    assert "access_token" not in answer.json()


def test_an_expired_subject_token_is_refused(relay_stack):
    tokens, _ = login(relay_stack)
    relay_stack.advance(5 * 60 + 1)   # bridge access tokens live 5 min
    answer = exchange(relay_stack, tokens["access_token"])
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"


def test_after_the_sso_session_ended_nothing_is_relayed_and_the_tokens_are_gone(relay_stack):
    tokens, _ = login(relay_stack)
    sid = sid_of(relay_stack, tokens["access_token"])
    assert psc_tokens.load(relay_stack.bridge, sid) is not None
    relay_stack.bridge.sessions.end(sid, "logout")
    answer = exchange(relay_stack, tokens["access_token"])
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"
    assert psc_tokens.load(relay_stack.bridge, sid) is None
    assert relay_stack.bridge.store.get(f"psct:{{{sid}}}") is None


def test_another_clients_subject_token_is_refused(relay_stack):
    tokens, _ = login(relay_stack, "lgc-desktop")
    answer = exchange(relay_stack, tokens["access_token"], client_id="lgc-viewer")
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"
    assert audit(relay_stack, "token_exchanged")[-1]["reason"] == "subject_token_wrong_client"


def test_a_session_without_psc_login_has_nothing_to_relay(relay_stack):
    tokens, _ = login(relay_stack)
    psc_tokens.forget(relay_stack.bridge, sid_of(relay_stack, tokens["access_token"]))
    answer = exchange(relay_stack, tokens["access_token"])
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"
    assert audit(relay_stack, "token_exchanged")[-1]["reason"] == "psc_no_tokens"


def test_the_refresh_uses_the_bridges_client_certificate_where_configured(relay_stack_factory, psc_tls):
    """mTLS (tls_client_auth) to PSC's token endpoint with the bridge's IGC-Santé-like certificate, as the code
    exchange: PSC binds the refreshed access token to it (cnf x5t#S256)."""
    stack = relay_stack_factory(
        ssl_context=server_ssl_context(psc_tls, require_client_cert=False), verify=str(psc_tls.ca_cert),
        psc_client={"secret": "", "auth_method": "tls_client_auth",
                    "tls_client_cert_sha256": psc_tls.client_cert_sha256},
        env={"BRIDGE_PSC_CLIENT_CERT": str(psc_tls.client_cert), "BRIDGE_PSC_CLIENT_KEY": str(psc_tls.client_key),
             "BRIDGE_PSC_CA_BUNDLE": str(psc_tls.ca_cert), "BRIDGE_PSC_CLIENT_SECRET": ""})
    tokens, _ = login(stack)
    first = exchange(stack, tokens["access_token"]).json()["access_token"]
    stack.advance(100)
    answer = exchange(stack, tokens["access_token"])
    assert answer.status_code == 200, answer.text
    refreshed = answer.json()["access_token"]
    assert refreshed != first and [r["outcome"] for r in audit(stack, "psc_refresh")] == ["success"]
    claims = json.loads(base64.urlsafe_b64decode(refreshed.split(".")[1] + "=="))
    assert claims["cnf"]["x5t#S256"] and claims["azp"] == "bridge-test"


def test_a_ciba_login_is_relayed_too(relay_stack):
    """The demo thick client (policies/dpi.yaml, dpi-lourd) logs in by CIBA, then exchanges its token."""
    thick = ("dpi-lourd", "dpi-lourd-secret")
    started = requests.post(f"{relay_stack.url}/bc-authorize", auth=thick, timeout=30, data={
        "scope": "openid profile rpps", "login_hint": "899700000002", "binding_message": "42"}).json()
    requests.post(f"{relay_stack.psc.url}/_emulator/ciba", timeout=10, json={
        "login_hint": "899700000002", "decision": "approve", "auth_mode": "MOBILE"}).raise_for_status()
    relay_stack.advance(6)
    tokens = requests.post(f"{relay_stack.url}/token", auth=thick, timeout=30, data={
        "grant_type": "urn:openid:params:grant-type:ciba", "auth_req_id": started["auth_req_id"]}).json()
    answer = requests.post(f"{relay_stack.url}/token", auth=thick, timeout=20, data={
        "grant_type": TOKEN_EXCHANGE, "subject_token": tokens["access_token"], "subject_token_type": ACCESS_TOKEN_TYPE,
        "audience": "urn:demo:dmp"})
    assert answer.status_code == 200, answer.text
    assert introspect_at_psc(relay_stack, answer.json()["access_token"])["SubjectNameID"] == "899700000002"
