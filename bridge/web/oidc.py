"""OIDC provider endpoints for local apps: discovery, JWKS, /authorize, /token, /userinfo."""
from __future__ import annotations

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidRequestError
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from authlib.oidc.core.errors import InteractionRequiredError, LoginRequiredError
from flask import Blueprint, jsonify, make_response, redirect, render_template, request
from werkzeug.test import EnvironBuilder

from bridge import flow, metrics
from bridge.logs import log
from bridge.policy import effective_limits, reason_message
from bridge.provider.claims import subject
from bridge.provider.keys import JWKS_MAX_AGE
from bridge.provider.metadata import provider_metadata
from bridge.provider.grants import PARAM_LIMITS, Grantee
from bridge.sessions import COOKIE
from bridge.transactions import BROWSER_COOKIE
from bridge.web.context import bridge
from bridge.web.errors import error_page
from bridge.web.i18n import current_lang
from bridge.web.security import browser_secret, cookie_args

bp = Blueprint("oidc", __name__)


@bp.get("/.well-known/openid-configuration")
@bp.get("/.well-known/oauth-authorization-server")  # RFC 8414: the same document
def discovery():
    b = bridge()
    return jsonify(provider_metadata(b.settings.issuer, tuple(b.settings.psc_accepted_acr)))


@bp.get("/jwks")
def jwks():
    response = jsonify(bridge().keys.jwks())
    response.headers["Cache-Control"] = f"public, max-age={JWKS_MAX_AGE}"
    return response


def authlib_call(call):
    """Authlib refuses to build an error whose description would hold characters RFC 6749 forbids (quotes,
    backslashes, non-ASCII copied from a parameter) and raises ValueError: that is a bad request, not a 500."""
    try:
        return call()
    except ValueError:
        from bridge.web.errors import bad_request

        return bad_request("malformed parameters")


def _oauth_error(error: OAuth2Error, query=None):
    """Redirect with the error only when the client and redirect_uri were verified; otherwise a page, in French,
    with the client's home page when the client is known (`query`: the /authorize parameters)."""
    if error.redirect_uri:
        return bridge().server.handle_error_response(None, error)
    query = request.values if query is None else query
    code, reason = error.error, None
    description = error.description or ""
    if code == "invalid_request" and ("redirect_uri" in description or "redirect uri" in description.lower()):
        code = "invalid_redirect_uri"
        client_id = query.get("client_id") or ""
        found = bridge().policies.client(client_id) if client_id else None
        reason = {"uri": query.get("redirect_uri") or "",
                  "client": (found[1].name or found[0].name or client_id) if found else client_id}
    log.info("authorize_refused", error=error.error, description=error.description)
    return error_page(code, 400, detail=f"{error.error}: {description}".strip(": "), reason=reason,
                      client_id=query.get("client_id") or "")


def return_error_to_app(txn, error: str, description: str):
    """End a pending login without a user: the app's redirect URI gets `error` with its state and iss (RFC 6749
    §4.1.2.1, RFC 9207), once the stored request passes validation again (a policy reload may have removed
    the client or the URI: then a page)."""
    from urllib.parse import parse_qsl

    b = bridge()
    b.transactions.consume(txn.id)
    req = EnvironBuilder(path="/authorize", query_string=txn.query, base_url=b.settings.public_url).get_request()
    try:
        grant = b.server.get_consent_grant(request=req, end_user=None)
    except OAuth2Error as refused:
        return _oauth_error(refused, dict(parse_qsl(txn.query)))
    payload = grant.request.payload
    log.info("authorize_error_returned", client=txn.client_id, error=error)
    return b.server.handle_error_response(None, OAuth2Error(description, error=error, state=payload.state,
                                                            redirect_uri=payload.redirect_uri))


def _current_session():
    b = bridge()
    return b.sessions.load(request.cookies.get(COOKIE))


@bp.route("/authorize", methods=["GET", "POST"])
def authorize():
    b = bridge()
    session = _current_session()
    probe = Grantee(session.authn, session.sid, "") if session else None
    try:
        grant = b.server.get_consent_grant(end_user=probe)
    except OAuth2Error as error:
        return _oauth_error(error)
    except ValueError:  # see authlib_call
        from bridge.web.errors import bad_request

        return bad_request("malformed parameters")
    client, params = grant.client, grant.request.payload.data
    service, now = client.service, b.clock.now()
    redirect_uri = grant.request.payload.redirect_uri
    hint_sub = _id_token_hint_subject(params.get("id_token_hint"))
    if hint_sub is False:
        error = InvalidRequestError("id_token_hint is not a valid ID token of this provider",
                                    redirect_uri=redirect_uri, state=grant.request.payload.state)
        return b.server.handle_error_response(None, error)
    verdict = flow.for_session(service, session.authn if session else None, params, now)
    if session and verdict.action == "reuse":
        expired = flow.client_expired(session, client.client_id, now)
        if expired:  # this service's inactivity or absolute limit passed: re-authenticate for it
            if expired != "client_expired":
                b.sessions.end_client(session.sid, client.client_id, expired)
            verdict = flow.Verdict("login", (expired,))
        elif hint_sub and hint_sub != subject(service, session.authn.identity.national_id, b.settings.secret_key):
            verdict = flow.Verdict("login", ("id_token_hint_other_user",))
    if verdict.action == "reuse":
        return issue_code(grant, session)
    if verdict.action == "activity":
        return _start_login(grant, authenticated=True)
    if "none" in (params.get("prompt") or "").split():
        error_cls = LoginRequiredError if session is None else InteractionRequiredError
        error = error_cls(redirect_uri=redirect_uri, state=grant.request.payload.state)
        return b.server.handle_error_response(None, error)
    if verdict.action == "deny":
        return render_denial(service, verdict.reasons, session.authn, client.client_id)
    if session is not None:
        b.record("step_up", "info", service=service.service, client=client.client_id,
                 national_id=session.authn.identity.national_id, mie=session.authn.mie, reason=",".join(verdict.reasons))
    return _start_login(grant, authenticated=False, forced=session is not None)


