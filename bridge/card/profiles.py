"""CPS3 (IAS-ECC) and CPS4 (ChipDoc) behind one interface, and how a CPx card is recognised.

    with open_card() as card:           # NoReader / NoCard / UnsupportedCard
        cert = card.read_certificate()  # DER, no PIN needed
        card.pin_tries_left()
        card.verify_pin("1234")         # WrongPin(tries_left) / CardBlocked
        signature = card.sign(digest_info)

A card is a CPx card when its ATR is a known CPS3/CPS4 ATR *and* EF.SN.ICC `3F00/D003` holds 12 bytes `5A 0A` +
a PAN starting with the ANS issuer number `80 25 00 00 01` (what ANS's Cryptolib checks, docs/sources.md, CPS).
Everything marked UNCONFIRMED below comes from the research defaults and must be checked on a test card.
"""
from __future__ import annotations

from dataclasses import dataclass

from bridge.card import apdu, pcsc
from bridge.card.errors import CardBlocked, CardError, CardReset, CardStatusError, UnsupportedCard, WrongPin

ANS_ISSUER = bytes.fromhex("8025000001")
EF_SN_ICC = bytes.fromhex("3F00D003")
EF_DIR = bytes.fromhex("3F002F00")
ODF_FID = bytes.fromhex("5031")
AUTH_LABEL_HINT = "authentification"


def _atr(hex_atr: str, hex_mask: str | None = None) -> tuple[bytes, bytes]:
    atr = bytes.fromhex(hex_atr)
    mask = bytes.fromhex(hex_mask) if hex_mask else b"\xff" * len(atr)
    if len(mask) != len(atr):
        raise ValueError(f"ATR {hex_atr}: the mask has {len(mask)} bytes, the ATR {len(atr)}")
    return atr, mask


@dataclass(frozen=True)
class ProfileSettings:
    name: str
    atrs: tuple[tuple[bytes, bytes], ...]   # (ATR, mask)
    aid: bytes                              # PKCS#15 / ChipDoc application
    cla: int                                # CLA of application commands (CPS4: 01 = logical channel 1)
    pin_reference: int                      # VERIFY P2. UNCONFIRMED: 01 (global PIN #1 in the MF) or 81
    auth_key_ref: int                       # CPS3 0x82 (CPS_PRIV_AUT, seen in a card dump); CPS4 0x20
    mse_template: int                       # A4 (CRT AT, INTERNAL AUTHENTICATE) or B8 (CT, PSO DECIPHER)
    host_padding: bool                      # CPS4: host builds the PKCS#1 type-1 block, card does raw RSA
    tries_query: str                        # "get_data" (Cryptolib CPS3) or "empty_verify" (Cryptolib CPS4)
    pin_length: int = 8                     # UNCONFIRMED: ASCII digits padded to 8 bytes...
    pin_pad: int = 0xFF                     # ...with FF
    puk_length: int = 8                     # unblock code: 8 ASCII digits, no padding. UNCONFIRMED
    read_chunk: int = 0xE7                  # Cryptolib max_recv_size for CPS3

    def pin_block(self, pin: str) -> bytes:
        return apdu.pin_block(pin, self.pin_length, self.pin_pad)

    def puk_block(self, puk: str) -> bytes:
        if not puk.isdigit() or len(puk) != self.puk_length:
            raise ValueError(f"the unblock code is {self.puk_length} digits")
        return puk.encode("ascii")

    def matches_atr(self, atr: bytes) -> bool:
        return any(len(atr) == len(known) and all((a ^ k) & m == 0 for a, k, m in zip(atr, known, mask, strict=True))
                   for known, mask in self.atrs)


CPS3 = ProfileSettings(
    name="CPS3",
    atrs=(_atr("3BAC00402A001225006480000310009000"),                       # Cryptolib, exact
          _atr("3BAC00402A001225006480000310009000", "FF00000000FFFFFFFFFFFF000000FFFFFF"),  # OpenSC IAS/ECC CPx
          # contactless; the research gives the variable bytes as 8-9 and 11 (indexing UNCONFIRMED)
          _atr("3B8F80010031B86404B0ECC1739401808290000E",
               "FFFFFFFFFFFFFFFF0000FF00FFFFFFFFFFFFFFFF")),
    aid=bytes.fromhex("E828BD080F8025000001FF0010"),
    cla=0x00, pin_reference=0x01, auth_key_ref=0x82, mse_template=0xA4, host_padding=False,
    tries_query="get_data")

