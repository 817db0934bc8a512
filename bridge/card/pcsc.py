"""PC/SC access through pyscard's `smartcard.scard` layer (the PC/SC calls and their result codes): reader states,
shared connections, transactions, transmit with T=0 `61 xx` / `6C xx` handling.

Living with the other applications of the workstation (the billing software reads the carte Vitale and signs with
the CPS through the same PC/SC service, often in a two-slot "bifente" reader), docs/card.md "Sharing the card":
- connections are SCARD_SHARE_SHARED and last one dialogue; each dialogue runs inside SCardBeginTransaction /
  SCardEndTransaction, so no other application's SELECT lands between ours (the card has one current file for
  everyone on the basic channel);
- pcsc-lite's SCardConnect, SCardBeginTransaction, SCardReconnect, SCardStatus and SCardTransmit (outside a
  transaction) wait as long as another application's transaction lasts: they run in a helper thread and we give
  up with `Busy` at the connection's deadline (closing our handle makes a waiting call return);
- a reset by another application (SCARD_W_RESET_CARD) is acknowledged (SCardReconnect, leaving the card) and
  recorded in `reset_seen`; met by a command it raises `CardReset`, since the card's state is no longer ours;
- a transaction after which the card holds a PIN we verified (`pin_verified`) ends with SCARD_RESET_CARD, any
  other one leaves the card as it is.
pyscard errors become the typed errors of bridge.card.errors. APDUs are traced at DEBUG level, but the data of
PIN commands (VERIFY, CHANGE REFERENCE DATA, RESET RETRY COUNTER) is never written anywhere.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from smartcard import scard

from bridge.card.apdu import Response, get_response
from bridge.card.errors import Busy, CardError, CardRemoved, CardReset, NoCard, NoReader

log = logging.getLogger("bridge.card.pcsc")
SECRET_INS = {0x20, 0x24, 0x2C}
BUSY_TIMEOUT = 5.0                      # how long a dialogue waits for another application's transaction
RETRY_PAUSES = (0.05, 0.1, 0.2, 0.4)    # between connection attempts refused for a sharing violation
PROTOCOLS = scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1
SHARED, LEAVE, RESET_CARD = scard.SCARD_SHARE_SHARED, scard.SCARD_LEAVE_CARD, scard.SCARD_RESET_CARD
PRESENT_FLAG = scard.SCARD_STATE_PRESENT    # with the event count in the high word: a StatusWaiter's known state


def _c(name: str) -> int:
    return getattr(scard, name) & 0xFFFFFFFF


OK, SHARING, WAS_RESET, NO_READERS = 0, _c("SCARD_E_SHARING_VIOLATION"), _c("SCARD_W_RESET_CARD"), \
    _c("SCARD_E_NO_READERS_AVAILABLE")
NO_CARD = {_c(n) for n in ("SCARD_E_NO_SMARTCARD", "SCARD_W_REMOVED_CARD", "SCARD_W_UNPOWERED_CARD",
                           "SCARD_W_UNRESPONSIVE_CARD")}
READER_GONE = {_c(n) for n in ("SCARD_E_UNKNOWN_READER", "SCARD_E_READER_UNAVAILABLE", "SCARD_E_NO_READERS_AVAILABLE")}
NO_SERVICE = {_c(n) for n in ("SCARD_E_NO_SERVICE", "SCARD_E_SERVICE_STOPPED", "SCARD_E_INVALID_HANDLE")}


def _code(hresult: int) -> int:
    return hresult & 0xFFFFFFFF


def _text(hresult: int) -> str:
    try:
        return scard.SCardGetErrorMessage(hresult)
    except Exception:   # noqa: BLE001 - only for a log line
        return f"0x{_code(hresult):08X}"


def _redacted(apdu: bytes) -> str:
    return apdu[:4].hex(" ") + (" <secret>" if apdu[1] in SECRET_INS and len(apdu) > 5 else
                                " " + apdu[4:].hex(" ") if len(apdu) > 4 else "")


def _dialogue_error(hresult: int, reader: str, what: str) -> CardError:
    """A failed call on a connected card: someone else's transaction, a reset, or the card (or reader) gone."""
    code, text = _code(hresult), f"{what} on {reader}: {_text(hresult)}"
    if code == SHARING:
        return Busy(text)
    if code == WAS_RESET:
        return CardReset(text)
    return CardRemoved(text)


