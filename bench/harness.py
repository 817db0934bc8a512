"""`python -m bench`: start the stack, run the scenarios, print a table, write JSON to bench/results/.

Everything listens on 127.0.0.1 only; every loop is bounded by --duration and the harness stops what it
started. The load generator is closed-loop: --concurrency threads spread over --processes processes, each
sending one operation after the other. It shares the machine's CPUs with gunicorn, Redis and the emulator, so
absolute numbers are a floor for the same hardware; compare runs on one machine.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import redis
import requests

from bench.scenarios import SCENARIOS, Context, Scenario

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PSC_CLIENT_ID, PSC_SECRET = "bridge-bench", "bridge-bench-secret"
# Commands the harness itself sends to Redis: not counted as the bridge's round trips.
HARNESS_COMMANDS = {"info", "memory|usage", "scan", "dbsize", "config|resetstat", "config|get", "flushdb",
                    "flushall", "type"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- CPU accounting (Linux /proc): where the machine's time goes, per operation ---------------------------------
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_cpu(pid: int) -> tuple[int, float]:
    """(parent pid, user+system CPU seconds) of a live process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK


def tree_cpu(root: int) -> float:
    """CPU seconds of a process and its live descendants (gunicorn master + workers). Workers that exited are
    not counted: runs keep them alive."""
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parents[int(entry)], cpu[int(entry)] = _proc_cpu(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    members, frontier = {root}, [root]
    while frontier:
        current = frontier.pop()
        children = [pid for pid, parent in parents.items() if parent == current and pid not in members]
        members.update(children)
        frontier.extend(children)
    return sum(cpu.get(pid, 0.0) for pid in members)


# -- the stack ---------------------------------------------------------------------------------------------------
class Stack:
    """redis-server, the PSC emulator, the bridge and the hello app under `bridge serve`, on free ports."""

    def __init__(self, workers: int, threads: int, log_level: str, audit: bool = False, id_token_alg: str = ""):
        self.workers, self.threads, self.log_level, self.audit = workers, threads, log_level, audit
        self.id_token_alg = id_token_alg
        self.tmp = Path(tempfile.mkdtemp(prefix="bridge-bench-"))
        self.processes: list[subprocess.Popen] = []
        self.named: dict[str, subprocess.Popen] = {}
        self.redis_port, self.psc_port = free_port(), free_port()
        self.bridge_port, self.hello_port = free_port(), free_port()
        self.bridge_url = f"http://127.0.0.1:{self.bridge_port}"
        self.hello_url = f"http://127.0.0.1:{self.hello_port}"
        self.psc_url = f"http://127.0.0.1:{self.psc_port}"
        self.psc_discovery = f"{self.psc_url}/auth/realms/esante-wallet/.well-known/wallet-openid-configuration"
        self.redis = redis.Redis(port=self.redis_port, decode_responses=True)

    def _card_trust(self) -> dict:
        """The shipped teleservice allows cps-pin: the bridge needs a trust store (the test PKI here)."""
        from bridge.demo import trust_env
        from bridge.sandbox.testpki import TestPki

        return trust_env(TestPki("bench", self.tmp / "pki"))

    def bridge_env(self) -> dict[str, str]:
        """The bridge's configuration, also for an in-process copy of its app (bench.instructions)."""
        return {
            "BRIDGE_ENV": "development", "BRIDGE_PUBLIC_URL": self.bridge_url,
            "BRIDGE_SECRET_KEY": "bench-secret-key-0123456789abcdef0123",
            "BRIDGE_STORE_URL": f"redis://127.0.0.1:{self.redis_port}/0", "BRIDGE_KEYS_DIR": str(self.tmp / "keys"),
            "BRIDGE_POLICIES_DIR": self._policies(), "BRIDGE_PSC_DISCOVERY_URL": self.psc_discovery,
            "BRIDGE_PSC_CLIENT_ID": PSC_CLIENT_ID, "BRIDGE_PSC_CLIENT_SECRET": PSC_SECRET,
            "BRIDGE_RATE_LIMIT_AUTHORIZE": "off", "BRIDGE_RATE_LIMIT_TOKEN": "off",  # throughput, not the limits
            # the hash-chained audit file as in production (fdatasync per record), unless --no-audit
            **({"BRIDGE_AUDIT_PATH": str(self.tmp / "audit.log")} if self.audit else {}),
            **self._card_trust()}

    def _policies(self) -> str:
        """The shipped policies; with id_token_alg, a copy where the bench's client (demo-portail) declares it."""
        if not self.id_token_alg:
            return str(ROOT / "policies")
        policies = self.tmp / "policies"
        if not policies.exists():
            shutil.copytree(ROOT / "policies", policies)
            portal = policies / "demo-portail.yaml"
            declared = f"  - client_id: demo-portail\n    id_token_signed_response_alg: {self.id_token_alg}\n"
            portal.write_text(portal.read_text().replace("  - client_id: demo-portail\n", declared, 1))
        return str(policies)

    def _spawn(self, name: str, argv: list[str], env: dict | None = None) -> subprocess.Popen:
        log = open(self.tmp / f"{name}.log", "wb")
        merged = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
        process = subprocess.Popen(argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                   env={k: v for k, v in merged.items() if v is not None})   # None: unset it
        log.close()
        self.processes.append(process)
        self.named[name] = process
        return process

    def _wait_http(self, name: str, process: subprocess.Popen, url: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited ({process.returncode}): {self.log_tail(name)}")
            try:
                if requests.get(url, timeout=2).status_code == 200:
                    return
            except (requests.ConnectionError, requests.Timeout):  # a first /readyz on a busy box can be slow
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{name} did not answer on {url}: {self.log_tail(name)}")

    def log_tail(self, name: str) -> str:
        path = self.tmp / f"{name}.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def start(self) -> Stack:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (make test-deps installs it)")
        self._spawn("redis", [binary, "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "",
                              "--appendonly", "no", "--dir", str(self.tmp)])
        deadline = time.monotonic() + 20
        while True:
            try:
                self.redis.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)
        psc = self._spawn("psc", [sys.executable, "-m", "bridge.sandbox.psc", "--port", str(self.psc_port),
                                  "--client", f"{PSC_CLIENT_ID}:{PSC_SECRET}:{self.bridge_url}/psc/callback:"
                                              f"{self.bridge_url}/logout/done"])
        self._wait_http("psc", psc, self.psc_discovery)
        serving = {"BRIDGE_WORKERS": str(self.workers), "BRIDGE_THREADS": str(self.threads),
                   "BRIDGE_LOG_LEVEL": self.log_level}
        bridge = self._spawn("bridge", [sys.executable, "-m", "bridge.cli", "serve"], {
            **serving, "BRIDGE_BIND": f"127.0.0.1:{self.bridge_port}", "PROMETHEUS_MULTIPROC_DIR": None,
            **self.bridge_env()})
        hello = self._spawn("hello", [sys.executable, "-m", "bridge.cli", "serve", "--app", "bench.hello:app",
                                      "--no-check"], {**serving, "BRIDGE_BIND": f"127.0.0.1:{self.hello_port}",
                                                      "PROMETHEUS_MULTIPROC_DIR": None})
        self._wait_http("bridge", bridge, self.bridge_url + "/readyz")
        self._wait_http("hello", hello, self.hello_url + "/")
        return self

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def cpu_seconds(self) -> dict[str, float]:
        return {name: tree_cpu(process.pid) for name, process in self.named.items() if process.poll() is None}

    # -- Redis measurements ---------------------------------------------------------------------------------
    def command_counts(self) -> dict[str, int]:
        stats = self.redis.info("commandstats")
        counts = {}
        for key, value in stats.items():
            command = key.removeprefix("cmdstat_")
            if command not in HARNESS_COMMANDS:
                counts[command] = int(value["calls"])
        return counts

    def key_sizes(self, pattern: str) -> list[int]:
        sizes = []
        for key in self.redis.scan_iter(match=pattern, count=1000):
            size = self.redis.memory_usage(key, samples=0)
            if size is not None:
                sizes.append(int(size))
        return sizes


