"""Serving settings, metrics helpers, log filters and the compose file."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml

from bridge import metrics
from bridge.config import ConfigError, load_settings
from bridge.logs import StripQueryStrings
from bridge.serve import serving_settings

ROOT = Path(__file__).resolve().parents[2]


def test_metrics_token_setting():
    assert load_settings({}).metrics_token == "" == load_settings({"BRIDGE_METRICS_TOKEN": ""}).metrics_token
    assert load_settings({"BRIDGE_METRICS_TOKEN": "a" * 16}).metrics_token == "a" * 16
    for bad in ("short", "x" * 20 + " y", "é" * 20):
        with pytest.raises(ConfigError, match="^BRIDGE_METRICS_TOKEN: "):
            load_settings({"BRIDGE_METRICS_TOKEN": bad})


def test_serving_settings_defaults_and_errors():
    settings = serving_settings({})
    assert settings["bind"] == ["0.0.0.0:8000"] and settings["workers"] >= 2 and settings["threads"] == 4
    assert serving_settings({"BRIDGE_BIND": "127.0.0.1:9000, unix:/run/bridge.sock", "BRIDGE_WORKERS": "3",
                             "BRIDGE_THREADS": "8"}) == {**settings, "workers": 3, "threads": 8,
                                                         "bind": ["127.0.0.1:9000", "unix:/run/bridge.sock"]}
    for env, variable in (({"BRIDGE_WORKERS": "0"}, "BRIDGE_WORKERS"), ({"BRIDGE_THREADS": "x"}, "BRIDGE_THREADS"),
                          ({"BRIDGE_BIND": "127.0.0.1"}, "BRIDGE_BIND"), ({"BRIDGE_BIND": ":99999"}, "BRIDGE_BIND"),
                          ({"BRIDGE_GRACEFUL_TIMEOUT": "-1"}, "BRIDGE_GRACEFUL_TIMEOUT")):
        with pytest.raises(ConfigError, match=f"^{variable}: "):
            serving_settings(env)


def test_label_values_stay_bounded():
    assert metrics.label("psc_timeout") == "psc_timeout"
    assert metrics.label("https://evil.example/?code=abc") == "other"
    assert metrics.label("x" * 200) == "other"
    assert metrics.label("PATCH", metrics.HTTP_METHODS) == "PATCH"
    assert metrics.label("BREW", metrics.HTTP_METHODS) == "other"
    before = metrics.LOGINS.labels("unknown", "error")._value.get()
    metrics.login_error("psc", "psc_timeout")
    assert metrics.LOGINS.labels("unknown", "error")._value.get() == before + 1
    denied = metrics.DENIALS.labels("mie_not_allowed")._value.get()
    metrics.denied(["mie_not_allowed"], mie="psc-ecps")
    assert metrics.DENIALS.labels("mie_not_allowed")._value.get() == denied + 1


def test_upstream_call_times_and_counts_errors():
    count = metrics.UPSTREAM_LATENCY.labels("psc", "jwks")._sum.get()
    errors = metrics.UPSTREAM_ERRORS.labels("psc", "jwks", "TimeoutError")._value.get()
    with pytest.raises(TimeoutError):
        with metrics.upstream_call("jwks"):
            raise TimeoutError()
    assert metrics.UPSTREAM_LATENCY.labels("psc", "jwks")._sum.get() >= count
    assert metrics.UPSTREAM_ERRORS.labels("psc", "jwks", "TimeoutError")._value.get() == errors + 1


def test_exposition_survives_any_accept_header():
    for accept in (None, "", "application/openmetrics-text; version=abc", "text/plain;version=1.0.0;escaping=x"):
        body, content_type = metrics.exposition(accept)
        assert b"bridge_http_requests_total" in body and content_type


def test_query_strings_are_stripped_from_access_log_records():
    record = logging.LogRecord("werkzeug", logging.INFO, __file__, 1, '%s - "%s" %s',
                               ("127.0.0.1", "GET /psc/callback?code=SECRET&state=S HTTP/1.1", 302), None)
    StripQueryStrings().filter(record)
    assert "SECRET" not in record.getMessage() and "/psc/callback HTTP/1.1" in record.getMessage()
    styled = logging.LogRecord("werkzeug", logging.INFO, __file__, 1, '"%s" %s',
                               ("\x1b[32mGET /logout?id_token_hint=eyJ.x.y HTTP/1.1\x1b[0m", 302), None)
    StripQueryStrings().filter(styled)
    assert "eyJ" not in styled.getMessage()


def test_compose_file_runs_the_image_entrypoint_with_redis_aof_and_a_demo_emulator():
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'CMD ["bridge", "serve"]' in dockerfile and "/healthz" in dockerfile and "USER bridge" in dockerfile
    for name in ("bridge-1", "bridge-2"):
        bridge = services[name]
        assert bridge["command"] == ["bridge", "serve"]
        assert bridge["environment"]["BRIDGE_STORE_URL"].startswith("redis://redis:")
        assert "/healthz" in bridge["healthcheck"]["test"][-1]
        assert "keys:/keys:ro" in bridge["volumes"]  # every instance signs with the same keys
    assert services["sweeper"]["command"] == ["bridge", "sweeper"]
    assert "--appendonly yes" in " ".join(services["redis"]["command"])
    assert services["psc"]["profiles"] == ["demo"] and "bridge.sandbox.psc" in " ".join(services["psc"]["command"])
    assert "profiles" not in services["bridge-1"]
    nginx = (ROOT / "deploy/nginx.conf").read_text()
    assert "server bridge-1:8000" in nginx and "server bridge-2:8000" in nginx
    assert '$uri' in nginx and "$request " not in nginx  # access log without query strings
    assert 'proxy_set_header X-SSL-Client-Cert ""' in nginx  # a client cannot forge the cps-tls header


def test_gunicorn_builds_no_access_line_the_application_logs_each_request_itself():
    """With a logging configuration, gunicorn's stock logger computes every access line even though no handler
    writes it; the bridge's logger does not look at the response at all."""
    from gunicorn.config import Config
    from gunicorn.glogging import Logger

    from bridge.gunicorn_logger import NoAccessLog

    class Untouchable:
        def __getattr__(self, name):
            raise AssertionError(f"the access log read {name}")

    cfg = Config()
    cfg.set("logconfig_dict", {"version": 1, "disable_existing_loggers": False})
    assert Logger(cfg).access_log_enabled  # why the subclass exists
    logger = NoAccessLog(cfg)
    assert not logger.access_log_enabled
    logger.access(Untouchable(), Untouchable(), Untouchable(), Untouchable())


