"""OIDC provider endpoints for local apps: discovery, JWKS, /authorize, /token, /userinfo."""
from __future__ import annotations

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oidc.core.errors import InteractionRequiredError, LoginRequiredError
from flask import Blueprint, jsonify, render_template, request

from bridge import acr
from bridge.login import flow
from bridge.provider import ciba, dpop
from bridge.provider.claims import subject
from bridge.provider.grants import Grantee, is_own_id_token
from bridge.provider.keys import JWKS_MAX_AGE
from bridge.provider.metadata import optional_grants, provider_metadata
from bridge.provider.par import push
from bridge.sessions import COOKIE
from bridge.web import assurance
from bridge.web.answers import oauth_error, render_denial, start_login
from bridge.web.consent import reuse_or_ask
from bridge.web.context import bridge, server
from bridge.web.errors import authlib_call, bad_request
from bridge.web.workstation import home_session

bp = Blueprint("oidc", __name__)


@bp.get("/.well-known/openid-configuration")
@bp.get("/.well-known/oauth-authorization-server")  # RFC 8414: the same document
def discovery():
    b = bridge()
    services = b.policies.services.values()
    return jsonify(provider_metadata(b.settings.issuer, acr.issuable(services, b.settings), optional_grants(services)))


@bp.get("/jwks")
def jwks():
    response = jsonify(bridge().keys.jwks())
    response.headers["Cache-Control"] = f"public, max-age={JWKS_MAX_AGE}"
    return response


def _current_session():
    b = bridge()
    return b.sessions.load(request.cookies.get(COOKIE))


@bp.route("/authorize", methods=["GET", "POST"])
def authorize():
    b = bridge()
    session = _current_session()
    probe = Grantee(session.authn, session.sid, "") if session else None
    try:
        grant = server().get_consent_grant(end_user=probe)
    except OAuth2Error as error:
        return oauth_error(error)
    except ValueError:  # see authlib_call
        return bad_request("malformed parameters")
    client, params = grant.client, grant.request.payload.data
    service, now = client.service, b.clock.now()
    redirect_uri = grant.request.payload.redirect_uri
    hint_sub = _id_token_hint_subject(params.get("id_token_hint"))
    if hint_sub is False:
        error = InvalidRequestError("id_token_hint is not a valid ID token of this provider",
                                    redirect_uri=redirect_uri, state=grant.request.payload.state)
        return server().handle_error_response(None, error)
    unreachable = assurance.unreachable(grant)
    if unreachable:  # no means this service allows can give it: said at once, no login
        return assurance.unmet_at_authorize(grant, unreachable)
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
        return reuse_or_ask(grant, session)   # a third-party client may need the professional's consent first
    if verdict.action == "activity":
        return start_login(grant, authenticated=True)
    if "none" in (params.get("prompt") or "").split():
        error_cls = LoginRequiredError if session is None else InteractionRequiredError
        error = error_cls(redirect_uri=redirect_uri, state=grant.request.payload.state)
        return server().handle_error_response(None, error)
    if verdict.action == "deny":
        return render_denial(service, verdict.reasons, session.authn, client.client_id)
    if session is not None:
        b.record("step_up", "info", service=service.service, client=client.client_id,
                 national_id=session.authn.identity.national_id, mie=session.authn.mie,
                 reason=",".join(verdict.reasons))
    return start_login(grant, authenticated=False, forced=session is not None)


def _id_token_hint_subject(hint: str | None):
    """None without a hint, False when it is not ours (bad signature, garbage), else its `sub` (exp ignored)."""
    if not hint:
        return None
    try:
        claims = bridge().keys.verify(hint)
    except ValueError:
        return False
    return claims["sub"] if is_own_id_token(claims, bridge().settings.issuer) else False


@bp.route("/token", methods=["POST"])
def token():
    return dpop.with_nonce(bridge(), authlib_call(server().create_token_response))


@bp.route("/par", methods=["POST"])
def pushed_authorization_request():
    body, status = push(server(), request)
    response = jsonify(body)
    response.status_code, response.headers["Cache-Control"] = status, "no-store"
    return response


@bp.route("/bc-authorize", methods=["POST"])
def backchannel_authentication():
    """CIBA poll mode (bridge.provider.ciba), relayed to PSC CIBA."""
    body, status = ciba.backchannel_authentication(server(), request)
    response = jsonify(body)
    response.status_code, response.headers["Cache-Control"] = status, "no-store"
    return response


@bp.route("/userinfo", methods=["GET", "POST"])
def userinfo():
    return authlib_call(lambda: server().create_endpoint_response("userinfo"))


@bp.route("/introspect", methods=["POST"])
def introspect():
    return authlib_call(lambda: server().create_endpoint_response("introspection"))


@bp.route("/revoke", methods=["POST"])
def revoke():
    return authlib_call(lambda: server().create_endpoint_response("revocation"))


@bp.get("/")
def home():
    """A person who types the bridge's address gets a page that says what it is; integrators get its links."""
    return render_template("home.html", discovery=request.script_root + "/.well-known/openid-configuration",
                           shared_session=home_session(), has_session=_current_session() is not None)
