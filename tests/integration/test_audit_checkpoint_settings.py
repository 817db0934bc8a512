"""Signed checkpoints end to end from the settings: open_audit creates the key (0600), two writers (as two workers)
share one checkpoint series under the lock, and `bridge audit verify` with the exported public key accepts it."""
import json
import os
import stat

from click.testing import CliRunner

from bridge.audit import open_audit
from bridge.cli import main
from bridge.config import load_settings


def test_settings_to_verified_checkpoints(tmp_path):
    env = {"BRIDGE_ENV": "development", "BRIDGE_AUDIT_PATH": str(tmp_path / "log" / "audit.jsonl"),
           "BRIDGE_AUDIT_KEY_FILE": str(tmp_path / "keys" / "audit.jwk"), "BRIDGE_AUDIT_CHECKPOINT_LINES": "4",
           "BRIDGE_AUDIT_CHECKPOINT_SECONDS": "0"}
    settings = load_settings(env)
    first, second = open_audit(settings), open_audit(settings)
    assert stat.S_IMODE(os.stat(tmp_path / "keys" / "audit.jwk").st_mode) == 0o600
    for i in range(10):
        (first if i % 2 else second).record("policy_loaded", outcome="info", service=f"s{i}")
    lines = [json.loads(raw) for raw in (tmp_path / "log" / "audit.jsonl").read_bytes().splitlines()]
    assert [line["seq"] for line in lines if line["event"] == "audit_checkpoint"] == [5, 10]
    runner = CliRunner()
    public = runner.invoke(main, ["audit", "key", "--public"], env=env)
    (tmp_path / "auditor.jwk").write_text(public.output)
    result = runner.invoke(main, ["audit", "verify", "--lang", "en", "--public-key", str(tmp_path / "auditor.jwk")],
                           env={**env, "BRIDGE_AUDIT_KEY_FILE": None})
    assert result.exit_code == 0, result.output
    assert "2 signed checkpoint(s) verified; last signed line: seq 9" in result.output
    assert "3 line(s) after the last checkpoint" in result.output
