"""`bridge attest` from the command line: bad input exits 1 with a clear message; a run writes the report and is
stored in BRIDGE_ATTEST_DIR (HTML, PDF when asked, summary.json) for the admin console."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from click.testing import CliRunner

from bridge.attest.store import latest_run, runs
from bridge.cli import main
from bridge.config import load_settings
from tests.unit.test_config import PROD


def run(tmp_path, *args, **extra):
    env = {"BRIDGE_POLICIES_DIR": "policies", "BRIDGE_KEYS_DIR": str(tmp_path / "keys"), "BRIDGE_ENV": "development",
           "BRIDGE_ATTEST_DIR": str(tmp_path / "attest"), **extra}
    return CliRunner().invoke(main, ["attest", *args], env=env)


def test_unknown_service_is_a_clear_error(tmp_path):
    result = run(tmp_path, "--service", "dossier-inexistant", "--out", str(tmp_path / "r.html"))
    assert result.exit_code == 1
    assert "service inconnu 'dossier-inexistant'" in result.stderr and "dpi" in result.stderr
    assert not (tmp_path / "r.html").exists()
    assert runs(tmp_path / "attest") == []   # nothing stored for a refused run


def test_wrong_output_extension_and_period(tmp_path):
    result = run(tmp_path, "--out", str(tmp_path / "r.txt"))
    assert result.exit_code == 1 and ".html ou .pdf" in result.stderr
    result = run(tmp_path, "--from", "2026-11-20", "--to", "2026-11-01", "--no-self-checks",
                 "--out", str(tmp_path / "r.html"))
    assert result.exit_code == 1 and "after it ends" in result.stderr
    result = run(tmp_path, "--from", "2026-11-20", "--to", "2026-11-01", "--out", str(tmp_path / "r.html"))
    assert result.exit_code == 1 and "after it ends" in result.stderr   # refused before the self-checks' lab starts
    result = run(tmp_path, "--from", "20/11/2026", "--out", str(tmp_path / "r.html"))
    assert result.exit_code == 2 and "YYYY-MM-DD" in result.output + result.stderr


def test_one_service_report_without_self_checks(tmp_path):
    out = tmp_path / "dpi.html"
    result = run(tmp_path, "--service", "dpi", "--out", str(out), "--no-self-checks", "--lang", "en")
    assert result.exit_code == 0, result.stderr
    html = out.read_text()
    assert 'data-service="dpi"' in html and 'data-service="admin"' not in html and '<html lang="en">' in html
    assert str(out) in result.output


def test_each_run_is_stored_with_its_summary(tmp_path):
    out = tmp_path / "dpi.html"
    result = run(tmp_path, "--service", "dpi", "--out", str(out), "--no-self-checks")
    assert result.exit_code == 0, result.stderr
    stored = latest_run(tmp_path / "attest")
    assert stored is not None and f"exécution enregistrée : {stored.path}" in result.output
    assert (stored.path / "report.html").read_text() == out.read_text() and stored.formats == ("html",)
    summary = json.loads((stored.path / "summary.json").read_text())
    assert summary["service"] == "dpi" and summary["services"] == ["dpi"] and summary["lang"] == "fr"
    assert summary["self_checks"] == {"run": False, "note": "", "passed": 0, "failed": 0, "not_run": 0,
                                      "failed_checks": []}
    assert summary["generated_at"].endswith("Z") and stored.id.startswith(summary["generated_at"][:4])
    assert summary["policies"]["sha256"] == {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                                             for p in sorted(Path("policies").glob("*.yaml"))}
    again = run(tmp_path, "--service", "dpi", "--out", str(out), "--no-self-checks")   # the same second, maybe
    assert again.exit_code == 0 and len(runs(tmp_path / "attest")) == 2


def test_an_unwritable_attest_dir_fails_after_writing_the_report(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    out = tmp_path / "r.html"
    result = run(tmp_path, "--service", "dpi", "--out", str(out), "--no-self-checks",
                 BRIDGE_ATTEST_DIR=str(blocker / "attest"))
    assert result.exit_code == 1 and "BRIDGE_ATTEST_DIR" in result.stderr and out.exists()


def test_attest_dir_setting():
    assert load_settings({}).attest_dir == Path("var/attest")              # development: beside the checkout
    assert load_settings({"BRIDGE_ATTEST_DIR": ""}).attest_dir is None     # explicitly off
    assert load_settings(PROD).attest_dir is None                          # production: only when set
    assert load_settings({**PROD, "BRIDGE_ATTEST_DIR": "/srv/attest"}).attest_dir == Path("/srv/attest")
