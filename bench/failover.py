"""`python -m bench.failover [--threads 4] [--wait-replicas 0,1]`: Redis Sentinel failover under login load.

Real parts: three sentinels, a master and a replica (redis-server --sentinel, tests/support/sentinel.py: down-after
500 ms, failover-timeout 3 s), the PSC emulator and the bridge under `bridge serve` (gunicorn) with
BRIDGE_STORE_URL=redis+sentinel://. Load threads loop on a full login (bench.scenarios.login_flow, 7 requests) and
a refresh of their own token family. After `--before` seconds the master is SIGKILLed; once the sentinels agree on
the promoted replica, the killed node is started again as a replica of the new master (as its supervisor and the
operator would: docs/operations.md#redis-failover), and the load goes on `--after` seconds. With WAIT, every
Redis node runs with min-replicas-to-write 1 (the recommended setting).

Reported per BRIDGE_STORE_WAIT_REPLICAS value: kill -> sentinels agree on the new master (failover), kill ->
replica back, kill -> first successful login and first successful refresh (recovery), and the outcomes of every
operation between the kill and the recovery: ok (tokens issued), 503 (fail closed) and errors (anything else: a
500, a timeout, a token without the page it belongs to). Writes bench/results/failover-<time>.json (or --out DIR).
Timings depend on the sentinel settings above, not on the bridge: the bridge's share is how fast it follows.
"""
from __future__ import annotations

import argparse
import json
import platform
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import requests

from bench.harness import Stack
from bench.scenarios import CLIENT, TIMEOUT, Context, ScenarioError, login_flow

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


class FailoverStack(Stack):
    """The harness stack with the bridge on the sentinel group instead of the harness's own redis-server."""

    def __init__(self, store_url: str, wait_replicas: int):
        super().__init__(workers=2, threads=4, log_level="WARNING")
        self.store_url, self.wait_replicas = store_url, wait_replicas

    def bridge_env(self) -> dict[str, str]:
        return {**super().bridge_env(), "BRIDGE_STORE_URL": self.store_url,
                "BRIDGE_STORE_WAIT_REPLICAS": str(self.wait_replicas), "BRIDGE_STORE_WAIT_TIMEOUT": "0.5"}


def classify(exc: BaseException) -> str:
    return "503" if isinstance(exc, ScenarioError) and "HTTP 503" in str(exc) else "error"


def worker(ctx: Context, stop: threading.Event, events: list, errors: list) -> None:
    """Login, refresh, refresh... each outcome as (time, operation, outcome). A refresh answered 503 may or may
    not have rotated the token: the family is dropped and a new login starts another one."""
    http, refresh_token = requests.Session(), None
    while not stop.is_set():
        operation, started = "refresh" if refresh_token else "login", time.monotonic()
        try:
            if operation == "login":
                refresh_token = login_flow(ctx, http)["refresh_token"]
            else:
                answer = http.post(f"{ctx.bridge_url}/token", timeout=TIMEOUT,
                                   auth=(CLIENT["client_id"], CLIENT["client_secret"]),
                                   data={"grant_type": "refresh_token", "refresh_token": refresh_token})
                if answer.status_code != 200:
                    raise ScenarioError(f"POST /token: HTTP {answer.status_code}")
                refresh_token = answer.json()["refresh_token"]
            outcome = "ok"
        except (ScenarioError, requests.RequestException, KeyError, ValueError) as exc:
            outcome, refresh_token = classify(exc), None
            if outcome == "error" and len(errors) < 10:
                errors.append(f"{operation}: {type(exc).__name__}: {exc}"[:300])
        events.append((started, time.monotonic(), operation, outcome))


