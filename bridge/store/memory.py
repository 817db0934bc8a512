from __future__ import annotations

import threading

from bridge.clock import Clock
from bridge.store.base import INDEX_TTL, Store, check_ttl


class MemoryStore(Store):
    """Single-process store for the demo and tests; expired keys vanish on read and on write."""

    def __init__(self, clock: Clock | None = None):
        self._clock = clock or Clock()
        self._data: dict[str, tuple[object, float]] = {}
        self._lock = threading.RLock()  # re-entrant: scripts call the public methods under the lock

    def _live(self, key: str):
        item = self._data.get(key)
        if item is None:
            return None
        if item[1] <= self._clock.now():
            del self._data[key]
            return None
        return item[0]

    def _put(self, key: str, value, ttl: int) -> None:
        if len(self._data) % 1024 == 0:
            now = self._clock.now()
            for stale in [k for k, (_, exp) in self._data.items() if exp <= now]:
                del self._data[stale]
        self._data[key] = (value, self._clock.now() + check_ttl(ttl))

    def get(self, key):
        with self._lock:
            value = self._live(key)
            return value if isinstance(value, str) else None

    def get_many(self, keys):
        return [self.get(k) for k in keys]

    def set(self, key, value, ttl):
        with self._lock:
            self._put(key, value, ttl)

    def add(self, key, value, ttl):
        with self._lock:
            if self._live(key) is not None:
                return False
            self._put(key, value, ttl)
            return True

    def count(self, key, ttl):
        with self._lock:
            item = self._data.get(key) if self._live(key) is not None else None
            value = int(item[0]) + 1 if item else 1
            self._data[key] = (str(value), item[1] if item else self._clock.now() + check_ttl(ttl))
            return value

    def consume(self, key):
        with self._lock:
            value = self.get(key)
            self._data.pop(key, None)
            return value

    def delete(self, *keys):
        with self._lock:
            for key in keys:
                self._data.pop(key, None)

    def hash_set(self, key, mapping, ttl):
        with self._lock:
            current = dict(self._live(key) or {})
            current.update({k: str(v) for k, v in mapping.items()})
            self._put(key, current, ttl)

    def hash_get_all(self, key):
        with self._lock:
            return dict(self._live(key) or {})

    def hash_delete(self, key, *fields):
        with self._lock:
            current = self._live(key)
            if current:
                for name in fields:
                    current.pop(name, None)

    def write_many(self, writes):
        with self._lock:   # together, as MULTI/EXEC does on Redis
            super().write_many(writes)

    def index_add(self, key, member, score):
        with self._lock:
            current = dict(self._live(key) or {})
            current[member] = float(score)
            self._put(key, current, INDEX_TTL)

    def index_due(self, key, until, limit=500):
        with self._lock:
            current = self._live(key) or {}
            return [m for m, s in sorted(current.items(), key=lambda i: i[1]) if s <= until][:limit]

    def index_remove(self, key, *members):
        with self._lock:
            current = self._live(key)
            if current:
                for member in members:
                    current.pop(member, None)

    def ttl(self, key) -> int:
        with self._lock:
            item = self._data.get(key)
            return int(item[1] - self._clock.now()) if item else -2

    def run(self, script, keys, args):
        with self._lock:
            return script.python(self, keys, args)

    def ping(self):
        return None
