"""PSC upstream at the edges (issue 12, defect 10): JWKS cache lifetime and refetch, a size cap and a total
deadline on every PSC answer, RFC 9207 §2.4 `iss` required when PSC advertises it (BRIDGE_PSC_REQUIRE_ISS).

Most cases run the relying party (PscClient) against a tiny local upstream whose answers each test scripts;
the `iss` cases also run a whole login through the bridge against the PSC emulator."""
from __future__ import annotations

import gzip
import json
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import RSAKey

from bridge.clock import Clock
from bridge.config import ConfigError, load_settings
from bridge.store.memory import MemoryStore
from bridge.upstream.psc import (
    JWKS_TTL_CEILING,
    JWKS_TTL_DEFAULT,
    JWKS_TTL_FLOOR,
    MAX_RESPONSE_BYTES,
    PscClient,
    PscError,
    cache_lifetime,
)
from tests.support.bridge import PORTAIL, AppClient

T0 = 1_900_000_000.0


def rsa(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, private=True, parameters={"kid": kid, "alg": "RS256", "use": "sig"})


class Upstream(ThreadingHTTPServer):
    """Answers per path: (status, headers, body) or a callable(handler) doing its own writing."""
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.base = f"http://127.0.0.1:{self.server_port}"
        self.hits: dict[str, int] = {}
        self.meta = {"issuer": self.base, "authorization_endpoint": self.base + "/auth",
                     "token_endpoint": self.base + "/token", "jwks_uri": self.base + "/jwks",
                     "userinfo_endpoint": self.base + "/userinfo"}
        self.routes: dict[str, object] = {}
        self.json("/.well-known/openid-configuration", self.meta)

    def json(self, path: str, data, headers: dict | None = None, status: int = 200) -> None:
        self.routes[path] = (status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(data).encode())

    def publish(self, *keys, headers: dict | None = None) -> None:
        self.json("/jwks", {"keys": [key.as_dict(private=False) for key in keys]}, headers)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self):
        path = self.path.split("?")[0]
        self.server.hits[path] = self.server.hits.get(path, 0) + 1
        if self.command == "POST":
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
        route = self.server.routes.get(path, (404, {}, b"{}"))
        if callable(route):
            return route(self)
        status, headers, body = route
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def upstream():
    server = Upstream()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def client_for(upstream, **env) -> PscClient:
    settings = load_settings({"BRIDGE_PSC_DISCOVERY_URL": upstream.base + "/.well-known/openid-configuration", **env})
    return PscClient(settings, MemoryStore(), Clock(fixed=T0))


def signed(key: RSAKey, kid: str | None = None) -> str:
    return jwt.encode({"alg": "RS256", "kid": kid or key.kid}, {"iss": "psc", "sub": "s"}, key)


# -- JWKS: cache headers with a ceiling and a floor; refetch on unknown kid or bad signature ------------------
@pytest.mark.parametrize("headers, ttl", [
    ({"Cache-Control": "public, max-age=120"}, 120),
    ({"Cache-Control": "max-age=120", "Age": "100"}, JWKS_TTL_FLOOR),
    ({"Cache-Control": "max-age=31536000"}, JWKS_TTL_CEILING),
    ({"Cache-Control": "max-age=0"}, JWKS_TTL_FLOOR),
    ({"Cache-Control": "no-cache"}, JWKS_TTL_FLOOR),
    ({"Cache-Control": "no-store, max-age=900"}, JWKS_TTL_FLOOR),
    ({"Expires": formatdate(T0 + 900, usegmt=True), "Date": formatdate(T0, usegmt=True)}, 900),
    ({"Expires": "0"}, JWKS_TTL_FLOOR),                      # invalid Expires = already expired
    ({}, JWKS_TTL_DEFAULT),
])
def test_jwks_lifetime_follows_cache_headers_within_bounds(headers, ttl):
    assert cache_lifetime(requests.structures.CaseInsensitiveDict(headers), T0) == ttl


def test_jwks_is_refetched_when_its_max_age_expires(upstream):
    upstream.publish(rsa("k1"), headers={"Cache-Control": "max-age=120"})
    client = client_for(upstream)
    client.jwks()
    client.clock.advance(119)
    client.jwks()
    assert upstream.hits["/jwks"] == 1
    client.clock.advance(2)
    client.jwks()
    assert upstream.hits["/jwks"] == 2


