"""The failover bench runs end to end once (WAIT 1, a second of load either side of the kill): the JSON report's
shape and that nothing but successes and 503s happened. Its timings are not checked: docs/performance.md."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_failover_bench_reports_the_recovery(tmp_path):
    result = subprocess.run([sys.executable, "-m", "bench.failover", "--wait-replicas", "1", "--threads", "2",
                             "--before", "1", "--after", "0.5", "--out", str(tmp_path)],
                            cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    [path] = tmp_path.glob("failover-*.json")
    [run] = json.loads(path.read_text())["results"]
    assert run["wait_replicas"] == 1 and run["errors_total"] == 0 and run["ops_before_kill"] > 0
    assert 0 < run["failover_s"] <= run["replica_back_s"]
    assert run["first_login_s"] is not None and run["first_refresh_s"] is not None
    assert not [key for key in run["during_switch"] if key.endswith("error")]
