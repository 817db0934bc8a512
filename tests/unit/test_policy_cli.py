"""`bridge policy check` and `bridge policy rules` through the real `bridge` command group (click's CliRunner)."""
from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from bridge.cli import main
from tests.unit.test_policy_support import VALID_POLICY, write

REPO_POLICIES = str(Path(__file__).resolve().parents[2] / "policies")


def run(*args: str, env: dict | None = None):
    return CliRunner().invoke(main, ["policy", *args], env=env or {"BRIDGE_ENV": None, "BRIDGE_POLICIES_DIR": None})


def table_rows(output: str) -> dict[str, list[str]]:
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("SERVICE"))
    return {line.split()[0]: line.split() for line in lines[start + 1:] if line.strip()}


def test_check_prints_a_table_of_services_and_exits_0():
    result = run("check", "--dir", REPO_POLICIES, "--at", "2026-11-23")
    assert result.exit_code == 0, result.output
    assert "as of 2026-11-23: 4 service(s)" in result.stdout
    rows = table_rows(result.stdout)
    assert set(rows) == {"admin", "demo-portail", "dpi", "teleservice-historique"}
    assert rows["teleservice-historique"][:6] == ["teleservice-historique", "teleservice-web",
                                                  "psc,cps-pin,local-fido,backup", "yes", "30m", "4h"]
    assert rows["dpi"][2:5] == ["psc", "yes", "15m"]
    assert rows["admin"][4:6] == ["15m", "1h"]
    assert result.stderr == ""


def test_check_prints_every_error_and_exits_1(tmp_path):
    write(tmp_path, "svc.yaml", VALID_POLICY.replace("[psc]", "[psc, cps-pin]\nidle_timeout: 0s"))
    result = run("check", "--dir", str(tmp_path))
    assert result.exit_code == 1
    assert f"error: {tmp_path}/svc.yaml:6 allowed_mie[1]: 'cps-pin' requires historical_teleservice: true" \
        in result.stderr
    assert f"error: {tmp_path}/svc.yaml:7 idle_timeout: '0s' is too short" in result.stderr
    assert "2 error(s): the bridge would refuse to start." in result.stderr
    assert "SERVICE" not in result.stdout


def test_check_travels_in_time_and_strict_fails_on_warnings(tmp_path):
    write(tmp_path, "svc.yaml", VALID_POLICY.replace("[psc]", "[psc, cps-pin]\nhistorical_teleservice: true"))
    before = run("check", "--dir", str(tmp_path), "--at", "2026-12-30")
    assert before.exit_code == 0 and table_rows(before.stdout)["svc"][2] == "psc,cps-pin"
    assert "will be blocked from 2026-12-31" in before.stderr
    after = run("check", "--dir", str(tmp_path), "--at", "2026-12-31")
    assert after.exit_code == 0 and table_rows(after.stdout)["svc"][2] == "psc"
    assert "blocked: no conformity attestation since 2026-12-31" in after.stderr
    strict = run("check", "--dir", str(tmp_path), "--at", "2026-12-31", "--strict")
    assert strict.exit_code == 1 and "1 warning(s) with --strict." in strict.stderr


def test_production_refuses_http_loopback():
    result = run("check", "--dir", REPO_POLICIES, "--production")
    assert result.exit_code == 1 and "must be https in production" in result.stderr
    from_env = run("check", "--dir", REPO_POLICIES, env={"BRIDGE_ENV": "production"})
    assert from_env.exit_code == 1


def test_directory_from_the_environment_and_empty_directory(tmp_path):
    result = run("check", env={"BRIDGE_POLICIES_DIR": str(tmp_path), "BRIDGE_ENV": None})
    assert result.exit_code == 1 and f"error: {tmp_path}: no policy files" in result.stderr


def test_bad_date_option_is_a_usage_error():
    result = run("check", "--dir", REPO_POLICIES, "--at", "31/12/2026")
    assert result.exit_code == 2 and "is not a date YYYY-MM-DD" in result.output


def test_rules_lists_the_catalogue():
    result = run("rules", "--lang", "en")
    assert result.exit_code == 0
    assert "not_historical_teleservice  enforced" in result.stdout
    assert "attestation_missing: A means outside Pro Santé Connect needs a conformity attestation" in result.stdout
