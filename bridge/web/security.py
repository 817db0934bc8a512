"""Request checks and cookie settings shared by every page (security headers and request ids:
bridge.web.envelope)."""
from __future__ import annotations

import re
import secrets

from flask import Flask, request
from flask.sessions import SessionInterface
from werkzeug.exceptions import RequestEntityTooLarge

from bridge.transactions import BROWSER_COOKIE

CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class NoCookieSession(SessionInterface):
    """The bridge keeps its sessions in the store (bridge.sessions), never in Flask's signed cookie session:
    nothing is opened on each request, and code that writes to `flask.session` fails instead of leaking state
    into a cookie."""

    def open_session(self, app, request):
        return self.make_null_session(app)

    def save_session(self, app, session, response) -> None:
        return None


def install(app: Flask) -> None:
    app.session_interface = NoCookieSession()

    @app.before_request
    def refuse_control_characters():
        """No OAuth or form parameter legitimately holds control characters; refusing them up front also keeps
        them out of error descriptions (Authlib raises on those) and out of the logs."""
        try:
            values = list(request.args.values()) + (list(request.form.values()) if request.method == "POST" else [])
        except RequestEntityTooLarge:
            raise  # 413 (bridge.web.errors), not a 400
        except Exception:  # an unreadable body is a bad request, never a 500
            values = ["\x00"]
        if any(CONTROL.search(value) for value in values):
            from bridge.web.errors import bad_request

            return bad_request("parameters must not contain control characters")


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
