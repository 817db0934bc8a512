"""Readers, their slots, and what a card's ATR says before anyone talks to it.

pcsc-lite names each slot of a reader as a reader of its own: "<name> <reader index> <slot index>", two hex digits
each, so a two-slot ("bifente") reader with the patient's carte Vitale and the professional's CPS shows as
"Virtual PCD 00 00" and "Virtual PCD 00 01". We group slots by the name without the trailing slot number; a name
without that suffix (Windows: "Gemalto USB SmartCard Reader 0") is a reader with one slot.

A card whose ATR is not a CPx ATR is never sent a command: the billing software may be in the middle of its own
dialogue with the carte Vitale, and we have nothing to ask it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from bridge.card.pcsc import ReaderState
from bridge.card.profiles import PROFILES

SLOT_SUFFIX = re.compile(r"^(?P<reader>.+ [0-9A-Fa-f]{2}) (?P<slot>[0-9A-Fa-f]{2})$")


def _pattern(hex_atr: str) -> tuple[bytes, bytes]:
    """"3B 75 .. 09" -> (ATR, mask): `..` matches any byte."""
    parts = hex_atr.split()
    return (bytes(0 if p == ".." else int(p, 16) for p in parts),
            bytes(0 if p == ".." else 0xFF for p in parts))


# Carte Vitale ATRs from pcsc-tools' smartcard_list.txt (Vitale 2: 3B 75 13 00 00 4x 09 EA 90 00; Vitale 1, inverse
# convention: 3F 65 25 00 xx 09 xx 90 00). Only used to name the card on the page; any other card is skipped too.
VITALE_ATRS = (_pattern("3B 75 13 00 00 .. 09 EA 90 00"), _pattern("3F 65 25 00 .. 09 .. 90 00"))


def _matches(atr: bytes, patterns) -> bool:
    return any(len(atr) == len(known) and all((a ^ k) & m == 0 for a, k, m in zip(atr, known, mask, strict=True))
               for known, mask in patterns)


def atr_kind(atr: bytes) -> str:
    """"cpx" (a CPS3/CPS4 ATR: still to be confirmed by EF.SN.ICC), "vitale" or "other"."""
    if any(settings.matches_atr(atr) for settings in PROFILES):
        return "cpx"
    return "vitale" if _matches(atr, VITALE_ATRS) else "other"


def split_name(reader: str) -> tuple[str, int]:
    """PC/SC reader name -> (physical reader name, slot index)."""
    match = SLOT_SUFFIX.match(reader)
    if not match:
        return reader, 0
    return match.group("reader"), int(match.group("slot"), 16)


@dataclass(frozen=True)
class Slot:
    reader: str              # the PC/SC name of this slot, what PC/SC calls and the agent's requests use
    group: str               # the physical reader it belongs to
    index: int
    state: ReaderState

    @property
    def kind(self) -> str | None:
        """None for an empty slot, else atr_kind()."""
        return atr_kind(self.state.atr) if self.state.present else None


def slots(states: list[ReaderState], wanted: str | None = None) -> list[Slot]:
    """Slots of the readers whose name is `wanted` (else contains it), or of all readers."""
    if wanted:
        states = [s for s in states if s.name == wanted] or [s for s in states if wanted in s.name]
    return [Slot(state.name, *split_name(state.name), state) for state in states]


def grouped(entries: list[tuple[Slot, dict | None]]) -> list[dict]:
    """[{name, slots: [{index, reader, card}]}] in the order PC/SC listed the readers."""
    readers: dict[str, dict] = {}
    for slot, card in entries:
        reader = readers.setdefault(slot.group, {"name": slot.group, "slots": []})
        reader["slots"].append({"index": slot.index, "reader": slot.reader, "card": card})
    for reader in readers.values():
        reader["slots"].sort(key=lambda s: s["index"])
    return list(readers.values())
