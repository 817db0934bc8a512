"""Probes for orchestrators and load balancers.

``/healthz`` (liveness): the process answers HTTP. No dependency is consulted, so a Redis or PSC outage never
makes an orchestrator restart healthy processes.

``/readyz`` (readiness): this instance can serve logins. Each check is listed in the JSON answer; any failure
gives HTTP 503 so that the load balancer stops sending traffic here:

- ``store``: the store answers a PING;
- ``policies``: at least one service policy is loaded;
- ``signing_keys``: a current signing key exists for every algorithm the provider signs with;
- ``psc_discovery``: PSC's discovery document was fetched (or is still cached from an earlier fetch, so a short
  PSC outage does not take every instance out of the pool at once);
- ``certificates``: the bridge's own certificates (PSC mTLS client certificate, trust store CAs), worst state
  first (``warning ...`` within 30 days, ``critical ...`` within 7, see bridge.pki.expiry). Informational: it never
  makes /readyz fail, since a certificate expiring in 6 days still works and taking every instance out of the pool
  at once would turn an alert into an outage; the metric and the admin banner are where it is raised.

The answers carry machine codes, never URLs, hosts or exception texts.
"""
from __future__ import annotations

import time

from flask import Blueprint, jsonify

from bridge.provider.keys import ALGORITHMS
from bridge.upstream.psc import PscError
from bridge.web.context import bridge

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    response = jsonify(status="ok")
    response.headers["Cache-Control"] = "no-store"
    return response


def _check_store(b) -> tuple[bool, str]:
    b.store.ping()
    return True, "pong"


def _check_policies(b) -> tuple[bool, str]:
    count = len(b.policies.services)
    return count > 0, f"{count} services"


def _check_signing_keys(b) -> tuple[bool, str]:
    missing = [alg for alg in ALGORITHMS if b.keys.current.get(alg) is None]
    return not missing, "missing " + ",".join(missing) if missing else ",".join(sorted(b.keys.current))


def _check_psc_discovery(b) -> tuple[bool, str]:
    try:
        b.psc.metadata()  # served from the client's cache while fresh, fetched (and cached) otherwise
        return True, "ok"
    except PscError as exc:
        if getattr(b.psc, "_metadata", None):
            return True, f"stale cache ({exc.code})"
        return False, exc.code


def _check_certificates(b) -> tuple[bool, str]:
    from bridge.pki.expiry import certificate_expiry, worst

    entries = certificate_expiry(b.settings, b.clock.now())
    if not entries:
        return True, "none configured"
    state, soonest = worst(entries), entries[0]
    if soonest.seconds_left is None:
        return True, f"{state}: {soonest.kind} unreadable"
    return True, f"{state}: {soonest.kind} expires in {soonest.days_left:.0f} days"


CHECKS = (("store", _check_store), ("policies", _check_policies), ("signing_keys", _check_signing_keys),
          ("psc_discovery", _check_psc_discovery), ("certificates", _check_certificates))


def readiness(b) -> tuple[bool, list[dict]]:
    results = []
    for name, check in CHECKS:
        start = time.perf_counter()
        try:
            ok, detail = check(b)
        except Exception as exc:  # a probe reports, it never raises
            ok, detail = False, type(exc).__name__
        results.append({"name": name, "ok": ok, "detail": detail,
                        "ms": round((time.perf_counter() - start) * 1000, 1)})
    return all(item["ok"] for item in results), results


@bp.get("/readyz")
def readyz():
    ok, checks = readiness(bridge())
    response = jsonify(status="ready" if ok else "not_ready", checks=checks)
    response.status_code = 200 if ok else 503
    response.headers["Cache-Control"] = "no-store"
    return response
