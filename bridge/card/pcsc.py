"""PC/SC access through pyscard: readers, connection, transmit with T=0 `61 xx` / `6C xx` handling.

pyscard errors become the typed errors of bridge.card.errors. APDUs are traced at DEBUG level, but the data of
PIN commands (VERIFY, CHANGE REFERENCE DATA, RESET RETRY COUNTER) is never written anywhere.
"""
from __future__ import annotations

import logging

from smartcard.Exceptions import CardConnectionException, NoCardException
from smartcard.pcsc.PCSCExceptions import BaseSCardException
from smartcard.scard import SCARD_SHARE_SHARED, SCARD_UNPOWER_CARD
from smartcard.System import readers as pcsc_readers

from bridge.card.apdu import Response, get_response
from bridge.card.errors import CardError, CardRemoved, NoCard, NoReader

log = logging.getLogger("bridge.card.pcsc")
SECRET_INS = {0x20, 0x24, 0x2C}


def _redacted(apdu: bytes) -> str:
    return apdu[:4].hex(" ") + (" <secret>" if apdu[1] in SECRET_INS and len(apdu) > 5 else
                                " " + apdu[4:].hex(" ") if len(apdu) > 4 else "")


def _all_readers():
    try:
        return pcsc_readers()
    except BaseSCardException as exc:       # no pcscd: for the user, there is no reader
        raise NoReader(f"PC/SC service unavailable ({exc})") from None


def list_readers() -> list[str]:
    return [str(reader) for reader in _all_readers()]


class Connection:
    """One card connection. Closing powers the card down so no PIN verification outlives the operation."""

    def __init__(self, reader):
        self.reader = str(reader)
        self._conn = reader.createConnection()
        try:
            self._conn.connect(mode=SCARD_SHARE_SHARED, disposition=SCARD_UNPOWER_CARD)
        except NoCardException:
            self._release()
            raise NoCard(f"no card in {self.reader}") from None
        except CardConnectionException as exc:
            self._release()
            raise NoCard(f"cannot connect to the card in {self.reader}: {exc}") from None
        self.atr = bytes(self._conn.getATR())

    def transmit_raw(self, apdu: bytes) -> Response:
        log.debug("> %s", _redacted(apdu))
        try:
            data, sw1, sw2 = self._conn.transmit(list(apdu))
        except CardConnectionException as exc:
            raise CardRemoved(f"card in {self.reader} stopped answering ({exc})") from None
        response = Response(bytes(data), (sw1 << 8) | sw2)
        log.debug("< %s %04X", f"<{len(response.data)} bytes>" if response.data else "", response.sw)
        return response

    def transmit(self, apdu: bytes) -> Response:
        """Send one command; fetch `61 xx` data with GET RESPONSE and repeat with Le=xx on `6C xx` (T=0 cards)."""
        response = self.transmit_raw(apdu)
        if response.sw1 == 0x6C:
            response = self.transmit_raw(apdu[:-1] + bytes([response.sw2]) if len(apdu) > 4 else apdu)
        data = response.data
        while response.sw1 == 0x61:
            response = self.transmit_raw(get_response(response.sw2, cla=apdu[0] & 0x03))
            if response.sw1 == 0x6C:
                response = self.transmit_raw(get_response(response.sw2, cla=apdu[0] & 0x03))
            data += response.data
        return Response(data, response.sw)

    def close(self) -> None:
        try:
            self._conn.disconnect()
        except (CardConnectionException, BaseSCardException):
            pass
        self._release()

    def _release(self) -> None:
        """Free the PC/SC context now rather than in pyscard's __del__ (which raises if pcscd has gone)."""
        try:
            self._conn.release()
        except (CardConnectionException, BaseSCardException):
            pass


def card_present(reader) -> bool:
    try:
        Connection(reader).close()
        return True
    except CardError:
        return False


def connect(reader_name: str | None = None) -> Connection:
    """Connect to `reader_name` (exact name or a part of it), or to the first reader holding a card."""
    readers = _all_readers()
    if reader_name:
        readers = [r for r in readers if str(r) == reader_name] or [r for r in readers if reader_name in str(r)]
    if not readers:
        raise NoReader(f"no reader{' matching ' + repr(reader_name) if reader_name else ''}")
    last: CardError | None = None
    for reader in readers:
        try:
            return Connection(reader)
        except NoCard as exc:
            last = exc
    raise last or NoCard("no card")
