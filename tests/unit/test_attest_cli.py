"""`bridge attest` from the command line: bad input exits 1 with a clear message; a run writes the report."""
from __future__ import annotations

from click.testing import CliRunner

from bridge.cli import main


def run(tmp_path, *args):
    env = {"BRIDGE_POLICIES_DIR": "policies", "BRIDGE_KEYS_DIR": str(tmp_path / "keys"), "BRIDGE_ENV": "development"}
    return CliRunner().invoke(main, ["attest", *args], env=env)


def test_unknown_service_is_a_clear_error(tmp_path):
    result = run(tmp_path, "--service", "dossier-inexistant", "--out", str(tmp_path / "r.html"))
    assert result.exit_code == 1
    assert "service inconnu 'dossier-inexistant'" in result.stderr and "dpi" in result.stderr
    assert not (tmp_path / "r.html").exists()


def test_wrong_output_extension_and_period(tmp_path):
    result = run(tmp_path, "--out", str(tmp_path / "r.txt"))
    assert result.exit_code == 1 and ".html ou .pdf" in result.stderr
    result = run(tmp_path, "--from", "2026-11-20", "--to", "2026-11-01", "--no-self-checks",
                 "--out", str(tmp_path / "r.html"))
    assert result.exit_code == 1 and "after it ends" in result.stderr
    result = run(tmp_path, "--from", "20/11/2026", "--out", str(tmp_path / "r.html"))
    assert result.exit_code == 2 and "YYYY-MM-DD" in result.output + result.stderr


def test_one_service_report_without_self_checks(tmp_path):
    out = tmp_path / "dpi.html"
    result = run(tmp_path, "--service", "dpi", "--out", str(out), "--no-self-checks", "--lang", "en")
    assert result.exit_code == 0, result.stderr
    html = out.read_text()
    assert 'data-service="dpi"' in html and 'data-service="admin"' not in html and '<html lang="en">' in html
    assert str(out) in result.output
