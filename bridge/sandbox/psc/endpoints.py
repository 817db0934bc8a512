"""Realm endpoints on the issuer host: discovery, JWKS, token, userinfo, introspection, revocation."""
from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import re
import time

from flask import jsonify, make_response, request

import bridge.sandbox.psc.ciba as ciba

from ..professionals import TEST_PROFESSIONALS
from .clientauth import authenticate_client
from .core import Emulator, OAuthError, emulator, no_store
from .discovery import discovery_document
from .signing import InvalidToken
from .state import AuthorizationCode
from .tokens import token_response, userinfo_claims, userinfo_jwt

PKCE_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


def discovery():
    return jsonify(discovery_document(emulator().config))


def jwks():
    return jsonify(emulator().keys.jwks())


# -- token ----------------------------------------------------------------------------------------------------
def token():
    emu = emulator()
    try:
        return no_store(jsonify(_token(emu)))
    except OAuthError as error:
        return error.response()


def _token(emu: Emulator) -> dict:
    faults = emu.faults
    if faults.get("token_delay"):
        time.sleep(faults["token_delay"])  # lets the relying party hit its read timeout
    if faults.get("token_error") or faults.get("token_status"):
        error = faults.get("token_error", "server_error")
        default_status = 401 if error == "invalid_client" else 400
        raise OAuthError(error, "Erreur simulée par l'émulateur PSC", faults.get("token_status", default_status))

    caller = authenticate_client(emu.config)
    grant_type = request.form.get("grant_type")
    if not grant_type:
        raise OAuthError("invalid_request", "Paramètre grant_type absent")
    if grant_type == "authorization_code":
        return _code_grant(emu, caller)
    if grant_type == "refresh_token":
        return _refresh_grant(emu, caller)
    if grant_type == ciba.GRANT_TYPE:
        return ciba.token_grant(emu, caller)
    raise OAuthError("unsupported_grant_type", f"grant_type {grant_type!r} non pris en charge")


def _code_grant(emu: Emulator, caller) -> dict:
    form = request.form
    if not form.get("code"):
        raise OAuthError("invalid_request", "Paramètre code absent")
    code = emu.state.take_code(form["code"])
    if code is None:
        raise OAuthError("invalid_grant", "Code not valid")
    if code.grant.client_id != caller.client.client_id:
        raise OAuthError("invalid_grant", "Code émis pour un autre client")
    if form.get("redirect_uri") != code.redirect_uri:
        raise OAuthError("invalid_grant", "Incorrect redirect_uri")
    _verify_pkce(code, form.get("code_verifier"))
    session = emu.state.live_session(code.grant.sid)
    if session is None:
        raise OAuthError("invalid_grant", "Session not active")
    grant = dataclasses.replace(code.grant, cert_thumbprint=caller.cert_thumbprint)
    return token_response(emu, grant, caller.client, session)


def _verify_pkce(code: AuthorizationCode, verifier: str | None) -> None:
    if code.code_challenge is None:
        if verifier:
            raise OAuthError("invalid_grant", "PKCE code verifier specified but challenge not present in authorization")
        return
    if not verifier:
        raise OAuthError("invalid_grant", "PKCE code verifier not specified")
    if not PKCE_VERIFIER.match(verifier):
        raise OAuthError("invalid_grant", "Invalid code verifier")
    if code.code_challenge_method == "S256":
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    else:
        expected = verifier
    if not hmac.compare_digest(expected, code.code_challenge):
        raise OAuthError("invalid_grant", "PKCE verification failed")


def _refresh_grant(emu: Emulator, caller) -> dict:
    value = request.form.get("refresh_token")
    if not value:
        raise OAuthError("invalid_request", "Paramètre refresh_token absent")
    record = emu.state.get_refresh(value)
    if record is None:
        raise OAuthError("invalid_grant", "Invalid refresh token")
    if record.grant.client_id != caller.client.client_id:
        raise OAuthError("invalid_grant", "Invalid refresh token. Token client and authorized client don't match")
    session = emu.state.live_session(record.grant.sid)
    if session is None:
        raise OAuthError("invalid_grant", "Session not active")
    if emu.state.take_refresh(value) is None:  # rotation: the presented token dies now
        raise OAuthError("invalid_grant", "Invalid refresh token")
    grant = dataclasses.replace(record.grant, cert_thumbprint=caller.cert_thumbprint or record.grant.cert_thumbprint)
    return token_response(emu, grant, caller.client, session)