CPS4 = ProfileSettings(
    name="CPS4",
    atrs=(_atr("3B9B188001001225006480040100009044"),
          _atr("3B9B188001001225006480000401009044"),
          _atr("3BDC18FF00001225006480000401009000")),
    aid=bytes.fromhex("8025000001FF0100"),
    cla=0x01, pin_reference=0x01, auth_key_ref=0x20, mse_template=0xB8, host_padding=True,
    tries_query="empty_verify")

PROFILES = (CPS3, CPS4)


def profile_for_atr(atr: bytes) -> ProfileSettings:
    for settings in PROFILES:
        if settings.matches_atr(atr):
            return settings
    raise UnsupportedCard(f"not a CPS card (ATR {atr.hex(' ')})")


class CpxCard:
    """A recognised CPS3/CPS4 card on an open connection."""

    def __init__(self, connection: pcsc.Connection, settings: ProfileSettings, pan: bytes):
        self.connection, self.settings, self.pan = connection, settings, pan
        self._certificate: bytes | None = None

    @property
    def generation(self) -> str:
        return self.settings.name

    @property
    def serial(self) -> str:
        """Card number: the PAN digits after the ANS issuer, without F padding (mapping to the printed number
        UNCONFIRMED)."""
        return self.pan[len(ANS_ISSUER):].hex().upper().rstrip("F")

    def __enter__(self) -> CpxCard:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.connection.close()

    # --- low level -----------------------------------------------------------------------------------------------
    def _send(self, command: bytes, what: str) -> bytes:
        response = self.connection.transmit(command)
        if not response.ok:
            raise CardStatusError(what, response.sw)
        return response.data

    def _select_app(self) -> None:
        self._send(apdu.select_aid(self.settings.aid, cla=self.settings.cla), "select application")

    def _read_file(self, select_command: bytes, what: str) -> bytes:
        fcp = self._send(select_command, f"select {what}")
        size = apdu.fcp_file_size(fcp) if fcp else None
        cla, content = select_command[0], b""
        while size is None or len(content) < size:
            want = self.settings.read_chunk if size is None else min(self.settings.read_chunk, size - len(content))
            response = self.connection.transmit(apdu.read_binary(len(content), want, cla=cla))
            if response.sw in (apdu.SW_WRONG_P1P2, 0x6282) and size is None:
                break
            if not response.ok:
                raise CardStatusError(f"read {what}", response.sw)
            content += response.data
            if size is None and len(response.data) < want:
                break
        return content

    def _select_path_fcp(self, path: bytes) -> bytes:
        if path[:2] == b"\x3f\x00":
            return apdu.select_path(path, cla=self.settings.cla, fcp=True)
        return apdu.select_fid(path[-2:], cla=self.settings.cla, fcp=True)

    # --- the interface ---------------------------------------------------------------------------------------------
    def read_certificate(self) -> bytes:
        """The authentication certificate (DER), found through PKCS#15: application -> ODF -> CDF."""
        if self._certificate is None:
            self._select_app()
            odf = apdu.parse_tlv(self._read_file(apdu.select_fid(ODF_FID, cla=self.settings.cla, fcp=True), "ODF"))
            cdf_paths = [path.value for item in odf if item.tag in (0xA4, 0xA5)
                         for path in [item.find(0x04)] if path]
            if not cdf_paths:
                raise UnsupportedCard("no certificate directory on the card")
            entries = []
            for path in cdf_paths:
                entries += apdu.parse_tlv(self._read_file(self._select_path_fcp(path), "CDF"))
            cert_path = self._auth_certificate_path(entries)
            self._certificate = self._read_file(self._select_path_fcp(cert_path), "certificate")
        return self._certificate

    def _auth_certificate_path(self, entries: list[apdu.Tlv]) -> bytes:
        """The entry labelled "...Authentification..." (CPS3 label), else the one whose iD ends with 02
        (Cryptolib: CKA_ID = AID || 02 for authentication)."""
        candidates = []
        for entry in entries:
            children = entry.children()
            label_tlv = children[0].find(0x0C) if children else None
            label = label_tlv.value.decode("utf-8", "replace") if label_tlv else ""
            ident_tlv = children[1].find(0x04) if len(children) > 1 else None
            typed = entry.find(0xA1)
            path_tlv = typed.find(0x04) if typed else None
            if path_tlv:
                candidates.append((AUTH_LABEL_HINT in label.lower(),
                                   bool(ident_tlv and ident_tlv.value.endswith(b"\x02")), path_tlv.value))
        for by_label, by_id, path in sorted(candidates, key=lambda c: (not c[0], not c[1])):
            if by_label or by_id:
                return path
        raise UnsupportedCard("no authentication certificate on the card")

    def pin_tries_left(self) -> int:
        cla, ref = self.settings.cla, self.settings.pin_reference
        if self.settings.tries_query == "get_data":
            self._send(apdu.select_mf(cla), "select MF")
            counter = apdu.find_tlv(apdu.parse_tlv(self._send(apdu.pin_counter_query(ref, cla), "PIN counter")),
                                    0x9B)
            if counter is None or len(counter.value) != 1:
                raise CardError("PIN counter not found in the card's answer")
            return counter.value[0]
        self._select_app()
        response = self.connection.transmit(apdu.verify_query(ref, cla))
        if response.ok:
            return 3      # already verified in this session: the counter is full
        tries = apdu.tries_from_sw(response.sw)
        if tries is None:
            raise CardStatusError("PIN tries query", response.sw)
        return tries

    def verify_pin(self, pin: str) -> None:
        """Raises WrongPin(tries_left) or CardBlocked (ValueError for a malformed PIN, which is never sent)."""
        block = self.settings.pin_block(pin)
        self._select_app()
        response = self.connection.transmit(apdu.verify(self.settings.pin_reference, block, self.settings.cla))
        self._pin_result(response.sw, "VERIFY")
        self.connection.pin_verified = True     # from now on the card must not be left as it is

    def unblock(self, puk: str, new_pin: str | None = None) -> None:
        """RESET RETRY COUNTER with the 8-digit unblock code (ISO 7816-4 `2C`; CPS3 details UNCONFIRMED)."""
        self._select_app()
        new_block = self.settings.pin_block(new_pin) if new_pin else None
        response = self.connection.transmit(apdu.reset_retry_counter(
            self.settings.pin_reference, self.settings.puk_block(puk), new_block, self.settings.cla))
        self._pin_result(response.sw, "RESET RETRY COUNTER")

    @staticmethod
    def _pin_result(sw: int, what: str) -> None:
        if sw == apdu.SW_OK:
            return
        tries = apdu.tries_from_sw(sw)
        if tries == 0:
            raise CardBlocked()
        if tries is not None:
            raise WrongPin(tries)
        raise CardStatusError(what, sw)

    def sign(self, digest_info: bytes) -> bytes:
        """RSA PKCS#1 v1.5 signature of a DigestInfo with the authentication key (PIN verified first).
        CardReset when the card no longer holds the PIN we verified (reset behind PC/SC's back)."""
        try:
            return self._sign(digest_info)
        except CardStatusError as exc:
            if exc.sw == apdu.SW_SECURITY and self.connection.pin_verified:
                raise CardReset("the card lost the PIN verification before signing") from None
            raise

    def _sign(self, digest_info: bytes) -> bytes:
        settings = self.settings
        self._select_app()
        if settings.mse_template == 0xA4:
            self._send(apdu.mse_set_at(settings.auth_key_ref, cla=settings.cla), "MSE SET AT")
            return self._send(apdu.internal_authenticate(digest_info, cla=settings.cla), "INTERNAL AUTHENTICATE")
        self._send(apdu.mse_set_ct(settings.auth_key_ref, cla=settings.cla), "MSE SET CT")
        from cryptography import x509

        size = x509.load_der_x509_certificate(self.read_certificate()).public_key().key_size // 8
        blocks = apdu.pso_decipher(apdu.pkcs1_type1(digest_info, size), cla=settings.cla)
        for block in blocks[:-1]:
            self._send(block, "PSO DECIPHER (chained)")
        return self._send(blocks[-1], "PSO DECIPHER")


def read_pan(connection: pcsc.Connection) -> bytes:
    """EF.SN.ICC: 12 bytes, tag 5A, PAN of 10 bytes starting with the ANS issuer; else UnsupportedCard."""
    response = connection.transmit(apdu.select_path(EF_SN_ICC))
    if not response.ok:
        raise UnsupportedCard(f"no EF.SN.ICC (status {response.sw:04X})")
    response = connection.transmit(apdu.read_binary(0, 12))
    content = response.data
    if not response.ok or len(content) != 12 or content[:2] != b"\x5a\x0a" or not content[2:].startswith(ANS_ISSUER):
        raise UnsupportedCard("EF.SN.ICC is not an ANS card serial")
    return content[2:]


def identify(connection: pcsc.Connection) -> CpxCard:
    """ATR and content check; the connection is closed when the card is not a CPx card."""
    try:
        settings = profile_for_atr(connection.atr)
        return CpxCard(connection, settings, read_pan(connection))
    except CardError:
        connection.close()
        raise


def open_card(reader: str | None = None, deadline: float | None = None) -> CpxCard:
    return identify(pcsc.connect(reader, deadline))
