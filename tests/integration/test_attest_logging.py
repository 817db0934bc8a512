"""`bridge attest` runs the live self-checks' lab (a second bridge whose create_app configures the process-wide logs
at WARNING) and then gives the process its logging back: a long-running caller keeps its INFO lines."""
from __future__ import annotations

import io
import logging
from contextlib import redirect_stderr

import structlog
from click.testing import CliRunner

from bridge import logs
from bridge.cli import main


def state() -> dict:
    root = logging.getLogger()
    return {"structlog": structlog.get_config(), "root": (root.level, list(root.handlers)),
            "levels": {name: logging.getLogger(name).level for name in ("werkzeug", "authlib")}}


def test_bridge_attest_gives_the_process_its_logging_back(tmp_path, monkeypatch):
    logs.configure("INFO")                       # a caller that logs its INFO lines (the demo, a worker...)
    before = state()
    levels = []
    configure = logs.configure
    monkeypatch.setattr(logs, "configure", lambda level="INFO": (levels.append(level), configure(level))[1])
    env = {"BRIDGE_POLICIES_DIR": "policies", "BRIDGE_KEYS_DIR": str(tmp_path / "keys"), "BRIDGE_ENV": "development",
           "BRIDGE_ATTEST_DIR": str(tmp_path / "attest")}
    result = CliRunner().invoke(main, ["attest", "--service", "dpi", "--out", str(tmp_path / "r.html")], env=env)
    assert result.exit_code == 0, result.stderr
    assert "auto-tests 3/3 conformes" in result.output   # the lab ran: single_factor, idle_logout, legacy_card
    assert "WARNING" in levels                   # the lab did switch the process to WARNING...
    assert state() == before                     # ...and the process got its configuration back
    with redirect_stderr(io.StringIO()) as stderr:
        logs.log.info("request", path="/")
    assert '"event": "request"' in stderr.getvalue()