def test_the_bridge_command_does_not_need_gunicorn():
    """The card agent (`bridge card-agent`) runs on Windows workstations, where gunicorn cannot be imported."""
    import subprocess
    import sys

    code = "import sys, bridge.cli; assert 'gunicorn' not in sys.modules, 'bridge.cli imported gunicorn'"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.parametrize("unit", ["psc-bridge.service", "psc-bridge-sweeper.service"])
def test_systemd_units_verify_and_run_the_bridge_commands(unit, tmp_path):
    """deploy/systemd: `systemd-analyze verify` (syntax, known keys, executables) with the paths of this checkout;
    the bridge unit reloads with SIGHUP (policies) and gives requests in flight time to finish."""
    import configparser
    import shutil
    import subprocess
    import sys

    if shutil.which("systemd-analyze") is None:
        from tests.support.pcsc import _missing

        _missing("systemd-analyze is not installed")
    text = (ROOT / "deploy" / "systemd" / unit).read_text()
    local = (text.replace("/opt/psc-bridge/.venv/bin/bridge", str(Path(sys.executable).with_name("bridge")))
             .replace("/etc/psc-bridge/bridge.env", str(ROOT / "deploy" / "production.env.example"))
             .replace("/opt/psc-bridge", str(ROOT)))
    (tmp_path / unit).write_text(local)
    result = subprocess.run(["systemd-analyze", "verify", str(tmp_path / unit)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr
    service = configparser.ConfigParser(interpolation=None, strict=False)
    service.read_string(text)
    command = service["Service"]["ExecStart"].split()[1:]
    assert command == (["serve"] if unit == "psc-bridge.service" else ["sweeper"])
    if unit == "psc-bridge.service":
        assert service["Service"]["ExecReload"] == "/bin/kill -HUP $MAINPID"
        assert int(service["Service"]["TimeoutStopSec"]) > serving_settings({})["graceful_timeout"]
        assert service["Service"]["RestartPreventExitStatus"] == "2"   # configuration errors exit 2
