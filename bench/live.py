"""`python -m bench --live-sessions 1000,100000 [--rounds 3]`: latency of the hot paths against N live SSO sessions.

One real login (the login_flow scenario) creates a template: its `sess:{sid}`, `act:{sid}`, `at:{sid}:<sha256>`
and `rt:{sid}:<sha256>` keys and its `idx:sessions` entry. The harness copies them N times straight into Redis
(pipelined), with a fresh random sid and token hashes per copy and the sid rewritten inside the values, so each
seeded session has the real key layout, record size and TTL. Each N gets its own Redis database; rounds swap
them in turn into database 0 (what the bridge uses) and run the chosen scenarios, so the N values are measured
interleaved on a noisy shared machine. The table gives ops/s, p50/p95/p99, Redis server time per script call and
bridge CPU per operation for each N: flat rows mean the key space size does not matter (every hot path is a keyed
EVALSHA on one hash tag, no scans).
"""
from __future__ import annotations

import json
import secrets
import time
from datetime import UTC, datetime
from types import SimpleNamespace

import requests

from bench.scenarios import SCENARIOS, Context, login_flow

INDEX = "idx:sessions"
MIN_TTL_MS = 3_600_000  # seeded keys outlive the measurement even when the template's TTL is short
BATCH = 2000


def template(stack, ctx: Context) -> dict:
    """The keys of one session created by one real login: {"sid", "keys": [(kind, suffix, type, value, pttl)],
    "score"}."""
    before = set(stack.redis.scan_iter(match="sess:*", count=1000))
    login_flow(ctx, requests.Session())
    [key] = set(stack.redis.scan_iter(match="sess:*", count=1000)) - before
    sid = key[len("sess:{"):-1]
    keys = []
    for name in stack.redis.scan_iter(match=f"*{{{sid}}}*", count=1000):
        kind, rest = name.split(":", 1)
        suffix = rest[len(sid) + 2:]  # after "{sid}"
        kind_type = stack.redis.type(name)
        value = stack.redis.hgetall(name) if kind_type == "hash" else stack.redis.get(name)
        keys.append((kind, suffix, kind_type, value, stack.redis.pttl(name)))
    kinds = {k[0] for k in keys}
    if not {"sess", "act", "at"} <= kinds:
        raise RuntimeError(f"unexpected key layout of a real session: {sorted(kinds)}")
    return {"sid": sid, "keys": keys, "score": stack.redis.zscore(INDEX, sid)}


def _swap(value: str, old: str, new: str) -> str:
    return value.replace(old, new)


def seed(stack, tpl: dict, count: int) -> None:
    """Add `count` copies of the template session to Redis."""
    old = tpl["sid"]
    pipe = stack.redis.pipeline(transaction=False)
    for i in range(count):
        sid = secrets.token_urlsafe(16)
        for kind, suffix, kind_type, value, pttl in tpl["keys"]:
            if suffix.startswith(":"):  # at/rt/rtu: a token hash of its own
                suffix = ":" + secrets.token_hex(32)
            name, ttl = f"{kind}:{{{sid}}}{suffix}", max(pttl, MIN_TTL_MS)
            if kind_type == "hash":
                pipe.hset(name, mapping={k: _swap(v, old, sid) for k, v in value.items()})
                pipe.pexpire(name, ttl)
            else:
                pipe.set(name, _swap(value, old, sid), px=ttl)
        if tpl["score"] is not None:
            pipe.zadd(INDEX, {sid: tpl["score"]})
        if i % BATCH == BATCH - 1:
            pipe.execute()
    pipe.execute()


def _redis_usec(stack) -> dict[str, int]:
    """Redis server time spent per command (INFO commandstats usec): the store's own cost, whatever the box."""
    return {k.removeprefix("cmdstat_"): int(v["usec"]) for k, v in stack.redis.info("commandstats").items()}


