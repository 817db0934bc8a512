"""The card agent over real HTTP, with a virtual card behind pcscd + vpcd."""
import base64
import logging
import os
import re
import subprocess
import sys
from datetime import UTC, datetime

import pytest
import requests

from bridge import pki
from bridge.card.agent import normalize_origin

BRIDGE = "https://bridge.example"
CHALLENGE = "Zq7wXyT4Ak3J9b2xQ0f1s8"
PIN = "4729"


@pytest.fixture
def agent(card_agent):
    return card_agent([BRIDGE])


def sign(agent, pin=PIN, origin=BRIDGE, header_origin=BRIDGE, challenge=CHALLENGE):
    return requests.post(f"{agent.url}/v1/sign", json={"challenge": challenge, "origin": origin, "pin": pin},
                         headers={"Origin": header_origin}, timeout=30)


def test_cors_and_private_network_preflight(agent):
    response = requests.options(f"{agent.url}/v1/sign", timeout=5, headers={
        "Origin": BRIDGE, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type",
        "Access-Control-Request-Private-Network": "true"})
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == BRIDGE
    assert response.headers["Access-Control-Allow-Private-Network"] == "true"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "content-type" in response.headers["Access-Control-Allow-Headers"].lower()


def test_preflight_from_another_origin_is_refused(agent):
    response = requests.options(f"{agent.url}/v1/sign", timeout=5, headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Private-Network": "true"})
    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Access-Control-Allow-Private-Network" not in response.headers


@pytest.mark.parametrize("headers", [{}, {"Origin": "https://evil.example"}, {"Origin": "null"}])
def test_requests_without_an_allowed_origin_are_refused(agent, headers):
    response = requests.get(f"{agent.url}/v1/status", headers=headers, timeout=5)
    assert response.status_code == 403 and response.json() == {"error": "origin_not_allowed"}


def test_a_foreign_host_header_is_refused(agent):
    """DNS rebinding: evil.example resolving to 127.0.0.1 would carry its own Host."""
    response = requests.get(f"{agent.url}/v1/status", headers={"Origin": BRIDGE, "Host": "evil.example"}, timeout=5)
    assert response.status_code == 403 and response.json()["error"] == "bad_host"


def test_status_with_a_card(agent, insert_card, test_pki, pcscd):
    material = test_pki.card("899700000001", kind="CPF")
    insert_card(material)
    response = requests.get(f"{agent.url}/v1/status", headers={"Origin": BRIDGE}, timeout=10)
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == BRIDGE
    status = response.json()
    assert status["selected"] == status["reader"] == pcscd.reader
    assert status["card_present"] is True
    assert status["card_type"] == "CPF"
    assert status["card"] == {"type": "CPF", "serial": material.serial, "generation": "CPS3",
                              "logical_number": material.serial, "holder": "PAUL MEDECIN"}
    assert status["pin_tries_left"] == 3
    virtual_pcd = next(r for r in status["readers"] if r["name"] == "Virtual PCD 00")
    assert [(s["index"], s["reader"]) for s in virtual_pcd["slots"]] == [(0, pcscd.reader), (1, "Virtual PCD 00 01")]
    assert virtual_pcd["slots"][0]["card"] == {**status["card"], "cps": True, "pin_tries_left": 3}
    assert virtual_pcd["slots"][1]["card"] is None


def test_status_without_a_card(agent, pcscd):
    status = requests.get(f"{agent.url}/v1/status", headers={"Origin": BRIDGE}, timeout=10).json()
    assert status["card_present"] is False and status["error"] == "no_card" and status["selected"] is None
    slots = [slot for reader in status["readers"] for slot in reader["slots"]]
    assert pcscd.reader in [slot["reader"] for slot in slots] and all(slot["card"] is None for slot in slots)


def test_status_with_an_unknown_reader(card_agent):
    agent = card_agent([BRIDGE], reader="No Such Reader")
    status = requests.get(f"{agent.url}/v1/status", headers={"Origin": BRIDGE}, timeout=10).json()
    assert status["error"] == "no_reader" and status["card_present"] is False


def test_sign_returns_a_proof_the_server_accepts(agent, insert_card, test_pki, tmp_path):
    material = test_pki.card("899700000001")
    insert_card(material, pin=PIN)
    response = sign(agent)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["algorithm"] == "RS256"
    assert body["card"] == {"type": "CPS", "serial": material.serial, "logical_number": material.serial,
                            "reader": "Virtual PCD 00 00", "holder": "PAUL MEDECIN"}
    assert base64.b64decode(body["certificate"]) == material.cert_der
    trust = pki.TrustStore.from_directory(test_pki.trust_dir(tmp_path / "trust"), test_pki.crl_dir(tmp_path / "crl"))
    verified = pki.verify_proof(base64.b64decode(body["certificate"]), base64.b64decode(body["signature"]),
                                BRIDGE, CHALLENGE, trust, datetime.now(UTC), body["card"]["serial"])
    assert verified.identity.national_id == "899700000001" and verified.card.serial == material.serial


def test_body_origin_must_match_the_origin_header(card_agent, insert_card):
    agent = card_agent([BRIDGE, "https://other.example"])
    virtual = insert_card(pin=PIN)
    response = sign(agent, origin="https://other.example", header_origin=BRIDGE)
    assert response.status_code == 403 and response.json() == {"error": "origin_mismatch"}
    assert virtual.commands == []            # the card was not even touched
    assert virtual.pin_tries == 3


def test_wrong_pin_reports_tries_left_then_blocked(agent, insert_card):
    insert_card(pin=PIN)
    first = sign(agent, pin="0000")
    assert first.status_code == 403 and first.json() == {"error": "wrong_pin", "tries_left": 2}
    assert sign(agent, pin="0001").json() == {"error": "wrong_pin", "tries_left": 1}
    third = sign(agent, pin="0002")
    assert third.status_code == 423 and third.json() == {"error": "card_blocked", "tries_left": 0}
    status = requests.get(f"{agent.url}/v1/status", headers={"Origin": BRIDGE}, timeout=10).json()
    assert status["pin_tries_left"] == 0


def test_blocked_card(agent, insert_card):
    insert_card(pin=PIN, blocked=True)
    response = sign(agent)
    assert response.status_code == 423 and response.json()["error"] == "card_blocked"


def test_no_card(agent, pcscd):
    response = sign(agent)
    assert response.status_code == 409 and response.json() == {"error": "no_card"}


def test_no_reader(card_agent):
    agent = card_agent([BRIDGE], reader="No Such Reader")
    response = sign(agent)
    assert response.status_code == 503 and response.json() == {"error": "no_reader"}


def test_unsupported_card(agent, insert_card):
    insert_card(atr=bytes.fromhex("3B021450"))
    response = sign(agent)
    assert response.status_code == 422 and response.json() == {"error": "unsupported_card"}


def test_card_removed_during_signature(agent, insert_card):
    virtual = insert_card(pin=PIN)
    virtual.remove_on.add(0x88)
    response = sign(agent)
    assert response.status_code == 409 and response.json() == {"error": "card_removed"}


@pytest.mark.parametrize("body", [{"challenge": CHALLENGE, "origin": BRIDGE},
                                  {"challenge": CHALLENGE, "origin": BRIDGE, "pin": "12ab"},
                                  {"challenge": "short", "origin": BRIDGE, "pin": PIN},
                                  {"challenge": "a|b" * 8, "origin": BRIDGE, "pin": PIN}])
def test_malformed_requests(agent, body):
    response = requests.post(f"{agent.url}/v1/sign", json=body, headers={"Origin": BRIDGE}, timeout=5)
    assert response.status_code == 400 and response.json() == {"error": "bad_request"}


def test_a_form_post_cannot_skip_the_preflight(agent):
    response = requests.post(f"{agent.url}/v1/sign", data={"challenge": CHALLENGE, "origin": BRIDGE, "pin": PIN},
                             headers={"Origin": BRIDGE}, timeout=5)
    assert response.status_code == 415


def test_one_operation_at_a_time(agent, insert_card, pcscd):
    insert_card(pin=PIN)
    agent.service.lock_timeout = 0.2
    lock = agent.service._lock(pcscd.reader)
    with lock:                               # another request holds the reader
        response = sign(agent)
    assert response.status_code == 409 and response.json() == {"error": "busy"}
    assert sign(agent).status_code == 200


def test_the_pin_never_appears_in_the_logs(agent, insert_card, caplog):
    caplog.set_level(logging.DEBUG)
    insert_card(pin=PIN)
    assert sign(agent, pin="8163").json()["error"] == "wrong_pin"
    assert sign(agent).status_code == 200
    text = caplog.text
    assert "00 20 00 01 <secret>" in text           # the APDU trace is on, VERIFY included...
    for secret in (PIN, "8163", PIN.encode().hex(), " ".join(f"{b:02x}" for b in PIN.encode())):
        assert secret not in text                    # ...but never its data


def test_cli_agent_serves_and_never_logs_the_pin(insert_card, test_pki):
    insert_card(pin=PIN)
    process = subprocess.Popen(
        [sys.executable, "-m", "bridge.cli", "card-agent", "--allow-origin", BRIDGE, "--port", "0",
         "--log-level", "DEBUG"], stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    try:
        banner = process.stderr.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", banner).group(0)

        class Agent:
            pass
        agent = Agent()
        agent.url = url
        assert sign(agent).status_code == 200
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[1]
    assert "POST /v1/sign" in output and "<secret>" in output
    assert PIN not in output and PIN.encode().hex() not in output


def test_allow_origin_values_are_origins():
    assert normalize_origin("https://Bridge.example/") == "https://bridge.example"
    with pytest.raises(ValueError):
        normalize_origin("https://bridge.example/login")
