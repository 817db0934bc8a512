"""`bridge serve`: the production HTTP server — gunicorn (gthread workers) configured by bridge/gunicorn_conf.py.

The command checks the configuration first (a wrong value stops it with one line naming the variable, exit 2),
prepares what every worker must share (signing keys in development), then *replaces itself* with the gunicorn
master (exec): in a container the master is PID 1 and receives SIGTERM directly, which makes it stop accepting
connections, let the workers finish the requests in flight (up to BRIDGE_GRACEFUL_TIMEOUT) and exit 0.

Serving settings (environment; `bridge serve --bind/--workers/--threads` set the same variables):

======================== ============================ =======================================================
variable                 default                      meaning
======================== ============================ =======================================================
BRIDGE_BIND              0.0.0.0:8000                 address(es) to listen on, comma-separated
BRIDGE_WORKERS           2 × CPUs (at least 2)        worker processes (CPUs as allowed by affinity/cgroup)
BRIDGE_THREADS           4                            threads per worker (requests handled concurrently)
BRIDGE_GRACEFUL_TIMEOUT  30                           seconds given to requests in flight on SIGTERM
BRIDGE_WORKER_TIMEOUT    30                           a worker silent this long is killed and replaced
BRIDGE_KEEPALIVE         5                            seconds an idle keep-alive connection stays open
PROMETHEUS_MULTIPROC_DIR a fresh temporary directory  where workers write their metrics (emptied at start)
======================== ============================ =======================================================
"""
from __future__ import annotations

import contextlib
import io
import math
import os
import sys
from pathlib import Path

import click

from bridge.config import ConfigError, bounded_int, environment, error_line, set_variable

ROOT = Path(__file__).resolve().parent.parent   # the directory of app.py (the checkout, or /app in the image)
DEFAULT_APP = "app:create_app()"
CONFIG_MODULE = "python:bridge.gunicorn_conf"
DEFAULT_BIND = "0.0.0.0:8000"
DEFAULT_THREADS = 4


def cpu_count() -> int:
    """CPUs this process may use: scheduler affinity, then a cgroup v2 quota (containers) when lower."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            cpus = min(cpus, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, cpus)


def _int(environ, name: str, default: int, low: int, high: int) -> int:
    raw = environ.get(name, "").strip()
    return bounded_int(name, raw, low, high) if raw else default


def serving_settings(environ=None) -> dict:
    """The gunicorn settings taken from the environment, validated (ConfigError names the variable)."""
    env = environment(environ)
    binds = [item.strip() for item in env.get("BRIDGE_BIND", DEFAULT_BIND).split(",") if item.strip()]
    for item in binds:
        host, sep, port = item.rpartition(":")
        if not item.startswith("unix:") and (not sep or not port.isdigit() or not 0 < int(port) < 65536):
            raise ConfigError(f"BRIDGE_BIND: {item!r} must be HOST:PORT or unix:PATH")
    if not binds:
        raise ConfigError("BRIDGE_BIND: empty")
    return {
        "bind": binds,
        "workers": _int(env, "BRIDGE_WORKERS", max(2, 2 * cpu_count()), 1, 256),
        "threads": _int(env, "BRIDGE_THREADS", DEFAULT_THREADS, 1, 256),
        "graceful_timeout": _int(env, "BRIDGE_GRACEFUL_TIMEOUT", 30, 1, 3600),
        "timeout": _int(env, "BRIDGE_WORKER_TIMEOUT", 30, 0, 3600),
        "keepalive": _int(env, "BRIDGE_KEEPALIVE", 5, 0, 600),
    }


def gunicorn_argv(app_spec: str = DEFAULT_APP) -> list[str]:
    """The command `bridge serve` execs (the benchmark uses it too, so both run the same configuration)."""
    return [sys.executable, "-m", "gunicorn", "--config", CONFIG_MODULE, app_spec]


def preflight(workers: int, app_spec: str = DEFAULT_APP) -> None:
    """Fail fast, once, before forking: settings, policies, keys, then the whole application as a worker builds
    it; and create the development keys here so that the workers do not each generate a different one. The
    validated policies are copied for the workers (bridge.policy.active): later edits apply on reload (SIGHUP)
    only, and only if they validate."""
    import tempfile

    from bridge.config import load_settings
    from bridge.policy.active import ACTIVE_ENV, activate
    from bridge.provider.keys import KeyRing

    settings = load_settings()
    if settings.store_url.startswith("memory:") and workers > 1:
        raise ConfigError(f"BRIDGE_STORE_URL: memory:// lives in one process and bridge serve runs {workers} "
                          "workers; use redis:// (or BRIDGE_WORKERS=1 for a trial)")
    root = Path(tempfile.mkdtemp(prefix="bridge-policies-"))
    activate(settings.policies_dir, root, dev=not settings.production)
    set_variable(ACTIVE_ENV, str(root / "active"))
    try:
        KeyRing(settings.keys_dir, create=not settings.production)
    except FileNotFoundError as exc:
        raise ConfigError(f"BRIDGE_KEYS_DIR: {exc}") from None
    if app_spec == DEFAULT_APP:
        build_like_a_worker()


def build_like_a_worker() -> None:
    """Build the application once, here, as each worker will (`app:create_app()` on the active policies): an
    error only a worker would meet (e.g. a service allowing cps-pin without BRIDGE_TRUST_DIR) stops `bridge
    serve` with one line and exit 2, where a worker failing to boot makes gunicorn exit 3 and systemd restart
    it forever. Nothing built here survives: the process is then replaced by gunicorn (exec)."""
    from bridge.audit.chain import AuditUnavailable
    from bridge.config import load_settings

    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from app import create_app

    settings = load_settings()      # now with BRIDGE_POLICIES_ACTIVE_DIR, as the workers see it
    try:
        with contextlib.redirect_stderr(io.StringIO()):   # the workers log their own warnings
            create_app(settings)
    except AuditUnavailable as exc:  # a required audit that cannot be written
        name = "BRIDGE_AUDIT_PATH" if settings.audit_path is not None else "BRIDGE_AUDIT_STREAM"
        raise ConfigError(f"{name}: {exc}") from None


@click.command("serve", help="Run the bridge under gunicorn (production server). Stops gracefully on SIGTERM.")
@click.option("--bind", help="HOST:PORT to listen on (sets BRIDGE_BIND; default 0.0.0.0:8000).")
@click.option("--workers", type=int, help="worker processes (sets BRIDGE_WORKERS; default 2 × CPUs).")
@click.option("--threads", type=int, help="threads per worker (sets BRIDGE_THREADS; default 4).")
@click.option("--app", "app_spec", default=DEFAULT_APP, show_default=True, hidden=True,
              help="WSGI application (the benchmark serves a bare Flask app with the same configuration).")
@click.option("--check/--no-check", default=True, help="check the bridge configuration before starting.")
def serve(bind, workers, threads, app_spec, check) -> None:
    from bridge.policy import PolicyError

    for name, value in (("BRIDGE_BIND", bind), ("BRIDGE_WORKERS", workers), ("BRIDGE_THREADS", threads)):
        if value is not None:
            set_variable(name, str(value))
    try:
        settings = serving_settings()
        if check:
            preflight(settings["workers"], app_spec)
    except (ConfigError, PolicyError) as exc:
        click.echo(error_line(exc), err=True)
        sys.exit(2)
    argv = gunicorn_argv(app_spec)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(argv[0], argv)
