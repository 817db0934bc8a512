"""Several bridges on one Redis (and Redis behind Sentinel): all state in the store, nothing in a process."""
from __future__ import annotations

import random
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
import requests

from bridge.store import open_store
from tests.support.bridge import DPI, PORTAIL, AppClient, at, rewrite_policies, start_bridge
from tests.support.redis import RedisServer, free_port


def two_bridges(bridge_factory, receiver, tmp_path):
    """A (with its PSC emulator) and B: another process-like instance with the same settings and Redis."""
    policies = rewrite_policies(tmp_path / "policies", receiver.url)
    a = bridge_factory(env={"BRIDGE_POLICIES_DIR": str(policies)})
    env = {"BRIDGE_STORE_URL": a.bridge.settings.store_url, "BRIDGE_KEYS_DIR": str(a.bridge.settings.keys_dir),
           "BRIDGE_POLICIES_DIR": str(policies), "BRIDGE_PSC_DISCOVERY_URL": a.psc.discovery_url,
           "BRIDGE_PSC_CLIENT_ID": "bridge-test", "BRIDGE_PSC_CLIENT_SECRET": "bridge-test-secret",
           "BRIDGE_SWEEP_INTERVAL": "0", "BRIDGE_PUBLIC_URL": a.url, "BRIDGE_RATE_LIMIT_AUTHORIZE": "off",
           "BRIDGE_RATE_LIMIT_TOKEN": "off"}  # same issuer: one service behind a balancer
    from werkzeug.serving import make_server

    b = start_bridge(env, reserved=make_server("127.0.0.1", 0, None, threaded=True))
    b.public = b.url
    return a, b


def test_login_on_a_refresh_on_b_logout_on_b_is_seen_on_a(bridge_factory, receiver, tmp_path):
    a, b = two_bridges(bridge_factory, receiver, tmp_path)
    try:
        browser = requests.Session()
        app = AppClient(a.url, **at(receiver.url, PORTAIL))
        tokens = app.exchange(app.login(browser, user="899700000002")["code"])
        dpi = AppClient(a.url, **at(receiver.url, DPI))
        dpi.exchange(dpi.login(browser, user="899700000002")["code"])
        fresh = requests.post(f"{b.public}/token", timeout=10, auth=("demo-portail", "demo-portail-secret"),
                              data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}).json()
        assert requests.get(f"{a.url}/userinfo", timeout=10,
                            headers={"Authorization": f"Bearer {fresh['access_token']}"}).status_code == 200
        # Logout on B with the browser's cookie (the balancer sent it there).
        requests.get(f"{b.public}/logout", params={"id_token_hint": tokens["id_token"]}, cookies=browser.cookies,
                     timeout=10, allow_redirects=False)
        b.bridge.backchannel.wait()
        assert receiver.tokens_for("/dpi/backchannel-logout") and receiver.tokens_for("/portail/backchannel-logout")
        assert requests.get(f"{a.url}/userinfo", timeout=10,
                            headers={"Authorization": f"Bearer {fresh['access_token']}"}).status_code == 401
        assert browser.get(app.authorize_url(), allow_redirects=False, timeout=10).headers["Location"] \
            .startswith("/login/psc")   # A sees no session any more
    finally:
        b.stop()


def test_only_one_sweeper_at_a_time(bridge_factory, receiver, tmp_path):
    from bridge.sweeper import sweep_once

    a, b = two_bridges(bridge_factory, receiver, tmp_path)
    try:
        assert sweep_once(a.bridge, lock_ttl=30) is not None
        assert sweep_once(b.bridge, lock_ttl=30) is None      # A holds the lock
        assert sweep_once(a.bridge, lock_ttl=30) is not None  # and keeps sweeping
    finally:
        b.stop()


def test_sessions_survive_a_redis_restart_with_aof(bridge_factory, tmp_path):
    own = RedisServer(tmp_path / "aof", aof=True)
    (tmp_path / "aof").mkdir()
    own.start()
    try:
        server = bridge_factory(env={"BRIDGE_STORE_URL": own.url})
        app = AppClient(server.url, **PORTAIL)
        tokens = app.exchange(app.login(requests.Session(), user="899700000002")["code"])
        redis.Redis.from_url(own.url).execute_command("BGREWRITEAOF")
        time.sleep(0.5)
        own.stop()
        own.start()
        started = time.monotonic()
        while time.monotonic() - started < 10:   # the bridge reconnects by itself
            answer = requests.post(f"{server.url}/token", timeout=10, auth=("demo-portail", "demo-portail-secret"),
                                   data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
            if answer.status_code != 503:
                break
            time.sleep(0.2)
        assert answer.status_code == 200, answer.text
    finally:
        own.stop()


@pytest.mark.timeout(900)  # 1,000 full logins (8 HTTP requests each) on a 2-core CI machine
def test_no_cross_talk_under_concurrent_logins(bridge_factory):
    """1,000 logins from 40 browsers at once: each app gets exactly its own user's claims."""
    server = bridge_factory()
    users = ["899700000002", "899700000003", "0751234567", "899700000001", "ANS20210107161422"]
    failures = []

    def one(index: int) -> None:
        user = users[index % len(users)]
        app = AppClient(server.url, **PORTAIL)
        result = app.login(requests.Session(), user=user, activity="0-0")
        tokens = app.exchange(result["code"])
        sub = app.verify_id_token(tokens["id_token"])["sub"]
        info = requests.get(f"{server.url}/userinfo", timeout=30,
                            headers={"Authorization": f"Bearer {tokens['access_token']}"}).json()
        if sub != user or info["sub"] != user:
            failures.append((index, user, sub, info.get("sub")))

    with ThreadPoolExecutor(max_workers=40) as pool:
        list(pool.map(one, range(1000)))
    assert failures == []


def sentinel(tmp_path, master_port: int) -> subprocess.Popen:
    port = free_port()
    conf = tmp_path / "sentinel.conf"
    conf.write_text(f"port {port}\nbind 127.0.0.1\nsentinel monitor bridge 127.0.0.1 {master_port} 1\n"
                    "sentinel down-after-milliseconds bridge 1000\n")
    process = subprocess.Popen(["redis-server", str(conf), "--sentinel"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            redis.Redis(port=port).ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    process.port = port
    return process


def test_store_through_redis_sentinel(redis_server, tmp_path):
    process = sentinel(tmp_path, redis_server.port)
    try:
        store = open_store(f"redis+sentinel://127.0.0.1:{process.port}/bridge/0")
        key = f"k{random.random()}"
        store.set(key, "v", 30)
        assert store.get(key) == "v" and store.consume(key) == "v" and store.get(key) is None
    finally:
        process.terminate()
        process.wait(10)


def test_sentinel_url_needs_a_master_name():
    with pytest.raises(ValueError, match="master name"):
        open_store("redis+sentinel://127.0.0.1:26379")

