from __future__ import annotations

import json
from typing import Any


class StoreUnavailable(RuntimeError):
    """The store cannot be reached: fail closed (HTTP 503, no token)."""


class Store:
    """What every backend offers. Values are strings; the *_json helpers encode dicts.

    Multi-key operations that must be atomic *and* cost one round trip are Scripts (bridge/store/scripts.py, the
    scripts themselves in bridge/sessions/scripts.py): Lua on Redis, the same logic under the lock in memory.
    """

    def get(self, key: str) -> str | None: raise NotImplementedError
    def get_many(self, keys: list[str]) -> list[str | None]: raise NotImplementedError
    def set(self, key: str, value: str, ttl: int) -> None: raise NotImplementedError
    def add(self, key: str, value: str, ttl: int) -> bool:
        """Set only if absent (single-use markers, locks). True when this call created the key."""
        raise NotImplementedError
    def consume(self, key: str) -> str | None:
        """Atomically read and delete: a second call returns None."""
        raise NotImplementedError
    def delete(self, *keys: str) -> None: raise NotImplementedError
    def count(self, key: str, ttl: int) -> int:
        """Add one to a counter that lives `ttl` seconds from its first count; the new value."""
        raise NotImplementedError
    def hash_set(self, key: str, mapping: dict[str, str], ttl: int) -> None: raise NotImplementedError
    def hash_get_all(self, key: str) -> dict[str, str]: raise NotImplementedError
    def hash_delete(self, key: str, *fields: str) -> None: raise NotImplementedError
    def index_add(self, key: str, member: str, score: float) -> None:
        """A sorted index (deadlines to sweep); it lives as long as it is written to."""
        raise NotImplementedError
    def index_due(self, key: str, until: float, limit: int = 500) -> list[str]: raise NotImplementedError
    def index_remove(self, key: str, *members: str) -> None: raise NotImplementedError
    def run(self, script, keys: list[str], args: list) -> list: raise NotImplementedError
    def ping(self) -> None: raise NotImplementedError

    def write_many(self, writes: list[tuple]) -> None:
        """Several writes, each `(name, *args)` of `set`, `hash_set` or `index_add`, applied together: on Redis in
        one MULTI/EXEC (one round trip instead of one each; a login opens its session with one), here in turn."""
        for name, *args in writes:   # checked before anything is written
            if name not in WRITES:
                raise ValueError(f"write_many: {name!r} is not one of {', '.join(WRITES)}")
            if name != "index_add":
                check_ttl(args[2])
        for name, *args in writes:
            getattr(self, name)(*args)

    def get_json(self, key: str) -> Any | None:
        raw = self.get(key)
        return None if raw is None else json.loads(raw)

    def set_json(self, key: str, value: Any, ttl: int) -> None:
        self.set(key, dumps(value), ttl)

    def consume_json(self, key: str) -> Any | None:
        raw = self.consume(key)
        return None if raw is None else json.loads(raw)


WRITES = ("set", "hash_set", "index_add")   # what Store.write_many takes


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def check_ttl(ttl: int) -> int:
    ttl = int(ttl)
    if ttl <= 0:
        raise ValueError(f"TTL must be positive (got {ttl}): every key expires")
    return ttl


INDEX_TTL = 7 * 24 * 3600
