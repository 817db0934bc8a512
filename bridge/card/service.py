"""The card operations behind the agent's HTTP layer: find the CPS among every reader and slot, read it, sign with
it, and remember which card signed where (for the removal watch). Callable from tests and other front-ends.

Each card dialogue is one PC/SC transaction on a shared connection (bridge.card.pcsc): "identify + read" for the
status and before a signature, "VERIFY + sign" for the signature, which then resets the card so that no verified
PIN outlives it. Waiting for another application (the billing software) ends at `busy_timeout`.
"""
from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass

from bridge import cps_proof as proof
from bridge.card import pcsc, profiles
from bridge.card.certificate import card_type, holder_name
from bridge.card.errors import (
    Busy,
    CardError,
    CardRemoved,
    CardReset,
    NoCard,
    NoCpsCard,
    NoReader,
    SeveralCards,
    UnsupportedCard,
)
from bridge.card.slots import Slot, grouped, slots
from bridge.cps_number import logical_number

log = logging.getLogger("bridge.card.agent")
LOCK_TIMEOUT = 30.0          # one agent operation at a time per slot: how long another request of ours waits
KNOWN_CARDS = 32             # certificates remembered by card serial, so that a status need not read them again


@dataclass(frozen=True)
class KnownCard:
    certificate: bytes
    type: str | None
    holder: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.certificate).hexdigest()


@dataclass(frozen=True)
class SignedCard:
    """The card that last signed in a slot, and the slot's card event count before it did (the watch baseline)."""
    reader: str
    cert_sha256: str
    serial: str
    events: int


def _load_certificate(der: bytes):
    from cryptography import x509

    return x509.load_der_x509_certificate(der)


def _card_view(card: profiles.CpxCard, known: KnownCard) -> dict:
    return {"type": known.type, "serial": card.serial, "logical_number": logical_number(card.serial) or None,
            "cps": True, "holder": known.holder or None, "generation": card.generation}


