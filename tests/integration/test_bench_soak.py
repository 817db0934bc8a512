"""The soak bench runs end to end for a few seconds (calibration, paced load, samples, JSON). Its numbers are not
checked here: the 10-minute run and its figures are in docs/performance.md."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_soak_bench_paces_logins_and_samples_memory(tmp_path):
    result = subprocess.run([sys.executable, "-m", "bench.soak", "--duration", "3", "--calibrate", "2",
                             "--interval", "1", "--threads", "4", "--out", str(tmp_path)],
                            cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    [path] = tmp_path.glob("soak-*.json")
    report = json.loads(path.read_text())
    summary, samples = report["summary"], report["samples"]
    assert summary["errors"] == 0 and summary["logins"] > 0
    assert summary["rate_logins_per_s"] == round(summary["capacity_logins_per_s"] * 0.7, 2)
    assert len(samples) >= 2 and all(s["bridge_rss_mb"] > 0 and s["processes"] >= 2 for s in samples)
    assert sum(s["logins"] for s in samples) == summary["logins"]
    assert "rss_drift_pct" in summary
