"""PSC CIBA (OpenID CIBA Core 1.0, poll mode) as the emulated realm offers it (docs/provider.md, CIBA).

    POST {oidc}/ext/ciba/auth          client-authenticated like the token endpoint: scope (openid), login_hint
                                       (the national id), binding_message, acr_values, channel=CARD|MOBILE
                                       -> {auth_req_id, expires_in, interval}; unknown login_hint -> unknown_user_id
    POST {oidc}/token                  grant_type=urn:openid:params:grant-type:ciba&auth_req_id=…
                                       -> authorization_pending | slow_down | expired_token | access_denied |
                                          invalid_grant (unknown, another client's, already used) | tokens
    GET/POST {base}/_emulator/ciba     test control: list the pending requests; {"login_hint", "decision":
                                       approve|deny, "auth_mode"?} answers the newest pending one of that user
    GET/POST {wallet}/ciba             the same as a small page (what the professional's e-CPS app would show)

`expires_in` 120 s as PSC answers; `interval` (5 s, Keycloak's default) and the default channel are UNCONFIRMED for
PSC: EmulatorConfig.ciba_interval / ciba_expires_in. Polling before `interval` -> slow_down, and the interval grows
by 5 s (CIBA Core §11). Approved tokens are those of the code flow (a new SSO session, ID token without nonce).
"""
from __future__ import annotations

import html
import threading
from dataclasses import dataclass, field

from flask import current_app, jsonify, make_response, request

from ..professionals import TEST_PROFESSIONALS
from .clientauth import AuthenticatedClient, authenticate_client
from .core import AUTH_MODES, Emulator, OAuthError, emulator, granted_scope, no_store
from .state import Grant, new_secret, token_key
from .tokens import token_response

GRANT_TYPE = "urn:openid:params:grant-type:ciba"
EXTENSION = "psc_emulator_ciba"
SLOW_DOWN_STEP = 5
MAX_BINDING_MESSAGE = 64


@dataclass
class CibaRequest:
    client_id: str
    user: str                   # SubjectNameID (login_hint)
    scope: str
    binding_message: str
    channel: str                # CARD | MOBILE
    expires_at: float
    interval: int
    status: str = "pending"     # pending | approved | denied | used
    auth_mode: str = ""
    next_poll: float = 0.0
    created: float = 0.0
    cert_thumbprint: str = ""


@dataclass
class CibaRequests:
    """auth_req_id (by hash) -> request; one lock, as the rest of the emulator's state."""
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _requests: dict[str, CibaRequest] = field(default_factory=dict)

    def add(self, request: CibaRequest) -> str:
        value = new_secret()
        with self._lock:
            self._requests[token_key(value)] = request
        return value

    def get(self, value: str) -> CibaRequest | None:
        with self._lock:
            return self._requests.get(token_key(value))

    def pending(self, now: float) -> list[CibaRequest]:
        with self._lock:
            found = [r for r in self._requests.values() if r.status == "pending" and r.expires_at > now]
        return sorted(found, key=lambda r: r.created, reverse=True)

    def decide(self, login_hint: str, approve: bool, auth_mode: str, now: float) -> CibaRequest | None:
        """The newest pending request of this user gets the decision."""
        for found in self.pending(now):
            if found.user == login_hint:
                with self._lock:
                    found.status, found.auth_mode = ("approved" if approve else "denied"), auth_mode or found.channel
                return found
        return None


def requests_of(emu: Emulator) -> CibaRequests:
    return current_app.extensions[EXTENSION]


def backchannel_authentication():
    emu = emulator()
    try:
        return no_store(jsonify(_authenticate(emu)))
    except OAuthError as error:
        return error.response()


def _authenticate(emu: Emulator) -> dict:
    config, form = emu.config, request.form
    caller: AuthenticatedClient = authenticate_client(config)
    scope = form.get("scope", "")
    if "openid" not in scope.split():
        raise OAuthError("invalid_scope", "Le scope doit contenir openid")
    hint = form.get("login_hint", "")
    if not hint:
        raise OAuthError("invalid_request", "login_hint absent (identifiant national du professionnel)")
    if hint not in TEST_PROFESSIONALS:
        raise OAuthError("unknown_user_id", "Utilisateur inconnu")
    binding = form.get("binding_message", "")
    if len(binding) > MAX_BINDING_MESSAGE or any(not c.isprintable() for c in binding):
        raise OAuthError("invalid_binding_message", "binding_message invalide")
    channel = form.get("channel", config.ciba_default_channel)
    if channel not in AUTH_MODES:
        raise OAuthError("invalid_request", f"channel doit valoir {' ou '.join(AUTH_MODES)}")
    now = emu.state.now()
    value = requests_of(emu).add(CibaRequest(
        client_id=caller.client.client_id, user=hint, scope=granted_scope(scope), binding_message=binding,
        channel=channel, expires_at=now + config.ciba_expires_in, interval=config.ciba_interval, created=now,
        cert_thumbprint=caller.cert_thumbprint))
    return {"auth_req_id": value, "expires_in": config.ciba_expires_in, "interval": config.ciba_interval}