def test_a_key_removed_by_psc_stops_being_trusted_within_the_ceiling(upstream):
    old, new = rsa("old"), rsa("new")
    upstream.publish(old, new, headers={"Cache-Control": "max-age=86400"})   # PSC asks for a day: 1 h at most
    client = client_for(upstream)
    assert client._verify_jwt(signed(old), "id_token")["sub"] == "s"
    upstream.publish(new, headers={"Cache-Control": "max-age=86400"})        # PSC withdraws the old key
    client.clock.advance(JWKS_TTL_CEILING - 1)
    assert client._verify_jwt(signed(old), "id_token")["sub"] == "s"          # still cached
    client.clock.advance(2)
    with pytest.raises(PscError) as refused:
        client._verify_jwt(signed(old), "id_token")
    assert refused.value.code == "id_token_kid"


def test_a_kid_reused_for_a_new_key_is_refetched_once(upstream):
    first, second = rsa("k1"), rsa("k1")                      # same kid, another key (bad signature)
    upstream.publish(first, headers={"Cache-Control": "max-age=3600"})
    client = client_for(upstream)
    assert client._verify_jwt(signed(first), "id_token")["sub"] == "s"
    upstream.publish(second, headers={"Cache-Control": "max-age=3600"})
    assert client._verify_jwt(signed(second), "id_token")["sub"] == "s"      # no restart needed
    assert upstream.hits["/jwks"] == 2
    with pytest.raises(PscError) as refused:                  # a token that no key verifies: one refetch, refused
        client._verify_jwt(signed(rsa("k1")), "id_token")
    assert refused.value.code == "id_token_signature" and upstream.hits["/jwks"] == 3


def test_an_unknown_kid_is_refetched_once(upstream):
    first, rotated = rsa("k1"), rsa("k2")
    upstream.publish(first)
    client = client_for(upstream)
    client.jwks()
    upstream.publish(first, rotated)
    assert client._verify_jwt(signed(rotated), "id_token")["sub"] == "s"
    assert upstream.hits["/jwks"] == 2


# -- size cap -----------------------------------------------------------------------------------------------
def _chunked(body: bytes, encoding: str | None = None):
    def write(handler):
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Transfer-Encoding", "chunked")
        if encoding:
            handler.send_header("Content-Encoding", encoding)
        handler.end_headers()
        try:
            for start in range(0, len(body), 65536):
                piece = body[start:start + 65536]
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            handler.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
    return write


@pytest.mark.parametrize("how", ["content-length", "chunked", "gzip"])
def test_an_oversized_answer_is_refused(upstream, how):
    big = json.dumps({"keys": [], "pad": "x" * (MAX_RESPONSE_BYTES + 10)}).encode()
    if how == "content-length":
        upstream.routes["/jwks"] = (200, {"Content-Type": "application/json"}, big)
    elif how == "chunked":
        upstream.routes["/jwks"] = _chunked(big)
    else:                                                      # small on the wire, over the cap once decoded
        upstream.routes["/jwks"] = _chunked(gzip.compress(big), "gzip")
    client = client_for(upstream)
    with pytest.raises(PscError) as refused:
        client.jwks()
    assert refused.value.code == "psc_unreachable" and "too large" in refused.value.detail
    upstream.publish(rsa("k1"))
    assert client.jwks() is not None                          # the next call works


def test_an_answer_just_under_the_cap_is_read(upstream):
    body = json.dumps({"keys": [rsa("k1").as_dict(private=False)], "pad": "x" * (MAX_RESPONSE_BYTES - 2000)})
    upstream.routes["/jwks"] = _chunked(body.encode(), None)
    assert client_for(upstream).jwks() is not None


# -- total deadline -----------------------------------------------------------------------------------------
def _trickle(headers_first: bool, stop: threading.Event):
    """Bytes every 0.2 s: each read is well within the read timeout, the whole answer never comes."""
    def write(handler):
        try:
            if headers_first:
                handler.send_response(200)
                handler.send_header("Content-Type", "application/json")
                handler.send_header("Content-Length", "100000")
                handler.end_headers()
                handler.wfile.flush()
            else:
                handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
            while not stop.wait(0.2):
                handler.wfile.write(b" " if headers_first else b"X-Slow: 1\r\n")
                handler.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
    return write


@pytest.fixture
def stop():
    event = threading.Event()
    yield event
    event.set()


