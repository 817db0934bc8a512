"""`bridge attest` on a correct set-up prints no warning: no WeasyPrint CSS error, and the legacy GIP-CPS CAs the
self-checks' trust store holds on purpose are not announced as faults. The run, with its live self-checks, is
stored in BRIDGE_ATTEST_DIR for the admin console."""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

from bridge import pki
from bridge.sandbox.testpki import TestPki
from tests.support.child import child_env

ROOT = Path(__file__).resolve().parents[2]


def test_bridge_attest_pdf_on_a_correct_setup_is_quiet(tmp_path):
    test_pki = TestPki("attest-quiet", tmp_path / "pki")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "PYTHONPATH": str(ROOT),
           "BRIDGE_ENV": "development", "BRIDGE_POLICIES_DIR": str(ROOT / "policies"),
           "BRIDGE_KEYS_DIR": str(tmp_path / "keys"), "BRIDGE_TRUST_DIR": str(test_pki.trust_dir()),
           "BRIDGE_CRL_DIR": str(test_pki.crl_dir()), "BRIDGE_ATTEST_DIR": str(tmp_path / "attest")}
    out = tmp_path / "r.pdf"
    result = subprocess.run([sys.executable, "-m", "bridge.cli", "attest", "--out", str(out)], env=child_env(env),
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert out.read_bytes().startswith(b"%PDF-")
    assert result.stderr == "", result.stderr
    assert "NON CONFORME" not in result.stdout, result.stdout
    (run,) = (tmp_path / "attest").iterdir()            # the run is stored: the PDF asked for, its HTML, a summary
    assert run.name in result.stdout and f"exécution enregistrée : {run}" in result.stdout
    assert sorted(p.name for p in run.iterdir()) == ["report.html", "report.pdf", "summary.json"]
    assert (run / "report.pdf").read_bytes() == out.read_bytes()
    summary = json.loads((run / "summary.json").read_text())
    checks = summary["self_checks"]
    assert checks["run"] is True and checks["passed"] > 0 and checks["failed"] == 0, checks
    assert summary["services"] == sorted(p.stem for p in (ROOT / "policies").glob("*.yaml"))
    assert summary["config_faults"] == [] and summary["files"] == {"html": "report.html", "pdf": "report.pdf"}


def test_legacy_ca_notice_is_info_once_per_process(tmp_path, caplog):
    trust = TestPki("attest-legacy", tmp_path / "pki").trust_dir(include_legacy=True)
    with caplog.at_level(logging.INFO, logger="bridge.pki"):
        pki.TrustStore.from_directory(trust)
        pki.TrustStore.from_directory(trust)
    notices = [r for r in caplog.records if "legacy GIP-CPS" in r.getMessage()]
    assert notices and all(r.levelno == logging.INFO for r in notices)
    assert len(notices) == len({r.getMessage() for r in notices})   # each certificate said once
