"""A real Redis Sentinel group on free ports: a master, a replica and three sentinels (quorum 2).

`redis-server --sentinel` runs a sentinel (no separate redis-sentinel package). Detection and failover are short
(down-after 500 ms, failover-timeout 3 s) so that a failover takes a few seconds, not a minute.
"""
from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import redis

from tests.support.redis import free_port

MASTER_NAME = "mymaster"


class SentinelGroup:
    def __init__(self, directory: Path, *, down_after_ms: int = 500, failover_timeout_ms: int = 3000,
                 master_options: tuple[str, ...] = ()):
        self.directory = directory
        self.down_after_ms, self.failover_timeout_ms = down_after_ms, failover_timeout_ms
        self.master_options = master_options
        self.data_ports = [free_port(), free_port()]          # [0] starts as master, [1] as its replica
        self.sentinel_ports = [free_port() for _ in range(3)]
        self.processes: dict[int, subprocess.Popen] = {}

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)
        return f"redis+sentinel://{hosts}/{MASTER_NAME}/0"

    def _spawn(self, port: int, args: list[str]) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed: run `make test` (it installs it with apt-get)")
        self.processes[port] = subprocess.Popen([binary, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def _data(self, port: int, *extra: str) -> None:
        workdir = self.directory / f"redis-{port}"
        workdir.mkdir(exist_ok=True)
        self._spawn(port, ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir), "--save", "",
                           "--appendonly", "no", "--repl-diskless-sync-delay", "0", *self.master_options, *extra])

    def start_data(self) -> SentinelGroup:
        """The master and its replica only (no sentinel)."""
        master, replica = self.data_ports
        self._data(master)
        wait_for(lambda: redis.Redis(port=master).ping(), "master")
        self.start_replica(replica, master)
        return self

    def start_replica(self, port: int, master: int) -> None:
        """(Re)start `port` as a replica of `master`, synced: how a killed master must come back (an empty node
        started as a master would be taken as the master again and wipe its replica)."""
        self._data(port, "--replicaof", "127.0.0.1", str(master))
        wait_for(lambda: redis.Redis(port=port).info("replication")["master_link_status"] == "up", "replica")
        # The master counts a replica for WAIT only once it is online on its side too (after the replica's first
        # ACK), a moment after the replica reports its link up: a write acknowledged by it proves both.
        wait_for(lambda: _acknowledged(master), "the master seeing its replica online")

    def start(self) -> SentinelGroup:
        master = self.data_ports[0]
        self.start_data()
        for port in self.sentinel_ports:
            conf = self.directory / f"sentinel-{port}.conf"   # sentinels rewrite their file: one each, writable
            conf.write_text(f"port {port}\nbind 127.0.0.1\ndir {self.directory}\n"
                            f"sentinel monitor {MASTER_NAME} 127.0.0.1 {master} 2\n"
                            f"sentinel down-after-milliseconds {MASTER_NAME} {self.down_after_ms}\n"
                            f"sentinel failover-timeout {MASTER_NAME} {self.failover_timeout_ms}\n"
                            f"sentinel parallel-syncs {MASTER_NAME} 1\n")
            self._spawn(port, [str(conf), "--sentinel"])

        def ready(port: int) -> bool:  # each sentinel knows the replica and the two other sentinels
            client = redis.Redis(port=port, decode_responses=True)
            return (len(client.sentinel_slaves(MASTER_NAME)) == 1
                    and len(client.sentinel_sentinels(MASTER_NAME)) == 2)

        for port in self.sentinel_ports:
            wait_for(lambda port=port: ready(port), f"sentinel {port}", timeout=30)
        return self

    def master_port(self) -> int:
        address = redis.Redis(port=self.sentinel_ports[0], decode_responses=True).sentinel_get_master_addr_by_name(
            MASTER_NAME)
        return int(address[1])

    def send(self, port: int, number: int) -> None:
        self.processes[port].send_signal(number)

    def kill(self, port: int) -> None:
        """SIGKILL: no shutdown, no last write to anyone."""
        process = self.processes.pop(port)
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    def wait_failover(self, old_master: int, timeout: float = 60) -> int:
        """The new master's port once every sentinel names it and it accepts writes."""
        def promoted():
            names = {int(redis.Redis(port=p, decode_responses=True).sentinel_get_master_addr_by_name(MASTER_NAME)[1])
                     for p in self.sentinel_ports}
            if len(names) != 1 or old_master in names:
                return None
            port = names.pop()
            return port if redis.Redis(port=port).info("replication")["role"] == "master" else None
        return wait_for(promoted, "failover", timeout=timeout)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes.clear()


def _acknowledged(master: int) -> bool:
    client = redis.Redis(port=master)
    try:
        client.set("sentinel-fixture:probe", "1")
    except redis.ResponseError:   # min-replicas-to-write: NOREPLICAS until the replica is online
        return False
    return client.wait(1, 200) >= 1


def wait_for(check, what: str, timeout: float = 15, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except (redis.ConnectionError, redis.ResponseError):
            pass
        time.sleep(interval)
    raise RuntimeError(f"{what} not ready after {timeout} s")


@pytest.fixture(scope="session")
def replicated_redis(tmp_path_factory):
    """A master (its redis:// URL is yielded) with one replica, no sentinel: for WAIT on every write."""
    group = SentinelGroup(tmp_path_factory.mktemp("replicated")).start_data()
    yield f"redis://127.0.0.1:{group.data_ports[0]}/0"
    group.stop()


@pytest.fixture
def sentinel_group(tmp_path):
    group = SentinelGroup(tmp_path).start()
    yield group
    group.stop()
