"""Both store backends honour one contract: TTL on every key, atomic single use, fail closed when down."""
import threading

import pytest
import redis

from bridge.clock import Clock
from bridge.store import StoreUnavailable, open_store
from bridge.store.memory import MemoryStore


@pytest.fixture(params=["memory", "redis", "redis-wait"])
def store(request):
    if request.param == "memory":
        return MemoryStore(Clock())
    if request.param == "redis-wait":  # every write WAITs for the replica (BRIDGE_STORE_WAIT_REPLICAS=1)
        url = request.getfixturevalue("replicated_redis")
        redis.Redis.from_url(url).flushdb()
        return open_store(url, wait_replicas=1, wait_timeout=2)
    return open_store(request.getfixturevalue("redis_url"))


def test_set_get_delete(store):
    store.set("k", "v", 60)
    assert store.get("k") == "v"
    store.delete("k")
    assert store.get("k") is None


def test_every_key_needs_a_positive_ttl(store):
    with pytest.raises(ValueError, match="TTL"):
        store.set("k", "v", 0)


def test_consume_is_single_use(store):
    store.set_json("code", {"a": 1}, 60)
    assert store.consume_json("code") == {"a": 1}
    assert store.consume_json("code") is None


def test_consume_is_atomic_under_concurrency(store):
    store.set("once", "x", 60)
    results = []
    threads = [threading.Thread(target=lambda: results.append(store.consume("once"))) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("x") == 1


def test_add_only_when_absent(store):
    assert store.add("lock", "a", 60) is True
    assert store.add("lock", "b", 60) is False
    assert store.get("lock") == "a"


def test_get_many(store):
    store.set("a", "1", 60)
    assert store.get_many(["a", "missing"]) == ["1", None]


def test_memory_keys_expire_with_the_clock():
    clock = Clock(fixed=1000.0)
    store = MemoryStore(clock)
    store.set("k", "v", 10)
    clock.advance(9)
    assert store.get("k") == "v"
    clock.advance(1)
    assert store.get("k") is None


def test_redis_ttl_is_set(redis_url):
    import redis

    store = open_store(redis_url)
    store.set("k", "v", 30)
    assert 0 < redis.Redis.from_url(redis_url).ttl("k") <= 30


def test_redis_down_raises_store_unavailable():
    from tests.support.redis import free_port

    store = open_store(f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(StoreUnavailable):
        store.get("k")
    with pytest.raises(StoreUnavailable):
        store.set("k", "v", 10)


def test_count_adds_one_within_a_window_that_starts_at_the_first_count(store):
    assert [store.count("n", 60) for _ in range(3)] == [1, 2, 3]
    assert 0 < store.ttl("n") <= 60
    with pytest.raises(ValueError, match="TTL"):
        store.count("m", 0)


def test_count_starts_again_after_its_window():
    clock = Clock()
    store = MemoryStore(clock)
    store.count("n", 10)
    clock.advance(11)
    assert store.count("n", 10) == 1


def test_hash_index_and_script_writes(store):
    from bridge.store.scripts import Script

    store.hash_set("h", {"a": 1, "b": "x"}, 60)
    assert store.hash_get_all("h") == {"a": "1", "b": "x"} and 0 < store.ttl("h") <= 60
    store.hash_delete("h", "a")
    assert store.hash_get_all("h") == {"b": "x"}
    store.index_add("due", "m1", 10)
    store.index_add("due", "m2", 20)
    assert store.index_due("due", 15) == ["m1"]
    store.index_remove("due", "m1")
    assert store.index_due("due", 30) == ["m2"]
    if isinstance(store, MemoryStore):
        return  # the memory store runs Python scripts: bridge/sessions/scripts.py tests both
    echo = Script("test_echo", "redis.call('SET', KEYS[1], ARGV[1], 'EX', 60) return ARGV[1]", None)
    assert store.run(echo, ["s"], ["v"]) == "v" and store.get("s") == "v"


def test_write_many_applies_set_hash_and_index_together(store):
    store.write_many([("set", "k", "v", 30), ("hash_set", "h", {"a": 1}, 60), ("index_add", "due", "m1", 10)])
    assert store.get("k") == "v" and 0 < store.ttl("k") <= 30
    assert store.hash_get_all("h") == {"a": "1"} and 0 < store.ttl("h") <= 60
    assert store.index_due("due", 15) == ["m1"]
    for bad in ([("set", "x", "v", 30), ("delete", "k")], [("set", "x", "v", 30), ("hash_set", "y", {"a": 1}, 0)]):
        with pytest.raises(ValueError):   # an unknown write or a bad TTL: refused before anything is written
            store.write_many(bad)
        assert store.get("x") is None and store.get("k") == "v"
    store.write_many([])


def test_write_many_is_one_transaction_on_redis(redis_url):
    """One MULTI/EXEC: one round trip for what took one each (a login's session: record, activity, sweep index)."""
    store, admin = open_store(redis_url), redis.Redis.from_url(redis_url, decode_responses=True)

    def calls(command):
        return int(admin.info("commandstats").get(f"cmdstat_{command}", {}).get("calls", 0))
    before = calls("exec"), calls("set"), calls("zadd")
    store.write_many([("set", "k1", "v", 30), ("set", "k2", "v", 30), ("index_add", "due", "m", 1)])
    assert (calls("exec"), calls("set"), calls("zadd")) == (before[0] + 1, before[1] + 2, before[2] + 1)


def test_a_write_to_a_replica_is_store_unavailable(replicated_redis):
    """READONLY (a demoted master still reached by an old connection) fails closed like an outage."""
    info = redis.Redis.from_url(replicated_redis, decode_responses=True).info("replication")["slave0"]
    store = open_store(f"redis://127.0.0.1:{info['port']}/0")
    with pytest.raises(StoreUnavailable, match="ReadOnlyError"):
        store.set("k", "v", 10)
