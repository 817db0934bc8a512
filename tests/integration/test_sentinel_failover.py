"""Redis Sentinel failover with real processes (three sentinels, a master, a replica): the master is SIGKILLed
during logins and refreshes. Every answer during the switch is a success or a 503 without a token, never a 500;
logins and refreshes work again once the replica is promoted; no SSO session or refresh family the bridge
acknowledged is lost, because every write WAITs for the replica (BRIDGE_STORE_WAIT_REPLICAS=1).
Recovery times are measured by bench/failover.py, not asserted here."""
from __future__ import annotations

import signal
import threading
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.support.bridge import DPI, PORTAIL, AppClient

WAIT = {"BRIDGE_STORE_WAIT_REPLICAS": "1", "BRIDGE_STORE_WAIT_TIMEOUT": "0.5"}
DEADLINE = 120  # a hang detector, not a timing assertion: a failover here takes seconds


def token_request(server, data: dict) -> requests.Response:
    return requests.post(f"{server.url}/token", data=data, timeout=30,
                         auth=(PORTAIL["client_id"], PORTAIL["client_secret"]))


class Outcomes:
    """Every answer of the switch, classified; anything but a success or a clean 503 is a failure."""

    def __init__(self):
        self.counts: dict[str, int] = {}
        self.wrong: list[str] = []

    def add(self, what: str, response: requests.Response) -> bool:
        """True on success; a 503 must carry no token; anything else is recorded as wrong."""
        self.counts[f"{what} {response.status_code}"] = self.counts.get(f"{what} {response.status_code}", 0) + 1
        if response.status_code == 200:
            return True
        if response.status_code != 503 or "access_token" in response.text or "id_token" in response.text:
            self.wrong.append(f"{what}: {response.status_code} {response.text[:300]}")
        return False


def login(server, outcomes: Outcomes, user: str = "899700000002"):
    """A full login and code exchange: (browser, tokens) or None when the store refused it (503)."""
    browser, app = requests.Session(), AppClient(server.url, **PORTAIL)
    result = app.login(browser, user=user)
    if not isinstance(result, dict):
        outcomes.add("login", result)
        return None
    assert "code" in result, result
    answer = token_request(server, {"grant_type": "authorization_code", "code": result["code"],
                                    "code_verifier": app.pending["verifier"], "redirect_uri": PORTAIL["redirect_uri"]})
    return (browser, answer.json()) if outcomes.add("code", answer) else None


def sso_code(server, browser) -> dict:
    """prompt=none from another app: a code while the browser's SSO session lives, login_required once lost."""
    dpi = AppClient(server.url, **DPI)
    response = browser.get(dpi.authorize_url(prompt="none"), allow_redirects=False, timeout=30)
    assert response.status_code in (302, 303), response.text[:300]
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["Location"]).query).items()}


def test_master_killed_during_logins_and_refreshes(bridge_factory, tmp_path):
    """Every node runs with min-replicas-to-write 1 (docs/operations.md#redis-failover): the promoted replica,
    alone until the killed node is back, refuses writes up front (NOREPLICAS) instead of applying them and failing
    WAIT; so a refresh answered 503 did not rotate its token, and retrying it afterwards works. Only the one refresh
    in flight at the kill may have rotated without an answer."""
    from tests.support.sentinel import SentinelGroup

    sentinel_group = SentinelGroup(tmp_path, master_options=MIN_REPLICAS).start()
    try:
        run_master_killed(bridge_factory, sentinel_group)
    finally:
        sentinel_group.stop()


MIN_REPLICAS = ("--min-replicas-to-write", "1", "--min-replicas-max-lag", "10")


def run_master_killed(bridge_factory, sentinel_group):
    server = bridge_factory(env={"BRIDGE_STORE_URL": sentinel_group.url, **WAIT})
    outcomes = Outcomes()
    acknowledged = [login(server, outcomes, user) for user in ("899700000002", "899700000003", "899700000001")]
    assert all(acknowledged), outcomes.counts
    browsers = [browser for browser, _ in acknowledged]
    families = [tokens["refresh_token"] for _, tokens in acknowledged]  # the latest acknowledged token of each

    old_master = sentinel_group.master_port()
    switched = threading.Event()

    def fail_over():
        time.sleep(0.3)  # the loop below is already logging in and refreshing
        sentinel_group.kill(old_master)
        new_master = sentinel_group.wait_failover(old_master)
        # The killed node comes back as a replica of the new master (systemd + the operator): with WAIT 1 writes
        # need it. Started before the failover it would be an empty master: see docs/operations.md.
        sentinel_group.start_replica(old_master, new_master)
        switched.set()

    thread = threading.Thread(target=fail_over, daemon=True)
    thread.start()
    deadline, ambiguous = time.monotonic() + DEADLINE, set()
    logged_in_after = refreshed_after = False
    while not (switched.is_set() and logged_in_after and refreshed_after):
        assert time.monotonic() < deadline, f"no recovery: {outcomes.counts}"
        after = switched.is_set()
        if login(server, outcomes) and after:
            logged_in_after = True
        for index, token in enumerate(families):
            if index in ambiguous:
                continue
            answer = token_request(server, {"grant_type": "refresh_token", "refresh_token": token})
            if outcomes.add("refresh", answer):
                families[index] = answer.json()["refresh_token"]
                refreshed_after = refreshed_after or after
            else:
                ambiguous.add(index)   # the rotation may or may not have happened: see docs/operations.md
        if len(ambiguous) == len(families):   # keep refreshing: a fresh family to go on with
            fresh = login(server, outcomes)
            if fresh:
                families.append(fresh[1]["refresh_token"])
    thread.join(30)

    assert not outcomes.wrong, outcomes.wrong
    assert any(key.endswith(" 503") for key in outcomes.counts), f"the switch was not seen: {outcomes.counts}"
    metrics = requests.get(f"{server.url}/metrics", timeout=10).text   # the dead master, then no master yet
    assert 'error="ConnectionError"' in metrics or 'error="MasterNotFoundError"' in metrics
    for browser in browsers:   # acknowledged SSO sessions survive the failover
        assert "code" in sso_code(server, browser)
    for index, token in enumerate(families):  # and so do acknowledged refresh tokens
        if index not in ambiguous:
            answer = token_request(server, {"grant_type": "refresh_token", "refresh_token": token})
            assert answer.status_code == 200, answer.text
    # A refresh answered 503 is retried with the same token, as a client would: it works, but for at most the one
    # that was in flight when the master died (rotated on the old master and replicated, its answer lost).
    retried = [token_request(server, {"grant_type": "refresh_token", "refresh_token": families[index]})
               for index in sorted(ambiguous)]
    assert sum(answer.status_code != 200 for answer in retried) <= 1, [a.text for a in retried]


