"""Rate limits on /authorize, the card login endpoints (/login/cps/challenge, /login/cps/proof, /login/cps-tls)
and the card agents' /cps/removed (per client IP, BRIDGE_RATE_LIMIT_AUTHORIZE, each its own counter) and /token,
counted in the shared Redis. Repeated bad card certificates are counted apart, per certificate first
(bridge.upstream.card_failures), so that one hospital NAT address is not locked out by one bad card.

/token: failed requests (400/401, e.g. a wrong secret) count per (client id, client IP), successful ones per client
id. The limit is checked before the request and deducted after it, by outcome: an attacker guessing a secret from
one address locks out only that address for that client, and a hospital whose apps all call from one NAT address
is not locked out by its own legitimate traffic.

Behind a load balancer every request comes from the balancer: the client IP is then taken from X-Forwarded-For,
but only when the direct peer is one of BRIDGE_TRUSTED_PROXIES. A limiter storage outage lets requests through
(the store itself fails closed right after), so a Redis blip never turns into a wall of 429s.
"""
from __future__ import annotations

import base64
import ipaddress

from flask import Flask, jsonify, request
from flask_limiter import Limiter
from flask_limiter.errors import RateLimitExceeded

from bridge.web.context import bridge


def _trusted(address: str) -> bool:
    networks = bridge().settings.trusted_proxies
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(n) for n in networks)


def client_ip() -> str:
    address = request.remote_addr or "unknown"
    if _trusted(address):
        for hop in reversed([h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",") if h.strip()]):
            if not _trusted(hop):
                return hop
    return address


def client_id() -> str:
    header = request.headers.get("Authorization", "")
    if header[:6].lower() == "basic ":
        try:
            return "client:" + base64.b64decode(header[6:]).decode().partition(":")[0][:128]
        except (ValueError, UnicodeDecodeError):
            return "client:?"
    return "client:" + (request.form.get("client_id") or "?")[:128]


def client_and_ip() -> str:
    return client_id() + "@" + client_ip()


def failed(response) -> bool:
    """A device or CIBA client told to keep waiting (authorization_pending) is not failing: a hospital's thick
    clients polling behind one NAT address with one client id must not lock each other out."""
    if response.status_code == 400 and b'"authorization_pending"' in response.get_data():
        return False
    return response.status_code in (400, 401)


def succeeded(response) -> bool:
    return response.status_code < 400


# Limited per address at BRIDGE_RATE_LIMIT_AUTHORIZE, each under its own counter (endpoint -> scope): /authorize;
# the workstation agents' card removal notices; direct card logins, backup codes and passkeys; RFC 8628 (a kiosk's
# /device_authorization, user codes typed at /device); CIBA (each request pushes to someone's phone); PAR (an
# /authorize by POST).
PER_ADDRESS = {"oidc.authorize": None, "card_removal.removed": "card-removed",
               **{e: e for e in ("cps.challenge", "cps.proof", "cps.tls_login", "backup.submit", "fido.options",
                                 "fido.verify", "means.options", "means.register", "device.authorization",
                                 "device.submit")},
               "oidc.backchannel_authentication": "bc-authorize", "oidc.pushed_authorization_request": "par"}
# Endpoints that machines call answer a JSON error (path -> what was requested too often).
JSON_ANSWERS = {"/token": "token", "/par": "pushed", "/bc-authorize": "CIBA", "/device_authorization": "device"}


def install(app: Flask) -> None:
    settings = bridge_settings(app)
    if "off" == settings.rate_limit_authorize == settings.rate_limit_token == settings.rate_limit_token_failures:
        return
    storage = settings.store_url if settings.store_url.startswith(("redis://", "rediss://")) else "memory://"
    limiter = Limiter(key_func=client_ip, app=app, storage_uri=storage, headers_enabled=True, swallow_errors=True,
                      key_prefix="ratelimit")
    views = app.view_functions
    if settings.rate_limit_authorize != "off":
        for endpoint, scope in PER_ADDRESS.items():
            if endpoint in views:
                views[endpoint] = limiter.limit(settings.rate_limit_authorize, key_func=client_ip,
                                                scope=scope)(views[endpoint])
    token = views["oidc.token"]
    if settings.rate_limit_token != "off":
        token = limiter.limit(settings.rate_limit_token, key_func=client_id, deduct_when=succeeded,
                              scope="token-ok")(token)
    if settings.rate_limit_token_failures != "off":
        token = limiter.limit(settings.rate_limit_token_failures, key_func=client_and_ip, deduct_when=failed,
                              scope="token-failed")(token)
    views["oidc.token"] = token

    @app.errorhandler(RateLimitExceeded)
    def too_many(exc):
        retry = str(max(1, int(getattr(exc, "retry_after", 1) or 1)))
        if request.path in JSON_ANSWERS:
            response = jsonify(error="slow_down", error_description=f"Too many {JSON_ANSWERS[request.path]} "
                                                                     "requests; retry later.")
        elif request.path == "/cps/removed":   # an agent, not a person: JSON, and it retries after Retry-After
            response = jsonify(error="too_many_requests", message="Too many removal notices; retry later.")
        else:
            from bridge.web.errors import error_page

            body, _ = error_page("too_many_requests", 429)
            response = app.make_response(body)
        response.status_code = 429
        response.headers["Retry-After"] = retry
        return response


def bridge_settings(app: Flask):
    return app.extensions["bridge"].settings
