"""Key-value store with TTLs and atomic single-use values.

`memory://` for one process (demo, tests), `redis://` / `rediss://` for production. Every key has a TTL;
a backend error raises StoreUnavailable, which the web layer turns into HTTP 503: never a token.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from bridge.store.base import Store, StoreUnavailable

__all__ = ["Store", "StoreUnavailable", "open_store"]


def open_store(url: str, clock=None, *, wait_replicas: int = 0, wait_timeout: float = 0.5) -> Store:
    """`wait_replicas`: Redis writes return once that many replicas have them (WAIT), else StoreUnavailable."""
    scheme = urlsplit(url).scheme
    if scheme == "memory":
        from bridge.store.memory import MemoryStore

        return MemoryStore(clock=clock)
    from bridge.store.redis import RedisStore

    return RedisStore.from_url(url, wait_replicas=wait_replicas, wait_timeout=wait_timeout)
