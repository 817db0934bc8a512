"""The benchmark harness runs end to end (tiny durations): stack up, every scenario, table, JSON. Its numbers are
not checked here: timings live in bench/ and docs/performance.md."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_harness_prints_a_table_and_writes_json(tmp_path):
    result = subprocess.run([sys.executable, "-m", "bench", "--duration", "0.6", "--warmup", "0.1",
                             "--concurrency", "4", "--workers", "2", "--threads", "2", "--out", str(tmp_path)],
                            cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    header = next(line for line in result.stdout.splitlines() if line.startswith("scenario"))
    for column in ("ops/s", "p50 ms", "p95 ms", "p99 ms", "Redis cmds/op"):
        assert column in header
    for scenario in ("login_flow", "userinfo", "refresh", "introspection", "hello"):
        assert any(line.startswith(scenario + " ") for line in result.stdout.splitlines()), scenario
    [path] = tmp_path.glob("bench-*.json")
    report = json.loads(path.read_text())
    assert report["machine"]["cpus"] and report["config"]["workers"] == 2
    by_name = {r["scenario"]: r for r in report["results"]}
    assert {"login_flow", "userinfo", "refresh", "introspection", "hello"} <= set(by_name)   # + device_* since
    for name, r in by_name.items():
        assert r["ops"] > 0 and r["errors"] == 0, (name, r["error_samples"])
        assert r["latency_ms"]["p50"] <= r["latency_ms"]["p95"] <= r["latency_ms"]["p99"]
    assert by_name["userinfo"]["redis"]["commands_per_op"] > 0 and "redis" not in by_name["hello"]
    assert "of_hello" in by_name["userinfo"] and "of_hello" not in by_name["login_flow"]  # 7 requests vs 1
    assert by_name["login_flow"]["cpu_of_7_hello"] > 0   # its CPU per flow / (7 x hello's per request)
    assert report["config"]["audit"] is True   # the audit file on, as in production
    assert report["redis_memory"]["bytes_per_sso_session"] > 0


def test_rounds_alternate_scenarios_and_report_the_ratio_to_hello(tmp_path):
    result = subprocess.run([sys.executable, "-m", "bench", "--duration", "0.5", "--warmup", "0.1", "--rounds", "3",
                             "--scenario", "introspection,hello", "--concurrency", "2", "--workers", "2",
                             "--threads", "1", "--out", str(tmp_path)],
                            cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    progress = [line.strip().split(":")[0] for line in result.stdout.splitlines() if "(round " in line]
    assert progress == [f"{name} (round {n})" for n in (1, 2, 3) for name in ("introspection", "hello")]
    assert "of hello" in next(line for line in result.stdout.splitlines() if line.startswith("scenario"))
    [path] = tmp_path.glob("bench-*.json")
    introspection, hello = json.loads(path.read_text())["results"]
    assert len(introspection["rounds_ops_per_s"]) == len(hello["rounds_ops_per_s"]) == 3
    assert introspection["ops_per_s"] == sorted(introspection["rounds_ops_per_s"])[1]   # the median round
    ratios = [i / h for i, h in zip(introspection["rounds_ops_per_s"], hello["rounds_ops_per_s"], strict=True)]
    assert introspection["of_hello"] == round(sorted(ratios)[1], 3) and "of_hello" not in hello


def test_instruction_counts_cover_the_requests_only():
    """bench.instructions under valgrind: counting starts after start-up and login, so a bridge introspection
    costs several times a bare Flask hello (were start-up counted, both would be in the billions)."""
    result = subprocess.run([sys.executable, "-m", "bench.instructions", "-n", "3", "hello", "introspection"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    counts = {line.split()[0]: float(line.split()[1]) * 1e6 for line in result.stdout.splitlines()}
    assert 1e5 < counts["hello"] < 2e6 and 2 * counts["hello"] < counts["introspection"] < 2e7, counts


def test_login_flow_instructions_count_the_bridge_s_requests():
    """bench.instructions login_flow: the bridge's five requests of a login counted in process (the browser's PSC
    pages in a helper process valgrind does not follow), with the store round trips and PSC calls per flow."""
    result = subprocess.run([sys.executable, "-m", "bench.instructions", "-n", "2", "login_flow"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    [line] = [line for line in result.stdout.splitlines() if line.startswith("login_flow ")]
    assert 5e6 < float(line.split()[1]) * 1e6 < 2e8, line
    trips = next(line for line in result.stdout.splitlines() if "store round trips per flow" in line)
    assert "outgoing HTTP calls per flow 2.0" in trips, trips   # PSC's token and userinfo endpoints
    # writes grouped (Store.write_many: session open, PSC tokens, token pair): 25 round trips before, 16 since
    assert float(trips.split("store round trips per flow ")[1].split(",")[0]) <= 16, trips


def test_card_removal_bench_runs_one_round(tmp_path, pcscd):
    """bench.card_removal, one round (its own private pcscd, bridge, agent and app): a login through the agent, the
    card pulled out, the session's logout token at the app; the JSON report's shape. `pcscd` only skips the test
    where the session could not run pcscd + vpcd either."""
    result = subprocess.run([sys.executable, "-m", "bench.card_removal", "--rounds", "1", "--out", str(tmp_path)],
                            cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert any(line.startswith("removal_to_logout ") for line in result.stdout.splitlines())
    [path] = tmp_path.glob("card-removal-*.json")
    report = json.loads(path.read_text())
    assert report["rounds"] == 1 and report["store"] == "memory://" and report["machine"]["cpus"]
    for name in ("removal_to_logout", "removal_to_session_end"):
        assert set(report[name]) == {"n", "p50_ms", "p95_ms", "max_ms", "missed"}, report[name]
        assert (report[name]["n"], report[name]["missed"]) == (1, 0), report[name]
    [sample] = report["samples"]
    assert set(sample) == {"sid", "logout_s", "ended_s"} and sample["logout_s"] is not None


def test_step_benches_run_two_rounds(tmp_path):
    """bench.ciba and bench.psc_relay (bridge + PSC emulator) and bench.passkeys write
    their steps through bench.steps: the JSON file and one line per step."""
    for bench, steps in (("ciba", {"request", "pending", "local", "tokens"}),
                         ("psc_relay", {"kept", "refresh", "logout"})):
        result = subprocess.run([sys.executable, "-m", f"bench.{bench}", "--rounds", "2", "--out", str(tmp_path)],
                                cwd=ROOT, capture_output=True, text=True, timeout=180)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
        [path] = tmp_path.glob(f"{bench.replace('_', '-')}-*.json")
        report = json.loads(path.read_text())
        assert report["bench"] == bench and report["rounds"] == 2 and set(report["steps"]) == steps
        assert all(step["n"] >= 1 for step in report["steps"].values()), report["steps"]
        assert {line.split()[0] for line in result.stdout.splitlines()[:-1]} == steps
    result = subprocess.run([sys.executable, "-m", "bench.passkeys", "-n", "3"], cwd=ROOT, capture_output=True,
                            text=True, timeout=180)
    assert result.returncode == 0 and "login (bridge side): " in result.stdout, result.stderr[-3000:]