# -- userinfo -------------------------------------------------------------------------------------------------
def userinfo():
    emu = emulator()
    faults = emu.faults
    if faults.get("userinfo_delay"):
        time.sleep(faults["userinfo_delay"])
    if faults.get("userinfo_status"):
        status = faults["userinfo_status"]
        return _bearer_error("invalid_token" if status == 401 else "server_error",
                             "Erreur simulée par l'émulateur PSC", status)
    access_token = _bearer_token()
    if not access_token:
        return _bearer_error("invalid_token", "Jeton d'accès absent")
    try:
        emu.keys.verify(access_token)
    except InvalidToken:
        return _bearer_error("invalid_token", "Signature du jeton invalide")
    record = emu.state.get_access(access_token)
    session = emu.state.live_session(record.grant.sid) if record else None
    if record is None or session is None:
        return _bearer_error("invalid_token", "Jeton expiré, révoqué ou inconnu")
    if faults.get("userinfo_format", emu.config.userinfo_format) == "jwt":
        response = make_response(userinfo_jwt(emu, session, record.grant.client_id))
        response.mimetype = "application/jwt"
        return no_store(response)
    return no_store(jsonify(userinfo_claims(emu, session)))


def _bearer_token() -> str:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if request.method == "POST":  # RFC 6750 §2.2 form parameter
        return request.form.get("access_token", "")
    return ""


def _bearer_error(error: str, description: str, status: int = 401):
    response = jsonify({"error": error, "error_description": description})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = (
            f'Bearer realm="esante-wallet", error="{error}", error_description="{description}"')
    return no_store(response)


# -- introspection and revocation -----------------------------------------------------------------------------
def introspect():
    emu = emulator()
    try:
        authenticate_client(emu.config)
        value = request.form.get("token")
        if not value:
            raise OAuthError("invalid_request", "Paramètre token absent")
    except OAuthError as error:
        return error.response()
    return no_store(jsonify(_introspection(emu, value)))


def _introspection(emu: Emulator, value: str) -> dict:
    """Access token: its claims (SubjectNameID included) + active; refresh token: no SubjectNameID."""
    access = emu.state.get_access(value)
    if access is not None:
        try:
            emu.keys.verify(value)
        except InvalidToken:
            return {"active": False}
        return {**access.claims, "client_id": access.grant.client_id,
                "username": access.claims.get("preferred_username", ""), "token_type": "Bearer", "active": True}
    refresh = emu.state.get_refresh(value)
    session = emu.state.live_session(refresh.grant.sid) if refresh else None
    if refresh is None or session is None:
        return {"active": False}
    claims = {
        "exp": int(refresh.expires_at), "iat": refresh.issued_at, "auth_time": session.auth_time,
        "iss": emu.config.issuer, "aud": emu.config.issuer, "sub": TEST_PROFESSIONALS[session.user]["sub"],
        "typ": "Refresh", "azp": refresh.grant.client_id, "nonce": refresh.grant.nonce, "sid": session.sid,
        "scope": refresh.grant.scope, "client_id": refresh.grant.client_id, "active": True,
    }
    return {name: value for name, value in claims.items() if value is not None}


def revoke():
    """RFC 7009: 200 whatever the token, but only the owner client's tokens are revoked."""
    emu = emulator()
    try:
        caller = authenticate_client(emu.config)
        value = request.form.get("token")
        if not value:
            raise OAuthError("invalid_request", "Paramètre token absent")
    except OAuthError as error:
        return error.response()
    owner = caller.client.client_id
    access = emu.state.get_access(value)
    if access is not None and access.grant.client_id == owner:
        emu.state.revoke_access(value)
    refresh = emu.state.get_refresh(value)
    if refresh is not None and refresh.grant.client_id == owner:
        emu.state.revoke_refresh(value)
    return no_store(make_response("", 200))
