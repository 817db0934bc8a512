"""`bridge serve` finds before forking every error a worker would meet: one line naming the variable, exit 2."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.child import child_env

ROOT = Path(__file__).resolve().parents[2]


def test_cps_pin_without_trust_dir_stops_before_forking(tmp_path):
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), "HOME": str(tmp_path),
           "BRIDGE_WORKERS": "1", "BRIDGE_BIND": "127.0.0.1:1", "BRIDGE_POLICIES_DIR": str(ROOT / "policies"),
           "BRIDGE_KEYS_DIR": str(tmp_path / "keys")}
    result = subprocess.run([sys.executable, "-m", "bridge.cli", "serve"], env=child_env(env), cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert result.stderr.startswith("bridge: configuration error: BRIDGE_TRUST_DIR:"), result.stderr