# -- the load generator -----------------------------------------------------------------------------------------
@dataclass
class Load:
    ops: int = 0                 # operations started after the warm-up and completed
    total_ops: int = 0           # including the warm-up
    http_requests: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    generator_cpu: float = 0.0   # CPU seconds of the load generator itself

    def add(self, other: Load) -> Load:
        """Add the counts of a concurrent part (another thread or process); `seconds` is left to the caller."""
        self.ops += other.ops
        self.total_ops += other.total_ops
        self.http_requests += other.http_requests
        self.errors += other.errors
        self.error_samples.extend(other.error_samples[: max(0, 5 - len(self.error_samples))])
        self.latencies.extend(other.latencies)
        self.generator_cpu += other.generator_cpu
        return self


def _thread_loop(scenario: Scenario, ctx: Context, start: float, record_from: float, end: float, out: Load,
                 lock: threading.Lock) -> None:
    http = scenario.new_session(ctx)
    local = Load()
    while True:
        began = time.monotonic()
        if began >= end:
            break
        try:
            requests_made = scenario.once(ctx, http)
        except Exception as exc:  # counted, sampled, and the loop goes on
            local.errors += 1
            if len(local.error_samples) < 3:
                local.error_samples.append(f"{type(exc).__name__}: {exc}"[:200])
            continue
        finished = time.monotonic()
        local.total_ops += 1
        if began >= record_from:
            local.ops += 1
            local.http_requests += requests_made
            local.latencies.append(finished - began)
    http.close()
    with lock:
        out.add(local)


