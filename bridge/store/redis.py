from __future__ import annotations

import functools

import redis

from bridge import metrics
from bridge.store.base import Store, StoreUnavailable, check_ttl


def _guard(method):
    """Any Redis failure becomes StoreUnavailable so callers fail closed in one place."""
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except redis.RedisError as exc:
            metrics.store_error(method.__name__, exc)
            raise StoreUnavailable(f"store unavailable: {type(exc).__name__}") from exc
    return wrapper


class RedisStore(Store):
    def __init__(self, client: redis.Redis):
        self._r = client

    @classmethod
    def from_url(cls, url: str) -> RedisStore:
        # Short timeouts: a dead Redis must give a 503 quickly, not hang a worker.
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2,
                                      health_check_interval=10, decode_responses=True)
        return cls(client)

    @_guard
    def get(self, key):
        return self._r.get(key)

    @_guard
    def get_many(self, keys):
        return self._r.mget(keys) if keys else []

    @_guard
    def set(self, key, value, ttl):
        self._r.set(key, value, ex=check_ttl(ttl))

    @_guard
    def add(self, key, value, ttl):
        return bool(self._r.set(key, value, ex=check_ttl(ttl), nx=True))

    @_guard
    def consume(self, key):
        return self._r.getdel(key)

    @_guard
    def delete(self, *keys):
        if keys:
            self._r.delete(*keys)

    @_guard
    def ping(self):
        self._r.ping()
