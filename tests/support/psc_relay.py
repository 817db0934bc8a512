"""A bridge + PSC emulator + app back-channel receiver for the PSC token relay and PSC-side session end tests.

`relay_stack` (a plugin of tests/conftest.py) serves the shipped policies plus a thick-client service `lgc`:
`lgc-desktop` and `lgc-viewer` may exchange their tokens for PSC's (audiences DMP and INSi), `lgc-basic` may not.
The bridge is registered with the emulator with its /psc/backchannel-logout URI. Both clocks move together
(`stack.advance`), so the PSC refresh schedule runs on injected time.
"""
from __future__ import annotations

import dataclasses
import json

import pytest
import requests

from bridge.clock import Clock
from tests.support.bridge import AppClient, rewrite_policies

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
DMP, INSI = "https://dmp.example/api", "urn:ans:insi"
SECRET = "lgc-secret"   # SHA-256 below
LGC = """service: lgc
name: Logiciel de gestion de cabinet (test)
clients:
"""
CLIENT = """  - client_id: {client_id}
    client_secret_sha256: 0df031cacd97f5fe4466676d1926c7978db93cdad57c597aec63c9339db79071
    token_endpoint_auth_method: client_secret_basic
    redirect_uris: [http://127.0.0.1:8002/{client_id}/callback]
    backchannel_logout_uri: http://127.0.0.1:8002/{client_id}/backchannel-logout
    scopes: [openid, profile, rpps]
    grant_types: {grants}
"""
SERVICE_TAIL = """allowed_mie: [psc]
require_2fa: true
idle_timeout: 30m
max_session: 4h
"""


def lgc_policy(audiences: tuple[str, ...] = ()) -> str:
    exchange = f"[authorization_code, refresh_token, {TOKEN_EXCHANGE}]\n    psc_audiences: " \
        f"[{', '.join((DMP, INSI, *audiences))}]"
    return LGC + "".join(CLIENT.format(client_id=c, grants=g) for c, g in (
        ("lgc-desktop", exchange), ("lgc-viewer", exchange), ("lgc-basic", "[authorization_code, refresh_token]"),
    )) + SERVICE_TAIL


@pytest.fixture
def relay_stack_factory(bridge_factory, receiver, tmp_path):
    """`env=` more bridge settings, `verify=` the CA of an HTTPS emulator, other keywords to bridge_factory."""
    def start(env: dict | None = None, verify=True, audiences: tuple[str, ...] = (), **kwargs):
        clock = Clock()
        trail = tmp_path / "audit.log"
        policies = rewrite_policies(tmp_path / "policies", receiver.url, {"lgc.yaml": lgc_policy(audiences)})
        server = bridge_factory(env={"BRIDGE_POLICIES_DIR": str(policies), "BRIDGE_AUDIT_PATH": str(trail),
                                     **(env or {})}, clock=clock, **kwargs)
        emu = server.psc.emulator
        client = dataclasses.replace(emu.config.clients[0],
                                     backchannel_logout_uri=f"{server.url}/psc/backchannel-logout")
        emu.config = dataclasses.replace(emu.config, clients=(client,))
        server.clock, server.receiver, server.trail, server.verify = clock, receiver, trail, verify
        server.advance = lambda seconds: _advance(server, seconds)
        return server

    return start


@pytest.fixture
def relay_stack(relay_stack_factory):
    return relay_stack_factory()


def _advance(server, seconds: float) -> None:
    server.clock.advance(seconds)
    try:
        requests.post(f"{server.psc.url}/_emulator/clock", json={"advance": seconds}, timeout=5,
                      verify=server.verify).raise_for_status()
    except requests.ConnectionError:
        pass   # the test stopped the emulator (PSC unreachable)


def login(server, client_id: str = "lgc-desktop", user: str = "899700000002") -> tuple[dict, requests.Session]:
    """A PSC login of `client_id` (code flow); its bridge tokens and the browser."""
    browser = requests.Session()
    browser.verify = server.verify
    app = AppClient(server.url, client_id, SECRET, f"{server.receiver.url}/{client_id}/callback")
    tokens = app.exchange(app.login(browser, user=user)["code"])
    return tokens, browser


def exchange(server, subject_token: str, client_id: str = "lgc-desktop", **extra) -> requests.Response:
    data = {"grant_type": TOKEN_EXCHANGE, "subject_token": subject_token, "subject_token_type": ACCESS_TOKEN_TYPE,
            "audience": DMP, **extra}
    return requests.post(f"{server.url}/token", auth=(client_id, SECRET), timeout=20,
                         data={k: v for k, v in data.items() if v is not None})


def introspect_at_psc(server, psc_token: str) -> dict:
    """What PSC (the emulator) says of a PSC access token: a target API's authorization server would ask this."""
    return requests.post(f"{server.psc.issuer}/protocol/openid-connect/token/introspect", timeout=5,
                         auth=("bridge-test", "bridge-test-secret"), data={"token": psc_token}).json()


def audit(server, event: str) -> list[dict]:
    lines = [json.loads(line) for line in server.trail.read_text().splitlines() if line.strip()]
    return [line for line in lines if line.get("event") == event]


def userinfo(server, access_token: str) -> requests.Response:
    return requests.get(f"{server.url}/userinfo", headers={"Authorization": f"Bearer {access_token}"}, timeout=10)


def sid_of(server, access_token: str) -> str:
    return access_token.split(".")[0]
