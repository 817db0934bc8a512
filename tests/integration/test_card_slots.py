"""Finding the CPS among every reader and slot: a two-slot ("bifente") reader with the patient's carte Vitale in one
slot and the CPS in the other, two CPS cards, a Vitale card alone, a card swapped or pulled out between the page's
status and its signature — through the agent's HTTP API, pcscd and the vpcd reader."""
from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
import requests

from bridge import pki
from bridge.card.slots import atr_kind, split_name
from bridge.sandbox.vitale import ATR as VITALE_ATR
from tests.support.pcsc import wait_card_state

BRIDGE = "https://bridge.example"
CHALLENGE = "Zq7wXyT4Ak3J9b2xQ0f1s8"
PIN = "4729"


@pytest.fixture
def agent(card_agent):
    return card_agent([BRIDGE])


def status(agent) -> dict:
    response = requests.get(f"{agent.url}/v1/status", headers={"Origin": BRIDGE}, timeout=30)
    assert response.status_code == 200
    return response.json()


def sign(agent, reader=None, pin=PIN, challenge=CHALLENGE) -> requests.Response:
    body = {"challenge": challenge, "origin": BRIDGE, "pin": pin, **({"reader": reader} if reader else {})}
    return requests.post(f"{agent.url}/v1/sign", json=body, headers={"Origin": BRIDGE}, timeout=60)


def slot_cards(answer: dict) -> dict[str, dict | None]:
    return {slot["reader"]: slot["card"] for reader in answer["readers"] for slot in reader["slots"]}


def verified_identity(body: dict, test_pki, tmp_path, challenge=CHALLENGE) -> str:
    trust = pki.TrustStore.from_directory(test_pki.trust_dir(tmp_path / "trust"), test_pki.crl_dir(tmp_path / "crl"))
    return pki.verify_proof(base64.b64decode(body["certificate"]), base64.b64decode(body["signature"]), BRIDGE,
                            challenge, trust, datetime.now(UTC), body["card"]["serial"]).identity.national_id


def test_slot_names_and_atr_kinds():
    assert split_name("Virtual PCD 00 01") == ("Virtual PCD 00", 1)
    assert split_name("Gemalto PC Twin Reader 01 0A") == ("Gemalto PC Twin Reader 01", 10)
    assert split_name("Gemalto USB SmartCard Reader 0") == ("Gemalto USB SmartCard Reader 0", 0)   # Windows
    assert atr_kind(bytes.fromhex("3BAC00402A001225006480000310009000")) == "cpx"
    assert atr_kind(VITALE_ATR) == "vitale"
    assert atr_kind(bytes.fromhex("3B751300004C09EA9000")) == "vitale"
    assert atr_kind(bytes.fromhex("3B021450")) == "other"


def test_bifente_reader_vitale_in_one_slot_cps_in_the_other(agent, insert_card, insert_vitale, test_pki, pcscd,
                                                            tmp_path):
    material = test_pki.card("899700000001")
    vitale = insert_vitale(slot=0)
    insert_card(material, slot=1, pin=PIN)
    cps_reader = pcscd.slot(1)[0]
    answer = status(agent)
    assert "error" not in answer
    assert answer["selected"] == answer["reader"] == cps_reader
    assert answer["card"]["serial"] == material.serial and answer["card"]["holder"] == "PAUL MEDECIN"
    assert answer["card"]["logical_number"] == material.serial and answer["pin_tries_left"] == 3
    reader = next(r for r in answer["readers"] if r["name"] == "Virtual PCD 00")
    assert [slot["index"] for slot in reader["slots"]] == [0, 1]
    assert reader["slots"][0]["card"] == {"type": "vitale", "serial": None, "logical_number": None, "cps": False}
    assert reader["slots"][1]["card"]["cps"] is True
    response = sign(agent)
    assert response.status_code == 200, response.text
    assert response.json()["card"]["reader"] == cps_reader
    assert verified_identity(response.json(), test_pki, tmp_path) == "899700000001"
    assert vitale.commands == []              # the patient's card is never sent a command: its ATR says enough


def test_a_vitale_card_alone_is_no_cps_card(agent, insert_vitale, pcscd):
    vitale = insert_vitale(slot=1)
    answer = status(agent)
    assert answer["error"] == "no_cps_card" and answer["selected"] is None and answer["card"] is None
    assert slot_cards(answer)[pcscd.slot(1)[0]]["type"] == "vitale"
    response = sign(agent)
    assert response.status_code == 409 and response.json() == {"error": "no_cps_card"}
    assert vitale.commands == []