class _Context:
    """One PC/SC context. Each connection has its own: pcsc-lite serialises the calls of a context, so a call
    waiting for another application must not hold up the others."""

    def __init__(self):
        hresult, self.handle = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if _code(hresult) != OK:
            raise NoReader(f"PC/SC service unavailable ({_text(hresult)})")

    def release(self) -> None:
        handle, self.handle = self.handle, None
        if handle is not None:
            scard.SCardReleaseContext(handle)


def _bounded(call: Callable, timeout: float, late: Callable | None = None) -> tuple[bool, object, threading.Thread]:
    """(finished, result, thread) of a PC/SC call that may wait for another application; when it does not finish
    within `timeout`, `late(result)` undoes it whenever it returns."""
    box: dict = {}
    guard, done = threading.Lock(), threading.Event()

    def run() -> None:
        result = call()
        with guard:
            box["result"] = result
            abandoned = box.get("abandoned", False)
        done.set()
        if abandoned and late is not None:
            late(result)

    thread = threading.Thread(target=run, daemon=True, name="pcsc-wait")
    thread.start()
    done.wait(max(timeout, 0.0))
    with guard:
        if "result" in box:
            return True, box["result"], thread
        box["abandoned"] = True
    return False, None, thread


# --- readers ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReaderState:
    name: str
    present: bool
    atr: bytes
    events: int             # card insertions + removals pcscd counted in this slot (0 where the service does not count)
    mute: bool = False
    exclusive: bool = False


def _reader_state(name: str, event_state: int, atr) -> ReaderState:
    flags = event_state & 0xFFFF
    present = bool(flags & scard.SCARD_STATE_PRESENT) and not flags & (
        scard.SCARD_STATE_UNKNOWN | scard.SCARD_STATE_UNAVAILABLE)
    return ReaderState(name, present, bytes(atr or b"") if present else b"", (event_state >> 16) & 0xFFFF,
                       bool(flags & scard.SCARD_STATE_MUTE), bool(flags & scard.SCARD_STATE_EXCLUSIVE))


def _names(context: _Context) -> list[str]:
    hresult, names = scard.SCardListReaders(context.handle, [])
    if _code(hresult) == NO_READERS:
        return []
    if _code(hresult) != OK:
        raise NoReader(f"PC/SC: {_text(hresult)}")
    return list(names or [])


def list_readers() -> list[str]:
    """Names of the readers (with pcsc-lite, one per slot: "Virtual PCD 00 00", "Virtual PCD 00 01")."""
    context = _Context()
    try:
        return _names(context)
    finally:
        context.release()


def reader_states(names: list[str] | None = None) -> list[ReaderState]:
    """What the PC/SC service knows of every reader (or of `names`), without touching any card."""
    found = [n for n in list_readers() if names is None or n in names]
    if not found:
        return []
    context = _Context()
    try:
        hresult, states = scard.SCardGetStatusChange(context.handle, 0,
                                                     [(n, scard.SCARD_STATE_UNAWARE) for n in found])
    finally:
        context.release()
    if _code(hresult) != OK:
        raise NoReader(f"PC/SC: {_text(hresult)}")
    return [_reader_state(*state) for state in states]