def _generator_process(scenario: Scenario, ctx: Context, threads: int, start: float, warmup: float,
                       duration: float, queue) -> None:
    out, lock = Load(), threading.Lock()
    record_from, end = start + warmup, start + warmup + duration
    workers = [threading.Thread(target=_thread_loop, args=(scenario, ctx, start, record_from, end, out, lock))
               for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    out.generator_cpu = time.process_time()
    queue.put(out)


def run_load(scenario: Scenario, ctx: Context, *, concurrency: int, processes: int, duration: float,
             warmup: float) -> Load:
    processes = max(1, min(processes, concurrency))
    share = [concurrency // processes + (1 if i < concurrency % processes else 0) for i in range(processes)]
    context = multiprocessing.get_context("fork")  # the prepared scenario (tokens...) is inherited
    queue = context.Queue()
    start = time.monotonic() + 0.2
    children = [context.Process(target=_generator_process, args=(scenario, ctx, n, start, warmup, duration, queue))
                for n in share]
    for child in children:
        child.start()
    total = Load(seconds=duration)
    for _ in children:
        total.add(queue.get(timeout=duration + warmup + 120))
    for child in children:
        child.join(30)
    return total


# -- reporting ----------------------------------------------------------------------------------------------------
def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def summarize(name: str, scenario: Scenario, load: Load, commands: dict[str, int] | None,
              cpu: dict[str, float]) -> dict:
    ms = [value * 1000 for value in load.latencies]
    result = {
        "scenario": name, "description": scenario.description, "target": scenario.target,
        "ops": load.ops, "errors": load.errors, "error_samples": load.error_samples, "seconds": load.seconds,
        "ops_per_s": round(load.ops / load.seconds, 1) if load.seconds else 0.0,
        "http_requests_per_s": round(load.http_requests / load.seconds, 1) if load.seconds else 0.0,
        "latency_ms": {"p50": round(percentile(ms, 0.50), 2), "p95": round(percentile(ms, 0.95), 2),
                       "p99": round(percentile(ms, 0.99), 2), "mean": round(statistics.fmean(ms), 2) if ms else None,
                       "max": round(max(ms), 2) if ms else None},
    }
    if load.total_ops:  # CPU milliseconds per operation, warm-up included (the CPU counters cover it)
        cpu = {**cpu, "load_generator": load.generator_cpu}
        result["cpu_ms_per_op"] = {k: round(v * 1000 / load.total_ops, 3) for k, v in cpu.items() if v > 0.0005}
    if commands is not None:
        total = sum(commands.values())
        per_op = total / load.total_ops if load.total_ops else float("nan")
        result["redis"] = {"commands_per_op": round(per_op, 2),
                           "by_command_per_op": {c: round(n / load.total_ops, 2) for c, n in
                                                 sorted(commands.items(), key=lambda item: -item[1]) if n}
                           if load.total_ops else {}}
    return result


def machine() -> dict:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
        memory = f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, IndexError, ValueError):
        pass
    from importlib.metadata import version

    return {"cpu_model": model or platform.processor(), "cpus": os.cpu_count(),
            "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            "memory": memory, "platform": platform.platform(), "python": platform.python_version(),
            "gunicorn": version("gunicorn"), "flask": version("flask"), "redis_py": version("redis")}


def _cpu(result: dict, name: str) -> str:
    value = result.get("cpu_ms_per_op", {}).get(name)
    return f"{value:.2f}" if value is not None else "-"


def _per_core(result: dict) -> str:
    """Operations one fully busy core of the server (gunicorn workers) would sustain: 1000 / CPU ms per op."""
    value = result.get("cpu_ms_per_op", {}).get(result["target"])
    return f"{1000 / value:.0f}" if value else "-"


def table(results: list[dict]) -> str:
    header = ("scenario", "ops/s", "of hello", "HTTP req/s", "p50 ms", "p95 ms", "p99 ms", "errors",
              "Redis cmds/op (incl. in Lua)", "server CPU ms/op", "ops/s per server core", "generator CPU ms/op")
    rows = [header]
    for r in results:
        lat = r["latency_ms"]
        rows.append((r["scenario"], f"{r['ops_per_s']:.1f}", f"{r['of_hello']:.0%}" if "of_hello" in r else "-",
                     f"{r['http_requests_per_s']:.1f}", f"{lat['p50']:.2f}",
                     f"{lat['p95']:.2f}", f"{lat['p99']:.2f}", str(r["errors"]),
                     f"{r['redis']['commands_per_op']:.2f}" if "redis" in r else "-",
                     _cpu(r, r["target"]), _per_core(r), _cpu(r, "load_generator")))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                       for i, (cell, w) in enumerate(zip(row, widths, strict=True)))
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