@pytest.mark.parametrize("headers_first", [True, False], ids=["slow-body", "slow-headers"])
def test_a_trickling_upstream_gets_psc_timeout_within_connect_plus_read(upstream, stop, headers_first):
    client = client_for(upstream, BRIDGE_PSC_CONNECT_TIMEOUT="0.5", BRIDGE_PSC_READ_TIMEOUT="1")
    client.metadata()
    upstream.routes["/jwks"] = _trickle(headers_first, stop)
    started = time.monotonic()
    with pytest.raises(PscError) as refused:
        client.jwks()
    assert refused.value.code == "psc_timeout"
    assert time.monotonic() - started < 1.5 + 0.7              # connect + read, not the read timeout per byte
    upstream.publish(rsa("k1"))
    assert client.jwks() is not None                          # this thread's next call gets fresh sessions


def test_a_trickling_token_endpoint_gets_psc_timeout(upstream, stop):
    client = client_for(upstream, BRIDGE_PSC_CONNECT_TIMEOUT="0.5", BRIDGE_PSC_READ_TIMEOUT="1")
    meta = client.metadata()
    upstream.routes["/token"] = _trickle(True, stop)
    started = time.monotonic()
    with pytest.raises(PscError) as refused:
        client._exchange(meta, "code", {"redirect_uri": "http://127.0.0.1/cb", "verifier": "v" * 43})
    assert refused.value.code == "psc_timeout" and time.monotonic() - started < 2.2


def test_an_oversized_token_answer_is_refused(upstream):
    client = client_for(upstream)
    meta = client.metadata()
    upstream.routes["/token"] = _chunked(json.dumps({"access_token": "x" * MAX_RESPONSE_BYTES}).encode())
    with pytest.raises(PscError) as refused:
        client._exchange(meta, "code", {"redirect_uri": "http://127.0.0.1/cb", "verifier": "v" * 43})
    assert refused.value.code == "psc_unreachable" and "too large" in refused.value.detail


# -- RFC 9207 §2.4: iss required when advertised ------------------------------------------------------------
def callback(client, **args) -> str:
    client.store.set_json("psc:state:s1", {"txn": "t", "nonce": "n", "verifier": "v" * 43,
                                           "redirect_uri": "http://127.0.0.1/cb"}, 60)
    try:
        client.finish({"state": "s1", "code": "c", **args})
    except PscError as exc:
        return exc.code
    return "ok"


@pytest.mark.parametrize("advertised, setting, args, outcome", [
    (True, "auto", {}, "issuer_mismatch"),                    # advertised, missing: refused
    (True, "auto", {"iss": ""}, "issuer_mismatch"),           # empty is not the issuer
    (True, "auto", {"iss": "https://evil.example"}, "issuer_mismatch"),
    (None, "auto", {}, "psc_error"),                          # not advertised: goes on to the token call (404)
    (None, "always", {}, "issuer_mismatch"),
    (True, "never", {}, "psc_error"),                         # relaxed for an issuer that does not send it
    (True, "never", {"iss": "https://evil.example"}, "issuer_mismatch"),   # a wrong iss is always refused
    (True, "auto", {"iss": "__issuer__"}, "psc_error"),       # right iss: token call (404 here)
])
def test_callback_iss(upstream, advertised, setting, args, outcome):
    if advertised is not None:
        upstream.json("/.well-known/openid-configuration",
                      {**upstream.meta, "authorization_response_iss_parameter_supported": advertised})
    client = client_for(upstream, BRIDGE_PSC_REQUIRE_ISS=setting)
    args = {k: upstream.base if v == "__issuer__" else v for k, v in args.items()}
    assert callback(client, **args) == outcome


@pytest.mark.parametrize("value", ["sometimes", "yes", "1"])
def test_require_iss_setting_is_validated(value):
    with pytest.raises(ConfigError, match="BRIDGE_PSC_REQUIRE_ISS"):
        load_settings({"BRIDGE_PSC_REQUIRE_ISS": value})
    assert load_settings({"BRIDGE_PSC_REQUIRE_ISS": "Always"}).psc_require_iss == "always"
    assert load_settings({}).psc_require_iss == "auto"


def test_login_without_iss_from_an_issuer_that_advertises_it_is_refused(bridge_factory):
    server = bridge_factory(send_iss=False)                   # the emulator advertises iss but leaves it out
    browser = requests.Session()
    outcome = AppClient(server.url, **PORTAIL).login(browser, user="899700000002")
    assert not isinstance(outcome, dict), outcome
    assert 'data-error-code="issuer_mismatch' in outcome.text and "bridge_session" not in browser.cookies


def test_login_without_iss_passes_when_relaxed(bridge_factory):
    server = bridge_factory(send_iss=False, env={"BRIDGE_PSC_REQUIRE_ISS": "never"})
    outcome = AppClient(server.url, **PORTAIL).login(requests.Session(), user="899700000002")
    assert isinstance(outcome, dict) and "code" in outcome
