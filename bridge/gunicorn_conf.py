"""gunicorn configuration of `bridge serve` (loaded by the master as `--config python:bridge.gunicorn_conf`).

Values come from the environment (see bridge/serve.py for the table). Design choices:

- gthread workers: the bridge waits on Redis and on PSC; threads overlap those waits at little memory cost.
- the worker heartbeat file lives in /dev/shm (a disk-backed /tmp can stall workers on fchmod, notably in
  containers);
- no gunicorn access log: the application writes one JSON line per request without query strings (codes,
  states and id_token_hint travel there); gunicorn's own lines are JSON too (bridge.logs.json_formatter).
  With a logging configuration gunicorn builds every access line even when no handler writes it (10 % of a
  token request's CPU): NoAccessLog switches that off;
- Prometheus multi-process mode: PROMETHEUS_MULTIPROC_DIR is set here, in the master, before any worker imports
  prometheus_client; the directory is emptied at start and a dead worker's live gauges are removed;
- no control socket: gunicorn's default socket is one per user ($HOME/.gunicorn), shared by every instance;
- the application is imported in each worker (no preload): a worker crash or restart reloads it cleanly, with
  the policy set validated at start or at the last reload (bridge.policy.active), never a file being edited;
- SIGHUP (gunicorn's graceful reload) re-reads BRIDGE_POLICIES_DIR: valid files become the active set for the
  new workers; invalid ones are refused with every error logged and audited, and the bridge goes on with the
  previous set.
"""
from __future__ import annotations

import glob
import os
import shutil
import tempfile

from bridge.config import variable
from bridge.gunicorn_logger import NoAccessLog
from bridge.serve import ROOT, serving_settings

_settings = serving_settings()
_level = variable("BRIDGE_LOG_LEVEL", "INFO").upper()
if _level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
    _level = "INFO"  # the application's own check names the variable

# -- metrics: one directory shared by the workers of this master ------------------------------------------------
# PROMETHEUS_MULTIPROC_DIR is prometheus-client's own variable (not a bridge setting): read and set here directly.
_metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
_owns_metrics_dir = not _metrics_dir
if _owns_metrics_dir:
    _metrics_dir = tempfile.mkdtemp(prefix="bridge-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir
os.makedirs(_metrics_dir, exist_ok=True)

# -- server socket and workers ----------------------------------------------------------------------------------
bind = _settings["bind"]
backlog = 2048
worker_class = "gthread"
workers = _settings["workers"]
threads = _settings["threads"]
timeout = _settings["timeout"]
graceful_timeout = _settings["graceful_timeout"]
keepalive = _settings["keepalive"]
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
pythonpath = str(ROOT)          # `app:create_app()` imports from the directory of app.py, whatever the cwd
preload_app = False
control_socket_disable = True
proc_name = "psc-bridge"
# Request size limits, checked by gunicorn before the application sees anything (answer 400 and close):
# long authorize URLs (PKCE, claims, login_hint) and logout URLs with an id_token_hint fit in 8 KiB; one header
# field up to 16 KiB (the reverse proxy's URL-encoded client certificate header, cps-tls); at most 64 fields.
# Bodies are limited by the application (BRIDGE_MAX_BODY_BYTES -> 413).
limit_request_line = 8190
limit_request_fields = 64
limit_request_field_size = 16384
# X-Forwarded-* are believed only from the reverse proxies the bridge trusts (same list as cps-tls).
forwarded_allow_ips = variable("BRIDGE_TRUSTED_PROXIES") or "127.0.0.1,::1"

# -- logs: JSON on stderr -------------------------------------------------------------------------------------------
logger_class = NoAccessLog
accesslog = None
errorlog = "-"
loglevel = _level.lower()
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "root": {"level": _level, "handlers": ["json"]},
    "loggers": {
        "gunicorn.error": {"level": _level, "handlers": [], "propagate": True, "qualname": "gunicorn.error"},
        "gunicorn.access": {"level": "INFO", "handlers": [], "propagate": False, "qualname": "gunicorn.access"},
        # Authlib logs issued tokens at DEBUG: never below INFO (bridge.logs.QUIET_LOGGERS).
        "authlib": {"level": "INFO" if _level == "DEBUG" else _level, "handlers": [], "propagate": True},
    },
    "filters": {"no_query": {"()": "bridge.logs.StripQueryStrings"}},
    "handlers": {"json": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["no_query"],
                          "stream": "ext://sys.stderr"}},
    "formatters": {"json": {"()": "bridge.logs.json_formatter"}},
}


# -- hooks ----------------------------------------------------------------------------------------------------
def on_starting(server) -> None:
    # Values of a previous run would be added to this one's.
    for path in glob.glob(os.path.join(_metrics_dir, "*.db")):
        os.remove(path)
    server.log.info("starting bridge: %s workers x %s threads on %s (metrics in %s)",
                    workers, threads, ",".join(bind), _metrics_dir)


def child_exit(server, worker) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, path=_metrics_dir)


def worker_abort(worker) -> None:
    worker.log.warning("worker %s aborted (timeout): a request took longer than %ss", worker.pid, timeout)


def on_reload(server) -> None:
    """SIGHUP: make the policy files the active set if they validate (bridge.policy.active). Never raises: an
    exception here would stop the gunicorn master, and a reload must never stop the bridge."""
    from pathlib import Path

    from bridge.audit import audit_policy_refused
    from bridge.config import load_settings
    from bridge.policy import PolicyError
    from bridge.policy.active import ACTIVE_ENV, activate

    active = variable(ACTIVE_ENV)
    if not active:
        return
    try:
        settings = load_settings()
        activate(settings.policies_dir, Path(active).parent, dev=not settings.production)
    except PolicyError as exc:
        for line in exc.errors:
            server.log.error("policy refused on reload, the workers keep the previous policies: %s", line)
        audit_policy_refused(settings, exc)
    except Exception:
        server.log.exception("policy reload failed, the workers keep the previous policies")
    else:
        server.log.info("policies reloaded from %s", settings.policies_dir)


def on_exit(server) -> None:
    if _owns_metrics_dir:
        shutil.rmtree(_metrics_dir, ignore_errors=True)
    active = variable("BRIDGE_POLICIES_ACTIVE_DIR")
    if active:   # the copies made by `bridge serve` and reloads
        shutil.rmtree(os.path.dirname(active), ignore_errors=True)
    server.log.info("bridge stopped")
