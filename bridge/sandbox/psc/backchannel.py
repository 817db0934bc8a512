"""Back-channel logout from the emulated realm (OIDC Back-Channel Logout 1.0, as Keycloak sends it): when an SSO
session ends by logout (RP-initiated, or the test control `POST /_emulator/sessions/end`), each client that got
tokens in it and registered a `backchannel_logout_uri` receives a signed logout token. Expiry (idle, max) sends
none, as in Keycloak: a relying party finds it at its next refresh (invalid_grant)."""
from __future__ import annotations

import uuid

import requests

from ..professionals import TEST_PROFESSIONALS
from .core import Emulator

EVENT = "http://schemas.openid.net/event/backchannel-logout"


def logout_token(emu: Emulator, client_id: str, sid: str, user: str) -> str:
    now = int(emu.state.now())
    claims = {"iat": now, "exp": now + 120, "jti": str(uuid.uuid4()), "iss": emu.config.issuer, "aud": client_id,
              "sub": TEST_PROFESSIONALS[user]["sub"], "typ": "Logout", "sid": sid, "events": {EVENT: {}}}
    return emu.keys.sign(claims, typ="logout+jwt")


def end_and_notify(emu: Emulator, sid: str, *, notify: bool = True) -> dict[str, int]:
    """End session `sid`; {client_id: HTTP status (0: unreachable)} of the logout tokens delivered."""
    session, clients = emu.state.session_clients(sid)
    if session is None or not emu.state.end_session(sid) or not notify:
        return {}
    delivered = {}
    for client_id in sorted(clients):
        client = emu.config.client(client_id)
        if client is None or not client.backchannel_logout_uri:
            continue
        try:
            delivered[client_id] = requests.post(client.backchannel_logout_uri, timeout=5, allow_redirects=False,
                                                 data={"logout_token": logout_token(emu, client_id, sid,
                                                                                    session.user)}).status_code
        except requests.RequestException:
            delivered[client_id] = 0
    return delivered
