"""Pushed authorization requests (RFC 9126) and signed request objects (JAR, RFC 9101) over HTTP: the positive
paths and every bad input of issue 16 (request_uri reused, expired, another client's, not from /par; request
object with a bad signature, `none`, a wrong aud, expired, contradicting the outer parameters)."""
from __future__ import annotations

import hashlib
import json
import secrets
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from joserfc import jws, jwt
from joserfc.jwk import ECKey, OctKey, RSAKey

from bridge.clock import Clock
from tests.support.bridge import PORTAIL, AppClient, at, rewrite_policies

RSA = RSAKey.generate_key(2048, private=True, parameters={"kid": "jar-rsa"})
EC = ECKey.generate_key("P-256", private=True, parameters={"kid": "jar-ec"})
OTHER = RSAKey.generate_key(2048, private=True, parameters={"kid": "jar-rsa"})   # same kid, not registered
STRICT_SECRET = "par-strict-secret"
POLICY = f"""
service: par-jar
name: PAR et JAR
clients:
  - client_id: jar-app
    token_endpoint_auth_method: private_key_jwt
    jwks: {{"keys": [{json.dumps(RSA.as_dict(private=False))}, {json.dumps(EC.as_dict(private=False))}]}}
    redirect_uris: [http://127.0.0.1:8002/jar/callback]
    scopes: [openid, profile]
  - client_id: par-strict
    client_secret_sha256: {hashlib.sha256(STRICT_SECRET.encode()).hexdigest()}
    require_pushed_authorization_requests: true
    redirect_uris: [http://127.0.0.1:8002/strict/callback]
    scopes: [openid, profile]
allowed_mie: [psc]
idle_timeout: 30m
max_session: 4h
"""


@pytest.fixture
def server(bridge_factory, receiver, tmp_path):
    policies = rewrite_policies(tmp_path / "policies", receiver.url, {"par-jar.yaml": POLICY})
    server = bridge_factory(env={"BRIDGE_POLICIES_DIR": str(policies)}, clock=Clock())
    server.receiver = receiver
    return server


