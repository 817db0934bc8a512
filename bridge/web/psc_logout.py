"""PSC's back-channel logout to the bridge (OpenID Connect Back-Channel Logout 1.0), at /psc/backchannel-logout:
the URI to register with PSC as the bridge's backchannel_logout_uri. Whether PSC calls it is UNCONFIRMED (its
discovery advertises backchannel_logout_supported, Keycloak's default); the refresh of the kept PSC tokens
(bridge.upstream.psc_tokens) finds a PSC session's end anyway, later.

The logout token is checked as §2.6 says: signature with PSC's JWKS (or HS256 with the client secret, as for ID
tokens), iss = PSC's issuer, aud = the bridge's PSC client_id, iat (not in the future, not older than MAX_AGE), exp
when present, jti single use, the back-channel logout event, sid and/or sub, no nonce. The SSO sessions opened by
that PSC session (sid) or that PSC subject (sub only) end with back-channel logout to their apps. 200 when done
(also when no session matched: nothing left to end), 400 with invalid_request otherwise, nothing ended.
"""
from __future__ import annotations

import hashlib

from flask import Blueprint, jsonify, request
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey
from joserfc.jws import extract_compact

from bridge import metrics
from bridge.provider.backchannel import EVENT
from bridge.upstream import psc_tokens
from bridge.upstream.psc import SIGNED_ALGS, SKEW, PscError
from bridge.web.context import bridge

bp = Blueprint("psc_logout", __name__)
MAX_AGE = 300   # seconds: an older logout token is refused (replay window; its jti is remembered this long)
JWKS_REFETCH = 60


class LogoutTokenError(ValueError):
    pass


def _answer(status: int, error: str = "", description: str = ""):
    response = jsonify({"error": error, "error_description": description} if error else {})
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/psc/backchannel-logout")
def backchannel_logout():
    b = bridge()
    try:
        claims = verify_logout_token(b, request.form.get("logout_token", ""))
    except LogoutTokenError as exc:
        b.record("psc_backchannel_logout", "failure", reason=str(exc))
        metrics.psc_relay("backchannel_refused")
        return _answer(400, "invalid_request", str(exc))
    psc_sid = str(claims.get("sid") or "")
    ended = {sid for sid in psc_tokens.sessions_of(b, psc_sid=psc_sid, sub="" if psc_sid else str(claims["sub"]))
             if b.sessions.find(sid) is not None and (not psc_sid or _opened_by(b, sid, psc_sid))}
    b.record("psc_backchannel_logout", "success", sessions=len(ended))
    metrics.psc_relay("backchannel_logout")
    for sid in sorted(ended):
        psc_tokens.psc_session_ended(b, sid, source="backchannel_logout")
    return _answer(200)


def _opened_by(b, sid: str, psc_sid: str) -> bool:
    """The session's kept PSC tokens are of that PSC session (a later PSC login of the same session may have
    replaced them with another PSC session's); without kept tokens (relay stopped), the index is believed."""
    record = psc_tokens.load(b, sid)
    return record is None or record.get("psc_sid") in ("", psc_sid)


def _verified(b, token: str) -> dict:
    """The claims of a logout token signed by PSC. Anyone can post here: an unknown `kid` refetches PSC's JWKS at
    most once per JWKS_REFETCH seconds (bridge-wide), so forged tokens cannot make the bridge hammer PSC."""
    try:
        header = extract_compact(token.encode()).headers()
    except (JoseError, ValueError, TypeError):
        raise LogoutTokenError("logout_token_invalid") from None
    alg = header.get("alg")
    if alg == "HS256" and b.settings.psc_client_secret:   # as PSC's ID tokens (bridge.upstream.psc)
        keys = OctKey.import_key(b.settings.psc_client_secret)
    elif alg in SIGNED_ALGS:
        keys = b.psc.jwks()
        if header.get("kid") not in {k.kid for k in keys} and b.store.add("psclogout:jwks", "1", JWKS_REFETCH):
            keys = b.psc.jwks(refresh=True)
    else:
        raise LogoutTokenError("logout_token_alg")
    try:
        return jwt.decode(token, keys, algorithms=[alg]).claims
    except (JoseError, ValueError, TypeError):
        raise LogoutTokenError("logout_token_signature") from None


def verify_logout_token(b, token: str) -> dict:
    if not token:
        raise LogoutTokenError("logout_token missing")
    try:
        claims = _verified(b, token)
        issuer = b.psc.metadata()["issuer"]
    except PscError as exc:
        raise LogoutTokenError(exc.code) from None
    now = b.clock.now()
    audiences = claims.get("aud") if isinstance(claims.get("aud"), list) else [claims.get("aud")]
    if claims.get("iss") != issuer:
        raise LogoutTokenError("logout_token_iss")
    if b.settings.psc_client_id not in audiences:
        raise LogoutTokenError("logout_token_aud")
    iat = claims.get("iat")
    if not isinstance(iat, (int, float)) or iat > now + SKEW or iat < now - MAX_AGE:
        raise LogoutTokenError("logout_token_iat")
    if "exp" in claims and (not isinstance(claims["exp"], (int, float)) or claims["exp"] < now - SKEW):
        raise LogoutTokenError("logout_token_expired")
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(EVENT), dict):
        raise LogoutTokenError("logout_token_events")
    if "nonce" in claims:
        raise LogoutTokenError("logout_token_nonce")
    if not isinstance(claims.get("sid") or claims.get("sub"), str):
        raise LogoutTokenError("logout_token_no_sid_or_sub")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti:
        raise LogoutTokenError("logout_token_jti")
    key = "psclogout:jti:" + hashlib.sha256(f"{claims['iss']}|{jti}".encode()).hexdigest()[:32]
    if not b.store.add(key, "1", MAX_AGE + 2 * SKEW):
        raise LogoutTokenError("logout_token_replayed")
    return claims
