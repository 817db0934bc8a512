from __future__ import annotations

import threading

from bridge.clock import Clock
from bridge.store.base import Store, check_ttl


class MemoryStore(Store):
    """Single-process store for the demo and tests; expired keys vanish on read and on write."""

    def __init__(self, clock: Clock | None = None):
        self._clock = clock or Clock()
        self._data: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def _live(self, key: str) -> str | None:
        item = self._data.get(key)
        if item is None:
            return None
        if item[1] <= self._clock.now():
            del self._data[key]
            return None
        return item[0]

    def _purge(self) -> None:
        now = self._clock.now()
        for key in [k for k, (_, exp) in self._data.items() if exp <= now]:
            del self._data[key]

    def get(self, key):
        with self._lock:
            return self._live(key)

    def get_many(self, keys):
        with self._lock:
            return [self._live(k) for k in keys]

    def set(self, key, value, ttl):
        with self._lock:
            if len(self._data) % 1024 == 0:
                self._purge()
            self._data[key] = (value, self._clock.now() + check_ttl(ttl))

    def add(self, key, value, ttl):
        with self._lock:
            if self._live(key) is not None:
                return False
            self._data[key] = (value, self._clock.now() + check_ttl(ttl))
            return True

    def consume(self, key):
        with self._lock:
            value = self._live(key)
            self._data.pop(key, None)
            return value

    def delete(self, *keys):
        with self._lock:
            for key in keys:
                self._data.pop(key, None)

    def ping(self):
        return None