def query(url: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def request_params(redirect_uri: str, client_id: str, **extra) -> dict:
    return {"client_id": client_id, "response_type": "code", "scope": "openid profile", "redirect_uri": redirect_uri,
            "state": secrets.token_urlsafe(8), "nonce": secrets.token_urlsafe(8),
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeKt8URW2ul1BRSZ2N9s", "code_challenge_method": "S256",
            **extra}


def portail(server) -> dict:
    return at(server.receiver.url, PORTAIL)


def push(server, params: dict, auth=None) -> requests.Response:
    conf = portail(server)
    return requests.post(f"{server.url}/par", data=params, timeout=10,
                         auth=auth or (conf["client_id"], conf["client_secret"]))


def authorize(server, **params) -> requests.Response:
    return requests.get(f"{server.url}/authorize", params=params, allow_redirects=False, timeout=10)


def page_error(response: requests.Response) -> str | None:
    """The error code of the bridge's page (no redirect to an untrusted URI), else None."""
    assert response.status_code == 400 and "Location" not in response.headers, (response.status_code,
                                                                                 response.headers.get("Location"))
    start = response.text.find('data-error-code="')
    return response.text[start + 17:response.text.find('"', start + 17)] if start >= 0 else None


def request_object(server, claims: dict | None = None, key=RSA, alg="RS256", **overrides) -> str:
    now = int(server.bridge.clock.now())
    base = {"iss": "jar-app", "aud": server.bridge.settings.issuer, "iat": now, "exp": now + 60, "nbf": now,
            "jti": secrets.token_urlsafe(8),
            **request_params(f"{server.receiver.url}/jar/callback", "jar-app", max_age=600), **(claims or {})}
    for name, value in overrides.items():
        if value is None:
            base.pop(name, None)
        else:
            base[name] = value
    return jwt.encode({"alg": alg, "kid": key.kid}, base, key, algorithms=[alg])


# -- discovery ---------------------------------------------------------------------------------------------------
def test_discovery_advertises_par_and_jar_truthfully(server):
    from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
    from authlib.oidc.discovery import OpenIDProviderMetadata

    metadata = requests.get(f"{server.url}/.well-known/openid-configuration", timeout=10).json()
    OpenIDProviderMetadata(metadata).validate()
    AuthorizationServerMetadata(metadata).validate()
    assert metadata["pushed_authorization_request_endpoint"] == f"{server.bridge.settings.issuer}/par"
    assert metadata["require_pushed_authorization_requests"] is False
    assert metadata["request_parameter_supported"] is True
    assert metadata["request_uri_parameter_supported"] is True and metadata["require_request_uri_registration"] is True
    assert metadata["request_object_signing_alg_values_supported"] == ["RS256", "PS256", "ES256"]


# -- PAR ---------------------------------------------------------------------------------------------------------
def test_pushed_request_logs_in_and_its_code_is_exchanged(server):
    conf = portail(server)
    app = AppClient(server.url, conf["client_id"], conf["client_secret"], conf["redirect_uri"])
    app.authorize_url()   # the state, nonce and verifier the app keeps
    challenge = app.oauth.create_authorization_url(app.metadata["authorization_endpoint"],
                                                   code_verifier=app.pending["verifier"])[0]
    params = request_params(conf["redirect_uri"], conf["client_id"], state=app.pending["state"],
                            nonce=app.pending["nonce"], code_challenge=query(challenge)["code_challenge"])
    pushed = push(server, params)
    assert pushed.status_code == 201 and pushed.headers["Cache-Control"] == "no-store", pushed.text
    body = pushed.json()
    assert body["request_uri"].startswith("urn:ietf:params:oauth:request_uri:") and body["expires_in"] == 60
    url = f"{server.url}/authorize?" + urlencode({"client_id": conf["client_id"], "request_uri": body["request_uri"]})
    answer = app.follow(requests.Session(), url, user="899700000002")
    assert answer["state"] == app.pending["state"] and answer["iss"] == server.bridge.settings.issuer
    tokens = app.exchange(answer["code"])
    assert app.verify_id_token(tokens["id_token"])["nonce"] == app.pending["nonce"]


def pushed_uri(server) -> str:
    conf = portail(server)
    response = push(server, request_params(conf["redirect_uri"], conf["client_id"]))
    assert response.status_code == 201, response.text
    return response.json()["request_uri"]


def test_a_request_uri_works_once(server):
    request_uri = pushed_uri(server)
    first = authorize(server, client_id=PORTAIL["client_id"], request_uri=request_uri)
    assert first.status_code == 302 and "/login" in first.headers["Location"], first.headers.get("Location")
    assert page_error(authorize(server, client_id=PORTAIL["client_id"], request_uri=request_uri)) \
        == "invalid_request_uri"


def test_an_expired_request_uri_is_refused(server):
    request_uri = pushed_uri(server)
    server.bridge.clock.advance(61)
    assert page_error(authorize(server, client_id=PORTAIL["client_id"], request_uri=request_uri)) \
        == "invalid_request_uri"


def test_another_clients_request_uri_is_refused_and_burnt(server):
    request_uri = pushed_uri(server)
    assert page_error(authorize(server, client_id="dpi-web", request_uri=request_uri)) == "invalid_request_uri"
    assert page_error(authorize(server, client_id=PORTAIL["client_id"], request_uri=request_uri)) \
        == "invalid_request_uri"


def test_a_request_uri_not_from_par_is_never_fetched(server):
    """No SSRF: any request_uri but /par's URNs is refused without a request leaving the bridge."""
    before = len(server.receiver.received)
    for uri in (f"{server.receiver.url}/request.jwt", "urn:ietf:params:oauth:request_uri:forged", ""):
        assert page_error(authorize(server, client_id=PORTAIL["client_id"], request_uri=uri)) \
            == "invalid_request_uri", uri
    assert len(server.receiver.received) == before


@pytest.mark.parametrize("change,status,error", [
    ({"auth": ("demo-portail", "wrong")}, 401, "invalid_client"),
    ({"redirect_uri": "https://evil.example/cb"}, 400, "invalid_request"),
    ({"request_uri": "urn:ietf:params:oauth:request_uri:x"}, 400, "invalid_request"),
    ({"client_id": "dpi-web"}, 400, "invalid_request"),
    ({"code_challenge_method": "plain"}, 400, "invalid_request"),
    ({"response_type": "token"}, 400, "unsupported_response_type"),
])
def test_bad_pushed_requests_are_refused_in_json(server, change, status, error):
    conf = portail(server)
    auth = change.pop("auth", None)
    response = push(server, {**request_params(conf["redirect_uri"], conf["client_id"]), **change}, auth=auth)
    assert response.status_code == status and response.json()["error"] == error, response.text
    assert "request_uri" not in response.json()


def test_a_public_client_cannot_push_without_its_client_id(server):
    response = requests.post(f"{server.url}/par", timeout=10,
                             data={"response_type": "code", "scope": "openid", "redirect_uri": "x"})
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_a_client_requiring_par_is_refused_a_plain_authorize(server):
    redirect = f"{server.receiver.url}/strict/callback"
    params = request_params(redirect, "par-strict")
    refused = authorize(server, **params)
    assert refused.status_code == 302 and refused.headers["Location"].startswith(redirect)
    assert query(refused.headers["Location"])["error"] == "invalid_request"
    pushed = push(server, params, auth=("par-strict", STRICT_SECRET))
    assert pushed.status_code == 201, pushed.text
    accepted = authorize(server, client_id="par-strict", request_uri=pushed.json()["request_uri"])
    assert accepted.status_code == 302 and "/login" in accepted.headers["Location"]


# -- JAR ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("key,alg", [(RSA, "RS256"), (RSA, "PS256"), (EC, "ES256")])
def test_a_signed_request_object_is_used(server, key, alg):
    app = AppClient(server.url, "jar-app", None, f"{server.receiver.url}/jar/callback")
    state = secrets.token_urlsafe(8)
    url = f"{server.url}/authorize?" + urlencode({"client_id": "jar-app",
                                                 "request": request_object(server, {"state": state}, key, alg)})
    answer = app.follow(requests.Session(), url, user="899700000002")
    assert answer["state"] == state and "code" in answer, answer


def test_a_request_object_wins_over_outer_parameters(server):
    """RFC 9101 §5: only the request object's parameters are used (the outer scope and state are ignored)."""
    app = AppClient(server.url, "jar-app", None, f"{server.receiver.url}/jar/callback")
    url = f"{server.url}/authorize?" + urlencode({"client_id": "jar-app", "response_type": "code", "state": "outer",
                                                 "request": request_object(server, {"state": "inner"})})
    assert app.follow(requests.Session(), url, user="899700000002")["state"] == "inner"


def _unsigned(server) -> str:
    now = int(server.bridge.clock.now())
    claims = {"iss": "jar-app", "aud": server.bridge.settings.issuer, "exp": now + 60,
              **request_params(f"{server.receiver.url}/jar/callback", "jar-app")}
    return jws.serialize_compact({"alg": "none"}, json.dumps(claims).encode(), None, algorithms=["none"])


BAD_OBJECTS = {
    "bad signature": (lambda s: request_object(s, key=OTHER), {}, "invalid_request_object"),
    "alg none": (_unsigned, {}, "invalid_request"),
    "HS256 with a guessable secret": (lambda s: jwt.encode({"alg": "HS256"}, {"client_id": "jar-app"},
                                                           OctKey.import_key("x" * 32), algorithms=["HS256"]),
                                      {}, "invalid_request"),
    "wrong aud": (lambda s: request_object(s, aud="https://other.example"), {}, "invalid_request_object"),
    "no aud": (lambda s: request_object(s, aud=None), {}, "invalid_request_object"),
    "expired": (lambda s: request_object(s, exp=int(time.time()) - 120), {}, "invalid_request_object"),
    "no exp": (lambda s: request_object(s, exp=None), {}, "invalid_request_object"),
    "exp too far": (lambda s: request_object(s, exp=int(time.time()) + 7200), {}, "invalid_request_object"),
    "iss not the client": (lambda s: request_object(s, iss="dpi-web"), {}, "invalid_request_object"),
    "client_id differs inside": (lambda s: request_object(s, client_id="dpi-web"), {}, "invalid_request"),
    "response_type contradicts": (request_object, {"response_type": "token"}, "invalid_request"),
    "nested request_uri": (lambda s: request_object(s, request_uri="urn:x"), {}, "invalid_request"),
    "with request_uri outside": (request_object, {"request_uri": "urn:ietf:params:oauth:request_uri:x"},
                                 "invalid_request"),
    "garbage": (lambda s: "not.a.jwt", {}, "invalid_request_object"),
}


@pytest.mark.parametrize("case", list(BAD_OBJECTS))
def test_bad_request_objects_are_refused_on_a_page(server, case):
    """The redirect_uri inside an unverified object cannot be trusted: the bridge's page, never a redirect."""
    make, outer, error = BAD_OBJECTS[case]
    response = authorize(server, client_id="jar-app", request=make(server), **outer)
    assert page_error(response) == error, response.text[-400:]


def test_a_client_without_keys_cannot_send_request_objects(server):
    response = authorize(server, client_id=PORTAIL["client_id"],
                         request=jwt.encode({"alg": "RS256"}, {"client_id": PORTAIL["client_id"]}, RSA))
    assert page_error(response) == "invalid_request_object"


def test_a_request_object_pushed_to_par(server):
    """JAR inside PAR (FAPI 2.0 message signing): the object is verified at /par, its request_uri then works."""
    app = AppClient(server.url, "jar-app", None, f"{server.receiver.url}/jar/callback")
    state = secrets.token_urlsafe(8)
    pushed = requests.post(f"{server.url}/par", timeout=10, data={
        "client_id": "jar-app", "request": request_object(server, {"state": state}),
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": client_assertion(server)})
    assert pushed.status_code == 201, pushed.text
    url = f"{server.url}/authorize?" + urlencode({"client_id": "jar-app", "request_uri": pushed.json()["request_uri"]})
    assert app.follow(requests.Session(), url, user="899700000002")["state"] == state


def test_a_bad_request_object_pushed_to_par_is_refused_in_json(server):
    pushed = requests.post(f"{server.url}/par", timeout=10, data={
        "client_id": "jar-app", "request": request_object(server, aud="https://other.example"),
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": client_assertion(server)})
    assert pushed.status_code == 400 and pushed.json()["error"] == "invalid_request_object", pushed.text


def client_assertion(server) -> str:
    now = int(time.time())
    return jwt.encode({"alg": "RS256", "kid": RSA.kid}, {
        "iss": "jar-app", "sub": "jar-app", "aud": f"{server.url}/par", "iat": now, "exp": now + 60,
        "jti": secrets.token_urlsafe(8)}, RSA)


@pytest.mark.parametrize("data", [
    {"client_id": "demo-portail", "client_secret": "demo-portail-secret", "scope": "openid", "scope ": "x"},
    {"client_id": "demo-portail", "client_secret": "demo-portail-secret", "response_type": 'code"é'},
    {"client_id": "demo-portail", "client_secret": "demo-portail-secret", "request": "a.b.c"},
    {"client_id": "demo-portail", "client_secret": "demo-portail-secret", "state": ["a", "b"]},
    {"client_id": 'é"', "client_secret": "x"},
])
def test_garbage_at_par_is_never_a_500(server, data):
    response = requests.post(f"{server.url}/par", data=data, timeout=10)
    assert response.status_code in (400, 401) and response.json()["error"], response.text


def test_par_is_rate_limited_per_address_like_authorize(bridge_factory):
    """Each push keeps up to a few kB for 60 s: /par shares BRIDGE_RATE_LIMIT_AUTHORIZE (its own counter)."""
    server = bridge_factory(env={"BRIDGE_RATE_LIMIT_AUTHORIZE": "3/minute"})
    params = request_params(PORTAIL["redirect_uri"], PORTAIL["client_id"])
    auth = (PORTAIL["client_id"], PORTAIL["client_secret"])
    answers = [requests.post(f"{server.url}/par", data=params, auth=auth, timeout=10) for _ in range(4)]
    assert [a.status_code for a in answers] == [201, 201, 201, 429]
    assert answers[-1].json()["error"] == "slow_down" and answers[-1].headers["Retry-After"]


def test_par_errors_outside_oauth_are_json_too(server):
    wrong_method = requests.get(f"{server.url}/par", timeout=10)
    assert wrong_method.status_code == 405 and wrong_method.json()["error"]
    assert "POST" in wrong_method.headers["Allow"]
