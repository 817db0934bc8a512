"""Request checks and cookie settings shared by every page (security headers and request ids:
bridge.web.envelope)."""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from flask import Flask, Request, Response, request
from flask.sessions import SessionInterface
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.http import parse_cookie
from werkzeug.utils import cached_property

from bridge.login.transactions import BROWSER_COOKIE
from bridge.sessions import COOKIE
from bridge.web.admin_auth import CONSOLE_COOKIE
from bridge.web.context import bridge
from bridge.web.errors import bad_request
from bridge.web.i18n import LANG_COOKIE

CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class NoCookieSession(SessionInterface):
    """The bridge keeps its sessions in the store (bridge.sessions), never in Flask's signed cookie session:
    nothing is opened on each request, and code that writes to `flask.session` fails instead of leaking state
    into a cookie."""

    def open_session(self, app, request):
        return self.make_null_session(app)

    def save_session(self, app, session, response) -> None:
        return None


HOST_PREFIX = "__Host-"


SHARED_COOKIE = "bridge_shared"   # the shared-workstation mark of a browser (bridge/web/workstation.py)


def host_cookies() -> frozenset[str]:
    """The bridge's own cookies (logical names): `__Host-` prefixed on the wire in production."""
    return frozenset((COOKIE, BROWSER_COOKIE, LANG_COOKIE, CONSOLE_COOKIE, SHARED_COOKIE))


def cookie_name(name: str, settings) -> str:
    """Wire name of one of the bridge's cookies: `__Host-<name>` in production, `<name>` in development (http:
    browsers refuse a __Host- cookie without Secure)."""
    return HOST_PREFIX + name if settings.production and name in host_cookies() else name


class HostCookieRequest(Request):
    """Production: `request.cookies[<logical name>]` reads `__Host-<name>`; a plain `<name>` cookie (which a
    sibling subdomain or an http page could have planted) is ignored."""

    @cached_property
    def cookies(self) -> ImmutableMultiDict:
        names = host_cookies()
        raw = parse_cookie(";".join(self.headers.getlist("Cookie")), cls=self.dict_storage_class)
        items = []
        for key, value in raw.items(multi=True):
            if key.startswith(HOST_PREFIX) and key[len(HOST_PREFIX):] in names:
                items.append((key[len(HOST_PREFIX):], value))
            elif key not in names:
                items.append((key, value))
        return ImmutableMultiDict(items)


class HostCookieResponse(Response):
    """Production: setting or deleting one of the bridge's cookies writes `__Host-<name>`, Secure, Path=/, no
    Domain (the console's Path=/admin included: the prefix demands /)."""

    def set_cookie(self, key: str, value: str = "", **kwargs) -> None:
        if key in host_cookies():
            key = HOST_PREFIX + key
            kwargs.update(secure=True, path="/", domain=None)
        super().set_cookie(key, value, **kwargs)


def install(app: Flask) -> None:
    app.session_interface = NoCookieSession()
    if app.extensions["bridge"].settings.production:
        app.request_class = HostCookieRequest
        app.response_class = HostCookieResponse

    @app.before_request
    def refuse_control_characters():
        """No OAuth or form parameter legitimately holds control characters; refusing them up front also keeps
        them out of error descriptions (Authlib raises on those) and out of the logs."""
        try:
            # every value of a repeated parameter (MultiDict.values() gives only the first of each)
            values = [v for vs in request.args.listvalues() for v in vs] + \
                ([v for vs in request.form.listvalues() for v in vs] if request.method == "POST" else [])
        except RequestEntityTooLarge:
            raise  # 413 (bridge.web.errors), not a 400
        except Exception:  # an unreadable body is a bad request, never a 500
            values = ["\x00"]
        if any(CONTROL.search(value) for value in values):
            return bad_request("parameters must not contain control characters")


def cookie_args(max_age: int | None = None) -> dict:
    """Set-cookie options of the bridge's cookies; in production their names get `__Host-` (HostCookieResponse),
    which needs exactly these: Secure, Path=/, no Domain."""
    return {"httponly": True, "samesite": "Lax", "secure": bridge().settings.production, "path": "/",
            "max_age": max_age}


def browser_secret() -> tuple[str, bool]:
    """The browser-binding cookie value; (value, is_new)."""
    value = request.cookies.get(BROWSER_COOKIE, "")
    if len(value) >= 32:
        return value, False
    return secrets.token_urlsafe(32), True


def form_token(purpose: str, browser: str) -> str:
    """CSRF token of a bridge form that no login transaction carries (logout, user switch): an HMAC of the
    browser-binding cookie, so a token read in one browser is worth nothing in another."""
    key = bridge().settings.secret_key.encode()
    return hmac.new(key, f"{purpose}|{browser}".encode(), hashlib.sha256).hexdigest()


def form_token_ok(purpose: str, browser: str, token) -> bool:
    return isinstance(token, str) and hmac.compare_digest(token.encode(), form_token(purpose, browser).encode())
