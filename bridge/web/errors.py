"""Error pages with a request id; a store outage fails closed with HTTP 503 and no token.

API paths (the OAuth/OIDC endpoints, discovery, the card challenge, health) never answer an HTML page: every
error there, 404 and 405 included, is RFC 6749 JSON `{"error", "error_description"}`.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, jsonify, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from bridge.audit import AuditUnavailable
from bridge.logs import current_request_id, log
from bridge.policy.values import is_native_loopback
from bridge.store import StoreUnavailable
from bridge.web.context import bridge
from bridge.web.i18n import current_lang
from bridge.web.messages import message
from bridge.web.pending import bound_txn, chooser_means, login_entry

API_PATHS = ("/token", "/par", "/userinfo", "/introspect", "/revoke", "/jwks", "/.well-known/", "/login/cps/challenge",
             "/cps/removed", "/healthz", "/readyz", "/metrics", "/device_authorization", "/bc-authorize")
_JSON_ERRORS = {401: "invalid_client", 404: "not_found", 429: "slow_down", 503: "temporarily_unavailable"}


def api_request() -> bool:
    path = request.path
    return any(path == p or path.startswith(p if p.endswith("/") else p + "/") for p in API_PATHS)


def json_error(status: int, description: str, error: str | None = None):
    error = error or _JSON_ERRORS.get(status) or ("server_error" if status >= 500 else "invalid_request")
    response = jsonify(error=error, error_description=description)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def error_page(code: str, status: int, detail: str = "", *, txn=None, client_id: str = "", text: str = "",
               **context):
    """The French page for `code` (or `text`, already in the reader's language), with its ways back (see way_back)
    and the request id as support reference."""
    return render_template("error.html", code=code, text=text or message(code, current_lang()), detail=detail,
                           request_id=current_request_id(), **way_back(code, txn, client_id), **context), status


def way_back(code: str, txn=None, client_id: str = "") -> dict:
    """Links out of an error page. A login of this browser still pending (given, or named by `txn` in the
    request): back to the app (its verified redirect URI gets error=access_denied, via /login/back) and the
    means chooser (or a retry when PSC is the only means). Else a known client's home page."""
    links = {"back_url": None, "home_url": None, "chooser_url": None, "retry_url": None}
    if code in ("store_unavailable", "audit_unavailable"):
        return links  # the store is down: nothing pending can be read
    try:
        if txn is None:  # a body over the limit is never read: only the query then
            named = request.args.get("txn") or ("" if code == "request_too_large" else request.form.get("txn"))
            txn = bound_txn(named) if named else None
        if txn is not None:
            links["back_url"] = url_for("login.back", txn=txn.id)
            client_id = txn.client_id
            if not txn.authenticated:
                means = chooser_means(bridge().policies.services[txn.service])
                key = "retry_url" if all(m.via_psc for m in means) else "chooser_url"
                links[key] = login_entry(txn)
        found = bridge().policies.client(client_id) if client_id and not links["back_url"] else None
        if found:
            links["home_url"] = client_home(found[1])
    except (StoreUnavailable, AuditUnavailable, HTTPException, KeyError):
        pass  # the page itself must still render
    return links


def client_home(client) -> str | None:
    """A registered client's home page: its first post-logout URI, else the origin of its first redirect URI
    (both registered by the app's owner in the policy, so never an open redirect)."""
    if client.post_logout_redirect_uris:
        return client.post_logout_redirect_uris[0]
    web = [uri for uri in client.redirect_uris if not is_native_loopback(uri)]   # a desktop app has no home page
    if web:
        parts = urlsplit(web[0])
        return f"{parts.scheme}://{parts.netloc}/"
    return None


def bad_request(description: str):
    """RFC 6749 invalid_request: JSON for the API endpoints, a French page for the browser ones."""
    if api_request():
        return json_error(400, description, "invalid_request")
    return error_page("invalid_request", 400, detail=description)


def install(app: Flask) -> None:
    @app.errorhandler(AuditUnavailable)
    @app.errorhandler(StoreUnavailable)
    def store_down(exc):
        log.error("store_unavailable", path=request.path, error=str(exc))
        if api_request():
            response = jsonify(error="temporarily_unavailable",
                               error_description="The session store is unavailable; retry later.")
            response.status_code = 503
            response.headers["Retry-After"] = "5"
            return response
        return error_page("audit_unavailable" if isinstance(exc, AuditUnavailable) else "store_unavailable", 503)

    @app.errorhandler(413)
    def too_large(exc):
        limit = app.config.get("MAX_CONTENT_LENGTH")
        if limit and (request.content_length is None or request.content_length > limit):
            detail = f"The request body is larger than {limit} bytes."
        else:  # within the body limit, but a form field exceeds Flask's MAX_FORM_MEMORY_SIZE
            detail = "A field of the request body is too large."
        log.warning("request_too_large", path=request.path, content_length=request.content_length)
        if api_request():
            return json_error(413, detail, "invalid_request")
        return error_page("request_too_large", 413, detail=detail)

    @app.get("/favicon.ico")
    def favicon():  # asked by browsers for pages without the icon link (JSON documents): not a 404
        return redirect(url_for("static", filename="favicon.svg"), 301)

    @app.errorhandler(404)
    def not_found(exc):
        if api_request():
            return json_error(404, "No such endpoint.")
        return error_page("not_found", 404)

    @app.errorhandler(Exception)
    def unexpected(exc):
        if isinstance(exc, HTTPException):
            status = exc.code or 400
            if api_request():
                response = json_error(status, exc.description or "")
                for name in ("Allow", "WWW-Authenticate", "Retry-After"):  # 405's Allow, 401's challenge...
                    if name in exc.get_response().headers:
                        response.headers[name] = exc.get_response().headers[name]
                return response
            return error_page("invalid_request", status, exc.description or "")
        log.exception("unhandled_error", path=request.path)
        if api_request():
            return json_error(500, f"Internal error (request id {current_request_id()}).", "server_error")
        return error_page("server_error", 500)


def authlib_call(call):
    """Authlib refuses to build an error whose description would hold characters RFC 6749 forbids (quotes,
    backslashes, non-ASCII copied from a parameter) and raises ValueError: that is a bad request, not a 500."""
    try:
        return call()
    except ValueError:
        return bad_request("malformed parameters")
