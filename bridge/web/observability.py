"""The /metrics endpoint; installs the health probes too (the request log and HTTP metrics:
bridge.web.envelope)."""
from __future__ import annotations

import hmac

from flask import Blueprint, Flask, Response, request

from bridge import metrics
from bridge.web.context import bridge
from bridge.web.health import bp as health_bp

bp = Blueprint("observability", __name__)


@bp.route("/metrics", methods=["GET"])
def metrics_endpoint():
    token = bridge().settings.metrics_token
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            return Response("unauthorized\n", status=401, mimetype="text/plain",
                            headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    b = bridge()
    cps = b.cps
    extra = ((metrics.CrlCollector(cps.trust, cps.clock.now),) if cps else ()) + (
        metrics.CertExpiryCollector(b.settings, b.clock.now),)
    body, content_type = metrics.exposition(request.headers.get("Accept"), extra)
    return Response(body, status=200, headers={"Content-Type": content_type, "Cache-Control": "no-store"})


def install(app: Flask) -> None:
    app.register_blueprint(health_bp)
    app.register_blueprint(bp)
    metrics.APP_STARTS.inc()
