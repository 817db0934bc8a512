"""A program playing the billing software (SESAM-Vitale / FSE) on the workstation's PC/SC service: its own process,
its own PC/SC context and transactions, every answer checked. What the card agent must live with.

    python -m tests.support.billing loop --reader "Virtual PCD 00 01" --card cps --pan 80250000012986888219
    python -m tests.support.billing loop --reader "Virtual PCD 00 00" --card vitale
    python -m tests.support.billing hold --reader "Virtual PCD 00 01" --seconds 3 [--exclusive]

`loop` runs dialogues until SIGTERM, each one `SELECT file` then `READ BINARY`, with a short pause between them (as
a program working on the answer would) so that any other application's SELECT landing there is caught: the read
then returns another file, or fails. With `--no-transactions` it skips SCardBeginTransaction (the sensitivity
check: then it breaks). On SIGTERM it prints one JSON line: {transactions, broken, resets, errors, first_broken}.
A reset by another application (SCARD_W_RESET_CARD) is acknowledged (SCardReconnect, leave) and the dialogue
starts again, as a well-behaved PC/SC program does; it is counted, not a failure.
`hold` begins a transaction (or connects in exclusive mode), prints "holding", keeps it `--seconds`, then ends it
and prints "released".
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
import time

from smartcard import scard

from bridge.card import apdu
from bridge.sandbox import vitale

PROTOCOLS = scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1
RESET = scard.SCARD_W_RESET_CARD & 0xFFFFFFFF
PAUSE = 0.002       # between SELECT and READ BINARY, inside the dialogue
IDLE = 0.02         # between dialogues: pcsc-lite's transactions are not fair (a waiter polls every 100 ms), so a
                    # program that begins its next transaction at once would starve every other application


def dialogues(card: str, pan_hex: str) -> list[tuple[bytes, bytes]]:
    """(command, expected answer incl. status word) pairs making one dialogue."""
    ok = b"\x90\x00"
    if card == "cps":
        pan = bytes.fromhex(pan_hex)
        return [(apdu.select_path(bytes.fromhex("3F00D003")), ok),
                (apdu.read_binary(0, 12), apdu.encode_tlv(0x5A, pan) + ok)]
    holder = vitale.VirtualVitale().holder
    return [(apdu.select_aid(vitale.AID), ok), (apdu.select_fid(vitale.FID_HOLDER), ok),
            (apdu.read_binary(0, len(holder)), holder + ok)]


class Billing:
    def __init__(self, reader: str, exclusive: bool = False):
        self.reader = reader
        hresult, self.context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        assert hresult == 0, scard.SCardGetErrorMessage(hresult)
        mode = scard.SCARD_SHARE_EXCLUSIVE if exclusive else scard.SCARD_SHARE_SHARED
        hresult, self.card, self.protocol = scard.SCardConnect(self.context, reader, mode, PROTOCOLS)
        assert hresult == 0, scard.SCardGetErrorMessage(hresult)
        self.counts = {"transactions": 0, "broken": 0, "resets": 0, "errors": 0, "first_broken": None}
        self.stop = False

    def _reconnect(self) -> None:
        self.counts["resets"] += 1
        hresult, self.protocol = scard.SCardReconnect(self.card, scard.SCARD_SHARE_SHARED, PROTOCOLS,
                                                      scard.SCARD_LEAVE_CARD)
        assert hresult == 0, scard.SCardGetErrorMessage(hresult)

    def transmit(self, command: bytes) -> tuple[int, bytes]:
        pci = scard.SCARD_PCI_T1 if self.protocol == scard.SCARD_PROTOCOL_T1 else scard.SCARD_PCI_T0
        hresult, answer = scard.SCardTransmit(self.card, pci, list(command))
        return hresult & 0xFFFFFFFF, bytes(answer)

    def dialogue(self, steps: list[tuple[bytes, bytes]], transactions: bool, pause: float = PAUSE) -> None:
        if transactions:
            hresult = scard.SCardBeginTransaction(self.card) & 0xFFFFFFFF
            if hresult == RESET:
                self._reconnect()
                return
            if hresult:
                self.counts["errors"] += 1
                return
        try:
            for i, (command, expected) in enumerate(steps):
                if i:
                    time.sleep(pause)
                hresult, answer = self.transmit(command)
                if hresult == RESET:
                    self._reconnect()
                    return
                if hresult:
                    self.counts["errors"] += 1
                    return
                if answer != expected:
                    self.counts["broken"] += 1
                    self.counts["first_broken"] = self.counts["first_broken"] or \
                        f"{command[:4].hex()} -> {answer[-2:].hex()} ({len(answer)} bytes)"
                    return
            self.counts["transactions"] += 1
        finally:
            if transactions:
                scard.SCardEndTransaction(self.card, scard.SCARD_LEAVE_CARD)

    def close(self) -> None:
        scard.SCardDisconnect(self.card, scard.SCARD_LEAVE_CARD)
        scard.SCardReleaseContext(self.context)


def start(*args: str):
    """The billing program in a process of its own, once its connection is made (`loop` prints "ready",
    `hold` "holding"); stop a loop with stop()."""
    import os
    import subprocess
    from pathlib import Path

    process = subprocess.Popen([sys.executable, "-m", "tests.support.billing", *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2],
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    line = process.stdout.readline().strip()
    if line not in ("ready", "holding"):
        process.kill()
        raise AssertionError(f"billing program did not start: {line!r} {process.stderr.read()}")
    return process


def stop(process) -> dict:
    """SIGTERM, then the counts the loop printed."""
    process.terminate()
    out, err = process.communicate(timeout=30)
    lines = out.strip().splitlines()
    if process.returncode != 0 or not lines:
        raise AssertionError(f"billing program failed ({process.returncode}): {err[-2000:]}")
    return json.loads(lines[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["loop", "hold"])
    parser.add_argument("--reader", required=True)
    parser.add_argument("--card", choices=["cps", "vitale"], default="cps")
    parser.add_argument("--pan", default="")
    parser.add_argument("--no-transactions", action="store_true")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--exclusive", action="store_true")
    parser.add_argument("--idle", type=float, default=IDLE, help="seconds between two dialogues")
    parser.add_argument("--pause", type=float, default=PAUSE, help="seconds between SELECT and READ BINARY")
    args = parser.parse_args(argv)
    billing = Billing(args.reader, exclusive=args.exclusive)
    if args.mode == "hold":
        if not args.exclusive:
            assert scard.SCardBeginTransaction(billing.card) == 0
        print("holding", flush=True)
        time.sleep(args.seconds)
        if not args.exclusive:
            scard.SCardEndTransaction(billing.card, scard.SCARD_LEAVE_CARD)
        billing.close()
        print("released", flush=True)
        return
    signal.signal(signal.SIGTERM, lambda *_: setattr(billing, "stop", True))
    steps = dialogues(args.card, args.pan)
    print("ready", flush=True)
    while not billing.stop:
        billing.dialogue(steps, not args.no_transactions, args.pause)
        time.sleep(args.idle)
    billing.close()
    print(json.dumps(billing.counts), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
