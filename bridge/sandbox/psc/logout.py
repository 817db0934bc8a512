"""RP-initiated logout (`end_session_endpoint`), Keycloak style.

`post_logout_redirect_uri` must be registered exactly for the client named by `id_token_hint` (or `client_id`);
otherwise an error page, never a redirect. The SSO session of the hint's `sid` and of the browser cookie ends,
and with it every refresh and access token of that session. `id_token_hint` may be expired (as in Keycloak) but
must verify: RS256 with the published key or HS256 with the client secret.
"""
from __future__ import annotations

import json

from flask import make_response, redirect, render_template, request
from joserfc import jws
from joserfc.errors import JoseError

from .backchannel import end_and_notify
from .core import SESSION_COOKIE, Emulator, emulator, with_query
from .signing import InvalidToken, token_header, verify_hs256
from .wallet import error_page


def end_session():
    emu = emulator()
    values = request.values
    post_logout_uri = values.get("post_logout_redirect_uri")
    hint = values.get("id_token_hint")
    try:
        hint_claims = verified_hint(emu, hint) if hint else {}
    except InvalidToken:
        return error_page("Déconnexion impossible", "Le paramètre id_token_hint est invalide.")
    hinted_client = hint_claims.get("azp") or _audience(hint_claims)
    client_id = values.get("client_id") or hinted_client
    if hinted_client and client_id != hinted_client:
        return error_page("Déconnexion impossible", "client_id ne correspond pas à id_token_hint.")
    client = emu.config.client(client_id)
    if post_logout_uri is not None:
        if client is None:
            return error_page("Déconnexion impossible",
                              "post_logout_redirect_uri exige id_token_hint ou client_id.")
        if post_logout_uri not in client.post_logout_redirect_uris:
            return error_page("Déconnexion impossible",
                              "post_logout_redirect_uri ne correspond à aucune adresse enregistrée.")

    for sid in {hint_claims.get("sid"), request.cookies.get(SESSION_COOKIE)} - {None}:
        end_and_notify(emu, sid)   # back-channel logout to the clients that registered it

    if post_logout_uri is not None:
        state = None if emu.config.omit_logout_state else values.get("state")
        response = redirect(with_query(post_logout_uri, {"state": state}))
    else:
        response = make_response(render_template("sandbox/psc_logged_out.html"))
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def verified_hint(emu: Emulator, token: str) -> dict:
    alg = token_header(token).get("alg")
    if alg == "RS256":
        return emu.keys.verify(token)
    if alg == "HS256":
        client = emu.config.client(_audience(_unverified_claims(token)))
        if client is None or not client.secret:
            raise InvalidToken("unknown audience")
        return verify_hs256(token, client.secret)
    raise InvalidToken(f"alg {alg!r}")


def _unverified_claims(token: str) -> dict:
    """Only to find which client secret verifies an HS256 hint; the claims are used after verification."""
    try:
        claims = json.loads(jws.extract_compact(token.encode()).payload)
    except (JoseError, ValueError) as error:
        raise InvalidToken(type(error).__name__) from error
    return claims if isinstance(claims, dict) else {}


def _audience(claims: dict) -> str | None:
    aud = claims.get("aud")
    return aud[0] if isinstance(aud, list) and aud else aud if isinstance(aud, str) else None
