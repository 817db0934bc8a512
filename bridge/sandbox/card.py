"""A virtual CPS card served to pcscd through the vsmartcard vpcd reader (docs/sources.md, CPS).

    card = VirtualCard(TestPki("demo", dir).card("899700000001"), pin="1234", puk="12345678")
    card.insert(35963)   # a thread answers vpcd; pyscard now sees a card in "Virtual PCD 00 00"
    card.remove()        # pulled out; PIN tries survive, like on a real card
    card.insert(35964)   # slot 1 of the same reader: "Virtual PCD 00 01" (bridge.sandbox.vitale for slot 0)

It behaves like a T=0 CPS3 (IAS-ECC) card: CPS3 ATR, EF.SN.ICC `3F00/D003`, a PKCS#15 application (EF.DIR ->
ODF -> CDF -> certificate), SELECT by AID/FID/path, READ BINARY, VERIFY with 3 tries (`63 Cx`, `69 83`), tries-left
queries (empty VERIFY and the Cryptolib GET DATA on `BF 81 <ref>`), RESET RETRY COUNTER with the 8-digit code,
MSE SET AT key 0x82 + INTERNAL AUTHENTICATE (the card pads the DigestInfo, PKCS#1 v1.5 type 1), and answers with
data as `61 xx` + GET RESPONSE. `generation="CPS4"` switches to the ChipDoc behaviour the host's CPS4 profile
expects (its ATR and AID, CLA 01 on channel 1, MSE CT key 0x20, chained PSO DECIPHER of a host-padded block).
PIN/PUK encodings and file ids mirror the host profiles' defaults, which are UNCONFIRMED on real cards.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from bridge.card import apdu
from bridge.card.profiles import CPS3, CPS4, ProfileSettings
from bridge.sandbox import vpcd

MAX_TRIES = 3
PCSCD_POLL_GRACE = 1.0
_LAST_DROP: dict[tuple[str, int], float] = {}   # vpcd slot -> when a card was last pulled out
FID_DIR, FID_SN_ICC, FID_APP, FID_CONTACT, FID_ODF, FID_CDF, FID_AUTH_CERT = (
    b"\x2f\x00", b"\xd0\x03", b"\x00\x01", b"\x70\x01", b"\x50\x31", b"\x70\x04", b"\x70\x05")
AUTH_CERT_LABEL = "Certificat d'Authentification CPS"


@dataclass
class Node:
    fid: bytes
    data: bytes | None = None                 # None for a DF
    aid: bytes = b""
    parent: Node | None = None
    children: dict[bytes, Node] = field(default_factory=dict)

    def add(self, child: Node) -> Node:
        child.parent = self
        self.children[child.fid] = child
        return child

    @property
    def is_df(self) -> bool:
        return self.data is None

    def fcp(self) -> bytes:
        body = apdu.encode_tlv(0x83, self.fid)
        if self.is_df:
            body += apdu.encode_tlv(0x82, b"\x38") + (apdu.encode_tlv(0x84, self.aid) if self.aid else b"")
        else:
            body = apdu.encode_tlv(0x80, len(self.data).to_bytes(2, "big")) + apdu.encode_tlv(0x82, b"\x01") + body
        return apdu.encode_tlv(0x62, body)


def pkcs15_files(settings: ProfileSettings, cert_der: bytes) -> Node:
    """MF with EF.DIR, EF.SN.ICC placeholder, and the PKCS#15 application holding the authentication certificate."""
    mf = Node(b"\x3f\x00")
    app_path = b"\x3f\x00" + FID_APP
    mf.add(Node(FID_DIR, apdu.encode_tlv(0x61, apdu.encode_tlv(0x4F, settings.aid)
                                            + apdu.encode_tlv(0x50, b"CPS PKCS#15")
                                            + apdu.encode_tlv(0x51, app_path))))
    app = mf.add(Node(FID_APP, aid=settings.aid))
    app.add(Node(FID_CONTACT, b"\x01"))
    # ODF: certificates [4] -> path of the CDF.
    app.add(Node(FID_ODF, apdu.encode_tlv(0xA4, apdu.encode_tlv(0x30, apdu.encode_tlv(0x04, app_path + FID_CDF)))))
    cert_object = apdu.encode_tlv(0x30,
                                  apdu.encode_tlv(0x30, apdu.encode_tlv(0x0C, AUTH_CERT_LABEL.encode("utf-8")))
                                  + apdu.encode_tlv(0x30, apdu.encode_tlv(0x04, settings.aid + b"\x02"))
                                  + apdu.encode_tlv(0xA1, apdu.encode_tlv(0x30, apdu.encode_tlv(
                                      0x30, apdu.encode_tlv(0x04, app_path + FID_AUTH_CERT)))))
    app.add(Node(FID_CDF, cert_object))
    app.add(Node(FID_AUTH_CERT, cert_der))
    return mf