# -- main ------------------------------------------------------------------------------------------------------------
def _scenarios(value: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown scenario {', '.join(unknown) or value!r} "
                                         f"(choose from {', '.join(SCENARIOS)})")
    return names


def _counts(value: str) -> list[int]:
    try:
        counts = [int(part.replace("_", "")) for part in value.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of integers: {value!r}") from None
    if not counts or any(n < 1 for n in counts):
        raise argparse.ArgumentTypeError("live session counts must be positive integers")
    return counts


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per scenario [10]")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each scenario [2]")
    parser.add_argument("--concurrency", type=int, default=16, help="load-generator threads in total [16]")
    parser.add_argument("--processes", type=int, default=max(1, min(2, cpus)),
                        help="load-generator processes [min(2, CPUs)]")
    parser.add_argument("--workers", type=int, default=max(2, cpus), help="gunicorn workers [CPUs, at least 2]")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker [4]")
    parser.add_argument("--log-level", default="INFO", help="BRIDGE_LOG_LEVEL of the servers [INFO]")
    parser.add_argument("--audit", action=argparse.BooleanOptionalAction, default=True,
                        help="the bridge writes its hash-chained audit file (BRIDGE_AUDIT_PATH), as in production "
                             "[on]; results before 2026-12-08 were measured without it")
    parser.add_argument("--id-token-alg", default="", choices=("", "RS256", "ES256"),
                        help="the bench's client (demo-portail) declares this id_token_signed_response_alg "
                             "[the policy's: RS256]")
    parser.add_argument("--scenario", action="append", type=_scenarios, metavar="NAME[,NAME...]",
                        help=f"run only these scenarios (repeatable or comma-separated: {', '.join(SCENARIOS)}); "
                             "default: all (with --live-sessions: userinfo, refresh, introspection)")
    parser.add_argument("--live-sessions", type=_counts, metavar="N[,N...]",
                        help="seed N live SSO sessions (copies of a real one) in Redis before measuring, for each N "
                             "(e.g. 1000,100000); prints p50/p95 per N (bench/live.py)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="measurement rounds, run round-robin over the scenarios (the median round is reported) "
                             "or, with --live-sessions, alternating between the N values [1; 2 with --live-sessions]")
    parser.add_argument("--out", type=Path, default=RESULTS, help="directory of the JSON results [bench/results]")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    names = list(dict.fromkeys(name for group in args.scenario or [] for name in group))
    if args.live_sessions:
        args.rounds = args.rounds or 2
        return live_main(args, names or ["userinfo", "refresh", "introspection"])
    names = names or list(SCENARIOS)
    results: list[dict] = []
    print(f"bench: {args.workers} workers x {args.threads} threads, load {args.concurrency} threads in "
          f"{args.processes} processes, {args.warmup:g}+{args.duration:g} s per scenario"
          f"{f', {args.rounds} rounds' if (args.rounds or 1) > 1 else ''}", flush=True)
    rounds = args.rounds or 1
    runs: dict[str, list[dict]] = {name: [] for name in names}
    with Stack(args.workers, args.threads, args.log_level, args.audit, args.id_token_alg) as stack:
        ctx = Context(stack.bridge_url, stack.hello_url, stack.psc_url)
        sessions_before = len(stack.key_sizes("sess:*"))
        scenarios = {name: SCENARIOS[name]() for name in names}
        for scenario in scenarios.values():
            scenario.prepare(ctx)
        for round_ in range(1, rounds + 1):  # round-robin: a slow minute of the VM hits every scenario alike
            for name, scenario in scenarios.items():
                runs[name].append(measure(stack, ctx, name, scenario, args))
                result = runs[name][-1]
                print(f"  {name}{f' (round {round_})' if rounds > 1 else ''}: {result['ops_per_s']} ops/s, "
                      f"p95 {result['latency_ms']['p95']} ms, {result['errors']} errors", flush=True)
        results = combine_rounds(runs)
        session_sizes = stack.key_sizes("sess:*")
        token_sizes = stack.key_sizes("at:*")
    memory = {"sso_sessions": len(session_sizes), "sessions_before": sessions_before,
              "bytes_per_sso_session": round(statistics.fmean(session_sizes)) if session_sizes else None,
              "bytes_per_access_token": round(statistics.fmean(token_sizes)) if token_sizes else None}
    report = {"timestamp": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine(),
              "config": {k: v for k, v in vars(args).items() if k != "out"} | {"scenarios": names},
              "results": results, "redis_memory": memory}
    print()
    print(table(results))
    print()
    for r in results:
        if "cpu_of_7_hello" in r:
            print(f"{r['scenario']}: server CPU per flow = {r['cpu_of_7_hello']} x (7 x hello's per request), "
                  f"median of rounds {r['cpu_of_7_hello_rounds']}")
    print(f"Redis: {memory['bytes_per_sso_session']} bytes per SSO session (MEMORY USAGE, "
          f"{memory['sso_sessions']} sessions), {memory['bytes_per_access_token']} bytes per access token")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"bench-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"JSON: {path}")
    return 1 if any(r["errors"] and not r["ops"] for r in results) else 0


