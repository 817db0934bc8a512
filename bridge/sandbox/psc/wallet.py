"""The wallet host: `GET {wallet_url}/auth` (authorization request) and the login page it shows.

Errors about the client or its redirect_uri are shown as a page, never redirected (RFC 6749 §4.1.2.1);
every other error goes back to the client's redirect_uri with `error`, `error_description`, `state` (and `iss`).
"""
from __future__ import annotations

import re

from flask import current_app, make_response, redirect, render_template, request

from ...acr import met as acr_met
from ..professionals import DEFAULT_USER, TEST_PROFESSIONALS, display_name
from .config import EmulatedClient
from .core import AUTH_MODES, SESSION_COOKIE, Emulator, emulator, granted_scope, with_query
from .state import AuthorizationCode, AuthRequest, Grant, SsoSession

PKCE_CHALLENGE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
SIMULATED_ERROR = "Erreur simulée par l'émulateur PSC"
DELEGATE = "psc_emulator_delegate"   # broker.delegate, registered by app.py (broker.py imports this module)


def authorize():
    emu = emulator()
    return submit_login(emu) if request.method == "POST" else start_authorization(emu)


def start_authorization(emu: Emulator):
    args = request.args
    client = emu.config.client(args.get("client_id"))
    if client is None:
        return error_page("Client inconnu", "Le client_id demandé n'est pas enregistré auprès de Pro Santé Connect.")
    redirect_uri = args.get("redirect_uri", "")
    if redirect_uri not in client.redirect_uris:
        return error_page("Adresse de retour invalide",
                          "Le paramètre redirect_uri ne correspond exactement à aucune adresse enregistrée.")
    state = args.get("state")

    def fail(error: str, description: str):
        return redirect(error_location(emu, redirect_uri, error, description, state))

    if emu.faults.get("authorize_error"):
        return fail(emu.faults["authorize_error"], SIMULATED_ERROR)
    problem = request_problem(args)
    if problem:
        return fail(*problem)

    auth_request = parse_request(emu, args, client, redirect_uri)
    session = emu.state.live_session(request.cookies.get(SESSION_COOKIE))
    if session and "login" not in auth_request.prompt and not too_old(emu, session, args.get("max_age")):
        # SSO: the user is already authenticated in this browser, code at once with the original auth_time.
        return redirect(success_location(emu, auth_request, session))
    if "none" in auth_request.prompt:
        return fail("login_required", "Aucune session Pro Santé Connect active")
    if args.get("kc_idp_hint"):   # « FI local »: an establishment IdP authenticates instead of this page
        return current_app.extensions[DELEGATE](emu, auth_request, args["kc_idp_hint"])

    txn = emu.state.add_login(auth_request)
    hint = auth_request.login_hint
    return login_page(emu, txn, selected=hint if hint in TEST_PROFESSIONALS else DEFAULT_USER)


def parse_request(emu: Emulator, args, client: EmulatedClient, redirect_uri: str) -> AuthRequest:
    challenge = args.get("code_challenge") or None
    return AuthRequest(
        client_id=client.client_id, redirect_uri=redirect_uri, scope=granted_scope(args.get("scope", "")),
        state=args.get("state"), nonce=args.get("nonce"), code_challenge=challenge,
        code_challenge_method=(args.get("code_challenge_method") or "plain") if challenge else None,
        prompt=tuple(args.get("prompt", "").split()), login_hint=args.get("login_hint", ""),
        acr_values=args.get("acr_values", ""), expires_at=emu.state.now() + emu.config.login_ttl)


def request_problem(args) -> tuple[str, str] | None:
    """The first redirectable error of an authorization request, or None."""
    if args.get("response_type") != "code":
        return "unsupported_response_type", "Seul response_type=code est accepté"
    if args.get("response_mode", "query") != "query":
        return "invalid_request", "L'émulateur ne gère que response_mode=query"
    if "openid" not in args.get("scope", "").split():
        return "invalid_scope", "Le scope doit contenir openid"
    challenge, method = args.get("code_challenge"), args.get("code_challenge_method")
    if method and not challenge:
        return "invalid_request", "code_challenge_method sans code_challenge"
    if challenge and (method or "plain") not in ("plain", "S256"):
        return "invalid_request", "code_challenge_method doit être plain ou S256"
    if challenge and not PKCE_CHALLENGE.match(challenge):
        return "invalid_request", "code_challenge invalide"
    prompt = args.get("prompt", "").split()
    if "none" in prompt and len(prompt) > 1:
        return "invalid_request", "prompt=none ne se combine avec aucune autre valeur"
    return None


