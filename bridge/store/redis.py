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


class NotReplicated(redis.RedisError):
    """WAIT timed out: the write is on the master only, so a failover now could lose it; not acknowledged."""


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
    """With `wait_replicas` (BRIDGE_STORE_WAIT_REPLICAS), every write is followed by WAIT on the same connection
    (one pipeline, no extra round trip): it returns only once that many replicas have it, else NotReplicated
    (a 503). What the bridge acknowledges (a code, a token, a session cookie) then survives a failover to one of
    those replicas (docs/operations.md#redis-failover). Reads never wait."""

    def __init__(self, client: redis.Redis, *, wait_replicas: int = 0, wait_timeout: float = 0.5):
        self._r = client
        self._scripts: dict[str, object] = {}
        self._wait = (wait_replicas, max(1, int(wait_timeout * 1000)))

    @classmethod
    def from_url(cls, url: str, **options) -> RedisStore:
        if url.startswith("redis+sentinel://"):
            return cls(sentinel_master(url), **options)
        # Short timeouts: a dead Redis must give a 503 quickly, not hang a worker.
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2,
                                      health_check_interval=10, decode_responses=True)
        return cls(client, **options)

    def _write(self, queue, *, transaction: bool = False, single: bool = True):
        """Run the commands `queue(client)` sends: directly (one command) or on a pipeline, then WAIT when asked.
        The result of the one command (single) or the list of the pipeline's results."""
        replicas, timeout_ms = self._wait
        if not replicas:
            if single:
                return queue(self._r)
            pipe = self._r.pipeline(transaction=transaction)
            queue(pipe)
            return pipe.execute()
        pipe = self._r.pipeline(transaction=False)  # WAIT inside MULTI would not block: MULTI/EXEC sent by hand
        if transaction:
            pipe.execute_command("MULTI")
        queue(pipe)
        if transaction:
            pipe.execute_command("EXEC")
        pipe.wait(replicas, timeout_ms)
        results = pipe.execute()
        if results[-1] < replicas:
            raise NotReplicated(f"{results[-1]} of {replicas} replicas acknowledged within {timeout_ms} ms")
        results = results[-2] if transaction else results[:-1]
        return results[0] if single else results

    @_guard
    def get(self, key):
        return self._r.get(key)

    @_guard
    def get_many(self, keys):
        return self._r.mget(keys) if keys else []

    @_guard
    def set(self, key, value, ttl):
        ttl = check_ttl(ttl)
        self._write(lambda c: c.set(key, value, ex=ttl))

    @_guard
    def add(self, key, value, ttl):
        ttl = check_ttl(ttl)
        return bool(self._write(lambda c: c.set(key, value, ex=ttl, nx=True)))

    @_guard
    def consume(self, key):
        return self._write(lambda c: c.getdel(key))

    @_guard
    def count(self, key, ttl):
        ttl = check_ttl(ttl)

        def queue(pipe):
            pipe.set(key, 0, ex=ttl, nx=True)  # the window starts at the first count (Redis < 7 too)
            pipe.incr(key)
        return int(self._write(queue, transaction=True, single=False)[1])

    @_guard
    def delete(self, *keys):
        if keys:
            self._write(lambda c: c.delete(*keys))

    @_guard
    def hash_set(self, key, mapping, ttl):
        ttl = check_ttl(ttl)

        def queue(pipe):
            pipe.hset(key, mapping={k: str(v) for k, v in mapping.items()})
            pipe.expire(key, ttl)
        self._write(queue, transaction=True, single=False)

    @_guard
    def hash_get_all(self, key):
        return self._r.hgetall(key)

    @_guard
    def hash_delete(self, key, *fields):
        if fields:
            self._write(lambda c: c.hdel(key, *fields))

    @_guard
    def index_add(self, key, member, score):
        def queue(pipe):
            pipe.zadd(key, {member: score})
            pipe.expire(key, INDEX_TTL)
        self._write(queue, single=False)

    @_guard
    def write_many(self, writes):
        commands = []   # checked before anything is sent
        for name, key, *args in writes:
            if name == "set":
                commands.append((name, key, args[0], check_ttl(args[1])))
            elif name == "hash_set":
                commands.append((name, key, {k: str(v) for k, v in args[0].items()}, check_ttl(args[1])))
            elif name == "index_add":
                commands.append((name, key, {args[0]: args[1]}, INDEX_TTL))
            else:
                raise ValueError(f"write_many: {name!r} is not one of set, hash_set, index_add")

        def queue(pipe):
            for name, key, value, ttl in commands:
                if name == "set":
                    pipe.set(key, value, ex=ttl)
                    continue
                if name == "hash_set":
                    pipe.hset(key, mapping=value)
                else:
                    pipe.zadd(key, value)
                pipe.expire(key, ttl)
        if commands:
            self._write(queue, transaction=True, single=False)

    @_guard
    def index_due(self, key, until, limit=500):
        return self._r.zrangebyscore(key, "-inf", until, start=0, num=limit)

    @_guard
    def index_remove(self, key, *members):
        if members:
            self._write(lambda c: c.zrem(key, *members))

    @_guard
    def ttl(self, key) -> int:
        return self._r.ttl(key)

    @_guard
    def run(self, script, keys, args):
        registered = self._scripts.get(script.name)
        if registered is None:
            registered = self._scripts[script.name] = self._r.register_script(script.lua)
        return self._write(lambda c: registered(keys=keys, args=args, client=c))

    @_guard
    def ping(self):
        self._r.ping()
