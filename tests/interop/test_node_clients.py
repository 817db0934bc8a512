"""openid-client 6 and oauth4webapi 3 (OpenID-certified RPs, pinned by node/package-lock.json) against the bridge.

Python starts the bridge and plays the user's browser (the PSC emulator's login is plain HTML forms); each
library step runs in `node node/oidc.mjs <lib> <step>` with the URLs and tokens handed over as JSON.
"""
from __future__ import annotations

import pytest
import requests
from joserfc.jwk import JWKRegistry

from bridge.provider.mtls import thumbprint
from tests.integration.test_provider_mtls import DN, DN_CERT, SELF_CERT, header
from tests.interop.conftest import (
    JWT_CLIENT,
    KEY_FOR,
    PUBLIC_CLIENT,
    USER,
    NodeSession,
    browser_login,
    follow_logout,
    node_available,
    query,
    redirect_uri,
    run_node,
)
from tests.support.bridge import rewrite_policies

LIBS = ["openid-client", "oauth4webapi"]
pytestmark = pytest.mark.parametrize("lib", LIBS)


@pytest.fixture(autouse=True)
def _node():
    node_available()


def portail(server, **extra) -> dict:
    conf = server.portail
    return {"issuer": server.issuer, "client_id": conf["client_id"], "client_secret": conf["client_secret"],
            "auth": "basic", "redirect_uri": conf["redirect_uri"], "scope": "openid profile rpps", **extra}


def login(server, lib, conf, browser=None, extra=None) -> tuple[dict, str]:
    started = run_node(lib, "authorize", **conf, extra=extra or {})
    assert "error" not in started, started
    return started, browser_login(server, started["url"], conf["redirect_uri"], browser)


def tokens_for(server, lib, conf, browser=None) -> dict:
    started, callback = login(server, lib, conf, browser)
    done = run_node(lib, "callback", **conf, **started, callback_url=callback)
    assert "error" not in done, done
    return done


@pytest.mark.client("node", "discovery + metadata validation")
def test_discovery(server, lib):
    done = run_node(lib, "discover", **portail(server))
    assert "error" not in done, done
    metadata = done["metadata"]
    assert metadata["issuer"] == server.issuer
    assert metadata["authorization_response_iss_parameter_supported"] is True
    assert "S256" in metadata["code_challenge_methods_supported"]


@pytest.mark.client("node", "code + PKCE S256")
def test_code_flow_with_pkce(server, lib):
    done = tokens_for(server, lib, portail(server))
    assert done["tokens"]["access_token"] and done["tokens"]["refresh_token"]
    assert done["claims"]["sub"] == USER and done["claims"]["aud"] in ("demo-portail", ["demo-portail"])


@pytest.mark.client("node", "ID token validation")
def test_id_token_is_validated_by_the_library(server, lib):
    conf = portail(server)
    started, callback = login(server, lib, conf)
    done = run_node(lib, "callback", **conf, **{**started, "nonce": "not-the-nonce"}, callback_url=callback)
    assert "error" in done and "nonce" in str(done["error"]["cause"]), done


@pytest.mark.client("node", "RFC 9207 iss on success")
def test_iss_on_success(server, lib):
    conf = portail(server)
    started, callback = login(server, lib, conf)
    assert query(callback)["iss"] == server.issuer
    forged = callback.replace("iss=", "iss=https%3A%2F%2Fevil.example&x=")
    refused = run_node(lib, "callback", **conf, **started, callback_url=forged)
    assert "error" in refused and "evil.example" in str(refused["error"]), refused
    assert "error" not in run_node(lib, "callback", **conf, **started, callback_url=callback)


@pytest.mark.client("node", "RFC 9207 iss on error: prompt=none → login_required")
def test_prompt_none_without_session_is_login_required(server, lib):
    conf = portail(server)
    started = run_node(lib, "authorize", **conf, extra={"prompt": "none"})
    response = requests.get(started["url"], allow_redirects=False, timeout=10)
    callback = response.headers["Location"]
    assert callback.startswith(conf["redirect_uri"]) and query(callback)["iss"] == server.issuer
    done = run_node(lib, "callback", **conf, **started, callback_url=callback)
    assert done["error"]["error"] == "login_required", done


@pytest.mark.client("node", "userinfo (library default)")
def test_userinfo(server, lib):
    conf = portail(server)
    done = tokens_for(server, lib, conf)
    info = run_node(lib, "userinfo", **conf, access_token=done["tokens"]["access_token"], sub=done["claims"]["sub"])
    assert "error" not in info, info
    assert info["userinfo"]["sub"] == USER


