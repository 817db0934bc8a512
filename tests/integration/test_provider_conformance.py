"""Conformance-style cases (OpenID OP Basic/Config, RFC 7523, RFC 7636) and the one-round-trip budget."""
from __future__ import annotations

import threading
import time
import uuid

import pytest
import redis
import requests
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from tests.support.bridge import PORTAIL, AppClient, at, rewrite_policies

CLIENT_KEY = RSAKey.generate_key(2048, private=True, parameters={"kid": "api-key-1"})
API_POLICY = f"""
service: api-test
name: API de test
clients:
  - client_id: api-test
    token_endpoint_auth_method: private_key_jwt
    jwks: {{"keys": [{__import__("json").dumps(CLIENT_KEY.as_dict(private=False))}]}}
    redirect_uris: [http://127.0.0.1:8002/api/callback]
    scopes: [openid, profile]
  - client_id: api-public
    token_endpoint_auth_method: none
    redirect_uris: [http://127.0.0.1:8002/public/callback]
    scopes: [openid]
allowed_mie: [psc]
subject_type: pairwise
idle_timeout: 30m
max_session: 4h
"""


@pytest.fixture
def server(bridge_factory, receiver, tmp_path):
    policies = rewrite_policies(tmp_path / "policies", receiver.url, {"api-test.yaml": API_POLICY})
    server = bridge_factory(env={"BRIDGE_POLICIES_DIR": str(policies)})
    server.receiver = receiver
    return server


def code_for(server, client_id, path, browser=None, **extra):
    app = AppClient(server.url, client_id, None, f"{server.receiver.url}/{path}/callback", scope="openid profile")
    result = app.login(browser or requests.Session(), user="899700000002", **extra)
    return app, result["code"]


def assertion(server, *, aud=None, jti=None, exp_in=60, key=CLIENT_KEY):
    now = int(time.time())
    claims = {"iss": "api-test", "sub": "api-test", "aud": aud or f"{server.url}/token", "iat": now,
              "exp": now + exp_in, "jti": jti or str(uuid.uuid4())}
    return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)


