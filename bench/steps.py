"""What the step benches share (ciba, psc_relay, passkeys, card_removal, card_sharing): a timed call, the summary
of its durations, and the JSON result file with its few lines on stdout."""
from __future__ import annotations

import json
import platform
import statistics
import time
from datetime import UTC, datetime

from bench.harness import RESULTS, percentile


def timed(call, *args):
    """(seconds, result) of call(*args)."""
    started = time.perf_counter()
    result = call(*args)
    return time.perf_counter() - started, result


def summary(values: list[float], digits: int = 1) -> dict:
    """Milliseconds; p95 by nearest rank as bench.harness does (with 20 rounds or fewer it is the maximum)."""
    if not values:
        return {"n": 0}
    return {"n": len(values), "p50_ms": round(statistics.median(values) * 1000, digits),
            "p95_ms": round(percentile(values, 0.95) * 1000, digits), "max_ms": round(max(values) * 1000, digits)}


def write_steps(bench: str, steps: dict[str, dict], out=RESULTS, **facts) -> None:
    """bench/results/<bench>-<UTC time>.json, then one line per step and the file's path."""
    now = datetime.now(UTC)
    report = {"bench": bench, "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"), **facts,
              "machine": {"python": platform.python_version(), "system": platform.platform()}, "steps": steps}
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{bench.replace('_', '-')}-{now.strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    for name, v in steps.items():
        print(f"{name:8} p50 {v['p50_ms']:7.1f} ms   p95 {v['p95_ms']:7.1f} ms   max {v['max_ms']:7.1f} ms")
    print(path)