def test_an_unknown_card_next_to_a_cps_is_skipped(agent, insert_card, test_pki, pcscd):
    insert_card(test_pki.card("899700000007"), slot=0, atr=bytes.fromhex("3B021450"))
    material = test_pki.card("899700000001")
    insert_card(material, slot=1, pin=PIN)
    answer = status(agent)
    assert answer["selected"] == pcscd.slot(1)[0]
    assert slot_cards(answer)[pcscd.slot(0)[0]]["type"] == "other"
    assert sign(agent).json()["card"]["serial"] == material.serial


def test_two_cps_cards_the_page_chooses(agent, insert_card, test_pki, pcscd, tmp_path):
    paul = test_pki.card("899700000001")
    jeanne = test_pki.card("899700000002", family_name="INFIRMIERE", given_name="JEANNE")
    insert_card(paul, slot=0, pin=PIN)
    insert_card(jeanne, slot=1, pin="1111")
    answer = status(agent)
    assert answer["error"] == "several_cards" and answer["selected"] is None and answer["card"] is None
    cards = slot_cards(answer)
    assert {(c["holder"], c["logical_number"]) for c in cards.values()} == {
        ("PAUL MEDECIN", paul.serial), ("JEANNE INFIRMIERE", jeanne.serial)}
    unchosen = sign(agent)
    assert unchosen.status_code == 409 and unchosen.json() == {"error": "several_cards"}
    chosen = sign(agent, reader=pcscd.slot(1)[0], pin="1111")
    assert chosen.status_code == 200, chosen.text
    assert chosen.json()["card"]["serial"] == jeanne.serial and chosen.json()["card"]["holder"] == "JEANNE INFIRMIERE"
    assert verified_identity(chosen.json(), test_pki, tmp_path) == "899700000002"


def test_a_reader_that_does_not_exist_or_an_empty_slot(agent, insert_card, pcscd):
    insert_card(slot=0, pin=PIN)
    assert sign(agent, reader="No Such Reader 00 00").json() == {"error": "no_reader"}
    assert sign(agent, reader=pcscd.slot(1)[0]).json() == {"error": "no_card"}


def test_card_swapped_between_status_and_sign_signs_with_the_card_present(agent, insert_card, test_pki, pcscd,
                                                                          tmp_path):
    paul = test_pki.card("899700000001")
    jeanne = test_pki.card("899700000002", family_name="INFIRMIERE", given_name="JEANNE")
    first = insert_card(paul, slot=0, pin=PIN)
    assert status(agent)["card"]["serial"] == paul.serial
    first.remove()
    wait_card_state(pcscd.reader, False)
    insert_card(jeanne, slot=0, pin=PIN)
    response = sign(agent)
    assert response.status_code == 200, response.text
    body = response.json()
    # The answer says which card signed, and certificate and signature both come from it: the server checks the
    # certificate and sees Jeanne, never Paul's certificate with Jeanne's signature.
    assert body["card"]["serial"] == jeanne.serial and body["card"]["holder"] == "JEANNE INFIRMIERE"
    assert base64.b64decode(body["certificate"]) == jeanne.cert_der
    assert verified_identity(body, test_pki, tmp_path) == "899700000002"


def test_card_removed_during_the_pin_dialogue(agent, insert_card, pcscd):
    virtual = insert_card(pin=PIN)
    virtual.remove_on.add(0x20)              # pulled out when VERIFY reaches it
    response = sign(agent)
    assert response.status_code == 409 and response.json() == {"error": "card_removed"}
    assert virtual.pin_tries == 3            # the PIN never reached the card
    wait_card_state(pcscd.reader, False)
    assert status(agent)["error"] == "no_card"


def test_reader_link_gone_after_the_read(agent, insert_card, pcscd):
    """The vpcd link drops when the card is asked to sign: for the agent the card (and its reader) went away."""
    virtual = insert_card(pin=PIN)
    virtual.remove_on.add(0x22)              # at MSE SET, after VERIFY
    response = sign(agent)
    assert response.status_code == 409 and response.json() == {"error": "card_removed"}
    wait_card_state(pcscd.reader, False)
    answer = status(agent)
    assert answer["error"] == "no_card" and slot_cards(answer)[pcscd.reader] is None