def exchange_with_assertion(server, app, code, client_assertion):
    return requests.post(f"{server.url}/token", timeout=10, data={
        "grant_type": "authorization_code", "code": code, "code_verifier": app.pending["verifier"],
        "redirect_uri": app.redirect_uri, "client_id": "api-test",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": client_assertion})


def test_private_key_jwt_with_authlib_client(server):
    from authlib.integrations.requests_client import OAuth2Session

    app, code = code_for(server, "api-test", "api")
    client = OAuth2Session("api-test", CLIENT_KEY, token_endpoint_auth_method=PrivateKeyJWT(f"{server.url}/token"),
                           redirect_uri=app.redirect_uri)
    token = client.fetch_token(f"{server.url}/token", code=code, code_verifier=app.pending["verifier"])
    claims = app.verify_id_token(token["id_token"])
    # Pairwise service: the national id does not leak to this service.
    assert claims["sub"] != "899700000002" and len(claims["sub"]) >= 40


def test_issuer_is_an_accepted_assertion_audience(server):
    app, code = code_for(server, "api-test", "api")
    assert "access_token" in exchange_with_assertion(server, app, code, assertion(server, aud=server.url)).json()


@pytest.mark.parametrize("case", ["replayed_jti", "wrong_aud", "expired", "other_key"])
def test_bad_client_assertion_is_invalid_client(server, case):
    app, code = code_for(server, "api-test", "api")
    if case == "replayed_jti":
        used = assertion(server, jti="same")
        first_app, first_code = code_for(server, "api-test", "api")
        assert exchange_with_assertion(server, first_app, first_code, used).status_code == 200
        bad = used
    elif case == "wrong_aud":
        bad = assertion(server, aud="https://elsewhere.example/token")
    elif case == "expired":
        bad = assertion(server, exp_in=-120)
    else:
        bad = assertion(server, key=RSAKey.generate_key(2048, private=True, parameters={"kid": "api-key-1"}))
    answer = exchange_with_assertion(server, app, code, bad)
    # RFC 6749 §5.2: 401 is required only when the client used the Authorization header.
    assert answer.status_code in (400, 401) and answer.json()["error"] == "invalid_client"
    assert "access_token" not in answer.json()


def test_public_client_needs_pkce(server):
    response = requests.get(f"{server.url}/authorize", allow_redirects=False, timeout=10, params={
        "client_id": "api-public", "response_type": "code", "scope": "openid", "state": "s",
        "redirect_uri": f"{server.receiver.url}/public/callback"})
    assert "error=invalid_request" in response.headers["Location"] and "state=s" in response.headers["Location"]


def test_public_client_completes_code_flow_with_pkce(server):
    app, code = code_for(server, "api-public", "public")
    token = app.exchange(code)
    assert app.verify_id_token(token["id_token"])["aud"] == ["api-public"]


def test_verifier_without_challenge_is_refused(server):
    """PKCE downgrade (RFC 9700 §4.8): a code_verifier for a request that had no code_challenge."""
    browser = requests.Session()
    AppClient(server.url, **at(server.receiver.url, PORTAIL)).login(browser, user="899700000002")
    response = browser.get(f"{server.url}/authorize", allow_redirects=False, timeout=10, params={
        "client_id": "demo-portail", "response_type": "code", "scope": "openid", "state": "s",
        "redirect_uri": f"{server.receiver.url}/portail/callback"})
    code = dict(p.split("=", 1) for p in response.headers["Location"].split("?", 1)[1].split("&"))["code"]
    answer = requests.post(f"{server.url}/token", timeout=10, auth=("demo-portail", "demo-portail-secret"), data={
        "grant_type": "authorization_code", "code": code, "code_verifier": "v" * 50,
        "redirect_uri": f"{server.receiver.url}/portail/callback"})
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"


@pytest.mark.parametrize("params, status, error", [
    ({"client_id": "demo-portail", "scope": "openid", "redirect_uri": "{r}/portail/callback"}, 302,
     "unsupported_response_type"),
    ({"client_id": "demo-portail", "response_type": "code", "scope": "openid"}, 400, None),
    ({"client_id": "demo-portail", "response_type": "token", "scope": "openid", "redirect_uri": "{r}/portail/callback"},
     302, "unsupported_response_type"),
])
def test_malformed_authorization_requests(server, params, status, error):
    params = {k: v.replace("{r}", server.receiver.url) for k, v in params.items()}
    response = requests.get(f"{server.url}/authorize", params=params, allow_redirects=False, timeout=10)
    assert response.status_code == status
    if error:
        assert f"error={error}" in response.headers["Location"]
    else:
        assert "Location" not in response.headers


@pytest.mark.parametrize("path, method, data", [
    ("/authorize", "GET", {"client_id": "demo-portail", "response_type": "code", "state": "s" * 60000}),
    ("/authorize", "GET", {"client_id": "\x00\xff" * 100, "response_type": "code"}),
    ("/token", "POST", {"grant_type": "authorization_code", "code": "é" * 10000}),
    ("/token", "POST", {"grant_type": "refresh_token", "refresh_token": "a.b" * 5000}),
    ("/introspect", "POST", {"token": "\u0000"}),
    ("/revoke", "POST", {"token": "x", "token_type_hint": "weird"}),
    ("/userinfo", "GET", {}),
    ("/logout", "GET", {"id_token_hint": "not.a.jwt", "post_logout_redirect_uri": "javascript:alert(1)"}),
    ("/psc/callback", "GET", {"state": "x" * 5000, "code": "y"}),
    ("/login/activity", "POST", {"txn": "z" * 3000, "activity": "9-9"}),
])
def test_garbage_never_gives_a_500(server, path, method, data):
    kwargs = {"params": data} if method == "GET" else {"data": data}
    auth = ("demo-portail", "demo-portail-secret") if path in ("/introspect", "/revoke") else None
    response = requests.request(method, server.url + path, timeout=10, allow_redirects=False, auth=auth, **kwargs)
    assert response.status_code < 500, response.text[-500:]


def test_a_control_character_in_a_repeated_parameter_is_refused_too(server):
    """The control-character check reads every value of a repeated parameter, not only the first."""
    for query in ([("x", "ok"), ("x", "a\x00b")], [("x", "a\x01b"), ("x", "ok")]):
        response = requests.get(f"{server.url}/userinfo", params=query, timeout=10)
        assert response.status_code == 400 and "control characters" in response.text, query
    response = requests.post(f"{server.url}/introspect", data=[("token", "x"), ("token", "\x00")], timeout=10,
                             auth=("demo-portail", "demo-portail-secret"))
    assert response.status_code == 400 and "control characters" in response.text


def test_key_rotation_without_downtime(server):
    from bridge.provider.keys import KeyRing

    browser = requests.Session()
    app = AppClient(server.url, **at(server.receiver.url, PORTAIL))
    old = app.exchange(app.login(browser, user="899700000002")["code"])["id_token"]
    jwks = KeySet.import_key_set(requests.get(f"{server.url}/jwks", timeout=10).json())
    old_kid = jwt.decode(old, jwks).header["kid"]
    KeyRing(server.bridge.settings.keys_dir).rotate(keep_seconds=600, now=True)  # `bridge keys rotate --now`
    time.sleep(1.1)                                                       # the running server notices within 1 s
    new = app.exchange(app.follow(browser, app.authorize_url())["code"])["id_token"]
    jwks = KeySet.import_key_set(requests.get(f"{server.url}/jwks", timeout=10).json())
    assert jwt.decode(new, jwks).header["kid"] != old_kid
    assert jwt.decode(old, jwks).claims["sub"] == "899700000002"  # tokens signed before still verify


def round_trips(redis_url, action) -> list[str]:
    """Commands clients sent to Redis during `action` (MONITOR), leaving out those run inside Lua scripts."""
    marker = redis.Redis.from_url(redis_url)
    marker.ping()  # connect before watching: its handshake is not the bridge's
    commands, ready = [], threading.Event()

    def watch():
        with redis.Redis.from_url(redis_url).monitor() as monitor:
            ready.set()
            for command in monitor.listen():
                if command["command"] == "ECHO end-of-measure":
                    return
                if command.get("client_type") != "lua":
                    commands.append(command["command"])

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    ready.wait(5)
    time.sleep(0.1)
    action()
    time.sleep(0.3)
    marker.echo("end-of-measure")
    thread.join(5)
    return commands


def test_one_store_round_trip_per_refresh_userinfo_and_introspection(server, redis_url):
    app = AppClient(server.url, **at(server.receiver.url, PORTAIL))
    tokens = app.exchange(app.login(requests.Session(), user="899700000002")["code"])
    auth = ("demo-portail", "demo-portail-secret")
    # warm the script cache (first EVALSHA may be followed by SCRIPT LOAD once per process)
    requests.get(f"{server.url}/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}, timeout=10)
    requests.post(f"{server.url}/token", auth=auth, timeout=10, data={"grant_type": "refresh_token",
                                                                     "refresh_token": "x" * 22 + "." + "y" * 43})
    counts = {}
    counts["userinfo"] = round_trips(redis_url, lambda: requests.get(
        f"{server.url}/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}, timeout=10))
    counts["introspect"] = round_trips(redis_url, lambda: requests.post(
        f"{server.url}/introspect", auth=auth, data={"token": tokens["access_token"]}, timeout=10))
    fresh = {}
    counts["refresh"] = round_trips(redis_url, lambda: fresh.update(requests.post(
        f"{server.url}/token", auth=auth, timeout=10,
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}).json()))
    assert "access_token" in fresh
    assert {name: len(cmds) for name, cmds in counts.items()} == {"userinfo": 1, "introspect": 1, "refresh": 1}, counts
