"""Security headers, request ids and cookie settings shared by every page."""
from __future__ import annotations

import re
import secrets

from flask import Flask, g, request

from bridge.transactions import BROWSER_COOKIE

REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def install(app: Flask) -> None:
    @app.before_request
    def request_id() -> None:
        incoming = request.headers.get("X-Request-Id", "")
        g.request_id = incoming if REQUEST_ID.match(incoming) else secrets.token_hex(8)

    @app.after_request
    def headers(response):
        response.headers["X-Request-Id"] = g.get("request_id", "")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        # Codes and states travel in URLs: never leak them through Referer.
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("Content-Security-Policy",
                                    "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                                    "frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
        response.headers.setdefault("Cache-Control", "no-store")
        if app.extensions["bridge"].settings.production:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response


def cookie_args(max_age: int | None = None) -> dict:
    from bridge.web import bridge

    return {"httponly": True, "samesite": "Lax", "secure": bridge().settings.production, "path": "/",
            "max_age": max_age}


def browser_secret() -> tuple[str, bool]:
    """The browser-binding cookie value; (value, is_new)."""
    value = request.cookies.get(BROWSER_COOKIE, "")
    if len(value) >= 32:
        return value, False
    return secrets.token_urlsafe(32), True
