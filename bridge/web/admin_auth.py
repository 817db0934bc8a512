"""The admin console logs in as an OIDC public client (`bridge-admin`, PKCE) of this very bridge.

Admins therefore authenticate like everyone (PSC or CPS, through /authorize), the `admin` service policy decides
(means, 2FA, timeouts) and its `admins:` list says who may enter. The code is exchanged in-process against the
same Authlib server that serves /token (no HTTP call to our own public URL, which a proxy may hide).
The console session lives in the store (`console:<hash>`), bound to the SSO session: when that session ends (idle,
deadline, logout, admin kill) the console is closed too.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import asdict, dataclass
from urllib.parse import urlencode

from joserfc import jwt
from joserfc.errors import JoseError
from werkzeug.test import EnvironBuilder

from bridge.errors import BridgeError
from bridge.login.transactions import browser_hash
from bridge.policy import effective_limits
from bridge.policy.reader import ADMIN_SERVICE
from bridge.sessions import session_key
from bridge.web.context import server

CONSOLE_COOKIE = "bridge_admin"   # logical name; on the wire: bridge.web.security.cookie_name
CLIENT_ID = "bridge-admin"
LOGIN_TTL = 600


class ConsoleError(BridgeError):
    """The admin console refuses: not an administrator (403), no admin policy (404), a broken one (500)."""
    default_status = 403


@dataclass
class Console:
    token_hash: str
    national_id: str
    name: str
    sid: str
    mie: str
    csrf: str
    created: float
    last: float
    idle: int
    deadline: float
    id_token: str


def admin_service(bridge):
    return bridge.policies.services.get(ADMIN_SERVICE)


def admin_client(bridge):
    """(service, client, redirect_uri) or ConsoleError: the console needs the admin policy and its client."""
    service = admin_service(bridge)
    if service is None:
        raise ConsoleError("admin_disabled")
    client = next((c for c in service.clients if c.client_id == CLIENT_ID), None)
    redirect_uri = f"{bridge.settings.public_url}/admin/callback"
    if client is None or redirect_uri not in client.redirect_uris:
        raise ConsoleError("admin_misconfigured", f"{CLIENT_ID} must be a client of the {ADMIN_SERVICE!r} service "
                                                  f"with redirect URI {redirect_uri}")
    return service, client, redirect_uri


def begin_login(bridge, browser_secret: str) -> str:
    """The /authorize URL of the console's login; state, nonce and PKCE verifier wait in the store."""
    _service, client, redirect_uri = admin_client(bridge)
    state, nonce, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48)
    bridge.store.set_json(f"adminlogin:{state}", {"nonce": nonce, "verifier": verifier,
                                                   "browser": browser_hash(browser_secret)}, LOGIN_TTL)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = {"response_type": "code", "client_id": client.client_id, "redirect_uri": redirect_uri,
             "scope": " ".join(client.scopes), "state": state, "nonce": nonce, "code_challenge": challenge,
             "code_challenge_method": "S256"}
    return f"{bridge.settings.public_url}/authorize?{urlencode(query)}"


def finish_login(bridge, args: dict, browser_secret: str | None) -> tuple[str, dict]:
    """Check the callback, redeem the code, verify the ID token. Returns (national id, ID token claims)."""
    _service, client, redirect_uri = admin_client(bridge)
    pending = bridge.store.consume_json(f"adminlogin:{args.get('state', '')}") if args.get("state") else None
    if pending is None or not hmac.compare_digest(pending["browser"], browser_hash(browser_secret)):
        raise ConsoleError("txn_invalid")
    if args.get("error") or not args.get("code"):
        raise ConsoleError("admin_login_failed", str(args.get("error", "no code")))
    request = EnvironBuilder(path="/token", method="POST", base_url=bridge.settings.public_url, data={
        "grant_type": "authorization_code", "code": args["code"], "redirect_uri": redirect_uri,
        "client_id": client.client_id, "code_verifier": pending["verifier"]}).get_request()
    answer = server().create_token_response(request=request)
    body = answer.get_json(silent=True) or {}
    if answer.status_code != 200 or "id_token" not in body:
        raise ConsoleError("admin_login_failed", str(body.get("error", answer.status_code)))
    claims = _verify_id_token(bridge, body["id_token"], client.client_id, pending["nonce"])
    stored = bridge.store.get_json(session_key(claims.get("sid", "")))
    if stored is None:
        raise ConsoleError("admin_login_failed", "no SSO session behind the ID token")
    claims["id_token"] = body["id_token"]
    return stored["authn"]["identity"]["national_id"], claims


def _verify_id_token(bridge, token: str, client_id: str, nonce: str) -> dict:
    try:
        claims = bridge.keys.verify(token)
        jwt.JWTClaimsRegistry(now=lambda: int(bridge.clock.now()), leeway=30,
                              iss={"essential": True, "value": bridge.settings.issuer},
                              aud={"essential": True, "value": client_id},
                              nonce={"essential": True, "value": nonce}, exp={"essential": True}).validate(claims)
    except (JoseError, ValueError, TypeError) as exc:
        raise ConsoleError("admin_login_failed", f"ID token: {exc}") from None
    return dict(claims)


def open_console(bridge, national_id: str, claims: dict) -> str:
    """Store a console session; returns the cookie value (only its hash is stored)."""
    service = admin_service(bridge)
    now = bridge.clock.now()
    limits = effective_limits(service, now)
    token = secrets.token_urlsafe(32)
    auth_time = claims.get("auth_time", now)
    console = Console(token_hash=_hash(token), national_id=national_id, name=claims.get("name", ""),
                      sid=claims["sid"], mie=claims.get("mie", ""), csrf=secrets.token_urlsafe(24), created=now,
                      last=now, idle=limits.idle_timeout, deadline=min(auth_time + limits.max_session,
                                                                       now + limits.max_session),
                      id_token=claims["id_token"])
    _save(bridge, console)
    return token


def load_console(bridge, token: str | None, *, touch: bool = True) -> Console | None:
    """The live console of this cookie; None (and the record dropped) once idle, past its deadline, or when the
    SSO session behind it has ended, or when the person is no longer an administrator."""
    if not token:
        return None
    key = f"console:{_hash(token)}"
    data = bridge.store.get_json(key)
    if data is None:
        return None
    console, now = Console(**data), bridge.clock.now()
    service = admin_service(bridge)
    alive = (service is not None and console.national_id in service.admins and now < console.deadline
             and now - console.last < console.idle and bridge.store.get_json(session_key(console.sid)) is not None)
    if not alive:
        bridge.store.delete(key)
        return None
    if touch:
        console.last = now
        _save(bridge, console)
    return console


def close_console(bridge, console: Console) -> None:
    bridge.store.delete(f"console:{console.token_hash}")


def csrf_ok(console: Console | None, submitted: str | None) -> bool:
    return console is not None and bool(submitted) and hmac.compare_digest(console.csrf, submitted)


def _save(bridge, console: Console) -> None:
    ttl = max(1, int(min(console.deadline, console.last + console.idle) - bridge.clock.now()) + 60)
    bridge.store.set_json(f"console:{console.token_hash}", asdict(console), ttl)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
