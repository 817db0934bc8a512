"""The sweeper: applies the idle and absolute expiries no request noticed, so apps get their back-channel logout
on time. It runs in each web process (one at a time across processes and hosts, by a store lock) or alone as
`bridge sweeper`."""
from __future__ import annotations

import threading
import time

import click

from bridge.logs import log
from bridge.store import StoreUnavailable
from bridge.upstream import psc_tokens


def sweep_once(bridge, lock_ttl: int = 30) -> int | None:
    """Sweep if this process holds the store lock; None when another instance holds it."""
    me = bridge.instance
    if not bridge.store.add("lock:sweeper", me, lock_ttl) and bridge.store.get("lock:sweeper") != me:
        return None
    applied = bridge.sessions.sweep()
    applied += psc_tokens.sweep(bridge)   # kept PSC tokens: refreshed before they lapse, or the session ends
    bridge.backchannel.wait()
    return applied


class Sweeper:
    """The in-process sweeper thread of a web process."""

    def __init__(self, bridge, interval: float):
        self.bridge, self.interval = bridge, interval
        self._stop = threading.Event()

    def start(self) -> Sweeper:
        threading.Thread(target=self._loop, name="sweeper", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                sweep_once(self.bridge, lock_ttl=max(2, int(self.interval * 2)))
            except StoreUnavailable:
                log.warning("sweeper_store_unavailable")
            except Exception:  # the sweeper must never die silently
                log.exception("sweeper_error")


@click.command("sweeper", help="Apply idle and absolute expiries nobody noticed (one sweeper at a time).")
@click.option("--interval", default=15.0, show_default=True, help="Seconds between sweeps.")
@click.option("--once", is_flag=True, help="One sweep, then exit.")
def sweeper(interval: float, once: bool) -> None:
    from bridge.config import load_settings
    from bridge.core import build_bridge
    from bridge.logs import configure

    settings = load_settings()
    configure(settings.log_level)
    bridge = build_bridge(settings)   # the sessions' listeners (back-channel logout, audit) come with it
    while True:
        applied = sweep_once(bridge, lock_ttl=max(2, int(interval * 2)))
        if applied is not None:
            click.echo(f"sweep: {applied} expiries")
        if once:
            return
        time.sleep(interval)
