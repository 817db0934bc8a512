"""What the realm issues: access token, ID token, token response and userinfo, with fault injection applied."""
from __future__ import annotations

import copy
import uuid

from ..professionals import TEST_PROFESSIONALS
from .config import EmulatedClient
from .core import Emulator
from .faults import merge_claims
from .signing import corrupt_signature, left_half_hash, sign_hs256, sign_unsigned
from .state import AccessToken, Grant, SsoSession


def access_token_claims(emu: Emulator, grant: Grant, session: SsoSession, now: int) -> dict:
    """The claims observed in a 2026 BAS access token (docs/sources.md, PSC), in the same order."""
    pro = TEST_PROFESSIONALS[session.user]
    claims = {
        "exp": now + emu.config.access_token_ttl,
        "iat": now,
        "auth_time": session.auth_time,
        "jti": f"onrtac:{uuid.uuid4()}",
        "iss": emu.config.issuer,
        "sub": pro["sub"],
        "typ": "Bearer",
        "azp": grant.client_id,
        "nonce": grant.nonce,
        "sid": session.sid,
        "acr": emu.config.acr(session.auth_mode, session.idp_acr),
        "scope": grant.scope,
        "SubjectNameID": pro["SubjectNameID"],
        "PSISubjectNameID": pro.get("PSISubjectNameID", ""),
        "preferred_username": pro["preferred_username"],
        "otherIds": copy.deepcopy(pro["otherIds"]),
        "authMode": session.auth_mode,
        "auth_level": "1",
    }
    if session.amr:   # a login by an establishment IdP: its amr, forwarded (UNCONFIRMED, broker.py)
        claims["amr"] = list(session.amr)
    if grant.cert_thumbprint:  # RFC 8705 certificate-bound token (PSC advertises it)
        claims["cnf"] = {"x5t#S256": grant.cert_thumbprint}
    return _without_none(claims)


def id_token_claims(emu: Emulator, grant: Grant, session: SsoSession, now: int, access_token: str) -> dict:
    pro = TEST_PROFESSIONALS[session.user]
    return _without_none({
        "exp": now + emu.config.access_token_ttl,   # Keycloak: the ID token lives as long as the access token
        "iat": now,
        "auth_time": session.auth_time,
        "jti": str(uuid.uuid4()),
        "iss": emu.config.issuer,
        "aud": grant.client_id,
        "sub": pro["sub"],
        "typ": "ID",
        "azp": grant.client_id,
        "nonce": grant.nonce,
        "sid": session.sid,
        "at_hash": left_half_hash(access_token),
        "acr": emu.config.acr(session.auth_mode, session.idp_acr),
        "amr": list(session.amr) or None,
        "SubjectNameID": pro["SubjectNameID"],
    })


def encode_id_token(emu: Emulator, claims: dict, client: EmulatedClient) -> str:
    faults = emu.faults
    claims = merge_claims(claims, faults.get("id_token_claims"))
    alg = faults.get("id_token_alg", emu.config.id_token_alg)
    if faults.get("id_token_kid_unknown"):
        token = emu.keys.sign_with_unpublished_key(claims)
    elif alg == "none":
        token = sign_unsigned(claims)
    elif alg == "HS256":
        token = sign_hs256(claims, client.secret)
    else:
        token = emu.keys.sign(claims)
    return corrupt_signature(token) if faults.get("id_token_bad_signature") else token


def token_response(emu: Emulator, grant: Grant, client: EmulatedClient, session: SsoSession) -> dict:
    """Issue an access token, a rotated refresh token and an ID token for `grant` (Keycloak's answer shape)."""
    now = int(emu.state.now())
    emu.state.seen(session, grant.client_id)
    claims = merge_claims(access_token_claims(emu, grant, session, now), emu.faults.get("access_token_claims"))
    access_token = emu.keys.sign(claims)
    emu.state.add_access(access_token, AccessToken(grant=grant, claims=claims,
                                                    expires_at=now + emu.config.access_token_ttl))
    refresh_token, refresh = emu.state.add_refresh(grant, emu.config.refresh_token_ttl, session)
    id_token = encode_id_token(emu, id_token_claims(emu, grant, session, now, access_token), client)
    return {
        "access_token": access_token,
        "expires_in": emu.config.access_token_ttl,
        "refresh_expires_in": int(refresh.expires_at - now),
        "refresh_token": refresh_token,
        "token_type": "Bearer",
        "id_token": id_token,
        "not-before-policy": 0,
        "session_state": session.sid,
        "scope": grant.scope,
    }


def userinfo_claims(emu: Emulator, session: SsoSession) -> dict:
    return merge_claims(copy.deepcopy(TEST_PROFESSIONALS[session.user]), emu.faults.get("userinfo_claims"))


def userinfo_jwt(emu: Emulator, session: SsoSession, client_id: str) -> str:
    """Signed userinfo (RS256, JWKS key): iss and aud first, then the userinfo claims; faults apply last."""
    body = {"iss": emu.config.issuer, "aud": client_id, **copy.deepcopy(TEST_PROFESSIONALS[session.user])}
    return emu.keys.sign(merge_claims(body, emu.faults.get("userinfo_claims")))


def _without_none(claims: dict) -> dict:
    """Optional request values (nonce) are left out rather than sent as null."""
    return {name: value for name, value in claims.items() if value is not None}
