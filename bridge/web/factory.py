"""The application factory: `create_app(settings)` builds the bridge (bridge.core) and its Flask application.

`app.py` (beside the package: gunicorn's `app:create_app()`, `python app.py`) re-exports it; code inside the
package imports it from here, without editing sys.path."""
from __future__ import annotations

from pathlib import Path

from flask import Flask

from bridge.audit import audit_policy_refused
from bridge.clock import Clock
from bridge.config import Settings, load_settings
from bridge.core import build_bridge
from bridge.policy import PolicyError
from bridge.store import Store

ROOT = Path(__file__).resolve().parents[2]


def create_app(settings: Settings | None = None, *, clock: Clock | None = None, store: Store | None = None) -> Flask:
    from bridge import logs, web
    from bridge.provider.server import build_server

    settings = settings or load_settings()
    logs.configure(settings.log_level)
    try:
        bridge = build_bridge(settings, clock=clock, store=store)
    except PolicyError as exc:
        audit_policy_refused(settings, exc)  # start-up is refused; the error is printed
        raise
    app = Flask("bridge", template_folder=str(ROOT / "templates"), static_folder=str(ROOT / "bridge/web/static"))
    app.config.update(SECRET_KEY=settings.secret_key, SESSION_COOKIE_SECURE=settings.production,
                      SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      PREFERRED_URL_SCHEME="https" if settings.production else "http",
                      # Bodies are small forms (token, introspection, PIN proofs): larger ones get 413.
                      MAX_CONTENT_LENGTH=settings.max_body_bytes)
    app.extensions["bridge"] = bridge
    bridge.server, bridge.protector = build_server(app, bridge)
    web.register(app)
    if settings.sweep_interval > 0:
        _start_sweeper(bridge, settings.sweep_interval)
    return app


def _start_sweeper(bridge, interval: float) -> None:
    """In-process sweeper; the store lock keeps it to one at a time across processes and hosts."""
    import threading

    from bridge.logs import log
    from bridge.provider.cli import sweep_once
    from bridge.store import StoreUnavailable

    def loop() -> None:
        while not stop.wait(interval):
            try:
                sweep_once(bridge, lock_ttl=max(2, int(interval * 2)))
            except StoreUnavailable:
                log.warning("sweeper_store_unavailable")
            except Exception:  # the sweeper must never die silently
                log.exception("sweeper_error")

    stop = threading.Event()
    bridge.extra["sweeper_stop"] = stop
    threading.Thread(target=loop, name="sweeper", daemon=True).start()
