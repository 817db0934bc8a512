"""`python -m bench.soak [--duration 600] [--load 0.7] [--interval 10]`: a soak run of full logins at a fixed
fraction of the measured capacity, reporting errors, latency and memory over time.

The harness stack (bench/harness.py: redis-server, the PSC emulator, the bridge under `bridge serve`, all on
127.0.0.1). First `--calibrate` seconds of closed-loop `login_flow` (7 requests, as `python -m bench`) measure the
capacity in logins/s (or `--rate` gives it); then logins are started open-loop at `--load` × that rate (default
70 %) for `--duration` seconds (default 10 min), each at its scheduled instant whatever the previous ones did.
Every `--interval` seconds: logins done, errors, p50/p95 latency, the RSS of the bridge's gunicorn master and
workers (sum and largest worker), Redis's used memory and key count. A flat RSS after the first samples (warm-up:
imports, caches, the JWKS) is the goal; Redis grows with the SSO sessions the run creates (each lives hours), which
is data, not a leak. Writes bench/results/soak-<time>.json (or --out DIR); exit 1 on any error.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import requests

from bench.harness import Stack, percentile, run_load
from bench.scenarios import SCENARIOS, Context, login_flow

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def tree(root: int) -> list[int]:
    """A process and its live descendants (gunicorn master + workers)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parents[int(entry)] = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    members, frontier = [root], [root]
    while frontier:
        current = frontier.pop()
        children = [pid for pid, parent in parents.items() if parent == current and pid not in members]
        members.extend(children)
        frontier.extend(children)
    return members


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class Pacer:
    """Open loop: the k-th login is due at start + k / rate; threads take the next slot, sleep until it, run it.
    A slot taken after its instant is `late` (the generator or the bridge could not keep up)."""

    def __init__(self, ctx: Context, rate: float, end: float):
        self.ctx, self.rate, self.end = ctx, rate, end
        self.start, self.next = time.monotonic(), 0
        self.lock = threading.Lock()
        self.records: list[tuple[float, float, bool]] = []   # (finished, seconds, ok)
        self.late, self.samples = 0, []

    def slot(self) -> float | None:
        with self.lock:
            due = self.start + self.next / self.rate
            self.next += 1
        if due >= self.end:
            return None
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        elif delay < -0.1:
            with self.lock:
                self.late += 1
        return due

    def worker(self) -> None:
        http = requests.Session()
        while self.slot() is not None:
            began = time.monotonic()
            try:
                login_flow(self.ctx, http)
                ok = True
            except Exception as exc:  # counted and sampled: a soak goes on
                ok = False
                with self.lock:
                    if len(self.samples) < 10:
                        self.samples.append(f"{type(exc).__name__}: {exc}"[:200])
            finished = time.monotonic()
            with self.lock:
                self.records.append((finished, finished - began, ok))


def sample(stack: Stack, pacer: Pacer, since: float, now: float) -> dict:
    with pacer.lock:
        window = [r for r in pacer.records if since < r[0] <= now]
    latencies = [seconds for _, seconds, ok in window if ok]
    pids = tree(stack.named["bridge"].pid)
    rss = [rss_mb(pid) for pid in pids]
    info = stack.redis.info("memory")
    return {"t_s": round(now - pacer.start, 1), "logins": sum(1 for *_, ok in window if ok),
            "errors": sum(1 for *_, ok in window if not ok),
            "p50_ms": round(percentile(latencies, 0.5) * 1000, 1) if latencies else None,
            "p95_ms": round(percentile(latencies, 0.95) * 1000, 1) if latencies else None,
            "bridge_rss_mb": round(sum(rss), 1), "largest_process_mb": round(max(rss), 1), "processes": len(pids),
            "redis_used_mb": round(info["used_memory"] / 2**20, 1), "redis_keys": stack.redis.dbsize()}