def run(wait_replicas: int, threads: int, before: float, after: float) -> dict:
    from tests.support.sentinel import SentinelGroup

    with tempfile.TemporaryDirectory(prefix="bridge-failover-") as tmp:
        # WAIT goes with min-replicas-to-write 1 on every node, as docs/operations.md#redis-failover says
        options = ("--min-replicas-to-write", "1", "--min-replicas-max-lag", "10") if wait_replicas else ()
        group = SentinelGroup(Path(tmp), master_options=options).start()
        try:
            with FailoverStack(group.url, wait_replicas) as stack:
                ctx = Context(stack.bridge_url, stack.hello_url, stack.psc_url)
                stop, events, errors = threading.Event(), [], []
                pool = [threading.Thread(target=worker, args=(ctx, stop, events, errors), daemon=True)
                        for _ in range(threads)]
                for thread in pool:
                    thread.start()
                time.sleep(before)
                old = group.master_port()
                killed = time.monotonic()
                group.kill(old)
                new = group.wait_failover(old)
                failed_over = time.monotonic()
                group.start_replica(old, new)
                replica_back = time.monotonic()
                time.sleep(after)
                stop.set()
                for thread in pool:
                    thread.join(TIMEOUT + 5)
        finally:
            group.stop()
    return report(wait_replicas, threads, events, errors, killed, failed_over, replica_back)


def report(wait_replicas, threads, events, errors, killed, failed_over, replica_back) -> dict:
    # An operation belongs to the switch when it ends after the kill; recovery is the first success that started
    # after it (one that started before may have been served by the old master just in time).
    def first_ok(operation):
        times = [end for start, end, op, outcome in events if start > killed and op == operation and outcome == "ok"]
        return round(min(times) - killed, 2) if times else None

    recovered = min((end for start, end, _, outcome in events if start > killed and outcome == "ok"), default=None)
    window = [e for e in events if killed < e[1] <= (recovered or float("inf"))]
    counts = {f"{op} {outcome}": sum(1 for *_, o, c in window if (o, c) == (op, outcome))
              for op in ("login", "refresh") for outcome in ("ok", "503", "error")}
    slowest = max((end - start for start, end, *_ in window), default=0.0)
    before = [e for e in events if e[1] <= killed]
    return {"wait_replicas": wait_replicas, "threads": threads,
            "failover_s": round(failed_over - killed, 2), "replica_back_s": round(replica_back - killed, 2),
            "first_login_s": first_ok("login"), "first_refresh_s": first_ok("refresh"),
            "during_switch": {k: v for k, v in counts.items() if v}, "slowest_in_switch_s": round(slowest, 2),
            "errors_total": sum(1 for *_, outcome in events if outcome == "error"),
            "ops_before_kill": len(before), "ops_total": len(events), "error_samples": errors}


def table(results: list[dict]) -> str:
    lines = ["WAIT replicas  failover s  replica back s  first login s  first refresh s  slowest op s  "
             "during the switch"]
    for r in results:
        switch = ", ".join(f"{k}: {v}" for k, v in r["during_switch"].items())
        lines.append(f"{r['wait_replicas']:<13}  {r['failover_s']:>10}  {r['replica_back_s']:>14}  "
                     f"{str(r['first_login_s']):>13}  {str(r['first_refresh_s']):>15}  "
                     f"{r['slowest_in_switch_s']:>12}  {switch}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.failover", description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=4, help="load threads (default 4)")
    parser.add_argument("--wait-replicas", default="0,1", help="BRIDGE_STORE_WAIT_REPLICAS values, one run each")
    parser.add_argument("--before", type=float, default=3.0, help="seconds of load before the kill")
    parser.add_argument("--after", type=float, default=3.0, help="seconds of load once the replica is back")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    results = [run(int(value), args.threads, args.before, args.after) for value in args.wait_replicas.split(",")]
    print(table(results))
    for r in results:
        if r["error_samples"]:
            print(f"errors with WAIT {r['wait_replicas']}:", *r["error_samples"], sep="\n  ")
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = args.out / f"failover-{stamp}.json"
    path.write_text(json.dumps({"time": stamp, "machine": {"python": platform.python_version(),
                                                           "platform": platform.platform()},
                                "results": results}, indent=2) + "\n")
    print(f"written {path}")
    return 1 if any(r["errors_total"] for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
