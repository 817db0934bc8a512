"""DPoP (RFC 9449) over HTTP: bound access and refresh tokens, the server nonce, and every bad proof."""
from __future__ import annotations

import hashlib
import secrets
import time

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from bridge.provider import dpop
from tests.support.bridge import AppClient, rewrite_policies

SECRET = "dpop-web-secret"
POLICY = f"""
service: dpop
name: DPoP apps
clients:
  - client_id: dpop-spa
    token_endpoint_auth_method: none
    redirect_uris: [http://127.0.0.1:8002/spa/callback]
    scopes: [openid, profile]
  - client_id: dpop-web
    client_secret_sha256: {hashlib.sha256(SECRET.encode()).hexdigest()}
    dpop_bound_access_tokens: true
    redirect_uris: [http://127.0.0.1:8002/web/callback]
    scopes: [openid, profile]
allowed_mie: [psc]
subject_type: public
idle_timeout: 30m
max_session: 4h
"""
SPA = {"client_id": "dpop-spa", "client_secret": None, "redirect_uri": "http://127.0.0.1:8002/spa/callback",
       "scope": "openid profile"}
WEB = {"client_id": "dpop-web", "client_secret": SECRET, "redirect_uri": "http://127.0.0.1:8002/web/callback",
       "scope": "openid profile"}


@pytest.fixture
def server(bridge_factory, tmp_path):
    policies = rewrite_policies(tmp_path / "policies", "http://127.0.0.1:8002", {"dpop.yaml": POLICY})
    return bridge_factory(env={"BRIDGE_POLICIES_DIR": str(policies)})


def proof(key, htm: str, htu: str, *, nonce=None, token=None, iat=None, jti=None, typ="dpop+jwt", alg="ES256"):
    claims = {"htm": htm, "htu": htu, "iat": int(time.time()) if iat is None else iat,
              "jti": jti or secrets.token_urlsafe(12)}
    if nonce:
        claims["nonce"] = nonce
    if token:
        claims["ath"] = dpop.ath(token)
    return jwt.encode({"typ": typ, "alg": alg, "jwk": key.as_dict(private=False)}, claims, key, algorithms=[alg])


class Dpop:
    """A client holding one DPoP key: its code exchange, refreshes and userinfo calls."""

    def __init__(self, server, conf: dict, key=None):
        self.server, self.conf = server, conf
        self.key = key or ECKey.generate_key("P-256")
        self.app = AppClient(server.url, **conf)
        self.auth = (conf["client_id"], conf["client_secret"]) if conf["client_secret"] else None
        self.nonce = None

    def code(self) -> str:
        return self.app.login(requests.Session(), user="899700000002")["code"]

    def token(self, data: dict, key="own", **proof_args) -> requests.Response:
        if not self.auth:
            data = {**data, "client_id": self.conf["client_id"]}
        key = self.key if key == "own" else key
        headers = {"DPoP": proof(key, "POST", f"{self.server.url}/token", nonce=self.nonce, **proof_args)} \
            if key is not None else {}
        response = requests.post(f"{self.server.url}/token", data=data, headers=headers, auth=self.auth, timeout=10)
        self.nonce = response.headers.get("DPoP-Nonce", self.nonce)
        return response

    def exchange(self, code: str, **kwargs) -> requests.Response:
        return self.token({"grant_type": "authorization_code", "code": code, "redirect_uri": self.conf["redirect_uri"],
                           "code_verifier": self.app.pending["verifier"]}, **kwargs)

    def tokens(self) -> dict:
        code = self.code()
        if self.nonce is None:
            assert self.exchange(code).json()["error"] == "use_dpop_nonce"   # first call: no nonce yet
        response = self.exchange(code)
        assert response.status_code == 200, response.text
        return response.json()

    def userinfo(self, token: str, key=None, method="GET", url=None, **proof_args) -> requests.Response:
        url = url or f"{self.server.url}/userinfo"
        headers = {"Authorization": f"DPoP {token}",
                   "DPoP": proof(key or self.key, method, url, token=token, **proof_args)}
        return requests.request(method, f"{self.server.url}/userinfo", headers=headers, timeout=10)


def challenge(response) -> str:
    assert response.status_code == 401, response.text
    value = response.headers["WWW-Authenticate"]
    assert value.startswith("DPoP ") and 'algs="ES256 PS256 RS256"' in value
    return value


def test_discovery_lists_dpop_algorithms(server):
    metadata = requests.get(f"{server.url}/.well-known/openid-configuration", timeout=10).json()
    assert metadata["dpop_signing_alg_values_supported"] == ["ES256", "PS256", "RS256"]