class SimulatedCard:
    """A card behind the vpcd reader: its ATR, a file system (SELECT, READ BINARY, T=0 `61 xx` + GET RESPONSE),
    the vpcd link and the test hooks. Subclasses add commands (`_handlers`) and volatile state (`_power_cycle`).

    Like a real card, it has one current DF/EF and one security state for everybody: pcscd multiplexes every
    application's APDUs onto the one vpcd stream of the slot, so another application's SELECT between our SELECT
    and READ BINARY changes what we read. Only PC/SC transactions keep a dialogue whole; pcscd enforces them, the
    card knows nothing of them. A reset (pcscd's, or a test's `reset_on`) clears selection and security state.
    """

    def __init__(self, atr: bytes, mf: Node):
        self._atr = atr
        self.mf = mf
        self.remove_on: set[int] = set()      # INS bytes at which the card is "pulled out" (tests)
        self.reset_on: set[int] = set()       # INS bytes before which the card resets behind PC/SC's back (tests)
        self.commands: list[bytes] = []       # INS+P1+P2 of every command received (tests; never the data)
        self._lock = threading.RLock()
        self._sock = None
        self._thread: threading.Thread | None = None
        self._address = (vpcd.DEFAULT_HOST, vpcd.DEFAULT_PORT)
        self._power_cycle()

    # --- vpcd link -------------------------------------------------------------------------------------------------
    def insert(self, port: int = vpcd.DEFAULT_PORT, host: str = vpcd.DEFAULT_HOST) -> SimulatedCard:
        """Into the vpcd slot listening on `port` (slot 0 of the reader = its first port, slot 1 = port + 1)."""
        if self.inserted:
            raise RuntimeError("card already inserted")
        # pcscd only notices an empty slot when it next polls (~0.4 s): a card back (or another card in) before
        # that is never reported as removed and inserted, and a swap would go unseen. A real hand is slower.
        wait = _LAST_DROP.get((host, port), -PCSCD_POLL_GRACE) + PCSCD_POLL_GRACE - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._power_cycle()
        self._address = (host, port)
        self._sock = vpcd.connect(host, port)
        self._thread = threading.Thread(target=vpcd.serve, args=(self._sock, self), daemon=True,
                                        name=f"virtual-card-{port}")
        self._thread.start()
        return self

    def remove(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            _LAST_DROP[self._address] = time.monotonic()
            try:
                sock.shutdown(2)
            except OSError:
                pass
            sock.close()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(5)
        self._thread = None
        self._power_cycle()

    @property
    def inserted(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # --- Chip protocol ------------------------------------------------------------------------------------------------
    def atr(self) -> bytes:
        return self._atr

    def power_on(self) -> None:
        with self._lock:
            self._power_cycle()

    power_off = reset = power_on

    def _power_cycle(self) -> None:
        """Selection and pending data are volatile."""
        self.current_df, self.current_ef = self.mf, None
        self.pending = b""
        self.chain_buffer = b""

    def process(self, command: bytes) -> bytes | None:
        with self._lock:
            if len(command) >= 2 and command[1] in self.remove_on:
                self.remove_on.discard(command[1])
                _LAST_DROP[self._address] = time.monotonic()
                return None     # vpcd.serve drops the link: the card is gone mid-command
            if len(command) >= 2 and command[1] in self.reset_on:
                self.reset_on.discard(command[1])
                self._power_cycle()
            self.commands.append(command[:4])
            try:
                data, sw = self._dispatch(command)
            except ValueError:
                data, sw = b"", apdu.SW_WRONG_LENGTH
            return data + sw.to_bytes(2, "big")

    # --- command decoding ---------------------------------------------------------------------------------------------
    def _handlers(self) -> dict:
        return {0xA4: self._select, 0xB0: self._read_binary, 0xC0: self._get_response}

    def _dispatch(self, command: bytes) -> tuple[bytes, int]:
        if len(command) < 4:
            raise ValueError
        cla, ins, p1, p2 = command[:4]
        body = command[4:]
        le = None
        if len(body) == 1:
            data, le = b"", body[0] or 256
        elif body:
            lc = body[0]
            data = body[1:1 + lc]
            if len(data) != lc or len(body) > lc + 2:
                raise ValueError
            le = (body[1 + lc] or 256) if len(body) == lc + 2 else None
        else:
            data = b""
        if cla & ~0x13:           # only CLA 00/01 (channels 0 and 1) with or without the chaining bit
            return b"", apdu.SW_CLA_UNKNOWN
        if cla & 0x10:
            self.chain_buffer += data
            return b"", apdu.SW_OK
        data, self.chain_buffer = self.chain_buffer + data, b""
        if ins != 0xC0:
            self.pending = b""
        handler = self._handlers().get(ins)
        if handler is None:
            return b"", apdu.SW_INS_UNKNOWN
        return handler(p1, p2, data, le)

    def _outgoing(self, data: bytes) -> tuple[bytes, int]:
        """T=0: a case-4 answer is announced with `61 xx` and fetched with GET RESPONSE."""
        self.pending = data
        return b"", 0x6100 | (len(data) & 0xFF)

    # --- file system --------------------------------------------------------------------------------------------------
    def _find_aid(self, node: Node, aid: bytes) -> Node | None:
        if node.aid == aid:
            return node
        for child in node.children.values():
            found = child.is_df and self._find_aid(child, aid)
            if found:
                return found
        return None

    def _walk(self, start: Node, path: bytes) -> Node | None:
        node = start
        for i in range(0, len(path), 2):
            fid = path[i:i + 2]
            if fid == b"\x3f\x00":
                node = self.mf
                continue
            node = node.children.get(fid) if node.is_df else None
            if node is None:
                return None
        return node

    def _select(self, p1: int, p2: int, data: bytes, le) -> tuple[bytes, int]:
        if p1 == 0x04:
            target = self._find_aid(self.mf, data)
        elif p1 == 0x08:
            target = self._walk(self.mf, data)
        elif p1 == 0x09:
            target = self._walk(self.current_df, data)
        elif p1 in (0x00, 0x01, 0x02) and len(data) == 2:
            target = self.mf if data == b"\x3f\x00" else (
                self.current_df.children.get(data) or self.mf.children.get(data))
            if target is not None and ((p1 == 0x01 and not target.is_df) or (p1 == 0x02 and target.is_df)):
                target = None
        elif p1 == 0x00 and not data:
            target = self.mf
        else:
            return b"", 0x6A86
        if target is None:
            return b"", apdu.SW_NOT_FOUND
        if target.is_df:
            self.current_df, self.current_ef = target, None
        else:
            self.current_df, self.current_ef = target.parent, target
        if p2 & 0x0C == 0x0C:
            return b"", apdu.SW_OK
        return self._outgoing(target.fcp())

    def _read_binary(self, p1: int, p2: int, data: bytes, le) -> tuple[bytes, int]:
        if self.current_ef is None:
            return b"", apdu.SW_NO_CURRENT_EF
        content, offset = self.current_ef.data, ((p1 & 0x7F) << 8) | p2
        if p1 & 0x80 or offset >= len(content):
            return b"", apdu.SW_WRONG_P1P2
        length = le or 256
        if length > len(content) - offset:
            return b"", 0x6C00 | (len(content) - offset)       # T=0 "wrong Le, use xx"
        return content[offset:offset + length], apdu.SW_OK

    def _get_response(self, p1: int, p2: int, data: bytes, le) -> tuple[bytes, int]:
        if not self.pending:
            return b"", apdu.SW_CONDITIONS
        length = le or 256
        if length > len(self.pending):
            return b"", 0x6C00 | len(self.pending)
        chunk, self.pending = self.pending[:length], self.pending[length:]
        return chunk, (0x6100 | (len(self.pending) & 0xFF)) if self.pending else apdu.SW_OK

class VirtualCard(SimulatedCard):
    """One CPS card. PIN tries, PIN and unblock tries live here and survive remove()/insert() and resets."""

    def __init__(self, material, pin: str = "1234", puk: str = "12345678", *, blocked: bool = False,
                 generation: str = "CPS3", atr: bytes | None = None, sn_icc: bytes | None = None):
        self.material = material
        self.settings = {"CPS3": CPS3, "CPS4": CPS4}[generation]
        self.generation = generation
        self._pin, self._puk = pin, puk
        self.pin_tries = 0 if blocked else MAX_TRIES
        self.puk_tries = MAX_TRIES
        mf = pkcs15_files(self.settings, material.cert_der)
        mf.add(Node(FID_SN_ICC, sn_icc if sn_icc is not None else apdu.encode_tlv(0x5A, material.pan)))
        super().__init__(atr or self.settings.atrs[0][0], mf)

    def _power_cycle(self) -> None:
        """Security status is volatile too; PIN counters are not."""
        super()._power_cycle()
        self.verified = False
        self.key_ref: int | None = None

    def _handlers(self) -> dict:
        return {**super()._handlers(), 0x20: self._verify, 0x2C: self._reset_retry_counter, 0xCB: self._get_data,
                0x22: self._mse, 0x88: self._internal_authenticate, 0x2A: self._pso}

    # --- PIN ----------------------------------------------------------------------------------------------------------
    def _verify(self, p1: int, p2: int, data: bytes, le) -> tuple[bytes, int]:
        if p1 != 0x00 or p2 != self.settings.pin_reference:
            return b"", apdu.SW_REF_NOT_FOUND
        if self.pin_tries == 0:
            return b"", apdu.SW_BLOCKED
        if not data:
            return b"", apdu.SW_OK if self.verified else 0x63C0 | self.pin_tries
        if data == self.settings.pin_block(self._pin):
            self.pin_tries, self.verified = MAX_TRIES, True
            return b"", apdu.SW_OK
        self.pin_tries -= 1
        self.verified = False
        return b"", 0x63C0 | self.pin_tries

    def _get_data(self, p1: int, p2: int, data: bytes, le) -> tuple[bytes, int]:
        sdo = bytes([0xBF, 0x81, self.settings.pin_reference])
        if (p1, p2) != (0x3F, 0xFF) or sdo not in data:
            return b"", apdu.SW_REF_NOT_FOUND
        counters = (apdu.encode_tlv(0x9A, bytes([MAX_TRIES])) + apdu.encode_tlv(0x9B, bytes([self.pin_tries]))
                    + apdu.encode_tlv(0x9D, bytes([MAX_TRIES - self.pin_tries])))
        return self._outgoing(apdu.encode_tlv(0x70, apdu.encode_tlv(0xBF8100 | self.settings.pin_reference,
                                                                    apdu.encode_tlv(0xA0, counters))))

    def _reset_retry_counter(self, p1: int, p2: int, data: bytes, le) -> tuple[bytes, int]:
        if p2 != self.settings.pin_reference or p1 not in (0x00, 0x01):
            return b"", apdu.SW_REF_NOT_FOUND
        if self.puk_tries == 0:
            return b"", apdu.SW_BLOCKED
        puk_block = self.settings.puk_block(self._puk)
        given, new_pin = data[:len(puk_block)], data[len(puk_block):]
        if given != puk_block:
            self.puk_tries -= 1
            return b"", 0x63C0 | self.puk_tries
        if p1 == 0x00:
            if len(new_pin) != self.settings.pin_length:
                return b"", apdu.SW_WRONG_DATA
            self._pin = new_pin.rstrip(bytes([self.settings.pin_pad])).decode("ascii")
        self.puk_tries, self.pin_tries = MAX_TRIES, MAX_TRIES
        return b"", apdu.SW_OK

    # --- signing ------------------------------------------------------------------------------------------------------
    def _mse(self, p1: int, p2: int, data: bytes, le) -> tuple[bytes, int]:
        if (p1, p2) != (0x41, self.settings.mse_template):
            return b"", 0x6A86
        items = apdu.parse_tlv(data)
        key = next((item.value for item in items if item.tag in (0x83, 0x84)), b"")
        if key != bytes([self.settings.auth_key_ref]):
            return b"", apdu.SW_REF_NOT_FOUND
        self.key_ref = key[0]
        return b"", apdu.SW_OK

    def _raw_rsa(self, block: bytes) -> bytes:
        numbers = self.material.private_key.private_numbers()
        modulus = numbers.public_numbers.n
        size = (modulus.bit_length() + 7) // 8
        value = int.from_bytes(block, "big")
        if len(block) != size or value >= modulus:
            raise ValueError
        return pow(value, numbers.d, modulus).to_bytes(size, "big")

    def _ready_to_sign(self) -> int | None:
        if self.key_ref != self.settings.auth_key_ref:
            return apdu.SW_CONDITIONS
        if not self.verified:
            return apdu.SW_SECURITY
        return None

    def _internal_authenticate(self, p1: int, p2: int, data: bytes, le) -> tuple[bytes, int]:
        if self.generation != "CPS3":
            return b"", apdu.SW_INS_UNKNOWN
        refused = self._ready_to_sign()
        if refused:
            return b"", refused
        size = self.material.private_key.key_size // 8
        if not data or len(data) > size * 4 // 10:      # CPS3 accepts inputs up to ~40 % of the modulus
            return b"", apdu.SW_WRONG_LENGTH
        return self._outgoing(self._raw_rsa(apdu.pkcs1_type1(data, size)))

    def _pso(self, p1: int, p2: int, data: bytes, le) -> tuple[bytes, int]:
        if self.generation != "CPS4" or (p1, p2) != (0x80, 0x86):
            return b"", 0x6A86
        refused = self._ready_to_sign()
        if refused:
            return b"", refused
        try:
            return self._outgoing(self._raw_rsa(data))
        except ValueError:
            return b"", apdu.SW_WRONG_DATA
