"""Living with the billing software: a second process (tests/support/billing.py) keeps running its own PC/SC
transactions on the CPS card and on the carte Vitale in the other slot of the same two-slot reader while 50
logins go through the card agent. Every proof is verified by the server's code; the billing program checks each of
its answers. Timings are reported (bench/card_sharing.py), not asserted."""
from __future__ import annotations

import base64
import secrets
import time
from datetime import UTC, datetime

import requests

from bridge import pki
from tests.support import billing

BRIDGE = "https://bridge.example"
PIN = "4729"
LOGINS = 50
# Between two logins, time for the billing program: pcsc-lite gives a freed card to whoever asks first, and a
# waiting SCardBeginTransaction asks every 100 ms, so back-to-back logins would starve it (a person takes seconds).
GAP = 0.15


def sign(agent, challenge: str, reader: str | None = None) -> requests.Response:
    body = {"challenge": challenge, "origin": BRIDGE, "pin": PIN, **({"reader": reader} if reader else {})}
    return requests.post(f"{agent.url}/v1/sign", json=body, headers={"Origin": BRIDGE}, timeout=60)


def logins(agent, trust, count: int, expected_id: str) -> tuple[list, float]:
    """`count` sign operations, each proof checked with bridge.pki.verify_proof; (failures, seconds signing)."""
    failures, busy = [], 0.0
    for _ in range(count):
        time.sleep(GAP)
        started = time.monotonic()
        challenge = secrets.token_urlsafe(32)
        answer = sign(agent, challenge)
        busy += time.monotonic() - started
        if answer.status_code != 200:
            failures.append(answer.json())
            continue
        body = answer.json()
        verified = pki.verify_proof(base64.b64decode(body["certificate"]), base64.b64decode(body["signature"]),
                                    BRIDGE, challenge, trust, datetime.now(UTC), body["card"]["serial"])
        if verified.identity.national_id != expected_id:
            failures.append({"identity": verified.identity.national_id})
    return failures, busy


def test_fifty_logins_while_the_billing_software_uses_both_slots(card_agent, insert_card, insert_vitale, test_pki,
                                                                 pcscd, tmp_path):
    material = test_pki.card("899700000001")
    insert_vitale(slot=0)
    insert_card(material, slot=1, pin=PIN)
    (vitale_reader, _), (cps_reader, _) = pcscd.slot(0), pcscd.slot(1)
    agent = card_agent([BRIDGE])
    trust = pki.TrustStore.from_directory(test_pki.trust_dir(tmp_path / "trust"), test_pki.crl_dir(tmp_path / "crl"))
    on_cps = billing.start("loop", "--reader", cps_reader, "--card", "cps", "--pan", material.pan.hex())
    on_vitale = billing.start("loop", "--reader", vitale_reader, "--card", "vitale")
    try:
        failures, seconds = logins(agent, trust, LOGINS, "899700000001")
    finally:
        cps_counts, vitale_counts = billing.stop(on_cps), billing.stop(on_vitale)
    print(f"\n{LOGINS} logins: {seconds:.1f} s in sign ({seconds / LOGINS * 1000:.0f} ms each), "
          f"failures {len(failures)}; billing on the CPS {cps_counts}, on the Vitale {vitale_counts}")
    assert failures == []
    for counts in (cps_counts, vitale_counts):
        assert counts["broken"] == 0 and counts["errors"] == 0, counts
        assert counts["transactions"] >= LOGINS, counts           # it really worked all along
    # Each PIN dialogue ends with a reset (no verified PIN left behind): the billing program saw and handled them.
    assert cps_counts["resets"] >= 1
    assert vitale_counts["resets"] == 0                            # the agent never touched the Vitale card


def test_without_transactions_the_billing_software_breaks(card_agent, insert_card, test_pki, pcscd):
    """The check is sensitive: the same program skipping SCardBeginTransaction reads another file than it selected
    (or none) as soon as one of the agent's read-only dialogues (a status: no reset after it) lands between its
    SELECT and its READ BINARY: the card has one current file for every application."""
    material = test_pki.card("899700000001")
    insert_card(material, slot=0, pin=PIN)
    agent = card_agent([BRIDGE])
    careless = billing.start("loop", "--reader", pcscd.reader, "--card", "cps", "--pan", material.pan.hex(),
                             "--no-transactions", "--pause", "0.02", "--idle", "0.005")
    try:
        for _ in range(40):
            time.sleep(GAP)
            status = requests.get(f"{agent.url}/v1/status", headers={"Origin": BRIDGE}, timeout=30).json()
            assert status["card"]["serial"] == material.serial      # the agent's own dialogues stay whole
    finally:
        counts = billing.stop(careless)
    assert counts["broken"] >= 1, counts