def test_a_write_no_replica_acknowledges_is_refused(bridge_factory, tmp_path):
    """The replica frozen (SIGSTOP): WAIT times out, so the bridge acknowledges nothing (503, no code, no session
    cookie); what it would have acknowledged could be lost by a failover now. Thawed, logins work again."""
    from tests.support.sentinel import SentinelGroup

    group = SentinelGroup(tmp_path).start_data()
    master, replica = group.data_ports
    try:
        server = bridge_factory(env={"BRIDGE_STORE_URL": f"redis://127.0.0.1:{master}/0", **WAIT})
        outcomes = Outcomes()
        assert login(server, outcomes)
        group.send(replica, signal.SIGSTOP)
        try:
            browser, app = requests.Session(), AppClient(server.url, **PORTAIL)
            result = app.login(browser, user="899700000003")
            assert not isinstance(result, dict), f"acknowledged without a replica: {result}"
            assert result.status_code == 503 and 'data-error-code="store_unavailable"' in result.text
            assert "bridge_session" not in browser.cookies
            metrics = requests.get(f"{server.url}/metrics", timeout=10).text
            assert 'error="NotReplicated"' in metrics
        finally:
            group.send(replica, signal.SIGCONT)
        assert login(server, outcomes), outcomes.counts
        assert not outcomes.wrong
    finally:
        group.stop()


def test_a_paused_master_comes_back_demoted(bridge_factory, sentinel_group):
    """SIGSTOP instead of SIGKILL (a partition, a long pause): the replica is promoted, then the old master wakes
    up and is demoted by the sentinels, which close its clients' connections in the same transaction (REPLICAOF +
    CLIENT KILL): the bridge's pooled connections fail, redis-py asks the sentinels again and finds the new master
    (a 503 when it cannot), never a 500; an acknowledged SSO session is still there. (READONLY from a demoted master
    is a ResponseError: a 503 too, see tests/unit/test_store.py.)"""
    server = bridge_factory(env={"BRIDGE_STORE_URL": sentinel_group.url, **WAIT})
    outcomes = Outcomes()
    acknowledged = login(server, outcomes)
    assert acknowledged
    old = sentinel_group.master_port()
    sentinel_group.send(old, signal.SIGSTOP)
    try:
        new = sentinel_group.wait_failover(old)
    finally:
        sentinel_group.send(old, signal.SIGCONT)
    from tests.support.sentinel import wait_for

    wait_for(lambda: redis_role(old) == "slave", "old master demoted", timeout=60)
    wait_for(lambda: redis_link_up(old), "old master synced", timeout=60)
    deadline = time.monotonic() + DEADLINE
    while not login(server, outcomes):
        assert time.monotonic() < deadline, outcomes.counts
    assert not outcomes.wrong, outcomes.wrong
    assert "code" in sso_code(server, acknowledged[0])
    assert sentinel_group.master_port() == new


def redis_info(port: int, section: str) -> dict:
    import redis

    return redis.Redis(port=port, decode_responses=True).info(section)


def redis_role(port: int) -> str:
    return redis_info(port, "replication")["role"]


def redis_link_up(port: int) -> bool:
    return redis_info(port, "replication").get("master_link_status") == "up"


@pytest.mark.parametrize("options, retry_status", [(MIN_REPLICAS, 200), ((), 400)])
def test_a_refresh_refused_for_want_of_a_replica_can_be_retried(bridge_factory, tmp_path, options, retry_status):
    """The replica is gone (a failover's promoted master is alone, or the replica died). With min-replicas-to-write
    1 the master refuses the rotation up front (NOREPLICAS: 503), so the client's retry with the same token works
    once a replica is back. Without it the rotation is applied, WAIT fails (503), and the retry is a replayed token:
    the family is revoked (invalid_grant) though the client never got its new token."""
    from tests.support.sentinel import SentinelGroup

    group = SentinelGroup(tmp_path, master_options=options).start_data()
    master, replica = group.data_ports
    try:
        server = bridge_factory(env={"BRIDGE_STORE_URL": f"redis://127.0.0.1:{master}/0", **WAIT})
        outcomes = Outcomes()
        _, tokens = login(server, outcomes)
        group.kill(replica)
        refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
        first = token_request(server, refresh)
        assert first.status_code == 503 and "access_token" not in first.text
        group.start_replica(replica, master)
        assert token_request(server, refresh).status_code == retry_status
    finally:
        group.stop()
