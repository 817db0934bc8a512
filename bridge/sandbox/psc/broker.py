"""« FI local » / « PSC sans couture »: PSC hands the login to an establishment identity provider.

PSC (Keycloak) brokers identity providers: an authorization request with `kc_idp_hint=<alias>` naming a configured
EstablishmentIdp skips PSC's own login page. The emulator then plays Keycloak's broker, an ordinary OIDC client
of that IdP (here: the bridge's own provider, docs/provider.md « La passerelle comme FI d'établissement »):

1. /auth?...&kc_idp_hint=<alias> -> 302 to the IdP's authorization_endpoint (code, PKCE S256, nonce, state; a
   cookie binds the state to this browser), redirect_uri = {issuer}/broker/<alias>/endpoint;
2. the IdP's answer at that endpoint: its error -> the RP gets access_denied; its code is exchanged at the IdP's
   token endpoint (client_secret_basic), the ID token checked (IdP's JWKS, iss, aud, nonce, exp);
3. the claim `subject_claim` (default national_id) names the professional (a SubjectNameID of the realm); unknown
   -> access_denied to the RP;
4. a PSC SSO session opens with authMode "FI" and the IdP's `amr`, which PSC's access and ID tokens carry
   (`amr`); the original authorization completes (code to the RP).
What production PSC puts in its tokens after a delegated login (authMode value, amr forwarded or not, acr) is
UNCONFIRMED: authMode "FI" and the forwarded amr are this emulator's choices; the acr is acr_by_auth_mode["FI"]
(default eidas1, like any mode PSC does not list), or the IdP's own acr with fi_acr="idp". Unknown alias ->
invalid_request to the RP.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import threading
from dataclasses import dataclass, field

import requests
from flask import current_app, redirect, request
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from ..professionals import TEST_PROFESSIONALS
from .config import EstablishmentIdp
from .core import SESSION_COOKIE, Emulator, emulator, with_query
from .state import AuthRequest, new_secret
from .wallet import authenticate, error_location, error_page, success_location

EXTENSION = "psc_emulator_broker"
COOKIE = "KC_BROKER"          # binds a delegation to the browser that started it (login CSRF)
AUTH_MODE = "FI"              # UNCONFIRMED: what PSC's authMode says after a delegated login
HTTP_TIMEOUT = 5
LEEWAY = 60


class BrokerError(Exception):
    """The IdP could not be reached or its answer is not acceptable (the RP gets access_denied)."""


@dataclass(frozen=True)
class Delegation:
    auth_request: AuthRequest
    alias: str
    nonce: str
    verifier: str
    browser: str              # SHA-256 of the COOKIE value
    expires_at: float


@dataclass
class Delegations:
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _pending: dict[str, Delegation] = field(default_factory=dict)

    def add(self, state: str, delegation: Delegation) -> None:
        with self._lock:
            self._pending[state] = delegation

    def take(self, state: str, now: float) -> Delegation | None:
        """Single use; expired ones are dropped on the way."""
        with self._lock:
            self._pending = {k: v for k, v in self._pending.items() if v.expires_at > now}
            return self._pending.pop(state, None)


def _delegations() -> Delegations:
    return current_app.extensions[EXTENSION]


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _discovery(idp: EstablishmentIdp) -> dict:
    try:
        meta = requests.get(f"{idp.issuer}/.well-known/openid-configuration", timeout=HTTP_TIMEOUT).json()
    except (requests.RequestException, ValueError) as exc:
        raise BrokerError(f"découverte illisible ({type(exc).__name__})") from exc
    if not isinstance(meta, dict) or meta.get("issuer") != idp.issuer:
        raise BrokerError("découverte invalide (issuer)")
    return meta


def delegate(emu: Emulator, auth_request: AuthRequest, alias: str):
    """The authorization request goes to the establishment IdP `alias` instead of PSC's login page."""
    idp = emu.config.establishment_idp(alias)
    if idp is None:
        return redirect(error_location(emu, auth_request.redirect_uri, "invalid_request",
                                       f"Fournisseur d'identité inconnu : {alias[:64]}", auth_request.state))
    try:
        meta = _discovery(idp)
    except BrokerError as exc:
        return redirect(error_location(emu, auth_request.redirect_uri, "temporarily_unavailable",
                                       f"Fournisseur d'identité {alias} injoignable : {exc}", auth_request.state))
    state, nonce, verifier, browser = new_secret(), new_secret(), new_secret(), new_secret()
    _delegations().add(state, Delegation(auth_request, alias, nonce, verifier, _sha256(browser),
                                         emu.state.now() + emu.config.login_ttl))
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    response = redirect(with_query(meta["authorization_endpoint"], {
        "response_type": "code", "client_id": idp.client_id, "redirect_uri": emu.config.broker_endpoint(alias),
        "scope": idp.scope, "state": state, "nonce": nonce, "code_challenge": challenge,
        "code_challenge_method": "S256"}))
    response.set_cookie(COOKIE, browser, max_age=emu.config.login_ttl, path="/", httponly=True, samesite="Lax",
                        secure=request.is_secure)
    return response


