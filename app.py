"""PSC Bridge web application. `python app.py` runs the development server on embedded defaults."""
from __future__ import annotations

import sys
from pathlib import Path

from flask import Flask

from bridge.audit import audit_policy_refused
from bridge.clock import Clock
from bridge.config import ConfigError, Settings, load_settings
from bridge.core import build_bridge
from bridge.policy import PolicyError
from bridge.store import Store

ROOT = Path(__file__).resolve().parent


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


def _development_card_trust() -> None:
    """`python app.py` on embedded defaults: the shipped teleservice allows cps-pin, so trust the test PKI
    (var/testpki, as `make demo` and `bridge sandbox card`). Never in production."""
    import os

    if os.environ.get("BRIDGE_ENV", "development") != "development" or os.environ.get("BRIDGE_TRUST_DIR"):
        return
    from bridge.demo import PKI_SEED, trust_env
    from bridge.sandbox.testpki import TestPki

    for name, value in trust_env(TestPki(PKI_SEED, ROOT / "var/testpki")).items():
        os.environ.setdefault(name, value)


def main() -> int:
    _development_card_trust()
    try:
        app = create_app()
    except (ConfigError, PolicyError) as exc:
        print(f"bridge: configuration error: {exc}", file=sys.stderr)
        return 2
    settings = app.extensions["bridge"].settings
    host, port = "127.0.0.1", int(settings.public_url.rsplit(":", 1)[-1].split("/")[0] or 8000)
    app.run(host=host, port=port, threaded=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
