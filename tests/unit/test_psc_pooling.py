"""PSC calls reuse pooled keep-alive connections (one session per thread) and never carry cookies between logins."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from joserfc.jwk import RSAKey

from bridge.clock import Clock
from bridge.config import load_settings
from bridge.store.memory import MemoryStore
from bridge.upstream.psc import PscClient

JWKS = {"keys": [RSAKey.generate_key(2048, parameters={"kid": "k1"}).as_dict(private=False)]}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as PSC's load balancer

    def do_GET(self):  # noqa: N802
        self.server.peers.add(self.client_address)
        self.server.cookies.append(self.headers.get("Cookie"))
        base = f"http://127.0.0.1:{self.server.server_port}"
        body = json.dumps({"issuer": base, "authorization_endpoint": base + "/auth", "token_endpoint": base + "/token",
                           "jwks_uri": base + "/jwks", "userinfo_endpoint": base + "/userinfo",
                           "sub": "x", **JWKS}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Set-Cookie", f"AUTH_SESSION_ID={len(self.server.cookies)}; Path=/")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def upstream():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.peers, server.cookies = set(), []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def client_for(upstream) -> PscClient:
    url = f"http://127.0.0.1:{upstream.server_port}/.well-known/openid-configuration"
    return PscClient(load_settings({"BRIDGE_PSC_DISCOVERY_URL": url}), MemoryStore(), Clock())


def test_discovery_jwks_and_userinfo_share_one_connection_per_thread(upstream):
    client = client_for(upstream)
    meta = client.metadata()
    client.jwks()
    for _ in range(5):
        assert client.userinfo(meta, "at")["sub"] == "x"
    assert len(upstream.cookies) == 7
    assert len(upstream.peers) == 1  # a fresh requests.Session per call opens 7 connections

    other = threading.Thread(target=lambda: client.userinfo(meta, "at"))
    other.start()
    other.join()
    assert len(upstream.peers) == 2  # another thread has its own session (requests.Session is not thread-safe)


def test_upstream_cookies_are_not_replayed_on_later_calls(upstream):
    client = client_for(upstream)
    meta = client.metadata()
    client.userinfo(meta, "at")
    client.userinfo(meta, "at")
    assert upstream.cookies == [None, None, None]


def test_oauth_session_is_reused_but_forgets_the_previous_token(upstream):
    client = client_for(upstream)
    first = client._session("https://a.example/cb")
    first.token = {"access_token": "someone-elses", "token_type": "Bearer"}
    second = client._session("https://b.example/cb")
    assert second is first and second.redirect_uri == "https://b.example/cb" and not second.token
