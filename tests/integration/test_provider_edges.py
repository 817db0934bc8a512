"""Issue 12: the provider exact at its edges, each case a defect seen with a certified client or an attack review.

Every test here failed before its fix (the defect number of the issue is in each docstring).
"""
from __future__ import annotations

import time
import uuid
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from tests.integration.test_provider_conformance import API_POLICY, CLIENT_KEY, code_for
from tests.integration.test_provider_flows import login, userinfo
from tests.support.bridge import DPI, PORTAIL, AppClient, at, form_fields, rewrite_policies

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
PS_KEY = RSAKey.generate_key(2048, private=True, parameters={"kid": "ps-key"})
EC_KEY = ECKey.generate_key("P-256", private=True, parameters={"kid": "ec-key"})
MULTI_POLICY = API_POLICY.replace("api-test", "api-multi").replace(
    '"keys": [', f'"keys": [{__import__("json").dumps(PS_KEY.as_dict(private=False))}, '
    f'{__import__("json").dumps(EC_KEY.as_dict(private=False))}, ').replace("/api/callback", "/multi/callback") \
    .replace("api-public", "api-multi-public").replace("/public/callback", "/multipub/callback")


@pytest.fixture
def server(bridge_factory, receiver, tmp_path):
    policies = rewrite_policies(tmp_path / "policies", receiver.url,
                                {"api-test.yaml": API_POLICY, "api-multi.yaml": MULTI_POLICY})
    server = bridge_factory(env={"BRIDGE_POLICIES_DIR": str(policies)})
    server.receiver = receiver
    return server


def query(url: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def client_assertion(server, client_id: str, key, alg: str, kid: bool = True) -> str:
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": f"{server.url}/token", "iat": now, "exp": now + 60,
              "jti": str(uuid.uuid4())}
    return jwt.encode({"alg": alg, **({"kid": key.kid} if kid else {})}, claims, key, algorithms=[alg])


# -- 2. RFC 9207 iss on error redirects ------------------------------------------------------------------------
@pytest.mark.parametrize("extra", [{"prompt": "none"}, {"response_type": "token"},
                                   {"code_challenge_method": "plain"}])
def test_every_error_redirect_carries_iss_and_state(server, extra):
    """Defect 2: openid-client raises OAUTH_INVALID_RESPONSE on an error redirect without `iss`."""
    app = AppClient(server.url, **at(server.receiver.url, PORTAIL))
    url = app.authorize_url()
    parts = urlsplit(url)
    params = {**query(url), **extra}
    response = requests.get(f"{parts.scheme}://{parts.netloc}{parts.path}", params=params, allow_redirects=False,
                            timeout=10)
    answer = query(response.headers["Location"])
    assert answer["iss"] == server.bridge.settings.issuer and answer["state"] == app.pending["state"]
    assert answer["error"] in ("login_required", "unsupported_response_type", "invalid_request")


# -- 3. logout CSRF -------------------------------------------------------------------------------------------
def test_another_users_id_token_does_not_end_my_session_silently(server):
    """Defect 3: a hint that does not name this browser's session gets the confirmation page."""
    victim = requests.Session()
    _, _, mine = login(server, PORTAIL, victim)
    _, _, attackers = login(server, DPI, requests.Session(), user="899700000001")
    page = victim.get(f"{server.url}/logout", timeout=10, allow_redirects=False, params={
        "id_token_hint": attackers["id_token"], "post_logout_redirect_uri": f"{server.receiver.url}/dpi/"})
    assert page.status_code == 200 and 'name="csrf"' in page.text
    assert userinfo(server, mine["access_token"]).status_code == 200
    action, hidden = form_fields(page.text)
    confirmed = victim.post(f"{server.url}/logout", data=hidden, allow_redirects=False, timeout=10)
    assert confirmed.is_redirect and userinfo(server, mine["access_token"]).status_code == 401


def test_a_logout_token_is_not_an_id_token_hint(server):
    """Defect 3: every app receives logout tokens signed by the same key; they are refused as hints."""
    browser = requests.Session()
    _, _, tokens = login(server, PORTAIL, browser)
    session = server.bridge.sessions.load(browser.cookies.get("bridge_session"))
    logout_token = server.bridge.backchannel.logout_token("demo-portail", session.sid)
    response = browser.get(f"{server.url}/logout", timeout=10, params={"id_token_hint": logout_token})
    assert response.status_code == 400 and 'data-error-code="invalid_logout"' in response.text
    assert userinfo(server, tokens["access_token"]).status_code == 200