def drift(samples: list[dict]) -> dict:
    """RSS of the last third against the second third (the first third is warm-up), in MB and %."""
    third = max(1, len(samples) // 3)
    middle, last = samples[third:2 * third] or samples[:1], samples[-third:]
    before = sum(s["bridge_rss_mb"] for s in middle) / len(middle)
    after = sum(s["bridge_rss_mb"] for s in last) / len(last)
    return {"rss_middle_third_mb": round(before, 1), "rss_last_third_mb": round(after, 1),
            "rss_drift_mb": round(after - before, 1), "rss_drift_pct": round(100 * (after - before) / before, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of soak [600]")
    parser.add_argument("--load", type=float, default=0.7, help="fraction of the measured capacity [0.7]")
    parser.add_argument("--rate", type=float, default=None, help="capacity in logins/s (skips the calibration)")
    parser.add_argument("--calibrate", type=float, default=15.0, help="seconds of closed-loop calibration [15]")
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between samples [10]")
    parser.add_argument("--threads", type=int, default=16, help="load threads (open loop) [16]")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers [2]")
    parser.add_argument("--server-threads", type=int, default=4, help="threads per gunicorn worker [4]")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    with Stack(args.workers, args.server_threads, "WARNING") as stack:
        ctx = Context(stack.bridge_url, stack.hello_url, stack.psc_url)
        capacity = args.rate
        if capacity is None:
            load = run_load(SCENARIOS["login_flow"](), ctx, concurrency=args.threads, processes=2,
                            duration=args.calibrate, warmup=min(2.0, args.calibrate / 4))
            capacity = load.ops / load.seconds
            if load.errors or not load.ops:
                print(f"calibration failed: {load.errors} errors {load.error_samples}")
                return 1
        rate = capacity * args.load
        print(f"soak: capacity {capacity:.1f} logins/s, running {rate:.1f} logins/s ({args.load:.0%}) for "
              f"{args.duration:g} s", flush=True)
        pacer = Pacer(ctx, rate, time.monotonic() + args.duration)
        pool = [threading.Thread(target=pacer.worker, daemon=True) for _ in range(args.threads)]
        for thread in pool:
            thread.start()
        samples, since = [], pacer.start
        print(f"{'t s':>6} {'logins':>7} {'errors':>6} {'p50 ms':>7} {'p95 ms':>7} {'bridge RSS MB':>13} "
              f"{'largest MB':>10} {'redis MB':>8} {'keys':>7}", flush=True)
        next_at = pacer.start + args.interval
        while True:
            alive = [thread for thread in pool if thread.is_alive()]
            if alive:
                alive[0].join(max(0.0, next_at - time.monotonic()))
                if time.monotonic() < next_at:
                    continue
            now = time.monotonic()
            if alive or any(finished > since for finished, *_ in pacer.records):   # the last, partial interval
                row = sample(stack, pacer, since, now)
                samples.append(row)
                since, next_at = now, next_at + args.interval
                print(f"{row['t_s']:>6} {row['logins']:>7} {row['errors']:>6} {str(row['p50_ms']):>7} "
                      f"{str(row['p95_ms']):>7} {row['bridge_rss_mb']:>13} {row['largest_process_mb']:>10} "
                      f"{row['redis_used_mb']:>8} {row['redis_keys']:>7}", flush=True)
            if not alive:
                break
    done = sum(1 for *_, ok in pacer.records if ok)
    errors = sum(1 for *_, ok in pacer.records if not ok)
    summary = {"capacity_logins_per_s": round(capacity, 2), "load": args.load, "rate_logins_per_s": round(rate, 2),
               "duration_s": args.duration, "logins": done, "errors": errors, "late_starts": pacer.late,
               "error_samples": pacer.samples, **(drift(samples) if samples else {})}
    print(f"logins {done}, errors {errors}, late starts {pacer.late}; bridge RSS "
          f"{summary.get('rss_middle_third_mb')} -> {summary.get('rss_last_third_mb')} MB "
          f"({summary.get('rss_drift_pct')} %)")
    for line in pacer.samples:
        print("  error:", line)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = args.out / f"soak-{stamp}.json"
    path.write_text(json.dumps({"time": stamp, "machine": {"python": platform.python_version(),
                                                           "platform": platform.platform(), "cpus": os.cpu_count()},
                                "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                                "summary": summary, "samples": samples}, indent=2) + "\n")
    print(f"JSON: {path}")
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
