"""`bridge keys rotate` and `bridge sweeper`."""
from __future__ import annotations

import time

import click

# Longest lifetime of anything signed with a key (ID tokens, logout tokens: 5 min) plus clock skew and caches.
KEEP_RETIRED = 15 * 60


@click.group("keys", help="Signing keys of the OIDC provider.")
def keys() -> None:
    pass


@keys.command("rotate", help="New keys sign from now on; previous ones stay published until their tokens expire.")
@click.option("--keep", default=KEEP_RETIRED, show_default=True, help="Seconds the retired keys stay in the JWKS.")
def rotate(keep: int) -> None:
    from bridge.config import load_settings
    from bridge.provider.keys import KeyRing

    settings = load_settings()
    ring = KeyRing(settings.keys_dir, create=True)
    old = [key.kid for key in ring.current.values()]
    new = ring.rotate(keep)
    from bridge.audit import open_audit

    open_audit(settings).record("key_rotated", outcome="success", new=",".join(new), retired=",".join(old))
    click.echo(f"nouvelles clés (new keys): {', '.join(new)}; anciennes publiées {keep} s (retired): {', '.join(old)}")


@click.command("sweeper", help="Apply idle and absolute expiries nobody noticed (one sweeper at a time).")
@click.option("--interval", default=15.0, show_default=True, help="Seconds between sweeps.")
@click.option("--once", is_flag=True, help="One sweep, then exit.")
def sweeper(interval: float, once: bool) -> None:
    from bridge.config import load_settings
    from bridge.core import build_bridge
    from bridge.logs import configure

    settings = load_settings()
    configure(settings.log_level)
    bridge = build_bridge(settings)
    while True:
        applied = sweep_once(bridge, lock_ttl=max(2, int(interval * 2)))
        if applied is not None:
            click.echo(f"sweep: {applied} expiries")
        if once:
            return
        time.sleep(interval)


def sweep_once(bridge, lock_ttl: int = 30) -> int | None:
    """Sweep if this process holds the store lock; None when another instance holds it."""
    me = bridge.instance
    if not bridge.store.add("lock:sweeper", me, lock_ttl) and bridge.store.get("lock:sweeper") != me:
        return None
    applied = bridge.sessions.sweep()
    bridge.backchannel.wait()
    return applied