def test_own_id_token_ends_the_session_at_once(server):
    """The hint names this browser's session: no question, back to the app."""
    browser = requests.Session()
    _, _, tokens = login(server, PORTAIL, browser)
    response = browser.get(f"{server.url}/logout", allow_redirects=False, timeout=10, params={
        "id_token_hint": tokens["id_token"], "post_logout_redirect_uri": f"{server.receiver.url}/portail/"})
    assert response.is_redirect and userinfo(server, tokens["access_token"]).status_code == 401


# -- 1. logout back to the app when PSC drops state -----------------------------------------------------------
def test_logout_returns_to_the_app_with_its_state_when_psc_drops_state(bridge_factory, receiver, tmp_path):
    """Defect 1: the pending return is bound to the browser, not to PSC's `state`."""
    server = bridge_factory(env={"BRIDGE_POLICIES_DIR": str(rewrite_policies(tmp_path / "p", receiver.url))},
                            omit_logout_state=True)
    server.receiver = receiver
    browser = requests.Session()
    _, _, tokens = login(server, PORTAIL, browser)
    target = f"{receiver.url}/portail/"
    response = browser.get(f"{server.url}/logout", allow_redirects=False, timeout=10, params={
        "id_token_hint": tokens["id_token"], "post_logout_redirect_uri": target, "state": "app-state"})
    back = browser.get(response.headers["Location"], allow_redirects=False, timeout=10)
    assert "state=" not in back.headers["Location"]
    done = browser.get(back.headers["Location"], allow_redirects=False, timeout=10)
    assert done.headers["Location"] == f"{target}?state=app-state"
    # Another browser coming to /logout/done gets nothing of it.
    assert requests.get(back.headers["Location"], allow_redirects=False, timeout=10).status_code == 200


# -- 4. introspection of dead refresh tokens ------------------------------------------------------------------
def test_refresh_token_of_an_ended_session_is_inactive(server):
    """Defect 4: introspection said active for a refresh token after logout; exp was a year out."""
    browser = requests.Session()
    _, _, tokens = login(server, PORTAIL, browser)
    auth = (PORTAIL["client_id"], PORTAIL["client_secret"])
    live = requests.post(f"{server.url}/introspect", auth=auth, timeout=10,
                         data={"token": tokens["refresh_token"], "token_type_hint": "refresh_token"}).json()
    session = server.bridge.sessions.load(browser.cookies.get("bridge_session"))
    assert live["active"] is True and live["exp"] <= session.deadline + 1
    server.bridge.sessions.end(session.sid, "logout", session)
    for hint in ("refresh_token", "access_token", None):
        dead = requests.post(f"{server.url}/introspect", auth=auth, timeout=10,
                             data={"token": tokens["refresh_token"], **({"token_type_hint": hint} if hint else {})})
        assert dead.json() == {"active": False}


# -- 5. client assertion for a client without keys -------------------------------------------------------------
@pytest.mark.parametrize("endpoint", ["/token", "/introspect", "/revoke"])
def test_assertion_for_a_client_without_jwks_is_invalid_client(server, endpoint):
    """Defect 5: a client_assertion naming a secret-based client gave an HTML 500."""
    data = {"client_assertion_type": ASSERTION_TYPE, "token": "x", "grant_type": "authorization_code", "code": "x",
            "client_assertion": client_assertion(server, "demo-portail", CLIENT_KEY, "RS256")}
    response = requests.post(f"{server.url}{endpoint}", data=data, timeout=10)
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


# -- 9. every advertised assertion algorithm works -------------------------------------------------------------
@pytest.mark.parametrize("alg,key", [("PS256", PS_KEY), ("ES256", EC_KEY), ("RS256", CLIENT_KEY)])
def test_private_key_jwt_with_each_advertised_algorithm(server, alg, key):
    """Defect 9: PS256 was advertised but refused."""
    advertised = requests.get(f"{server.url}/.well-known/openid-configuration", timeout=10).json()
    assert alg in advertised["token_endpoint_auth_signing_alg_values_supported"]
    app, code = code_for(server, "api-multi", "multi")
    response = requests.post(f"{server.url}/token", timeout=10, data={
        "grant_type": "authorization_code", "code": code, "code_verifier": app.pending["verifier"],
        "redirect_uri": app.redirect_uri, "client_id": "api-multi", "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": client_assertion(server, "api-multi", key, alg)})
    assert response.status_code == 200, response.text