def _id_token_hint_subject(hint: str | None):
    """None without a hint, False when it is not ours (bad signature, garbage), else its `sub` (exp ignored)."""
    if not hint:
        return None
    try:
        keys = KeySet.import_key_set(bridge().keys.jwks())
        claims = jwt.decode(hint, keys, algorithms=["RS256", "ES256"]).claims
    except (JoseError, ValueError, TypeError):
        return False
    if claims.get("iss") != bridge().settings.issuer or not isinstance(claims.get("sub"), str) \
            or "events" in claims:  # a logout token is signed by the same keys but is no ID token
        return False
    return claims["sub"]


def issue_code(grant, session, request_obj=None):
    """The session satisfies the service: record the client's activity and answer with a code."""
    b = bridge()
    client, service = grant.client, grant.client.service
    limits = effective_limits(service, b.clock.now())  # a lapsed reserve falls back to 30 min / 4 h
    b.sessions.touch(session, client.client_id, limits.idle_timeout, limits.max_session)
    deadline = min(session.deadline, session.authn.auth_time + limits.max_session)
    grantee = Grantee(session.authn, session.sid, service.service, deadline=deadline)
    log.info("code_issued", client=client.client_id, service=client.service.service, mie=session.authn.mie)
    return b.server.create_authorization_response(request=request_obj, grant_user=grantee, grant=grant)


def replay_grant(query: str, session):
    """Rebuild the app's original /authorize request once the user is authenticated."""
    b = bridge()
    req = EnvironBuilder(path="/authorize", query_string=query, base_url=b.settings.public_url).get_request()
    grantee = Grantee(session.authn, session.sid, "")
    return b.server.get_consent_grant(request=req, end_user=grantee), req


def _start_login(grant, *, authenticated: bool, forced: bool = False):
    from bridge.web.login import login_entry

    b = bridge()
    secret, new = browser_secret()
    txn = b.transactions.begin(grant.client.client_id, grant.client.service.service,
                               _validated_query(grant.request.payload.data), secret, forced=forced)
    txn.authenticated = authenticated
    txn.login_hint = (grant.request.payload.data.get("login_hint") or "")[:256]
    b.transactions.save(txn)
    if not authenticated:
        b.record("login_started", "info", service=grant.client.service.service, client=grant.client.client_id)
    response = make_response(redirect(login_entry(txn)))
    if new:
        response.set_cookie(BROWSER_COOKIE, secret, **cookie_args())
    return response


def _validated_query(data: dict) -> str:
    """Only the parameters the bridge understands, each within its cap (checked at validation): what an
    anonymous /authorize may store for the length of a login."""
    from urllib.parse import urlencode

    return urlencode([(k, v) for k, v in data.items() if k in PARAM_LIMITS and isinstance(v, str) and v])


def render_denial(service, reasons, authn=None, client_id: str = ""):
    from flask import render_template

    metrics.denied(reasons, mie=authn.mie if authn else None)
    log.info("login_denied", service=service.service, reasons=list(reasons))
    bridge().record("login_denied", "denied", service=service.service, client=client_id, reason=",".join(reasons),
                    national_id=authn.identity.national_id if authn else "", mie=authn.mie if authn else "")
    texts = [reason_message(code, current_lang()) for code in reasons]
    return render_template("denied.html", service=service, reasons=texts), 403


@bp.route("/token", methods=["POST"])
def token():
    return authlib_call(bridge().server.create_token_response)


@bp.route("/userinfo", methods=["GET", "POST"])
def userinfo():
    return authlib_call(lambda: bridge().server.create_endpoint_response("userinfo"))


@bp.route("/introspect", methods=["POST"])
def introspect():
    return authlib_call(lambda: bridge().server.create_endpoint_response("introspection"))


@bp.route("/revoke", methods=["POST"])
def revoke():
    return authlib_call(lambda: bridge().server.create_endpoint_response("revocation"))


@bp.get("/")
def home():
    """A person who types the bridge's address gets a page that says what it is; integrators get its links."""
    return render_template("home.html", discovery=request.script_root + "/.well-known/openid-configuration")