@pytest.mark.client("node", "refresh rotation")
def test_refresh_rotation(server, lib):
    conf = portail(server)
    first = tokens_for(server, lib, conf)["tokens"]
    second = run_node(lib, "refresh", **conf, refresh_token=first["refresh_token"])
    assert "error" not in second, second
    assert second["tokens"]["refresh_token"] != first["refresh_token"]
    assert second["tokens"]["access_token"] != first["access_token"]
    reused = run_node(lib, "refresh", **conf, refresh_token=first["refresh_token"])
    assert reused["error"]["error"] == "invalid_grant", reused


@pytest.mark.client("node", "introspection")
def test_introspection(server, lib):
    conf = portail(server)
    tokens = tokens_for(server, lib, conf)["tokens"]
    live = run_node(lib, "introspect", **conf, token=tokens["access_token"])
    assert "error" not in live, live
    assert live["introspection"]["active"] is True and live["introspection"]["client_id"] == "demo-portail"
    dead = run_node(lib, "introspect", **conf, token="not-a-token")
    assert dead["introspection"] == {"active": False}


@pytest.mark.client("node", "revocation")
def test_revocation(server, lib):
    conf = portail(server)
    tokens = tokens_for(server, lib, conf)["tokens"]
    done = run_node(lib, "revoke", **conf, token=tokens["refresh_token"])
    assert done == {"revoked": True}
    refused = run_node(lib, "refresh", **conf, refresh_token=tokens["refresh_token"])
    assert refused["error"]["error"] == "invalid_grant", refused


@pytest.mark.client("node", "RP-initiated logout back to the app with state")
def test_rp_initiated_logout_returns_with_state(server, lib):
    conf = portail(server)
    browser = requests.Session()
    tokens = tokens_for(server, lib, conf, browser)["tokens"]
    built = run_node(lib, "logout_url", **conf, id_token=tokens["id_token"], state="app-state-1",
                     post_logout_redirect_uri=server.portail_logout)
    landed = follow_logout(browser, built["url"], server.portail_logout)
    assert landed.startswith(server.portail_logout), landed
    assert query(landed).get("state") == "app-state-1"


@pytest.mark.client("node", "private_key_jwt")
@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES256"])
def test_private_key_jwt(server, lib, alg):
    conf = {"issuer": server.issuer, "client_id": JWT_CLIENT, "auth": "private_key_jwt", "alg": alg,
            "jwk": KEY_FOR[alg].as_dict(private=True), "redirect_uri": redirect_uri(server, JWT_CLIENT)}
    done = tokens_for(server, lib, conf)
    assert done["claims"]["sub"] == USER
    refreshed = run_node(lib, "refresh", **conf, refresh_token=done["tokens"]["refresh_token"])
    assert "error" not in refreshed, refreshed


@pytest.mark.client("node", "public client + PKCE")
def test_public_client(server, lib):
    conf = {"issuer": server.issuer, "client_id": PUBLIC_CLIENT, "auth": "none",
            "redirect_uri": redirect_uri(server, PUBLIC_CLIENT)}
    done = tokens_for(server, lib, conf)
    assert done["claims"]["aud"] in (PUBLIC_CLIENT, [PUBLIC_CLIENT])


@pytest.mark.client("node", "RFC 8414 discovery (/.well-known/oauth-authorization-server)")
def test_rfc8414_discovery(server, lib):
    """Issue 12 defect 9 (fixed): the RFC 8414 document, validated by the library (algorithm: 'oauth2')."""
    done = run_node(lib, "discover_oauth2", **portail(server))
    assert "error" not in done, done
    assert done["metadata"]["issuer"] == server.issuer


def jwt_client(server, alg="RS256") -> dict:
    return {"issuer": server.issuer, "client_id": JWT_CLIENT, "auth": "private_key_jwt", "alg": alg,
            "jwk": KEY_FOR[alg].as_dict(private=True), "redirect_uri": redirect_uri(server, JWT_CLIENT)}


def flow(server, lib, conf, step, **extra) -> dict:
    """The library builds the authorization URL (`step`), the browser logs in, the library redeems the code."""
    started = run_node(lib, step, **conf, **extra)
    assert "error" not in started, started
    callback = browser_login(server, started["url"], conf["redirect_uri"])
    done = run_node(lib, "callback", **conf, **started, callback_url=callback)
    assert "error" not in done, done
    return {"started": started, **done}


