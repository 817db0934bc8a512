"""HTTP layer: blueprints only; the logic they call is plain Python elsewhere in bridge/."""
from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from bridge.web import admin, cps, errors, i18n, limits, login, logout, observability, oidc, security
    from bridge.web.envelope import Envelope

    production = app.extensions["bridge"].settings.production
    app.wsgi_app = Envelope(app.wsgi_app, production=production)  # request id, headers, request log, metrics
    security.install(app)
    i18n.install(app, secure=production)
    errors.install(app)
    observability.install(app)  # /metrics, /healthz, /readyz
    for blueprint in (oidc.bp, login.bp, logout.bp, cps.bp, admin.bp):
        app.register_blueprint(blueprint)
    limits.install(app)  # wraps the registered /authorize and /token views
