"""The application factory: `create_app(settings)` builds the bridge (bridge.core) and its Flask application.

`app.py` (beside the package: gunicorn's `app:create_app()`, `python app.py`) re-exports it; code inside the
package imports it from here, without editing sys.path."""
from __future__ import annotations

from pathlib import Path

from flask import Flask

from bridge import logs
from bridge.audit import audit_policy_refused
from bridge.clock import Clock
from bridge.config import Settings, load_settings
from bridge.core import build_bridge
from bridge.policy import PolicyError
from bridge.provider.server import build_server
from bridge.store import Store
from bridge.sweeper import Sweeper
from bridge.web import (
    admin,
    consent,
    cps,
    device,
    errors,
    i18n,
    limits,
    login,
    logout,
    observability,
    oidc,
    removal,
    security,
    switch,
    workstation,
)
from bridge.web.admin_backup import bp as admin_backup
from bridge.web.admin_cards import bp as admin_cards
from bridge.web.admin_fido import bp as admin_fido
from bridge.web.backup import bp as backup
from bridge.web.envelope import Envelope
from bridge.web.fido import bp as fido_login
from bridge.web.means import bp as means
from bridge.web.psc_logout import bp as psc_logout
from bridge.web.psc_proxy import bp as psc_proxy

ROOT = Path(__file__).resolve().parents[2]


def create_app(settings: Settings | None = None, *, clock: Clock | None = None, store: Store | None = None) -> Flask:
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
    app.extensions["oauth_server"] = build_server(app, bridge)
    register(app)
    if settings.sweep_interval > 0:
        app.extensions["sweeper"] = Sweeper(bridge, settings.sweep_interval).start()
    return app


def register(app: Flask) -> None:
    production = app.extensions["bridge"].settings.production
    app.wsgi_app = Envelope(app.wsgi_app, production=production)  # request id, headers, request log, metrics
    security.install(app)
    i18n.install(app, secure=production)
    errors.install(app)
    observability.install(app)  # /metrics, /healthz, /readyz
    for blueprint in (oidc.bp, login.bp, consent.bp, logout.bp, cps.bp, removal.bp, switch.bp, workstation.bp, admin.bp,
                      admin_cards, device.bp):
        app.register_blueprint(blueprint)
    for blueprint in (backup, admin_backup):   # the backup means (RIE-PS 16): login page, console page
        app.register_blueprint(blueprint)
    app.register_blueprint(psc_logout)   # PSC's back-channel logout to the bridge (issue 17 item 5)
    app.register_blueprint(psc_proxy)   # Proxy e-Santé mode (optional, BRIDGE_PSC_CLIENT_CERT)
    for blueprint in (fido_login, means, admin_fido):   # passkeys (local-fido): login, /me/means, console
        app.register_blueprint(blueprint)
    limits.install(app)  # wraps the registered /authorize and /token views