@pytest.mark.client("node", "request object (JAR, RFC 9101)")
@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES256"])
def test_request_object(server, lib, alg):
    """Issue 16: the URL carries only client_id and request (openid-client's buildAuthorizationUrlWithJAR,
    oauth4webapi's issueRequestObject); the bridge verifies it with the client's registered keys."""
    done = flow(server, lib, jwt_client(server, alg), "authorize_jar")
    assert set(query(done["started"]["url"])) == {"client_id", "request"}
    assert done["claims"]["sub"] == USER and done["claims"]["nonce"] == done["started"]["nonce"]


@pytest.mark.client("node", "pushed authorization request (PAR, RFC 9126)")
def test_pushed_authorization_request(server, lib):
    """openid-client's buildAuthorizationUrlWithPAR, oauth4webapi's pushedAuthorizationRequest (client_secret_basic,
    as at /token); the request_uri works once."""
    conf = portail(server)
    done = flow(server, lib, conf, "authorize_par")
    url = done["started"]["url"]
    assert set(query(url)) == {"client_id", "request_uri"}
    assert query(url)["request_uri"].startswith("urn:ietf:params:oauth:request_uri:")
    assert done["claims"]["sub"] == USER
    again = requests.get(url, allow_redirects=False, timeout=10)
    assert again.status_code == 400 and 'data-error-code="invalid_request_uri"' in again.text


@pytest.mark.client("node", "PAR with a signed request object (private_key_jwt)")
def test_pushed_request_object(server, lib):
    done = flow(server, lib, jwt_client(server, "ES256"), "authorize_par", jar=True)
    assert done["claims"]["sub"] == USER


@pytest.mark.client("node", "PAR by a public client")
def test_pushed_authorization_request_public_client(server, lib):
    conf = {"issuer": server.issuer, "client_id": PUBLIC_CLIENT, "auth": "none",
            "redirect_uri": redirect_uri(server, PUBLIC_CLIENT)}
    assert flow(server, lib, conf, "authorize_par")["claims"]["aud"] in (PUBLIC_CLIENT, [PUBLIC_CLIENT])


@pytest.mark.client("node", "RP-initiated logout with state, PSC dropping its state")
def test_rp_initiated_logout_when_psc_drops_state(server_without_logout_state, lib):
    """Issue 12 defect 1 (fixed): the pending return is bound to the browser, not to PSC's state."""
    server = server_without_logout_state
    conf = portail(server)
    browser = requests.Session()
    tokens = tokens_for(server, lib, conf, browser)["tokens"]
    built = run_node(lib, "logout_url", **conf, id_token=tokens["id_token"], state="app-state-3",
                     post_logout_redirect_uri=server.portail_logout)
    landed = follow_logout(browser, built["url"], server.portail_logout)
    assert landed.startswith(server.portail_logout) and query(landed).get("state") == "app-state-3", landed


@pytest.mark.client("node", "key rotation while the client runs (emergency --now)")
def test_key_rotation_while_the_client_runs(server, lib):
    """One running library instance (its JWKS cached by the first login), then `bridge keys rotate --now`: the
    next ID token has a kid the cache does not know. Both libraries refetch a JWKS on an unknown kid only when
    their copy is at least 60 s old (quirk, docs/provider.md): within that minute they refuse with
    OAUTH_KEY_SELECTION_FAILED. A new library instance (fresh cache) verifies at once. The scheduled rotation
    (the default) publishes new keys before they sign, for longer than the 300 s these caches live."""
    from tests.interop.test_python_clients import kid_of, rotate_now

    conf = portail(server)
    session = NodeSession(lib, **conf)
    try:
        browser = requests.Session()
        results = []
        for rotate in (False, True):
            if rotate:
                rotate_now(server)
            started = session("authorize")
            callback = browser_login(server, started["url"], conf["redirect_uri"], browser)
            results.append(session("callback", **started, callback_url=callback))
        assert "error" not in results[0], results[0]
        assert results[1].get("error", {}).get("code") == "OAUTH_KEY_SELECTION_FAILED", results[1]
    finally:
        session.close()
    fresh = tokens_for(server, lib, conf, browser)   # the workaround: a fresh configuration (or wait 60 s)
    assert kid_of(fresh["tokens"]["id_token"]) != kid_of(results[0]["tokens"]["id_token"])


