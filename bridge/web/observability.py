"""Request log, HTTP metrics and the /metrics endpoint; installs the health probes too.

One JSON log line per request (event ``request``): request id, method, path *without* its query string (codes,
states and ``id_token_hint`` travel there), endpoint, status, duration, response size and peer address.
"""
from __future__ import annotations

import hmac
import time

from flask import Blueprint, Flask, Response, g, request

from bridge import metrics
from bridge.logs import bind_request, log, unbind_request

bp = Blueprint("observability", __name__)
UNMATCHED = "<unmatched>"


@bp.route("/metrics", methods=["GET"])
def metrics_endpoint():
    from bridge.web import bridge

    token = bridge().settings.metrics_token
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            return Response("unauthorized\n", status=401, mimetype="text/plain",
                            headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    cps = bridge().cps
    extra = (metrics.CrlCollector(cps.trust, cps.clock.now),) if cps else ()
    body, content_type = metrics.exposition(request.headers.get("Accept"), extra)
    return Response(body, status=200, headers={"Content-Type": content_type, "Cache-Control": "no-store"})


def _endpoint() -> str:
    rule = request.url_rule
    return rule.rule if rule is not None else UNMATCHED


def install(app: Flask) -> None:
    """Call after security.install (the request id is chosen there)."""
    from bridge.web import health

    app.register_blueprint(health.bp)
    app.register_blueprint(bp)
    metrics.APP_STARTS.inc()

    @app.before_request
    def start_timer() -> None:
        g.request_started = time.perf_counter()
        bind_request(g.get("request_id", ""))

    @app.after_request
    def record(response):
        started = g.pop("request_started", None)
        elapsed = time.perf_counter() - started if started is not None else 0.0
        endpoint = _endpoint()
        metrics.http_request(endpoint, request.method, response.status_code, elapsed)
        log.info("request", method=request.method, path=request.path, endpoint=endpoint,
                 status=response.status_code, duration_ms=round(elapsed * 1000, 2),
                 bytes=response.calculate_content_length(), remote_addr=request.remote_addr)
        return response

    @app.teardown_request
    def clear_context(exc=None) -> None:
        unbind_request()
