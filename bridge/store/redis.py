from __future__ import annotations

import functools

import redis

from bridge import metrics
from bridge.store.base import INDEX_TTL, Store, StoreUnavailable, check_ttl


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


OPTIONS = {"socket_connect_timeout": 2, "socket_timeout": 2, "health_check_interval": 10, "decode_responses": True}


def sentinel_master(url: str) -> redis.Redis:
    """redis+sentinel://[:password@]host1:26379,host2:26379/<master name>[/<db>]: the client follows failovers."""
    from urllib.parse import unquote, urlsplit

    from redis.sentinel import Sentinel

    parts = urlsplit(url)
    hosts = []
    for item in parts.netloc.rpartition("@")[2].split(","):
        host, _, port = item.rpartition(":")
        hosts.append((host or "127.0.0.1", int(port or 26379)))
    path = [p for p in parts.path.split("/") if p]
    if not path:
        raise ValueError(f"{url}: the master name is missing (redis+sentinel://host:26379/mymaster/0)")
    password = unquote(parts.password) if parts.password else None
    sentinel = Sentinel(hosts, socket_timeout=2, sentinel_kwargs={"password": password} if password else {})
    return sentinel.master_for(path[0], db=int(path[1]) if len(path) > 1 else 0, password=password, **OPTIONS)


class RedisStore(Store):
    def __init__(self, client: redis.Redis):
        self._r = client
        self._scripts: dict[str, object] = {}

    @classmethod
    def from_url(cls, url: str) -> RedisStore:
        if url.startswith("redis+sentinel://"):
            return cls(sentinel_master(url))
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
    def count(self, key, ttl):
        pipe = self._r.pipeline()
        pipe.set(key, 0, ex=check_ttl(ttl), nx=True)  # the window starts at the first count (Redis < 7 too)
        pipe.incr(key)
        return int(pipe.execute()[1])

    @_guard
    def delete(self, *keys):
        if keys:
            self._r.delete(*keys)

    @_guard
    def hash_set(self, key, mapping, ttl):
        pipe = self._r.pipeline(transaction=True)
        pipe.hset(key, mapping={k: str(v) for k, v in mapping.items()})
        pipe.expire(key, check_ttl(ttl))
        pipe.execute()

    @_guard
    def hash_get_all(self, key):
        return self._r.hgetall(key)

    @_guard
    def hash_delete(self, key, *fields):
        if fields:
            self._r.hdel(key, *fields)

    @_guard
    def index_add(self, key, member, score):
        pipe = self._r.pipeline(transaction=False)
        pipe.zadd(key, {member: score})
        pipe.expire(key, INDEX_TTL)
        pipe.execute()

    @_guard
    def index_due(self, key, until, limit=500):
        return self._r.zrangebyscore(key, "-inf", until, start=0, num=limit)

    @_guard
    def index_remove(self, key, *members):
        if members:
            self._r.zrem(key, *members)

    @_guard
    def ttl(self, key) -> int:
        return self._r.ttl(key)

    @_guard
    def run(self, script, keys, args):
        registered = self._scripts.get(script.name)
        if registered is None:
            registered = self._scripts[script.name] = self._r.register_script(script.lua)
        return registered(keys=keys, args=args)

    @_guard
    def ping(self):
        self._r.ping()
