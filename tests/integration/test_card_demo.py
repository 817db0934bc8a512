"""`make demo`'s card part: a two-slot virtual reader with the patient's carte Vitale in slot 0 and the CPS in
slot 1; Enter in the demo's terminal pulls the CPS out and puts it back."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import requests

from bridge.card import pcsc
from bridge.card.slots import atr_kind
from tests.support.pcsc import wait_card_state

ROOT = Path(__file__).resolve().parents[2]

ORIGIN = {"Origin": "http://127.0.0.1:8000"}


def test_the_demo_has_a_bifente_reader_and_the_cps_can_be_pulled_out(pcscd, test_pki):
    from bridge import demo

    card = demo.start_card("http://127.0.0.1:8000", "http://127.0.0.1:0", test_pki, vpcd_port=pcscd.port)
    try:
        assert card.available, card.note
        assert f"carte Vitale dans « {demo.VITALE_READER} »" in card.note and f"dans « {demo.READER} »" in card.note
        status = requests.get(f"{card.agent_url}/v1/status", headers=ORIGIN, timeout=30).json()
        assert status["selected"] == demo.READER == pcscd.slot(1)[0]
        slots = {slot["reader"]: slot["card"] for reader in status["readers"] for slot in reader["slots"]}
        assert slots[demo.VITALE_READER]["type"] == "vitale" and slots[demo.READER]["serial"] == card.serial
        demo.card_keys(card, lines=["\n"])                         # Enter: the CPS is pulled out
        wait_card_state(demo.READER, False)
        assert requests.get(f"{card.agent_url}/v1/status", headers=ORIGIN, timeout=30).json()["error"] == \
            "no_cps_card"
        assert "réinsérée" in card.toggle()
        wait_card_state(demo.READER, True)
        assert requests.get(f"{card.agent_url}/v1/status", headers=ORIGIN, timeout=30).json()["selected"] == \
            demo.READER
    finally:
        card.stop()
    wait_card_state(pcscd.slot(0)[0], False)
    wait_card_state(pcscd.slot(1)[0], False)


def test_sandbox_card_serves_a_vitale_in_slot_1(pcscd):
    process = subprocess.Popen([sys.executable, "-m", "bridge.cli", "sandbox", "card", "--vitale", "--slot", "1",
                                "--port", str(pcscd.port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    reader = pcscd.slot(1)[0]
    try:
        lines = [process.stdout.readline() for _ in range(2)]
        assert "carte Vitale" in lines[0] and f"port {pcscd.port + 1} (slot 1)" in lines[0]
        assert lines[-1].strip() == "inserted", lines
        wait_card_state(reader, True)
        state = pcsc.reader_states([reader])[0]
        assert atr_kind(state.atr) == "vitale"
    finally:
        process.terminate()
        process.wait(10)
    wait_card_state(reader, False)