def run(args, stack, ctx: Context, names: list[str], run_load, summarize, machine) -> dict:
    """Each N lives in its own Redis database (1, 2...); a round swaps it into database 0 (SWAPDB, instant), runs
    the scenarios and swaps it back. Rounds alternate between the N values, so a slow minute of a shared machine
    does not land on one N only; the latencies of all rounds are pooled per (N, scenario)."""
    import redis

    counts = sorted(set(args.live_sessions))
    if len(counts) > 15:
        raise SystemExit("--live-sessions: at most 15 values (one Redis database each)")
    tpl = template(stack, ctx)
    print(f"live sessions: template sid has {len(tpl['keys'])} keys "
          f"({', '.join(sorted(k[0] for k in tpl['keys']))})", flush=True)
    dbs = {}
    for index, n in enumerate(counts, start=1):
        started = time.monotonic()
        client = redis.Redis(port=stack.redis_port, db=index, decode_responses=True)
        client.flushdb()
        seed(SimpleNamespace(redis=client), tpl, n)
        dbs[n] = index
        print(f"  db {index}: {n:,} live sessions seeded in {time.monotonic() - started:.1f} s, "
              f"{client.dbsize():,} keys", flush=True)
    pooled: dict[tuple[int, str], dict] = {}
    for round_ in range(1, args.rounds + 1):
        for n in counts:
            stack.redis.swapdb(0, dbs[n])
            try:
                info = stack.redis.info("memory")
                for name in names:
                    scenario = SCENARIOS[name]()
                    scenario.prepare(ctx)
                    before, usec_before, cpu_before = stack.command_counts(), _redis_usec(stack), stack.cpu_seconds()
                    load = run_load(scenario, ctx, concurrency=args.concurrency, processes=args.processes,
                                    duration=args.duration, warmup=args.warmup)
                    after, usec_after, cpu_after = stack.command_counts(), _redis_usec(stack), stack.cpu_seconds()
                    slot = pooled.setdefault((n, name), {"scenario": scenario, "load": None, "commands": {},
                                                         "cpu": {}, "usec": 0, "script_calls": 0,
                                                         "keys": 0, "memory": 0})
                    slot["load"] = load if slot["load"] is None else _merge(slot["load"], load)
                    for c in after:
                        slot["commands"][c] = slot["commands"].get(c, 0) + after.get(c, 0) - before.get(c, 0)
                    for k in cpu_after:
                        slot["cpu"][k] = slot["cpu"].get(k, 0.0) + cpu_after[k] - cpu_before.get(k, 0.0)
                    for c in ("evalsha", "eval"):
                        slot["usec"] += usec_after.get(c, 0) - usec_before.get(c, 0)
                        slot["script_calls"] += after.get(c, 0) - before.get(c, 0)
                    slot["keys"], slot["memory"] = stack.redis.dbsize(), info["used_memory"]
                    lat = summarize(name, scenario, load, None, {})["latency_ms"]
                    print(f"    round {round_}, {n:,} sessions, {name}: {len(load.latencies) / load.seconds:.1f} "
                          f"ops/s, p50 {lat['p50']} ms, p95 {lat['p95']} ms, {load.errors} errors", flush=True)
            finally:
                stack.redis.swapdb(0, dbs[n])
    rows = []
    for (n, name), slot in pooled.items():
        result = summarize(name, slot["scenario"], slot["load"], slot["commands"], slot["cpu"])
        result.update(live_sessions=n, redis_keys=slot["keys"], redis_used_memory=slot["memory"],
                      rounds=args.rounds, redis_usec_per_script_call=round(slot["usec"] / slot["script_calls"], 2)
                      if slot["script_calls"] else None)
        rows.append(result)
    rows.sort(key=lambda r: (r["live_sessions"], names.index(r["scenario"])))
    return {"timestamp": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine(),
            "config": {k: v for k, v in vars(args).items() if k != "out"} | {"scenarios": names},
            "template_keys": sorted(k[0] for k in tpl["keys"]), "results": rows}


def _merge(a, b):
    """Rounds run one after the other: their seconds add up too."""
    a.add(b).seconds += b.seconds
    return a


def table(rows: list[dict]) -> str:
    header = ("live sessions", "scenario", "ops/s", "p50 ms", "p95 ms", "p99 ms", "errors", "Redis cmds/op",
              "Redis µs/script", "bridge CPU ms/op", "Redis keys (db 0)", "Redis MiB (all dbs)")
    out = [header]
    for r in rows:
        lat = r["latency_ms"]
        out.append((f"{r['live_sessions']:,}", r["scenario"], f"{r['ops_per_s']:.1f}", f"{lat['p50']:.2f}",
                    f"{lat['p95']:.2f}", f"{lat['p99']:.2f}", str(r["errors"]), f"{r['redis']['commands_per_op']:.2f}",
                    f"{r['redis_usec_per_script_call']}",
                    f"{r.get('cpu_ms_per_op', {}).get('bridge', float('nan')):.2f}",
                    f"{r['redis_keys']:,}", f"{r['redis_used_memory'] / 2**20:.0f}"))
    widths = [max(len(row[i]) for row in out) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) if i < 2 else cell.rjust(w)
                       for i, (cell, w) in enumerate(zip(row, widths, strict=True)))
             for row in out]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def spread(rows: list[dict]) -> list[str]:
    """Per scenario: p50/p95 at the largest N relative to the smallest N."""
    lines = []
    for name in dict.fromkeys(r["scenario"] for r in rows):
        mine = sorted((r for r in rows if r["scenario"] == name), key=lambda r: r["live_sessions"])
        if len(mine) > 1:
            low, high = mine[0]["latency_ms"], mine[-1]["latency_ms"]
            ratio = {p: high[p] / low[p] if low[p] else float("nan") for p in ("p50", "p95")}
            lines.append(f"{name}: p50 x{ratio['p50']:.2f}, p95 x{ratio['p95']:.2f} from "
                         f"{mine[0]['live_sessions']:,} to {mine[-1]['live_sessions']:,} live sessions")
    return lines


def write(report: dict, out) -> str:
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"live-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    return str(path)