@pytest.mark.client("node", "DPoP-bound tokens (RFC 9449): code, userinfo, refresh, nonce")
def test_dpop(server, lib):
    conf = {"issuer": server.issuer, "client_id": PUBLIC_CLIENT, "auth": "none", "dpop": True,
            "redirect_uri": redirect_uri(server, PUBLIC_CLIENT), "scope": "openid profile"}
    node = NodeSession(lib, **conf)
    try:
        started = node("authorize")
        done = node("callback", **started, callback_url=browser_login(server, started["url"], conf["redirect_uri"]))
        assert "error" not in done, done
        tokens = done["tokens"]
        assert tokens["token_type"].lower() == "dpop"
        info = node("userinfo", access_token=tokens["access_token"], sub=done["claims"]["sub"])
        assert info.get("userinfo", {}).get("sub") == USER, info
        refreshed = node("refresh", refresh_token=tokens["refresh_token"])
        assert "error" not in refreshed and refreshed["tokens"]["token_type"].lower() == "dpop", refreshed
        key = node("dpop_key")
    finally:
        node.close()
    if lib == "oauth4webapi":   # the app retries use_dpop_nonce itself (openid-client does it inside)
        assert key["nonce_retries"] == 1
    access = refreshed["tokens"]["access_token"]
    assert server.bridge.tokens.lookup_access(access)[1]["j"] == JWKRegistry.import_key(key["jwk"]).thumbprint()
    bearer = requests.get(f"{server.url}/userinfo", timeout=10, headers={"Authorization": f"Bearer {access}"})
    assert bearer.status_code == 401 and bearer.headers["WWW-Authenticate"].startswith("DPoP ")


@pytest.fixture
def mtls_server(bridge_factory, receiver, tmp_path):
    """A bridge behind a (played) TLS proxy at 127.0.0.1 that forwards the client certificate in X-Client-Cert."""
    policy = f"""
service: interop-mtls
name: Interop mTLS clients
clients:
  - client_id: interop-mtls
    token_endpoint_auth_method: tls_client_auth
    tls_client_auth_subject_dn: "{DN}"
    redirect_uris: [http://127.0.0.1:8002/mtls/callback]
    scopes: [openid, profile]
allowed_mie: [psc]
subject_type: public
idle_timeout: 30m
max_session: 4h
"""
    policies = rewrite_policies(tmp_path / "policies", receiver.url, {"interop-mtls.yaml": policy})
    server = bridge_factory(env={"BRIDGE_POLICIES_DIR": str(policies), "BRIDGE_TRUSTED_PROXIES": "127.0.0.1",
                                 "BRIDGE_CLIENT_CERT_HEADER": "X-Client-Cert"})
    server.receiver, server.issuer = receiver, server.bridge.settings.issuer
    return server


@pytest.mark.client("node", "mTLS client auth + certificate-bound tokens (RFC 8705), via the proxy header")
def test_mtls(mtls_server, lib):
    """tls_client_auth with TlsClientAuth(); the library's customFetch plays the reverse proxy (adds the header)."""
    server = mtls_server
    conf = {"issuer": server.issuer, "client_id": "interop-mtls", "auth": "tls",
            "redirect_uri": f"{server.receiver.url}/mtls/callback", "scope": "openid profile",
            "cert_header": {"name": "X-Client-Cert", "value": header(DN_CERT)["X-Client-Cert"]}}
    node = NodeSession(lib, **conf)
    try:
        started = node("authorize")
        done = node("callback", **started, callback_url=browser_login(server, started["url"], conf["redirect_uri"]))
        assert "error" not in done, done
        tokens = done["tokens"]
        assert tokens["token_type"].lower() == "bearer"
        info = node("userinfo", access_token=tokens["access_token"], sub=done["claims"]["sub"])
        assert info.get("userinfo", {}).get("sub") == USER, info
        introspected = node("introspect", token=tokens["access_token"])
        assert introspected["introspection"]["cnf"] == {"x5t#S256": thumbprint(DN_CERT)}, introspected
        refreshed = node("refresh", refresh_token=tokens["refresh_token"])
        assert "error" not in refreshed, refreshed
    finally:
        node.close()
    access = refreshed["tokens"]["access_token"]
    for presented in ({}, header(SELF_CERT)):   # the token without its certificate, or with another
        refused = requests.get(f"{server.url}/userinfo", timeout=10,
                               headers={"Authorization": f"Bearer {access}", **presented})
        assert refused.status_code == 401 and 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