class CardService:
    def __init__(self, reader: str | None = None, lock_timeout: float = LOCK_TIMEOUT,
                 busy_timeout: float = pcsc.BUSY_TIMEOUT):
        self.reader = reader                     # --reader: only this reader (exact name, or part of it)
        self.lock_timeout = lock_timeout
        self.busy_timeout = busy_timeout
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._known: OrderedDict[str, KnownCard] = OrderedDict()
        self._signed: dict[str, SignedCard] = {}

    # --- plumbing ----------------------------------------------------------------------------------------------------
    def _lock(self, reader: str = "*") -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(reader, threading.Lock())

    @contextmanager
    def _exclusive(self, reader: str, timeout: float | None = None):
        lock = self._lock(reader)
        if not lock.acquire(timeout=self.lock_timeout if timeout is None else max(timeout, 0.0)):
            raise Busy(f"another request of this agent uses {reader}")
        try:
            yield
        finally:
            lock.release()

    def slots(self) -> list[Slot]:
        return slots(pcsc.reader_states(), self.reader)

    def _remember(self, card: profiles.CpxCard) -> KnownCard:
        """The card's certificate facts, read once per card serial."""
        with self._guard:
            known = self._known.get(card.serial)
        if known is None:
            der = card.read_certificate()
            cert = _load_certificate(der)
            known = KnownCard(der, card_type(cert) or None, holder_name(cert))
            with self._guard:
                self._known[card.serial] = known
                while len(self._known) > KNOWN_CARDS:
                    self._known.popitem(last=False)
        return known

    # --- status ------------------------------------------------------------------------------------------------------
    def describe(self, slot: Slot, deadline: float) -> dict | None:
        """What the slot holds (None: empty). Only a card with a CPx ATR is talked to."""
        if slot.kind is None:
            return None
        if slot.kind != "cpx":
            return {"type": slot.kind, "serial": None, "logical_number": None, "cps": False}
        try:
            with self._exclusive(slot.reader, deadline - time.monotonic()), \
                    pcsc.Connection(slot.reader, deadline) as connection, connection.transaction():
                card = profiles.identify(connection)
                view = _card_view(card, self._remember(card))
                view["pin_tries_left"] = card.pin_tries_left()
                return view
        except UnsupportedCard:
            return {"type": "other", "serial": None, "logical_number": None, "cps": False, "unsupported": True}
        except Busy:
            return {"type": None, "serial": None, "logical_number": None, "cps": False, "busy": True}
        except (NoCard, CardRemoved, NoReader):
            return None
        except CardError as exc:
            log.warning("cannot read the card in %s: %s", slot.reader, exc)
            return {"type": None, "serial": None, "logical_number": None, "cps": False, "error": exc.code}

    def status(self) -> dict:
        """Every reader and slot with what it holds, and the v1 fields for the CPS found (if exactly one)."""
        result = {"readers": [], "selected": None, "reader": None, "card_present": False, "card_type": None,
                  "card": None, "pin_tries_left": None}
        try:
            found = self.slots()
        except NoReader:
            return {**result, "error": "no_reader"}
        if not found:
            return {**result, "error": "no_reader"}
        deadline = time.monotonic() + self.busy_timeout
        entries = [(slot, self.describe(slot, deadline)) for slot in found]
        result["readers"] = grouped(entries)
        cps = [(slot, card) for slot, card in entries if card and card["cps"]]
        result["card_present"] = any(card for _slot, card in entries)
        if len(cps) == 1:
            slot, card = cps[0]
            result.update(selected=slot.reader, reader=slot.reader, card_type=card["type"],
                          pin_tries_left=card["pin_tries_left"],
                          card={k: card[k] for k in ("type", "serial", "generation", "logical_number", "holder")})
        elif len(cps) > 1:
            result["error"] = "several_cards"
        else:
            result["error"] = _no_cps(card for _slot, card in entries).code
        return result

    # --- sign --------------------------------------------------------------------------------------------------------
    def _signing_slot(self, reader: str | None, deadline: float) -> Slot:
        found = self.slots()
        if reader is not None:
            chosen = [slot for slot in found if slot.reader == reader]
            if not chosen:
                raise NoReader(f"no reader {reader!r}")
            if chosen[0].kind is None:
                raise NoCard(f"no card in {reader}")
            return chosen[0]
        if not found:
            raise NoReader("no reader")
        candidates = [slot for slot in found if slot.kind == "cpx"]
        if len(candidates) == 1:
            return candidates[0]
        if not candidates:
            raise _no_cps({"type": slot.kind} for slot in found if slot.kind)
        cps = [slot for slot in candidates if (self.describe(slot, deadline) or {}).get("cps")]
        if len(cps) > 1:
            raise SeveralCards(f"{len(cps)} CPS cards: {', '.join(s.reader for s in cps)}")
        if not cps:
            raise UnsupportedCard("no card with a CPS ATR holds an ANS card serial")
        return cps[0]

    def _sign_dialogue(self, reader: str, digest_info: bytes, pin: str, deadline: float):
        """(card, known certificate, signature): read, then VERIFY + sign in a second transaction."""
        with pcsc.Connection(reader, deadline) as connection:
            with connection.transaction():
                card = profiles.identify(connection)
                known = KnownCard(card.read_certificate(), None, "")
            for attempt in (1, 2):
                verified = False
                try:
                    with connection.transaction():
                        if connection.reset_seen and profiles.read_pan(connection) != card.pan:
                            raise CardRemoved(f"another card is in {reader}")
                        card.verify_pin(pin)
                        verified = True
                        return card, known, card.sign(digest_info)
                except CardReset:
                    # Reset before our VERIFY reached the card: the PIN was not used, start the dialogue again.
                    # After it, the card's state is unknown: the user types the PIN again (card_reset).
                    if verified or attempt == 2:
                        raise
                    log.info("the card in %s was reset before VERIFY: starting the dialogue again", reader)
        raise CardReset(f"the card in {reader} was reset")      # not reached: the loop returns or raises

    def sign(self, challenge: str, origin: str, pin: str, reader: str | None = None) -> dict:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        digest_info = proof.digest_info(origin, challenge)
        deadline = time.monotonic() + self.busy_timeout
        slot = self._signing_slot(reader, deadline)
        with self._exclusive(slot.reader):
            card, known, signature = self._sign_dialogue(slot.reader, digest_info, pin, deadline)
        cert = _load_certificate(known.certificate)
        try:   # the certificate and the signature come from one card (and a wrong key reference would show here)
            cert.public_key().verify(signature, proof.signed_message(origin, challenge), padding.PKCS1v15(),
                                     hashes.SHA256())
        except Exception:
            raise CardError("the card's signature does not match its certificate") from None
        with self._guard:
            self._signed[slot.reader] = SignedCard(slot.reader, known.sha256, card.serial, slot.state.events)
        view = _card_view(card, KnownCard(known.certificate, card_type(cert) or None, holder_name(cert)))
        return {"certificate": _b64(known.certificate), "signature": _b64(signature), "algorithm": "RS256",
                "card": {"type": view["type"], "serial": card.serial, "logical_number": view["logical_number"],
                         "reader": slot.reader, "holder": view["holder"]}}

    def signed_in(self, reader: str) -> SignedCard | None:
        with self._guard:
            return self._signed.get(reader)


def _no_cps(cards) -> CardError:
    """Why no CPS can be used, from the other slots' cards: busy, an unknown card, only Vitale cards, nothing."""
    kinds = {("busy" if card.get("busy") else card.get("type")) for card in cards if card}
    if "busy" in kinds:
        return Busy("a card could not be read: another application keeps it")
    if kinds - {"vitale"}:
        return UnsupportedCard("no CPS card; a card that is not one is in a reader")
    if kinds:
        return NoCpsCard("only cards that are not CPS cards (carte Vitale)")
    return NoCard("no card")


def _b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode("ascii")