def test_nonce_then_bound_tokens_userinfo_and_refresh(server):
    client = Dpop(server, SPA)
    code = client.code()
    first = client.exchange(code)
    assert first.status_code == 400 and first.json()["error"] == "use_dpop_nonce" and first.headers["DPoP-Nonce"]
    response = client.exchange(code)   # the nonce retry finds the code unused
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert tokens["token_type"] == "DPoP"
    info = client.userinfo(tokens["access_token"])
    assert info.status_code == 200 and info.json()["sub"]
    assert client.userinfo(tokens["access_token"], method="POST").status_code == 200
    refreshed = client.token({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200 and refreshed.json()["token_type"] == "DPoP"
    assert client.userinfo(refreshed.json()["access_token"]).status_code == 200
    other = client.token({"grant_type": "refresh_token", "refresh_token": refreshed.json()["refresh_token"]},
                         key=ECKey.generate_key("P-256"))
    assert other.status_code == 400 and other.json()["error"] == "invalid_grant"   # the new one is bound too


def test_rsa_proofs_are_accepted(server):
    client = Dpop(server, SPA, key=RSAKey.generate_key(2048))
    code = client.code()
    client.exchange(code, alg="PS256")
    response = client.exchange(code, alg="PS256")
    assert response.status_code == 200, response.text
    assert response.status_code == 200 and response.json()["token_type"] == "DPoP"
    assert client.userinfo(response.json()["access_token"], alg="RS256").status_code == 200


def test_bound_token_as_bearer_is_refused_with_a_dpop_challenge(server):
    client = Dpop(server, SPA)
    token = client.tokens()["access_token"]
    for response in (requests.get(f"{server.url}/userinfo", headers={"Authorization": f"Bearer {token}"}, timeout=10),
                     requests.post(f"{server.url}/userinfo", data={"access_token": token}, timeout=10),
                     requests.get(f"{server.url}/userinfo", headers={"Authorization": f"DPoP {token}"}, timeout=10)):
        value = challenge(response)
        assert 'error="invalid_token"' in value or 'error="invalid_dpop_proof"' in value
    assert 'error="invalid_token"' in challenge(requests.get(
        f"{server.url}/userinfo", headers={"Authorization": f"Bearer {token}"}, timeout=10))


def test_another_key_at_userinfo_is_refused(server):
    client = Dpop(server, SPA)
    token = client.tokens()["access_token"]
    assert 'error="invalid_token"' in challenge(client.userinfo(token, key=ECKey.generate_key("P-256")))
    assert client.userinfo(token).status_code == 200   # the refusal did not spend or revoke anything


def test_unbound_token_with_the_dpop_scheme_is_refused(server):
    client = Dpop(server, SPA)
    code = client.code()
    bearer = requests.post(f"{server.url}/token", timeout=10, data={
        "grant_type": "authorization_code", "client_id": "dpop-spa", "redirect_uri": SPA["redirect_uri"],
        "code": code, "code_verifier": client.app.pending["verifier"]}).json()
    assert bearer["token_type"] == "Bearer"
    assert 'error="invalid_token"' in challenge(client.userinfo(bearer["access_token"]))


@pytest.mark.parametrize("case", ["htu", "htm", "query_ok", "stale", "future", "replay", "ath", "typ", "alg_hs",
                                  "private_jwk", "two_headers", "garbage"])
def test_bad_proofs_at_userinfo(server, case):
    client = Dpop(server, SPA)
    token = client.tokens()["access_token"]
    url = f"{server.url}/userinfo"
    if case == "query_ok":   # §4.3: htu is compared without query and fragment
        assert client.userinfo(token, url=url + "?x=1#f").status_code == 200
        return
    if case == "replay":
        jti = secrets.token_urlsafe(8)
        assert client.userinfo(token, jti=jti).status_code == 200
        response = client.userinfo(token, jti=jti)
    elif case in ("htu", "htm", "stale", "future", "ath", "typ"):
        kwargs = {"htu": {"url": f"{server.url}/token"}, "htm": {"method": "POST"},
                  "stale": {"iat": int(time.time()) - 120}, "future": {"iat": int(time.time()) + 120},
                  "ath": {"token": token + "x"},
                  "typ": {"typ": "JWT"}}[case]
        if case == "htm":   # a GET proof presented on a POST
            response = requests.post(url, timeout=10, headers={
                "Authorization": f"DPoP {token}", "DPoP": proof(client.key, "GET", url, token=token)})
        elif case == "ath":
            response = requests.get(url, timeout=10, headers={
                "Authorization": f"DPoP {token}", "DPoP": proof(client.key, "GET", url, token=token + "x")})
        else:
            response = client.userinfo(token, **kwargs)
    else:
        good = proof(client.key, "GET", url, token=token)
        value = {"alg_hs": _hs256_proof(url, token), "private_jwk": _private_jwk_proof(client.key, url, token),
                 "two_headers": None, "garbage": "not.a.jwt"}[case]
        headers = [("Authorization", f"DPoP {token}")]
        headers += [("DPoP", good), ("DPoP", good)] if case == "two_headers" else [("DPoP", value)]
        response = requests.get(url, headers=_multi(headers), timeout=10)
    assert 'error="invalid_dpop_proof"' in challenge(response)


def _multi(pairs):
    from requests.structures import CaseInsensitiveDict

    headers = CaseInsensitiveDict()
    for name, value in pairs:   # requests joins repeated headers with ", ": a second proof reaches the server
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


def _hs256_proof(url, token):
    from joserfc.jwk import OctKey

    key = OctKey.generate_key(256)
    return jwt.encode({"typ": "dpop+jwt", "alg": "HS256", "jwk": key.as_dict()},
                      {"htm": "GET", "htu": url, "iat": int(time.time()), "jti": "x", "ath": dpop.ath(token)}, key,
                      algorithms=["HS256"])


def _private_jwk_proof(key, url, token):
    return jwt.encode({"typ": "dpop+jwt", "alg": "ES256", "jwk": key.as_dict(private=True)},
                      {"htm": "GET", "htu": url, "iat": int(time.time()), "jti": "y", "ath": dpop.ath(token)}, key)


def test_bad_proofs_at_the_token_endpoint(server):
    client = Dpop(server, SPA)
    code = client.code()
    assert client.exchange(code).json()["error"] == "use_dpop_nonce"
    wrong = client.token({"grant_type": "authorization_code", "code": code, "redirect_uri": SPA["redirect_uri"],
                          "code_verifier": client.app.pending["verifier"]}, iat=int(time.time()) - 300)
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_dpop_proof"
    stale_nonce = dpop.nonce(server.bridge.settings.secret_key, time.time() - 2 * dpop.NONCE_WINDOW)
    client.nonce = stale_nonce
    assert client.exchange(code).json()["error"] == "use_dpop_nonce"
    jti = secrets.token_urlsafe(8)
    assert client.exchange(code, jti=jti).status_code == 200
    replay = client.token({"grant_type": "refresh_token", "refresh_token": "x" * 20 + "." + "y" * 30}, jti=jti)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_dpop_proof"
    htu = requests.post(f"{server.url}/token", timeout=10, data={"grant_type": "refresh_token", "refresh_token": "z",
                        "client_id": "dpop-spa"},
                        headers={"DPoP": proof(client.key, "POST", f"{server.url}/userinfo", nonce=client.nonce)})
    htm = requests.post(f"{server.url}/token", timeout=10, data={"grant_type": "refresh_token", "refresh_token": "z",
                        "client_id": "dpop-spa"},
                        headers={"DPoP": proof(client.key, "GET", f"{server.url}/token", nonce=client.nonce)})
    assert htu.json()["error"] == htm.json()["error"] == "invalid_dpop_proof"


def test_bound_refresh_token_needs_its_key(server):
    client = Dpop(server, SPA)
    refresh = client.tokens()["refresh_token"]
    data = {"grant_type": "refresh_token", "refresh_token": refresh}
    without = client.token(data, key=None)
    assert without.status_code == 400 and without.json()["error"] == "invalid_grant"
    other = client.token(data, key=ECKey.generate_key("P-256"))
    assert other.status_code == 400 and other.json()["error"] == "invalid_grant"
    assert client.token(data).status_code == 200   # the refusals did not rotate or revoke it


def test_client_with_dpop_bound_tokens_needs_a_proof_and_introspection_shows_the_key(server):
    client = Dpop(server, WEB)
    code = client.code()
    response = client.exchange(code, key=None)
    assert response.status_code == 400 and response.json()["error"] == "invalid_dpop_proof"
    tokens = client.tokens()
    introspected = requests.post(f"{server.url}/introspect", auth=client.auth, timeout=10,
                                 data={"token": tokens["access_token"]}).json()
    assert introspected["active"] and introspected["token_type"] == "DPoP"
    assert introspected["cnf"] == {"jkt": client.key.thumbprint()}
    refresh = requests.post(f"{server.url}/introspect", auth=client.auth, timeout=10,
                            data={"token": tokens["refresh_token"]}).json()
    assert refresh["active"] and "cnf" not in refresh   # a confidential client's refresh token: not bound (§5)
    again = client.token({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}, key=None)
    assert again.status_code == 400 and again.json()["error"] == "invalid_dpop_proof"


def test_store_outage_fails_closed(server):
    from bridge.store import StoreUnavailable

    client = Dpop(server, SPA)
    code = client.code()
    client.exchange(code)
    store = server.bridge.store

    def down(*args, **kwargs):
        raise StoreUnavailable("down")

    original, store.add = store.add, down
    try:
        response = client.exchange(code)
    finally:
        store.add = original
    assert response.status_code == 503 and "access_token" not in response.text
