"""ISO 7816-4 command builders and the small TLV parsing CPS cards need (docs/sources.md, CPS).

Pure functions over bytes: the host side (bridge.card) and the virtual card (bridge.sandbox.card) share them,
and unit tests check them against the byte strings of the research notes.
"""
from __future__ import annotations

from dataclasses import dataclass

SW_OK = 0x9000
SW_BLOCKED = 0x6983             # authentication method blocked
SW_SECURITY = 0x6982            # security status not satisfied
SW_CONDITIONS = 0x6985          # conditions of use not satisfied
SW_NOT_FOUND = 0x6A82           # file or application not found
SW_REF_NOT_FOUND = 0x6A88       # referenced data (key, PIN) not found
SW_WRONG_LENGTH = 0x6700
SW_WRONG_P1P2 = 0x6B00          # offset beyond the end of the file
SW_INS_UNKNOWN = 0x6D00
SW_CLA_UNKNOWN = 0x6E00
SW_NO_CURRENT_EF = 0x6986
SW_WRONG_DATA = 0x6A80


@dataclass(frozen=True)
class Response:
    data: bytes
    sw: int

    @property
    def ok(self) -> bool:
        return self.sw == SW_OK

    @property
    def sw1(self) -> int:
        return self.sw >> 8

    @property
    def sw2(self) -> int:
        return self.sw & 0xFF


def tries_from_sw(sw: int) -> int | None:
    """`63 Cx` -> x tries left; `69 83` -> 0; anything else -> None."""
    if sw & 0xFFF0 == 0x63C0:
        return sw & 0x0F
    if sw == SW_BLOCKED:
        return 0
    return None


def command(cla: int, ins: int, p1: int, p2: int, data: bytes = b"", le: int | None = None) -> bytes:
    """Short APDU (Lc, Le <= 255; Le 0 means 256)."""
    if len(data) > 255:
        raise ValueError("data longer than a short APDU allows; use chained()")
    apdu = bytes([cla, ins, p1, p2])
    if data:
        apdu += bytes([len(data)]) + data
    if le is not None:
        apdu += bytes([le & 0xFF])
    return apdu


def chained(cla: int, ins: int, p1: int, p2: int, data: bytes, chunk: int = 255) -> list[bytes]:
    """ISO command chaining: every block but the last has CLA bit 0x10 set."""
    blocks = [data[i:i + chunk] for i in range(0, len(data), chunk)] or [b""]
    return [command(cla | (0x10 if i < len(blocks) - 1 else 0), ins, p1, p2, block)
            for i, block in enumerate(blocks)]


# --- SELECT ---------------------------------------------------------------------------------------------------
P2_FCP, P2_NO_DATA = 0x04, 0x0C


def select_aid(aid: bytes, cla: int = 0x00, fcp: bool = False) -> bytes:
    return command(cla, 0xA4, 0x04, P2_FCP if fcp else P2_NO_DATA, aid, 0x00 if fcp else None)


def select_path(path: bytes, cla: int = 0x00, fcp: bool = False, from_mf: bool = True) -> bytes:
    """P1 08 = path from the MF (without 3F00), 09 = path from the current DF."""
    if from_mf and path[:2] == b"\x3f\x00" and len(path) > 2:
        path = path[2:]
    return command(cla, 0xA4, 0x08 if from_mf else 0x09, P2_FCP if fcp else P2_NO_DATA, path,
                   0x00 if fcp else None)


def select_fid(fid: bytes, cla: int = 0x00, fcp: bool = False) -> bytes:
    return command(cla, 0xA4, 0x02, P2_FCP if fcp else P2_NO_DATA, fid, 0x00 if fcp else None)


def select_mf(cla: int = 0x00) -> bytes:
    """What Cryptolib sends before reading the PIN counter: `00 A4 09 0C 02 3F 00`."""
    return command(cla, 0xA4, 0x09, P2_NO_DATA, b"\x3f\x00")


def read_binary(offset: int, length: int, cla: int = 0x00) -> bytes:
    if not 0 <= offset <= 0x7FFF:
        raise ValueError("offset beyond 15 bits")
    return command(cla, 0xB0, offset >> 8, offset & 0xFF, le=length)


def get_response(length: int, cla: int = 0x00) -> bytes:
    return command(cla, 0xC0, 0x00, 0x00, le=length)


# --- PIN --------------------------------------------------------------------------------------------------------
def pin_block(pin: str, length: int = 8, pad: int = 0xFF) -> bytes:
    """ASCII digits right-padded to `length` bytes. Encoding on real CPS3 cards is UNCONFIRMED (cps.md §3)."""
    if not pin.isdigit() or not 4 <= len(pin) <= length:
        raise ValueError(f"a PIN is 4 to {length} digits")
    return pin.encode("ascii").ljust(length, bytes([pad]))


def verify(reference: int, block: bytes, cla: int = 0x00) -> bytes:
    return command(cla, 0x20, 0x00, reference, block)


def verify_query(reference: int, cla: int = 0x00) -> bytes:
    """VERIFY without data: the card answers `63 Cx` (or `90 00` when already verified) without using a try."""
    return command(cla, 0x20, 0x00, reference)