def measure(stack: Stack, ctx: Context, name: str, scenario: Scenario, args: argparse.Namespace) -> dict:
    """One measured run of a scenario: load, latencies, server CPU and (bridge scenarios) Redis commands."""
    measure_redis = scenario.target == "bridge"
    before = stack.command_counts() if measure_redis else None
    cpu_before = stack.cpu_seconds()
    load = run_load(scenario, ctx, concurrency=args.concurrency, processes=args.processes,
                    duration=args.duration, warmup=args.warmup)
    cpu_after = stack.cpu_seconds()
    cpu = {k: cpu_after[k] - cpu_before.get(k, 0.0) for k in cpu_after}
    delta = None
    if measure_redis:
        after = stack.command_counts()
        delta = {c: after.get(c, 0) - before.get(c, 0) for c in after}
    return summarize(name, scenario, load, delta, cpu)


def combine_rounds(runs: dict[str, list[dict]]) -> list[dict]:
    """Per scenario, the round with the median throughput, every round's ops/s, and the median of the per-round
    ratios to the hello ceiling for one-request operations (each ratio compares two runs a few seconds apart, so
    slow phases of the VM cancel out)."""
    hello = runs.get("hello")
    results = []
    for name, rounds in runs.items():
        ordered = sorted(rounds, key=lambda r: r["ops_per_s"])
        result = dict(ordered[(len(ordered) - 1) // 2])
        if len(rounds) > 1:
            result["rounds_ops_per_s"] = [r["ops_per_s"] for r in rounds]
        single_request = all(r["http_requests_per_s"] == r["ops_per_s"] for r in rounds)  # not login_flow's 7
        if hello and name != "hello" and single_request:
            ratios = [r["ops_per_s"] / h["ops_per_s"] for r, h in zip(rounds, hello, strict=True) if h["ops_per_s"]]
            if ratios:
                result["of_hello"] = round(statistics.median(ratios), 3)
                result["of_hello_rounds"] = [round(ratio, 3) for ratio in ratios]
        if hello and name == "login_flow":
            # server CPU per flow / (7 x hello's server CPU per request), round by round (issue 19's goal: <= 2)
            ratios = [r["cpu_ms_per_op"]["bridge"] / (7 * h["cpu_ms_per_op"]["hello"])
                      for r, h in zip(rounds, hello, strict=True)
                      if "bridge" in r.get("cpu_ms_per_op", {}) and h.get("cpu_ms_per_op", {}).get("hello")]
            if ratios:
                result["cpu_of_7_hello"] = round(statistics.median(ratios), 2)
                result["cpu_of_7_hello_rounds"] = [round(ratio, 2) for ratio in ratios]
        results.append(result)
    return results


def live_main(args: argparse.Namespace, names: list[str]) -> int:
    from bench import live

    if any(SCENARIOS[name].target != "bridge" for name in names):
        print("--live-sessions measures bridge scenarios only", file=sys.stderr)
        return 2
    print(f"bench: {args.workers} workers x {args.threads} threads, load {args.concurrency} threads in "
          f"{args.processes} processes, {args.warmup:g}+{args.duration:g} s per scenario, live sessions "
          f"{', '.join(f'{n:,}' for n in sorted(args.live_sessions))}", flush=True)
    with Stack(args.workers, args.threads, args.log_level) as stack:
        ctx = Context(stack.bridge_url, stack.hello_url, stack.psc_url)
        report = live.run(args, stack, ctx, names, run_load, summarize, machine)
    print()
    print(live.table(report["results"]))
    print()
    for line in live.spread(report["results"]):
        print(line)
    print(f"JSON: {live.write(report, args.out)}")
    return 1 if any(r["errors"] and not r["ops"] for r in report["results"]) else 0