def endpoint(alias: str):
    """The IdP's answer (Keycloak: {issuer}/broker/<alias>/endpoint)."""
    emu = emulator()
    pending = _delegations().take(request.args.get("state", ""), emu.state.now())
    if pending is None or pending.alias != alias or not hmac.compare_digest(
            pending.browser, _sha256(request.cookies.get(COOKIE, ""))):
        return error_page("Demande expirée", "Cette réponse du fournisseur d'identité d'établissement ne correspond "
                                             "à aucune demande en cours dans ce navigateur. Recommencez depuis "
                                             "l'application.")
    asked = pending.auth_request

    def refuse(description: str):
        return redirect(error_location(emu, asked.redirect_uri, "access_denied", description[:300], asked.state))

    if request.args.get("error"):
        return refuse(f"Le fournisseur d'identité {alias} a refusé la connexion ({request.args['error'][:64]})")
    idp = emu.config.establishment_idp(alias)
    try:
        claims = _id_token_claims(emu, idp, request.args.get("code", ""), pending)
    except BrokerError as exc:
        return refuse(f"Réponse du fournisseur d'identité {alias} refusée : {exc}")
    user = claims.get(idp.subject_claim)
    if not isinstance(user, str) or user not in TEST_PROFESSIONALS:
        return refuse(f"Professionnel inconnu de Pro Santé Connect (fournisseur d'identité {alias})")
    amr = claims.get("amr")
    session = authenticate(emu, user, AUTH_MODE)
    session.amr = tuple(v for v in amr if isinstance(v, str)) if isinstance(amr, list) else ()
    session.idp_acr = claims["acr"][:32] if isinstance(claims.get("acr"), str) else ""
    response = redirect(success_location(emu, asked, session))
    response.set_cookie(SESSION_COOKIE, session.sid, max_age=int(session.expires_at - emu.state.now()),
                        path="/", httponly=True, samesite="Lax", secure=request.is_secure)
    response.delete_cookie(COOKIE, path="/")
    return response


def _id_token_claims(emu: Emulator, idp: EstablishmentIdp, code: str, pending: Delegation) -> dict:
    """Exchange the code (PKCE, client_secret_basic) and check the ID token; BrokerError names what failed."""
    if not code:
        raise BrokerError("code absent")
    meta = _discovery(idp)
    try:
        form = {"grant_type": "authorization_code", "code": code, "code_verifier": pending.verifier,
                "redirect_uri": emu.config.broker_endpoint(pending.alias)}
        answer = requests.post(meta["token_endpoint"], auth=(idp.client_id, idp.client_secret), data=form,
                               timeout=HTTP_TIMEOUT)
        token = answer.json()
        keys = KeySet.import_key_set(requests.get(meta["jwks_uri"], timeout=HTTP_TIMEOUT).json())
    except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
        raise BrokerError(f"jeton illisible ({type(exc).__name__})") from exc
    if answer.status_code != 200 or not isinstance(token, dict) or not isinstance(token.get("id_token"), str):
        raise BrokerError(f"échange du code refusé ({str(token.get('error', answer.status_code))[:64]})"
                          if isinstance(token, dict) else "échange du code refusé")
    try:
        claims = jwt.decode(token["id_token"], keys, algorithms=["RS256", "ES256", "PS256"]).claims
    except (JoseError, ValueError) as exc:
        raise BrokerError(f"signature du jeton d'identité invalide ({type(exc).__name__})") from exc
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    now = emu.state.now()
    if claims.get("iss") != idp.issuer or idp.client_id not in audiences:
        raise BrokerError("jeton d'identité émis par un autre fournisseur ou pour un autre client")
    if not isinstance(claims.get("nonce"), str) or not hmac.compare_digest(claims["nonce"], pending.nonce):
        raise BrokerError("nonce du jeton d'identité incorrect")
    if not isinstance(claims.get("exp"), int) or claims["exp"] + LEEWAY < now:
        raise BrokerError("jeton d'identité expiré")
    return claims