class StatusWaiter:
    """SCardGetStatusChange on a context of its own, for a thread that waits for cards to leave."""

    def __init__(self):
        self._context: _Context | None = None

    def wait(self, known: dict[str, int], timeout: float) -> dict[str, ReaderState | None]:
        """Block until a reader's state differs from `known` (name -> last event state; 0 = unknown) or `timeout`;
        the state of each reader then, None for a reader the service no longer offers."""
        if self._context is None:
            self._context = _Context()
        try:
            names = set(_names(self._context))
        except NoReader:
            self.close()
            raise
        present = [name for name in known if name in names]
        result: dict[str, ReaderState | None] = {name: None for name in known if name not in names}
        if not present:
            if not result:
                time.sleep(timeout)
            return result
        hresult, states = scard.SCardGetStatusChange(self._context.handle, int(timeout * 1000),
                                                     [(n, known[n] & ~scard.SCARD_STATE_CHANGED) for n in present])
        if _code(hresult) not in (OK, _c("SCARD_E_TIMEOUT")):
            self.close()
            raise NoReader(f"PC/SC: {_text(hresult)}")
        for name, event_state, atr in states:
            result[name] = _reader_state(name, event_state, atr)
        return result

    def close(self) -> None:
        if self._context is not None:
            self._context.release()
            self._context = None