def token_grant(emu: Emulator, caller: AuthenticatedClient) -> dict:
    """The token endpoint's CIBA branch (called after client authentication)."""
    value = request.form.get("auth_req_id")
    if not value:
        raise OAuthError("invalid_request", "Paramètre auth_req_id absent")
    found = requests_of(emu).get(value)
    if found is None or found.client_id != caller.client.client_id or found.status == "used":
        raise OAuthError("invalid_grant", "auth_req_id inconnu ou déjà utilisé")
    now = emu.state.now()
    if found.expires_at <= now:
        raise OAuthError("expired_token", "La demande d'authentification a expiré")
    if found.status == "denied":
        raise OAuthError("access_denied", "Le professionnel a refusé la demande")
    if found.status == "pending":
        if now < found.next_poll:
            found.interval += SLOW_DOWN_STEP
            found.next_poll = now + found.interval
            raise OAuthError("slow_down", f"Intervalle de {found.interval} s")
        found.next_poll = now + found.interval
        raise OAuthError("authorization_pending", "En attente du professionnel")
    found.status = "used"
    session = emu.state.open_session(found.user, found.auth_mode, emu.config.sso_ttl)
    grant = Grant(client_id=found.client_id, sid=session.sid, scope=found.scope, nonce=None,
                  cert_thumbprint=caller.cert_thumbprint or found.cert_thumbprint)
    return token_response(emu, grant, caller.client, session)


# -- test control and page ------------------------------------------------------------------------------------
def _listed(found: CibaRequest) -> dict:
    return {"login_hint": found.user, "client_id": found.client_id, "binding_message": found.binding_message,
            "channel": found.channel, "scope": found.scope, "expires_at": found.expires_at}


def control():
    """GET: the pending requests; POST {"login_hint", "decision": approve|deny, "auth_mode"?}: answer one."""
    emu = emulator()
    now = emu.state.now()
    if request.method == "GET":
        return jsonify([_listed(r) for r in requests_of(emu).pending(now)])
    body = request.get_json(force=True, silent=True) or {}
    decision, auth_mode = body.get("decision"), body.get("auth_mode", "")
    if decision not in ("approve", "deny") or (auth_mode and auth_mode not in AUTH_MODES):
        return jsonify({"error": "invalid_request", "error_description": "decision approve|deny, auth_mode "
                                                                         "CARD|MOBILE"}), 400
    found = requests_of(emu).decide(str(body.get("login_hint", "")), decision == "approve", auth_mode, now)
    if found is None:
        return jsonify({"error": "not_found", "error_description": "aucune demande en attente"}), 404
    return jsonify(_listed(found))


def page():
    """What the e-CPS app would show: each pending request with its binding message, « Valider » / « Refuser »."""
    emu = emulator()
    now = emu.state.now()
    if request.method == "POST":
        requests_of(emu).decide(request.form.get("login_hint", ""), request.form.get("decision") == "approve",
                                "", now)
    rows = "".join(
        f'<li><form method="post"><input type="hidden" name="login_hint" value="{html.escape(r.user)}">'
        f"{html.escape(TEST_PROFESSIONALS[r.user].get('given_name', ''))} ({html.escape(r.user)}) — "
        f"code <strong>{html.escape(r.binding_message or '—')}</strong>, {html.escape(AUTH_MODES[r.channel])} "
        f'<button name="decision" value="approve">Valider</button> '
        f'<button name="decision" value="deny">Refuser</button></form></li>'
        for r in requests_of(emu).pending(now))
    body = (f'<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>Demandes CIBA — émulateur PSC'
            f"</title></head><body><h1>Demandes d'authentification en attente</h1>"
            f"<ul>{rows or '<li>Aucune demande en attente.</li>'}</ul></body></html>")
    return no_store(make_response(body))
