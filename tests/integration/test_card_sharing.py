"""Sharing the card with the other applications of the workstation (docs/card.md, "Sharing the card"): the billing
software holding a transaction or the card itself when a login starts, a reset by another application between our
dialogues or behind PC/SC's back after our VERIFY, and what each of our dialogues leaves on the card."""
from __future__ import annotations

import time

import pytest
import requests
from smartcard import scard

from bridge.card import apdu, pcsc
from bridge.card import service as card_service
from bridge.card.profiles import identify
from tests.support import billing

BRIDGE = "https://bridge.example"
CHALLENGE = "Zq7wXyT4Ak3J9b2xQ0f1s8"
PIN = "4729"


def sign(agent) -> requests.Response:
    return requests.post(f"{agent.url}/v1/sign", json={"challenge": CHALLENGE, "origin": BRIDGE, "pin": PIN},
                         headers={"Origin": BRIDGE}, timeout=60)


def timed(call):
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


@pytest.mark.parametrize("exclusive", [False, True], ids=["transaction", "exclusive"])
def test_billing_software_keeps_the_card_when_the_login_starts(card_agent, insert_card, pcscd, exclusive):
    insert_card(pin=PIN)
    agent = card_agent([BRIDGE], busy_timeout=1.5)
    holder = billing.start("hold", "--reader", pcscd.reader, "--seconds", "6", *(["--exclusive"] if exclusive else []))
    try:
        response, seconds = timed(lambda: sign(agent))
        assert response.status_code == 409 and response.json() == {"error": "busy"}
        assert 1.0 < seconds < 4, seconds                 # bounded wait, then a clear answer
        answer, seconds = timed(lambda: requests.get(f"{agent.url}/v1/status", headers={"Origin": BRIDGE},
                                                     timeout=30).json())
        assert answer["error"] == "busy" and seconds < 4
    finally:
        assert holder.stdout.readline().strip() == "released"
        holder.wait(10)
    assert sign(agent).status_code == 200      # nothing was left behind by the attempts that gave up


def test_a_short_transaction_of_the_billing_software_is_waited_for(card_agent, insert_card, pcscd):
    insert_card(pin=PIN)
    agent = card_agent([BRIDGE], busy_timeout=5)
    holder = billing.start("hold", "--reader", pcscd.reader, "--seconds", "1")
    response, seconds = timed(lambda: sign(agent))
    assert holder.stdout.readline().strip() == "released"
    holder.wait(10)
    assert response.status_code == 200, response.text
    assert seconds >= 0.5


def test_a_reset_by_another_application_between_our_dialogues_is_acknowledged(insert_card, pcscd, monkeypatch,
                                                                             card_agent):
    """Between "identify + read" and "VERIFY + sign", another application resets the card: pcscd tells us
    (SCARD_W_RESET_CARD) at our next transaction; we acknowledge it, check it is the same card and go on (the PIN
    was not spent yet)."""
    material = insert_card(pin=PIN).material
    agent = card_agent([BRIDGE])
    connections = []

    class ResetBetween(pcsc.Connection):
        transactions = 0

        def transaction(self):
            self.transactions += 1
            if self.transactions == 2:
                other = billing.Billing(self.reader)
                hresult, _ = scard.SCardReconnect(other.card, scard.SCARD_SHARE_SHARED, billing.PROTOCOLS,
                                                  scard.SCARD_RESET_CARD)
                assert hresult == 0
                other.close()
            connections.append(self)
            return super().transaction()

    monkeypatch.setattr(card_service.pcsc, "Connection", ResetBetween)
    response = sign(agent)
    assert response.status_code == 200, response.text
    assert response.json()["card"]["serial"] == material.serial
    assert connections[-1].reset_seen


def test_a_reset_after_our_verify_asks_for_the_pin_again(card_agent, insert_card):
    """The card loses its state between VERIFY and the signature (a reset PC/SC could not tell us about): the
    agent does not sign in a state it does not know, it answers card_reset."""
    virtual = insert_card(pin=PIN)
    virtual.reset_on.add(0x22)             # just before MSE SET, after a good VERIFY
    agent = card_agent([BRIDGE])
    response = sign(agent)
    assert response.status_code == 409 and response.json() == {"error": "card_reset"}
    assert virtual.pin_tries == 3
    assert sign(agent).status_code == 200  # typing the PIN again works


def test_the_connection_layer_acknowledges_a_reset(insert_card, pcscd):
    material = insert_card().material
    with pcsc.Connection(pcscd.reader) as connection:
        other = billing.Billing(pcscd.reader)
        scard.SCardDisconnect(other.card, scard.SCARD_RESET_CARD)
        scard.SCardReleaseContext(other.context)
        with connection.transaction():
            card = identify(connection)
        assert connection.reset_seen and card.pan == material.pan


def test_a_signature_leaves_no_verified_pin_a_status_leaves_the_card_alone(card_agent, insert_card, pcscd):
    insert_card(pin=PIN)
    agent = card_agent([BRIDGE])
    other = billing.Billing(pcscd.reader)       # the billing software, connected all along
    try:
        assert requests.get(f"{agent.url}/v1/status", headers={"Origin": BRIDGE}, timeout=30).ok
        hresult, answer = other.transmit(apdu.select_mf())
        assert hresult == 0 and answer[-2:] == b"\x90\x00"        # no reset after a read-only dialogue
        assert sign(agent).status_code == 200
        hresult, _ = other.transmit(apdu.select_mf())
        assert hresult == billing.RESET                              # the PIN dialogue ended with a reset...
        other._reconnect()
        other.transmit(apdu.select_aid(bytes.fromhex("E828BD080F8025000001FF0010")))
        assert other.transmit(apdu.mse_set_at(0x82))[1][-2:] == b"\x90\x00"
        refused = other.transmit(apdu.internal_authenticate(b"\x30" * 51))[1]
        assert refused[-2:] == b"\x69\x82"                            # ...so nobody can sign with our PIN
    finally:
        other.close()


def test_the_virtual_card_shares_its_state_between_applications_like_a_real_card(insert_card, pcscd):
    """One current file and one security state for everybody on the basic channel: a VERIFY by one application lets
    another one sign, and a SELECT by one changes what the other reads. That is why the agent keeps its dialogues
    in transactions and resets the card after its VERIFY."""
    insert_card(pin=PIN)
    first, second = billing.Billing(pcscd.reader), billing.Billing(pcscd.reader)
    try:
        aid = bytes.fromhex("E828BD080F8025000001FF0010")
        assert first.transmit(apdu.select_aid(aid))[1][-2:] == b"\x90\x00"
        assert first.transmit(apdu.verify(0x01, apdu.pin_block(PIN)))[1] == b"\x90\x00"
        assert second.transmit(apdu.mse_set_at(0x82))[1] == b"\x90\x00"
        assert second.transmit(apdu.internal_authenticate(b"\x30" * 51))[1][:1] == b"\x61"    # signed, no PIN
        assert first.transmit(apdu.select_path(bytes.fromhex("3F00D003")))[1] == b"\x90\x00"
        assert second.transmit(apdu.select_mf())[1] == b"\x90\x00"
        assert first.transmit(apdu.read_binary(0, 12))[1] == b"\x69\x86"      # its EF is no longer selected
    finally:
        first.close()
        second.close()