FOREIGN_KEY = RSAKey.generate_key(2048, private=True)


@pytest.mark.parametrize("alg,key,status", [("PS256", PS_KEY, 200), ("ES256", EC_KEY, 200), ("RS256", CLIENT_KEY, 200),
                                            ("RS256", FOREIGN_KEY, 401)])
def test_private_key_jwt_without_kid_among_several_keys(server, alg, key, status):
    """Found by the interop suite (Authlib sends no `kid` by default, RFC 7523 does not require one): the
    assertion was refused whenever the client registered several keys."""
    app, code = code_for(server, "api-multi", "multi")
    response = requests.post(f"{server.url}/token", timeout=10, data={
        "grant_type": "authorization_code", "code": code, "code_verifier": app.pending["verifier"],
        "redirect_uri": app.redirect_uri, "client_id": "api-multi", "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": client_assertion(server, "api-multi", key, alg, kid=False)})
    assert response.status_code == status, response.text
    assert status == 200 or response.json()["error"] == "invalid_client"


# -- 6. userinfo as pyoidc and idpyoidc send it ---------------------------------------------------------------
def test_userinfo_accepts_the_token_in_a_form_body_but_not_in_the_query(server):
    """Defect 6: RFC 6750 §2.2 form body (pyoidc's default); §2.3 query refused; not both at once."""
    _, _, tokens = login(server, PORTAIL)
    body = requests.post(f"{server.url}/userinfo", data={"access_token": tokens["access_token"]}, timeout=10)
    assert body.status_code == 200 and body.json()["sub"] == "899700000002"
    in_query = requests.get(f"{server.url}/userinfo", params={"access_token": tokens["access_token"]}, timeout=10)
    assert in_query.status_code == 400 and in_query.json()["error"] == "invalid_request"
    both = requests.post(f"{server.url}/userinfo", data={"access_token": tokens["access_token"]}, timeout=10,
                         headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert both.status_code == 400 and both.json()["error"] == "invalid_request"


# -- 10. one client authentication method per request ---------------------------------------------------------
def test_basic_header_and_body_secret_together_is_invalid_request(server):
    """Defect 10: RFC 6749 §2.3 — the client uses one authentication method per request."""
    response = requests.post(f"{server.url}/token", auth=(PORTAIL["client_id"], PORTAIL["client_secret"]),
                             timeout=10, data={"grant_type": "refresh_token", "refresh_token": "x",
                                               "client_secret": PORTAIL["client_secret"]})
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


# -- 9. discovery tells the truth; what is not supported is refused by its code ---------------------------------
def test_discovery_validates_with_authlibs_metadata_classes_on_both_paths(server):
    """Defect 9: RFC 8414 fields were missing (AuthorizationServerMetadata.validate() raised) and the RFC 8414
    path was 404; request_uri_parameter_supported omitted means true."""
    from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
    from authlib.oidc.discovery import OpenIDProviderMetadata

    oidc = requests.get(f"{server.url}/.well-known/openid-configuration", timeout=10).json()
    oauth = requests.get(f"{server.url}/.well-known/oauth-authorization-server", timeout=10).json()
    assert oidc == oauth
    OpenIDProviderMetadata(oidc).validate()
    AuthorizationServerMetadata(oauth).validate()
    # Issue 16: request objects (JAR) and PAR's request_uri are supported (tests/integration/test_provider_par_jar.py)
    assert oidc["request_uri_parameter_supported"] is True and oidc["request_parameter_supported"] is True
    for endpoint in ("token", "introspection", "revocation"):
        assert oidc[f"{endpoint}_endpoint_auth_signing_alg_values_supported"] == ["RS256", "PS256", "ES256"]


@pytest.mark.parametrize("extra,error", [
    ({"prompt": "consent"}, "invalid_request"),
    ({"prompt": "none login"}, "invalid_request"),
    ({"response_mode": "form_post"}, "invalid_request"),
    ({"response_mode": "fragment"}, "invalid_request"),
    ({"nonce": "n" * 513}, "invalid_request"),
    ({"login_hint": "h" * 257}, "invalid_request"),
])
def test_unsupported_authorization_parameters_are_refused_not_ignored(server, extra, error):
    """Defect 9 and 10: unknown prompt or response_mode and oversized values were ignored (request and request_uri
    are supported since issue 16: tests/integration/test_provider_par_jar.py)."""
    app = AppClient(server.url, **at(server.receiver.url, PORTAIL))
    url = app.authorize_url()
    parts = urlsplit(url)
    response = requests.get(f"{parts.scheme}://{parts.netloc}{parts.path}", params={**query(url), **extra},
                            allow_redirects=False, timeout=10)
    assert response.is_redirect, response.text[-600:]
    answer = query(response.headers["Location"])
    assert answer["error"] == error and answer["state"] == app.pending["state"]
    assert answer["iss"] == server.bridge.settings.issuer


def test_an_oversized_state_is_refused_on_the_bridges_page_not_echoed(server):
    app = AppClient(server.url, **at(server.receiver.url, PORTAIL))
    url = app.authorize_url()
    parts = urlsplit(url)
    response = requests.get(f"{parts.scheme}://{parts.netloc}{parts.path}",
                            params={**query(url), "state": "s" * 1025}, allow_redirects=False, timeout=10)
    assert response.status_code == 400 and "Location" not in response.headers
    assert "state is longer than 1024 characters" in response.text


# -- 10. what an anonymous login may store ---------------------------------------------------------------------
def test_the_login_stores_a_compact_validated_request(server):
    """Defect 10: the whole raw query (any parameter, any size) was stored for 15 min."""
    app = AppClient(server.url, **at(server.receiver.url, PORTAIL))
    url = app.authorize_url()
    parts = urlsplit(url)
    first = requests.get(f"{parts.scheme}://{parts.netloc}{parts.path}", allow_redirects=False, timeout=10,
                         params={**query(url), "junk": "j" * 20_000, "registration": '{"x":1}'})
    txn_id = query(first.headers["Location"])["txn"]
    stored = parse_qs(server.bridge.transactions.get(txn_id).query)
    assert "junk" not in stored and "registration" not in stored
    assert stored["state"] == [app.pending["state"]] and stored["code_challenge_method"] == ["S256"]


def test_one_login_starts_a_bounded_number_of_psc_redirects(server):
    """Defect 10: each visit of /login/psc created a PSC state in the store, without limit."""
    from bridge.login.transactions import ATTEMPTS_PER_TXN

    app = AppClient(server.url, **at(server.receiver.url, PORTAIL))
    browser = requests.Session()
    first = browser.get(app.authorize_url(), allow_redirects=False, timeout=10)
    start = urljoin(server.url, first.headers["Location"])
    answers = [browser.get(start, allow_redirects=False, timeout=10).status_code for _ in range(ATTEMPTS_PER_TXN + 1)]
    assert answers[:ATTEMPTS_PER_TXN] == [302] * ATTEMPTS_PER_TXN and answers[-1] == 429


def test_one_login_asks_a_bounded_number_of_card_challenges(bridge_server):
    """Defect 10: /login/cps/challenge created a challenge key per call, without limit."""
    from bridge.login.transactions import ATTEMPTS_PER_TXN
    from tests.integration.test_cps_login import CpsBrowser

    browser = CpsBrowser(bridge_server)
    browser.start()
    browser.page()
    answers = [browser.challenge() for _ in range(ATTEMPTS_PER_TXN + 1)]
    assert [a.status_code for a in answers[:ATTEMPTS_PER_TXN]] == [200] * ATTEMPTS_PER_TXN
    assert answers[-1].status_code == 429 and answers[-1].json()["error"] == "too_many_requests"


def test_a_logout_token_is_no_id_token_hint_at_authorize_either(server):
    browser = requests.Session()
    login(server, PORTAIL, browser)
    session = server.bridge.sessions.load(browser.cookies.get("bridge_session"))
    logout_token = server.bridge.backchannel.logout_token("demo-portail", session.sid, "899700000002")
    app = AppClient(server.url, **at(server.receiver.url, PORTAIL))
    response = browser.get(app.authorize_url(id_token_hint=logout_token), allow_redirects=False, timeout=10)
    answer = query(response.headers["Location"])
    assert answer["error"] == "invalid_request" and answer["iss"] == server.bridge.settings.issuer