def too_old(emu: Emulator, session: SsoSession, max_age: str | None) -> bool:
    """OIDC max_age: an SSO session authenticated longer ago than max_age seconds needs a new login."""
    if max_age is None or not max_age.isdigit():
        return False
    return emu.state.now() - session.auth_time > int(max_age)


def submit_login(emu: Emulator):
    form = request.form
    pending = emu.state.peek_login(form.get("txn", ""))
    if pending is None:
        return error_page("Demande expirée",
                          "Cette demande de connexion est inconnue, déjà utilisée ou expirée. "
                          "Recommencez depuis l'application.")
    if form.get("action") == "cancel":
        emu.state.take_login(form["txn"])
        return redirect(error_location(emu, pending.redirect_uri, "access_denied",
                                       "Connexion annulée par l'utilisateur", pending.state))
    user, auth_mode = form.get("user", ""), form.get("auth_mode", "")
    if user not in TEST_PROFESSIONALS or auth_mode not in AUTH_MODES:
        return login_page(emu, form["txn"], selected=user or DEFAULT_USER, auth_mode=auth_mode,
                          error="Choisissez un professionnel et un moyen d'identification.", status=400)
    if emu.state.take_login(form["txn"]) is None:  # used concurrently
        return error_page("Demande expirée", "Cette demande de connexion a déjà été utilisée.")

    session = authenticate(emu, user, auth_mode)
    response = redirect(success_location(emu, pending, session))
    response.set_cookie(SESSION_COOKIE, session.sid, max_age=int(session.expires_at - emu.state.now()),
                        path="/", httponly=True, samesite="Lax", secure=request.is_secure)
    return response


def authenticate(emu: Emulator, user: str, auth_mode: str) -> SsoSession:
    """One SSO session per browser: the same user re-authenticating keeps it (new auth_time, like Keycloak);
    another user (card swap) ends it, with its tokens, and gets a new one."""
    current = emu.state.live_session(request.cookies.get(SESSION_COOKIE))
    if current and current.user == user:
        return emu.state.reauthenticate(current, auth_mode)
    if current:
        emu.state.end_session(current.sid)
    return emu.state.open_session(user, auth_mode, emu.config.sso_ttl)


def success_location(emu: Emulator, auth_request: AuthRequest, session: SsoSession) -> str:
    """Issue a single-use code bound to the request and the session, and build the callback URL (or, with
    unmet_acr="error", the unmet_authentication_requirements error when the login's acr is below acr_values)."""
    if emu.config.unmet_acr == "error" and not acr_met(auth_request.acr_values.split(),
                                                       emu.config.acr(session.auth_mode, session.idp_acr)):
        return error_location(emu, auth_request.redirect_uri, "unmet_authentication_requirements",
                              "Niveau d'authentification demandé non atteint", auth_request.state)
    code = emu.state.add_code(AuthorizationCode(
        grant=Grant(client_id=auth_request.client_id, sid=session.sid, scope=auth_request.scope,
                    nonce=auth_request.nonce),
        redirect_uri=auth_request.redirect_uri, code_challenge=auth_request.code_challenge,
        code_challenge_method=auth_request.code_challenge_method,
        expires_at=emu.state.now() + emu.config.code_ttl))
    return with_query(auth_request.redirect_uri, {
        "state": auth_request.state, "session_state": session.sid,
        "iss": emu.config.issuer if emu.config.send_iss else None, "code": code})


def error_location(emu: Emulator, redirect_uri: str, error: str, description: str, state: str | None) -> str:
    return with_query(redirect_uri, {
        "error": error, "error_description": description, "state": state,
        "iss": emu.config.issuer if emu.config.send_iss else None})


def login_page(emu: Emulator, txn: str, *, selected: str, auth_mode: str = "CARD", error: str = "",
               status: int = 200):
    professionals = [(national_id, display_name(national_id)) for national_id in TEST_PROFESSIONALS]
    html = render_template("sandbox/psc_login.html", action=emu.config.authorization_endpoint, txn=txn,
                           professionals=professionals, selected=selected, auth_modes=AUTH_MODES,
                           auth_mode=auth_mode if auth_mode in AUTH_MODES else "CARD", error=error)
    response = make_response(html, status)
    response.headers["Cache-Control"] = "no-store"
    return response


def error_page(title: str, message: str, status: int = 400):
    return make_response(render_template("sandbox/psc_error.html", title=title, message=message), status)
