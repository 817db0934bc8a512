"""Proxy e-Santé mode (optional): the bridge calls an API Pro Santé Connectée on an app's behalf, with its own
IGC-Santé certificate, so the app needs neither the PSC token nor a certificate.

`GET|POST /psc-proxy?url=<API URL>` with the app's bridge access token (`Authorization: Bearer`). The URL must lie
under one of the client's `psc_audiences` that is an https base URL (its policy lists what it may reach: nothing
else is ever fetched), and the client must be allowed token exchange. The bridge takes the session's current PSC
access token (bridge.upstream.psc_tokens), exchanges it (RFC 8693, over mTLS with BRIDGE_PSC_CLIENT_CERT, with
`subject_issuer=psc` as ANS's reference proxy) at the API's authorization server (found by RFC 8414 metadata at the
audience), keeps that API token (encrypted, per session and API, until a minute before it lapses), and forwards the
call with it over mTLS; the API's answer comes back as is. Needs BRIDGE_PSC_CLIENT_CERT (404 without).
"""
from __future__ import annotations

import hashlib

import requests
from flask import Blueprint, Response, jsonify, request

from bridge.logs import log
from bridge.policy.clients import TOKEN_EXCHANGE
from bridge.provider import mtls
from bridge.provider.exchange import ACCESS_TOKEN_TYPE
from bridge.upstream import psc_tokens
from bridge.web.context import bridge

bp = Blueprint("psc_proxy", __name__)
MARGIN = 60          # seconds: an API token that lapses sooner is exchanged again
MAX_BODY = 1 << 20   # the API's answer


class ProxyError(Exception):
    def __init__(self, status: int, error: str, detail: str = ""):
        super().__init__(error)
        self.status, self.error, self.detail = status, error, detail


def _answer(status: int, error: str, detail: str = ""):
    response = jsonify({"error": error, **({"error_description": detail} if detail else {})})
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/psc-proxy", methods=["GET", "POST"])
def proxy():
    b = bridge()
    if not b.settings.psc_client_cert:
        return _answer(404, "not_enabled", "The Proxy e-Sante mode needs BRIDGE_PSC_CLIENT_CERT.")
    try:
        sid, client_id, audience = _authorize(b, request.args.get("url", ""))
        api_token = _api_token(b, sid, client_id, audience)
        upstream = requests.request(request.method, request.args["url"], data=request.get_data() or None,
                                    headers={"Authorization": f"Bearer {api_token}",
                                             "Accept": request.headers.get("Accept", "application/json"),
                                             **({"Content-Type": request.content_type} if request.content_type
                                                else {})},
                                    timeout=b.psc.timeout, allow_redirects=False, stream=True, **b.psc._tls())
        content = upstream.raw.read(MAX_BODY, decode_content=True)
        upstream.close()
    except ProxyError as exc:
        return _answer(exc.status, exc.error, exc.detail)
    except requests.RequestException as exc:
        log.warning("psc_proxy_unreachable", error=type(exc).__name__)
        return _answer(502, "api_unreachable")
    log.info("psc_proxy_call", client=client_id, audience=audience, status=upstream.status_code)
    return Response(content, status=upstream.status_code,
                    content_type=upstream.headers.get("Content-Type", "application/octet-stream"),
                    headers={"Cache-Control": "no-store"})


def _authorize(b, url: str) -> tuple[str, str, str]:
    """(sid, client id, audience) for this request's bridge access token and target URL."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    use = b.tokens.use_access(token.strip(), touch=False, jkt="", certificate=mtls.binding(b)) \
        if scheme.lower() == "bearer" else None
    if use is None or use.status != "ok":
        raise ProxyError(401, "invalid_token")
    found = b.policies.client(use.record["c"])
    if not found or TOKEN_EXCHANGE not in found[1].grant_types:
        raise ProxyError(403, "unauthorized_client", "This client may not use token exchange.")
    audience = next((a for a in found[1].psc_audiences if a.startswith("https://")
                     and (url == a or url.startswith(a.rstrip("/") + "/"))), None)
    if audience is None or ".." in url.split("?")[0]:
        raise ProxyError(403, "invalid_target", "The URL is not under one of the client's psc_audiences.")
    return use.sid, found[1].client_id, audience


def _api_token(b, sid: str, client_id: str, audience: str) -> str:
    key = f"pscapi:{{{sid}}}:{hashlib.sha256(audience.encode()).hexdigest()[:32]}"
    kept = b.store.get(key)
    record = psc_tokens.unseal(b.settings.secret_key, key, kept) if kept else None
    if record and record["exp"] - b.clock.now() > MARGIN:
        return record["token"]
    try:
        psc_access, _ = psc_tokens.current_access(b, sid)
    except psc_tokens.RelayError as exc:
        raise ProxyError(503 if exc.code == "unavailable" else 403, f"psc_{exc.code}", exc.detail) from None
    try:
        endpoint = requests.get(audience.rstrip("/") + "/.well-known/oauth-authorization-server",
                                timeout=b.psc.timeout, **b.psc._tls()).json()["token_endpoint"]
        answer = requests.post(endpoint, timeout=b.psc.timeout, **b.psc._tls(), data={
            "grant_type": TOKEN_EXCHANGE, "subject_token": psc_access, "subject_token_type": ACCESS_TOKEN_TYPE,
            "subject_issuer": "psc", "audience": audience})
        body = answer.json()
        token, lifetime = str(body["access_token"]), int(body.get("expires_in") or 300)
    except (requests.RequestException, ValueError, KeyError, TypeError):
        b.record("token_exchanged", "failure", client=client_id, audience=audience, sid=sid, reason="api_exchange",
                 via="proxy")
        raise ProxyError(502, "api_exchange_failed", "The API's authorization server refused or failed.") from None
    b.record("token_exchanged", "success", client=client_id, audience=audience, sid=sid, via="proxy")
    exp = b.clock.now() + lifetime
    b.store.set(key, psc_tokens.seal(b.settings.secret_key, key, {"token": token, "exp": exp}),
                max(1, lifetime))
    return token
