"""The removal watch: when the card that signed a login leaves its slot, tell the bridge (docs/card.md, "Card
removal").

The page hands the agent a *removal capability* the bridge issued at login (`POST /v1/watch {capability, reader}`):
an opaque string that can only end that SSO session; it is neither the PIN nor a proof of identity. One thread
waits with SCardGetStatusChange on every watched slot. A watch is bound to the slot's card event count when the
card signed: when the slot is empty, or its count moved (the card left, maybe came back, maybe another card is
there), every watch of that card is sent, each as `POST <origin of the watch request>/cps/removed
{"capability": …}`, then forgotten. Reinserting the card revives nothing. Capabilities are logged by their first
6 characters only.
"""
from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field

from bridge.card import pcsc
from bridge.card.errors import NoReader

log = logging.getLogger("bridge.card.watch")
POLL = 0.5                    # longest wait before a new watch is included in SCardGetStatusChange
NOTICE_TIMEOUT = 5.0
NOTICE_PAUSES = (0.5, 1.5)    # between the 3 tries of a notice the bridge did not answer
MAX_WATCHES = 64              # per slot: several logins of the same card (apps, services), not more


def short(capability: str) -> str:
    return capability[:6] + "…"


def post_removal(origin: str, capability: str, pauses: tuple[float, ...] = NOTICE_PAUSES,
                 timeout: float = NOTICE_TIMEOUT) -> int | None:
    """POST the capability to <origin>/cps/removed; the bridge's HTTP status, None when it never answered."""
    url = origin.rstrip("/") + "/cps/removed"
    body = json.dumps({"capability": capability}).encode("utf-8")
    for attempt in range(len(pauses) + 1):
        request = urllib.request.Request(url, data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:   # noqa: S310 - an allowed origin
                log.info("card removal sent to %s for capability %s: HTTP %s", origin, short(capability),
                         response.status)
                return response.status
        except urllib.error.HTTPError as exc:
            if exc.code < 500 and exc.code != 429:    # unknown, ended, card changed: trying again changes nothing
                log.warning("card removal for capability %s refused by %s: HTTP %s", short(capability), origin,
                            exc.code)
                return exc.code
            log.warning("card removal for capability %s: %s answered HTTP %s", short(capability), origin, exc.code)
        except (urllib.error.URLError, OSError) as exc:
            log.warning("card removal for capability %s: %s unreachable (%s)", short(capability), origin, exc)
        if attempt < len(pauses):
            time.sleep(pauses[attempt])
    log.error("card removal for capability %s never reached %s", short(capability), origin)
    return None


@dataclass
class Watched:
    """The card that signed in one slot, and who wants to know when it leaves."""
    reader: str
    events: int
    cert_sha256: str
    notices: list[tuple[str, str]] = field(default_factory=list)    # (capability, origin)


class Watcher:
    def __init__(self, notify: Callable[[str, str], object] = post_removal, poll: float = POLL):
        self.notify = notify
        self.poll = poll
        self._watched: dict[str, Watched] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, reader: str, events: int, cert_sha256: str, capability: str, origin: str) -> None:
        with self._lock:
            watched = self._watched.get(reader)
            if watched is not None and (watched.events, watched.cert_sha256) != (events, cert_sha256):
                stale, watched = self._watched.pop(reader), None      # that card has left already
                self._send(stale, "another card signed in its slot")
            if watched is None:
                watched = self._watched[reader] = Watched(reader, events, cert_sha256)
            if (capability, origin) not in watched.notices:
                watched.notices = (watched.notices + [(capability, origin)])[-MAX_WATCHES:]
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, daemon=True, name="card-watch")
                self._thread.start()
        self._wake.set()
        log.info("watching the card in %s for capability %s (%d watch(es) on it)", reader, short(capability),
                 len(watched.notices))

    def watching(self, reader: str) -> int:
        with self._lock:
            watched = self._watched.get(reader)
            return len(watched.notices) if watched else 0

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(5)

    def _send(self, watched: Watched, why: str) -> None:
        log.info("the login card left %s (%s): %d removal notice(s)", watched.reader, why, len(watched.notices))
        for capability, origin in watched.notices:
            threading.Thread(target=self.notify, args=(origin, capability), daemon=True,
                             name="card-removal-notice").start()

    def _run(self) -> None:
        waiter = pcsc.StatusWaiter()
        try:
            while not self._stop.is_set():
                with self._lock:
                    known = {reader: (w.events << 16) | pcsc.PRESENT_FLAG for reader, w in self._watched.items()}
                if not known:
                    self._wake.wait(self.poll)
                    self._wake.clear()
                    continue
                try:
                    states = waiter.wait(known, self.poll)
                except NoReader as exc:       # the PC/SC service is gone: no watched card can be vouched for
                    log.warning("PC/SC unavailable while watching cards: %s", exc)
                    states = dict.fromkeys(known)
                    time.sleep(self.poll)
                self._check(states)
        finally:
            waiter.close()

    def _check(self, states: dict[str, pcsc.ReaderState | None]) -> None:
        with self._lock:
            gone = []
            for reader, state in states.items():
                watched = self._watched.get(reader)
                if watched is None:
                    continue
                if state is None or not state.present or state.events != watched.events:
                    gone.append((self._watched.pop(reader), "reader gone" if state is None else
                                 "card removed" if not state.present else "card changed"))
        for watched, why in gone:
            self._send(watched, why)
