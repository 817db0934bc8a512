"""What every request gets, done once around the Flask app: a request id, the security headers, the HTTP metrics
and one JSON log line (event ``request``).

A WSGI middleware rather than Flask hooks: on the token paths the same work through hooks, request proxies and
werkzeug's header objects cost a quarter of the bridge's CPU (docs/performance.md). It also covers every response,
error pages included. The log line has the path *without* its query string (codes, states and ``id_token_hint``
travel there), the route (never the raw path, so metrics labels stay bounded), status, duration, size and peer.
"""
from __future__ import annotations

import re
import secrets
import time

from bridge import metrics
from bridge.logs import bind_request, log, unbind_request

REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
UNMATCHED = "<unmatched>"
SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),  # codes and states travel in URLs: never leak them through Referer
    ("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'; object-src 'none'"),
    ("Cache-Control", "no-store"),
)
HSTS = (("Strict-Transport-Security", "max-age=31536000; includeSubDomains"),)


class Envelope:
    def __init__(self, wsgi_app, *, production: bool):
        self.wsgi_app = wsgi_app
        # (lower-case name, header): a page that sets its own CSP or cache policy keeps it.
        self.defaults = tuple((name.lower(), (name, value)) for name, value in SECURITY_HEADERS
                              + (HSTS if production else ()))

    def __call__(self, environ, start_response):
        incoming = environ.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if REQUEST_ID.match(incoming) else secrets.token_hex(8)
        bind_request(request_id)  # on every log line of this request, and read back by current_request_id()
        started = time.perf_counter()

        def start(status: str, headers: list, exc_info=None):
            present = {name.lower() for name, _ in headers}
            headers.extend(header for lower, header in self.defaults if lower not in present)
            headers.append(("X-Request-Id", request_id))
            self._record(environ, status, headers, time.perf_counter() - started)
            return start_response(status, headers, exc_info)

        try:
            return self.wsgi_app(environ, start)
        finally:
            unbind_request()

    @staticmethod
    def _record(environ, status: str, headers: list, elapsed: float) -> None:
        # Called by the Flask response, before its request context ends: the matched route is still there.
        request = environ.get("werkzeug.request")
        rule = getattr(request, "url_rule", None)
        endpoint = rule.rule if rule is not None else UNMATCHED
        method, code = environ.get("REQUEST_METHOD", ""), int(status[:3])
        metrics.http_request(endpoint, method, code, elapsed)
        size = next((value for name, value in headers if name.lower() == "content-length"), None)
        log.info("request", method=method, path=_path(environ), endpoint=endpoint, status=code,
                 duration_ms=round(elapsed * 1000, 2), bytes=int(size) if size is not None else None,
                 remote_addr=environ.get("REMOTE_ADDR"))


def _path(environ) -> str:
    """The path as werkzeug's request.path gives it (WSGI hands PATH_INFO over as latin-1)."""
    return "/" + environ.get("PATH_INFO", "").encode("latin-1", "replace").decode("utf-8", "replace").lstrip("/")