def pin_counter_query(reference: int, cla: int = 0x00) -> bytes:
    """CPS3 (Cryptolib card-cps3.c): GET DATA on the CHV SDO `BF 81 <ref>` -> TLV 9A max, 9B left, 9D used."""
    return command(cla, 0xCB, 0x3F, 0xFF, bytes([0x4D, 0x08, 0x70, 0x06, 0xBF, 0x81, reference, 0x02, 0xA0, 0x80]),
                   0x00)


def reset_retry_counter(reference: int, puk: bytes, new_pin: bytes | None = None, cla: int = 0x00) -> bytes:
    """P1 01: unblock only (the PIN stays); P1 00: unblock and set a new PIN."""
    if new_pin is None:
        return command(cla, 0x2C, 0x01, reference, puk)
    return command(cla, 0x2C, 0x00, reference, puk + new_pin)


# --- keys ---------------------------------------------------------------------------------------------------------
def mse_set_at(key_ref: int, algorithm: int = 0x02, cla: int = 0x00) -> bytes:
    """`00 22 41 A4 06 84 01 82 80 01 02`: CRT for authentication, key 0x82, algo 02 = RSA PKCS#1 (card pads)."""
    return command(cla, 0x22, 0x41, 0xA4, bytes([0x84, 0x01, key_ref, 0x80, 0x01, algorithm]))


def mse_set_ct(key_ref: int, cla: int = 0x01) -> bytes:
    """CPS4: `01 22 41 B8 03 83 01 20` (confidentiality template, key 0x20) before PSO DECIPHER."""
    return command(cla, 0x22, 0x41, 0xB8, bytes([0x83, 0x01, key_ref]))


def internal_authenticate(data: bytes, cla: int = 0x00) -> bytes:
    return command(cla, 0x88, 0x00, 0x00, data, 0x00)


def pso_decipher(block: bytes, cla: int = 0x01, padding_indicator: bytes = b"") -> list[bytes]:
    """PSO DECIPHER `2A 80 86` with command chaining (a 2048-bit block does not fit one short APDU)."""
    return chained(cla, 0x2A, 0x80, 0x86, padding_indicator + block)


# --- PKCS#1 v1.5 ------------------------------------------------------------------------------------------------
def pkcs1_type1(payload: bytes, modulus_bytes: int) -> bytes:
    """EMSA-PKCS1-v1_5 block `00 01 FF.. 00 payload` (RFC 8017 §9.2), payload = DigestInfo."""
    if len(payload) > modulus_bytes - 11:
        raise ValueError("payload too long for the modulus")
    return b"\x00\x01" + b"\xff" * (modulus_bytes - len(payload) - 3) + b"\x00" + payload


# --- BER-TLV (card files: EF.SN.ICC, FCP, PKCS#15 DFs, PIN counter) -------------------------------------------------
@dataclass(frozen=True)
class Tlv:
    tag: int
    value: bytes
    constructed: bool

    def children(self) -> list[Tlv]:
        return parse_tlv(self.value) if self.constructed else []

    def find(self, tag: int) -> Tlv | None:
        return find_tlv(self.children(), tag)


def _read_tag(data: bytes, i: int) -> tuple[int, bool, int]:
    first = data[i]
    constructed = bool(first & 0x20)
    tag, i = first, i + 1
    if first & 0x1F == 0x1F:
        while True:
            tag = (tag << 8) | data[i]
            i += 1
            if not data[i - 1] & 0x80:
                break
    return tag, constructed, i


def _read_length(data: bytes, i: int) -> tuple[int, int]:
    first = data[i]
    if first < 0x80:
        return first, i + 1
    count = first & 0x7F
    if not 1 <= count <= 3:
        raise ValueError("unsupported TLV length")
    return int.from_bytes(data[i + 1:i + 1 + count], "big"), i + 1 + count


def parse_tlv(data: bytes) -> list[Tlv]:
    """Every TLV at this level; stops at padding (00 or FF) that follows the last object."""
    items, i = [], 0
    while i < len(data) and data[i] not in (0x00, 0xFF):
        try:
            tag, constructed, i = _read_tag(data, i)
            length, i = _read_length(data, i)
        except IndexError:
            raise ValueError("truncated TLV") from None
        if i + length > len(data):
            raise ValueError("TLV value runs past the end of the data")
        items.append(Tlv(tag, data[i:i + length], constructed))
        i += length
    return items


def find_tlv(items: list[Tlv], tag: int) -> Tlv | None:
    """Depth-first search for `tag`."""
    for item in items:
        if item.tag == tag:
            return item
        found = find_tlv(item.children(), tag) if item.constructed else None
        if found:
            return found
    return None


def encode_tlv(tag: int, value: bytes) -> bytes:
    """For the virtual card's files (and tests)."""
    tag_bytes = tag.to_bytes((tag.bit_length() + 7) // 8 or 1, "big")
    n = len(value)
    if n < 0x80:
        length = bytes([n])
    elif n < 0x100:
        length = bytes([0x81, n])
    else:
        length = bytes([0x82]) + n.to_bytes(2, "big")
    return tag_bytes + length + value


def fcp_file_size(fcp: bytes) -> int | None:
    """File size from an FCP template (tag 62: 80 = data size, 81 = total size)."""
    items = parse_tlv(fcp)
    for tag in (0x80, 0x81):
        found = find_tlv(items, tag)
        if found and found.value:
            return int.from_bytes(found.value, "big")
    return None