# --- a connection ---------------------------------------------------------------------------------------------------
class Connection:
    """One shared connection to the card in `reader`, for one dialogue; waits end at `deadline` (monotonic)."""

    def __init__(self, reader, deadline: float | None = None):
        self.reader = str(reader)
        self.deadline = time.monotonic() + BUSY_TIMEOUT if deadline is None else deadline
        self.pin_verified = False    # set by the card layer after a successful VERIFY: the card is reset after us
        self.reset_seen = False      # another application reset the card while we were connected
        self._in_transaction = False
        self._hcard = None
        self._protocol = scard.SCARD_PROTOCOL_T0
        self._context: _Context | None = _Context()
        try:
            self._connect()
            self.atr = bytes(self._status())
        except CardError:
            self.close()
            raise

    def _left(self) -> float:
        return self.deadline - time.monotonic()

    def _connect(self) -> None:
        context = self._context
        pauses = list(RETRY_PAUSES)
        while True:
            finished, result, _ = _bounded(
                lambda: scard.SCardConnect(context.handle, self.reader, SHARED, PROTOCOLS), self._left(),
                late=lambda r: _drop(context, r))
            if not finished:        # pcscd waits for another application's transaction: its thread cleans up
                self._context = None
                raise Busy(f"{self.reader}: another application keeps the card")
            hresult, hcard, protocol = result
            code = _code(hresult)
            if code == OK:
                self._hcard, self._protocol = hcard, protocol
                return
            pause = pauses.pop(0) if len(pauses) > 1 else pauses[0]
            if code == SHARING and self._left() > pause:     # another application has it in exclusive mode
                time.sleep(pause)
                continue
            if code == SHARING:
                raise Busy(f"{self.reader}: another application keeps the card")
            if code in READER_GONE or code in NO_SERVICE:
                raise NoReader(f"{self.reader}: {_text(hresult)}")
            raise NoCard(f"cannot connect to the card in {self.reader}: {_text(hresult)}")

    def _wait(self, call: Callable, what: str):
        """A call on our handle that pcsc-lite may hold while another application has a transaction."""
        if self._hcard is None:
            raise CardRemoved(f"{self.reader}: not connected")
        if self._in_transaction:
            return call()
        finished, result, thread = _bounded(call, self._left())
        if not finished:
            self._disconnect(LEAVE)       # the waiting call sees an invalid handle and returns
            thread.join(1.0)
            raise Busy(f"{what} on {self.reader}: another application keeps the card")
        return result

    def _status(self) -> bytes:
        hresult, _reader, _state, _protocol, atr = self._wait(lambda h=self._hcard: scard.SCardStatus(h), "status")
        if _code(hresult) == WAS_RESET:
            self._acknowledge_reset()
            return self._status()
        if _code(hresult) != OK:
            raise NoCard(f"card in {self.reader}: {_text(hresult)}")
        return bytes(atr)

    def _acknowledge_reset(self) -> None:
        """Another application reset the card: tell pcscd we know (leaving the card as it is); state is lost."""
        hresult, protocol = self._wait(lambda h=self._hcard: scard.SCardReconnect(h, SHARED, PROTOCOLS, LEAVE),
                                       "reconnect")
        if _code(hresult) != OK:
            raise _dialogue_error(hresult, self.reader, "reconnect")
        self._protocol = protocol
        self.reset_seen, self.pin_verified = True, False
        log.info("the card in %s was reset by another application", self.reader)

    # --- transactions -----------------------------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """Exclusive use of the card for one dialogue; ends with a reset when the card holds our verified PIN."""
        for _attempt in range(3):
            hresult = self._wait(lambda h=self._hcard: scard.SCardBeginTransaction(h), "begin transaction")
            if _code(hresult) == OK:
                break
            if _code(hresult) != WAS_RESET:
                raise _dialogue_error(hresult, self.reader, "begin transaction")
            self._acknowledge_reset()
        else:
            raise CardReset(f"the card in {self.reader} keeps being reset")
        self._in_transaction = True
        try:
            yield self
        finally:
            self._in_transaction = False
            self._end()

    def _end(self) -> None:
        disposition = RESET_CARD if self.pin_verified else LEAVE
        hresult = scard.SCardEndTransaction(self._hcard, disposition) if self._hcard is not None else OK
        if _code(hresult) == OK:
            if disposition == RESET_CARD:
                self.pin_verified = False
        else:       # the card went or was reset meanwhile: closing the handle frees the lock
            log.info("end of transaction on %s: %s", self.reader, _text(hresult))
            self._disconnect(disposition)

    # --- commands ---------------------------------------------------------------------------------------------------
    def transmit_raw(self, apdu: bytes) -> Response:
        log.debug("> %s", _redacted(apdu))
        pci = scard.SCARD_PCI_T1 if self._protocol == scard.SCARD_PROTOCOL_T1 else scard.SCARD_PCI_T0
        hresult, answer = self._wait(lambda h=self._hcard: scard.SCardTransmit(h, pci, list(apdu)), "transmit")
        if _code(hresult) == WAS_RESET:
            self._acknowledge_reset()
        if _code(hresult) != OK:
            raise _dialogue_error(hresult, self.reader, "transmit")
        if len(answer) < 2:
            raise CardRemoved(f"card in {self.reader} gave no status word")
        response = Response(bytes(answer[:-2]), (answer[-2] << 8) | answer[-1])
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

    # --- the end ----------------------------------------------------------------------------------------------------
    def _disconnect(self, disposition: int) -> None:
        hcard, self._hcard = self._hcard, None
        if hcard is not None:
            scard.SCardDisconnect(hcard, disposition)

    def close(self) -> None:
        """Disconnect (resetting the card if it still holds our verified PIN) and free the context."""
        if self._hcard is not None and self.pin_verified:
            finished, _result, _thread = _bounded(lambda h=self._hcard: scard.SCardDisconnect(h, RESET_CARD),
                                                  max(self._left(), 1.0))
            self._hcard = None if finished else self._hcard
        self._disconnect(LEAVE)
        if self._context is not None:
            self._context.release()
            self._context = None

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _drop(context: _Context, result) -> None:
    """Undo a connection that came too late for us."""
    hresult, hcard, _protocol = result
    if _code(hresult) == OK:
        scard.SCardDisconnect(hcard, LEAVE)
    context.release()


def connect(reader_name: str | None = None, deadline: float | None = None) -> Connection:
    """Connect to `reader_name` (exact name or a part of it), or to the first reader holding a card."""
    names = list_readers()
    if reader_name:
        names = [n for n in names if n == reader_name] or [n for n in names if reader_name in n]
    if not names:
        raise NoReader(f"no reader{' matching ' + repr(reader_name) if reader_name else ''}")
    last: CardError | None = None
    for name in names:
        try:
            return Connection(name, deadline)
        except NoCard as exc:
            last = exc
    raise last or NoCard("no card")


def card_present(reader) -> bool:
    """A card answers in `reader` (a name or anything whose str() is one)."""
    try:
        Connection(str(reader)).close()
        return True
    except CardError:
        return False


def _all_readers() -> list[str]:
    """Reader names (kept for callers written against the pyscard reader objects: str() gives the name)."""
    return list_readers()
