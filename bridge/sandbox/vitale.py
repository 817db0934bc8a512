"""A virtual carte Vitale-like card (the patient's card, not a CPS) for the vpcd reader: what sits in the other slot
of a two-slot "bifente" reader while the professional logs in with the CPS.

    vitale = VirtualVitale()
    vitale.insert(35963)      # slot 0: "Virtual PCD 00 00"; the CPS goes to slot 1 (port 35964)

Its ATR is a Vitale 2 ATR from pcsc-tools' smartcard_list.txt (`3B 75 13 00 00 47 09 EA 90 00`). The real Vitale
applications are not public: the file layout below is MADE UP, just enough for a program playing the billing
software to run SELECT + READ BINARY dialogues and check each answer. It answers SELECT of the CPS applications and
of EF.SN.ICC `3F00/D003` with `6A 82` (not found), as any non-CPS card would; the card agent never even asks, the ATR
tells it this is not a CPS.
"""
from __future__ import annotations

from bridge.card import apdu
from bridge.sandbox.card import Node, SimulatedCard

ATR = bytes.fromhex("3B751300004709EA9000")
AID = bytes.fromhex("D250000000") + b"VTEST"      # made up (D2 50 = a French national registration category)
FID_DF, FID_HOLDER, FID_RIGHTS = b"\x10\x00", b"\x00\x01", b"\x00\x02"


def holder_record(nir: str, name: str) -> bytes:
    return apdu.encode_tlv(0x65, apdu.encode_tlv(0x80, nir.encode("ascii")) + apdu.encode_tlv(0x81, name.encode()))


class VirtualVitale(SimulatedCard):
    """A patient card: a DF with a holder file and a rights file, read without any code."""

    def __init__(self, nir: str = "199999999999999", name: str = "PATIENT TEST", atr: bytes = ATR):
        self.holder = holder_record(nir, name)
        self.rights = apdu.encode_tlv(0x66, apdu.encode_tlv(0x82, b"AMO 01 2026-12-31") * 6)
        mf = Node(b"\x3f\x00")
        df = mf.add(Node(FID_DF, aid=AID))
        df.add(Node(FID_HOLDER, self.holder))
        df.add(Node(FID_RIGHTS, self.rights))
        super().__init__(atr, mf)
