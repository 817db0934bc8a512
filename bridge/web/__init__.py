"""HTTP layer: blueprints only; the logic they call is plain Python elsewhere in bridge/."""
from __future__ import annotations

from flask import Flask, current_app


def bridge():
    return current_app.extensions["bridge"]


def register(app: Flask) -> None:
    from bridge.web import admin, cps, errors, i18n, limits, login, logout, observability, oidc, security

    security.install(app)
    i18n.install(app, secure=app.extensions["bridge"].settings.production)
    errors.install(app)
    observability.install(app)  # request log, HTTP metrics, /metrics, /healthz, /readyz
    for blueprint in (oidc.bp, login.bp, logout.bp, cps.bp, admin.bp):
        app.register_blueprint(blueprint)
    limits.install(app)  # wraps the registered /authorize and /token views
