"""Client side of the vsmartcard `vpcd` protocol: we are the card, pcscd's vpcd driver is the TCP server.

Every message is a 2-byte big-endian length then the payload. A 1-byte payload is a control: 00 power off,
01 power on, 02 reset, 04 "send the ATR" (vpcd also uses it to poll for presence); anything longer is a C-APDU,
answered with the R-APDU. Controls other than 04 get no answer. (vsmartcard doc/api.txt, VirtualSmartcard.py.)
Written here because Debian's python3-virtualsmartcard 3.3 does not import (docs/sources.md, CPS).
"""
from __future__ import annotations

import socket
import time
from typing import Protocol

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 35963
POWER_OFF, POWER_ON, RESET, GET_ATR = 0x00, 0x01, 0x02, 0x04


class Chip(Protocol):
    def atr(self) -> bytes: ...
    def power_on(self) -> None: ...
    def power_off(self) -> None: ...
    def reset(self) -> None: ...
    def process(self, apdu: bytes) -> bytes | None: ...   # None: the card was pulled out, drop the link


def connect(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, timeout: float = 10.0) -> socket.socket:
    """Connect to vpcd, retrying while pcscd starts."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            sock = socket.create_connection((host, port), timeout=2)
            sock.settimeout(None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _receive(sock: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        # vpcd writes the length and the payload separately: acknowledge at once, or Nagle on its side waits for
        # our delayed ACK and every APDU takes 40 ms.
        if hasattr(socket, "TCP_QUICKACK"):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        chunk = sock.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def send(sock: socket.socket, payload: bytes) -> None:
    sock.sendall(len(payload).to_bytes(2, "big") + payload)


def serve(sock: socket.socket, chip: Chip) -> None:
    """Answer vpcd until it (or the chip) closes the link."""
    try:
        while True:
            header = _receive(sock, 2)
            if header is None:
                return
            payload = _receive(sock, int.from_bytes(header, "big"))
            if payload is None:
                return
            if len(payload) == 1:
                control = payload[0]
                if control == GET_ATR:
                    send(sock, chip.atr())
                elif control == POWER_ON:
                    chip.power_on()
                elif control == POWER_OFF:
                    chip.power_off()
                elif control == RESET:
                    chip.reset()
                continue
            answer = chip.process(payload)
            if answer is None:
                return
            send(sock, answer)
    except OSError:
        return
    finally:
        try:
            sock.close()
        except OSError:
            pass
