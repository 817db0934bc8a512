"""Authlib (OAuth2Session), pyoidc (`oic` 1.7 Client) and idpyoidc 5 (RPHandler) against the real bridge.

Each library builds its own requests and checks the answers its own way; Python plays the user's browser between
the authorization URL the library built and the callback URL it parses. Quirks of the libraries themselves are
in docs/provider.md ("Known client quirks"); a provider defect found here gets a strict xfail until it is fixed.
"""
from __future__ import annotations

import secrets

import pytest
import requests

from tests.interop.conftest import (
    JWT_CLIENT,
    KEY_FOR,
    POST_CLIENT,
    POST_SECRET,
    PUBLIC_CLIENT,
    USER,
    browser_login,
    follow_logout,
    query,
    redirect_uri,
)


def discovery(server) -> dict:
    return requests.get(f"{server.issuer}/.well-known/openid-configuration", timeout=10).json()


# ================================================================================================ Authlib
class AuthlibApp:
    """An app on Authlib's requests integration (OAuth2Session), as its documentation shows it."""

    def __init__(self, server, client_id: str, secret=None, auth="client_secret_basic", alg=None, kid=True):
        from authlib.integrations.requests_client import OAuth2Session
        from authlib.oauth2.rfc7523 import PrivateKeyJWT

        self.server, self.client_id = server, client_id
        self.metadata = discovery(server)
        self.redirect_uri = redirect_uri(server, client_id)
        if auth == "private_key_jwt":
            # Authlib puts no `kid` in the assertion's header unless told (quirk): tell it.
            headers = {"kid": KEY_FOR[alg].kid} if kid else None
            auth, secret = PrivateKeyJWT(self.metadata["token_endpoint"], headers=headers, alg=alg), KEY_FOR[alg]
        self.session = OAuth2Session(client_id, secret, scope="openid profile", redirect_uri=self.redirect_uri,
                                     code_challenge_method="S256", token_endpoint_auth_method=auth)

    def authorize_url(self, **extra) -> str:
        self.nonce, self.verifier = secrets.token_urlsafe(16), secrets.token_urlsafe(48)
        url, self.state = self.session.create_authorization_url(self.metadata["authorization_endpoint"],
                                                                nonce=self.nonce, code_verifier=self.verifier, **extra)
        return url

    def login(self, browser=None) -> str:
        return browser_login(self.server, self.authorize_url(), self.redirect_uri, browser)

    def fetch_token(self, callback: str) -> dict:
        return dict(self.session.fetch_token(self.metadata["token_endpoint"], authorization_response=callback,
                                             state=self.state, code_verifier=self.verifier))

    def id_token_claims(self, id_token: str, nonce: str | None = None) -> dict:
        from authlib.jose import JsonWebKey, jwt
        from authlib.oidc.core import CodeIDToken

        keys = JsonWebKey.import_key_set(requests.get(self.metadata["jwks_uri"], timeout=10).json())
        claims = jwt.decode(id_token, keys, claims_cls=CodeIDToken,
                            claims_options={"iss": {"essential": True, "value": self.metadata["issuer"]}},
                            claims_params={"nonce": nonce or self.nonce, "client_id": self.client_id})
        claims.validate()
        return dict(claims)


def authlib_portail(server) -> AuthlibApp:
    return AuthlibApp(server, "demo-portail", "demo-portail-secret")


@pytest.mark.client("Authlib", "discovery + metadata validation")
def test_authlib_openid_metadata_validates(server):
    from authlib.oidc.discovery import OpenIDProviderMetadata

    OpenIDProviderMetadata(discovery(server)).validate()


@pytest.mark.client("Authlib", "RFC 8414 metadata validation")
def test_authlib_rfc8414_metadata_validates(server):
    """Issue 12 defect 9 (fixed): Authlib's RFC 8414 validator accepts both documents."""
    from authlib.oauth2.rfc8414 import AuthorizationServerMetadata

    AuthorizationServerMetadata(discovery(server)).validate()
    response = requests.get(f"{server.issuer}/.well-known/oauth-authorization-server", timeout=10)
    assert response.status_code == 200
    AuthorizationServerMetadata(response.json()).validate()


@pytest.mark.client("Authlib", "code + PKCE S256")
def test_authlib_code_flow_with_pkce(server):
    app = authlib_portail(server)
    url = app.authorize_url()
    assert "code_challenge_method=S256" in url
    token = app.fetch_token(browser_login(server, url, app.redirect_uri))
    assert token["access_token"] and token["refresh_token"] and token["token_type"].lower() == "bearer"


@pytest.mark.client("Authlib", "ID token validation")
def test_authlib_id_token_validation(server):
    app = authlib_portail(server)
    token = app.fetch_token(app.login())
    assert app.id_token_claims(token["id_token"])["sub"] == USER
    with pytest.raises(Exception, match="nonce"):
        app.id_token_claims(token["id_token"], nonce="not-the-nonce")


@pytest.mark.client("Authlib", "RFC 9207 iss on success")
def test_authlib_iss_on_success(server):
    """Authlib does not look at `iss` (quirk): the app compares it with the discovered issuer itself."""
    app = authlib_portail(server)
    callback = app.login()
    assert query(callback)["iss"] == app.metadata["issuer"]
    assert "access_token" in app.fetch_token(callback)


@pytest.mark.client("Authlib", "RFC 9207 iss on error: prompt=none → login_required")
def test_authlib_prompt_none_without_session(server):
    """Authlib does not read `error` from the callback (quirk): without `code=` in it, fetch_token guesses another
    grant and POSTs it to /token. The app reads `error` (and `iss`) from the callback first."""
    from authlib.integrations.base_client import OAuthError

    app = authlib_portail(server)
    response = requests.get(app.authorize_url(prompt="none"), allow_redirects=False, timeout=10)
    callback = response.headers["Location"]
    assert callback.startswith(app.redirect_uri)
    assert query(callback)["error"] == "login_required" and query(callback)["iss"] == app.metadata["issuer"]
    with pytest.raises(OAuthError) as raised:
        app.fetch_token(callback)
    assert raised.value.error != "login_required"   # what the library reports instead: the server's answer


@pytest.mark.client("Authlib", "acr_values: met (card: eidas2) / unreachable → unmet_authentication_requirements")
def test_authlib_acr_values(server):
    """The app asks a level with Authlib's create_authorization_url(acr_values=...): a card login reaches eidas2
    (ID token acr); eidas3, which no means of the service reaches, comes back at once as
    unmet_authentication_requirements with state and iss (docs/provider.md, acr)."""
    app = authlib_portail(server)
    token = app.fetch_token(browser_login(server, app.authorize_url(acr_values="eidas2"), app.redirect_uri))
    assert app.id_token_claims(token["id_token"])["acr"] == "eidas2"
    callback = requests.get(app.authorize_url(acr_values="eidas3"), allow_redirects=False, timeout=10)
    answer = query(callback.headers["Location"])
    assert answer["error"] == "unmet_authentication_requirements" and answer["state"] == app.state
    assert answer["iss"] == app.metadata["issuer"] and "code" not in answer


@pytest.mark.client("Authlib", "userinfo (library default)")
def test_authlib_userinfo(server):
    app = authlib_portail(server)
    app.fetch_token(app.login())
    response = app.session.get(app.metadata["userinfo_endpoint"], timeout=10)   # Bearer header
    assert response.status_code == 200 and response.json()["sub"] == USER


@pytest.mark.client("Authlib", "refresh rotation")
def test_authlib_refresh_rotation(server):
    from authlib.integrations.base_client import OAuthError

    app = authlib_portail(server)
    first = app.fetch_token(app.login())
    second = dict(app.session.refresh_token(app.metadata["token_endpoint"], refresh_token=first["refresh_token"]))
    assert second["refresh_token"] != first["refresh_token"] and second["access_token"] != first["access_token"]
    with pytest.raises(OAuthError, match="invalid_grant"):
        app.session.refresh_token(app.metadata["token_endpoint"], refresh_token=first["refresh_token"])


@pytest.mark.client("Authlib", "introspection")
def test_authlib_introspection(server):
    app = authlib_portail(server)
    token = app.fetch_token(app.login())
    answer = app.session.introspect_token(app.metadata["introspection_endpoint"], token=token["access_token"])
    assert answer.status_code == 200 and answer.json()["active"] is True
    assert answer.json()["client_id"] == "demo-portail"


@pytest.mark.client("Authlib", "revocation")
def test_authlib_revocation(server):
    from authlib.integrations.base_client import OAuthError

    app = authlib_portail(server)
    token = app.fetch_token(app.login())
    answer = app.session.revoke_token(app.metadata["revocation_endpoint"], token=token["refresh_token"],
                                      token_type_hint="refresh_token")
    assert answer.status_code == 200
    with pytest.raises(OAuthError, match="invalid_grant"):
        app.session.refresh_token(app.metadata["token_endpoint"], refresh_token=token["refresh_token"])


@pytest.mark.client("Authlib", "private_key_jwt")
@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES256"])
def test_authlib_private_key_jwt(server, alg):
    app = AuthlibApp(server, JWT_CLIENT, auth="private_key_jwt", alg=alg)
    token = app.fetch_token(app.login())
    assert app.id_token_claims(token["id_token"])["sub"] == USER
    assert "access_token" in app.session.refresh_token(app.metadata["token_endpoint"],
                                                       refresh_token=token["refresh_token"])


@pytest.mark.client("Authlib", "private_key_jwt without kid (library default)")
def test_authlib_private_key_jwt_without_kid(server):
    app = AuthlibApp(server, JWT_CLIENT, auth="private_key_jwt", alg="RS256", kid=False)
    assert "access_token" in app.fetch_token(app.login())


@pytest.mark.client("Authlib", "public client + PKCE")
def test_authlib_public_client(server):
    app = AuthlibApp(server, PUBLIC_CLIENT, auth="none")
    token = app.fetch_token(app.login())
    assert app.id_token_claims(token["id_token"])["aud"] == [PUBLIC_CLIENT]


@pytest.mark.client("Authlib", "client_secret_post")
def test_authlib_client_secret_post(server):
    app = AuthlibApp(server, POST_CLIENT, POST_SECRET, auth="client_secret_post")
    assert "id_token" in app.fetch_token(app.login())


# ================================================================================================ pyoidc (oic)
class PyoidcApp:
    """An app on pyoidc's `oic.oic.Client`: discovery, static registration info, the do_* requests."""

    def __init__(self, server, client_id: str, secret=None, auth="client_secret_basic", alg=None):
        from oic.oic import Client
        from oic.oic.message import RegistrationResponse
        from oic.utils.authn.client import CLIENT_AUTHN_METHOD

        self.server, self.client_id, self.auth, self.alg = server, client_id, auth, alg
        self.redirect_uri = redirect_uri(server, client_id)
        self.client = Client(client_id=client_id, client_authn_method=CLIENT_AUTHN_METHOD)
        self.provider = self.client.provider_config(server.issuer)   # fetches, verifies, loads the JWKS
        info = {"client_id": client_id, "redirect_uris": [self.redirect_uri]}
        if secret:
            info["client_secret"] = secret
        self.client.store_registration_info(RegistrationResponse(**info))
        self.client.redirect_uris = [self.redirect_uri]
        if auth == "private_key_jwt":
            from oic.utils.keyio import KeyBundle

            self.client.keyjar.add_kb("", KeyBundle(keys=[KEY_FOR[alg].as_dict(private=True)]))

    def authorize_url(self, **extra) -> str:
        self.state, self.nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        pkce, self.verifier = self.client.add_code_challenge()
        args = {"client_id": self.client_id, "response_type": "code", "scope": ["openid", "profile"],
                "nonce": self.nonce, "redirect_uri": self.redirect_uri, "state": self.state, **pkce, **extra}
        request = self.client.construct_AuthorizationRequest(request_args=args)
        return request.request(self.client.authorization_endpoint)

    def login(self, browser=None) -> str:
        return browser_login(self.server, self.authorize_url(), self.redirect_uri, browser)

    def parse(self, callback: str):
        from oic.oic.message import AuthorizationResponse

        return self.client.parse_response(AuthorizationResponse, info=callback.split("?", 1)[1],
                                          sformat="urlencoded")

    def authn(self) -> dict:
        if self.auth == "private_key_jwt":
            # pyoidc's JWT authentication needs to be told which endpoint it is for (quirk): the audience.
            return {"authn_method": "private_key_jwt", "algorithm": self.alg, "authn_endpoint": "token"}
        return {"authn_method": self.auth}

    def tokens(self, callback: str):
        response = self.parse(callback)
        return self.client.do_access_token_request(
            state=response["state"], request_args={"code": response["code"], "code_verifier": self.verifier},
            **self.authn())

    def extension_client(self):
        """Introspection and revocation live in oic.extension's OAuth2 client."""
        from oic.extension.client import Client as ExtensionClient
        from oic.utils.authn.client import CLIENT_AUTHN_METHOD

        extension = ExtensionClient(client_id=self.client_id, client_authn_method=CLIENT_AUTHN_METHOD)
        extension.client_secret = self.client.client_secret
        extension.handle_provider_config(self.provider, self.server.issuer)
        return extension


def pyoidc_portail(server) -> PyoidcApp:
    return PyoidcApp(server, "demo-portail", "demo-portail-secret")


@pytest.mark.client("pyoidc", "discovery + metadata validation")
def test_pyoidc_discovery(server):
    from oic.oic.message import ProviderConfigurationResponse

    app = pyoidc_portail(server)
    # provider_config() validated the document (Discovery §4.3: issuer equal to the URL asked) and its JWKS.
    assert isinstance(app.provider, ProviderConfigurationResponse) and app.provider["issuer"] == server.issuer
    assert app.client.keyjar.get_issuer_keys(server.issuer)


@pytest.mark.client("pyoidc", "code + PKCE S256")
def test_pyoidc_code_flow_with_pkce(server):
    from oic.oic.message import AccessTokenResponse

    app = pyoidc_portail(server)
    url = app.authorize_url()
    assert "code_challenge_method=S256" in url
    token = app.tokens(browser_login(server, url, app.redirect_uri))
    assert isinstance(token, AccessTokenResponse) and token["access_token"] and token["refresh_token"]


@pytest.mark.client("pyoidc", "ID token validation")
def test_pyoidc_id_token_validation(server):
    """pyoidc verifies the signature (JWKS from discovery), iss, aud, exp and the nonce bound to the state."""
    app = pyoidc_portail(server)
    token = app.tokens(app.login())
    assert token["id_token"]["sub"] == USER and token["id_token"]["nonce"] == app.nonce
    app2 = pyoidc_portail(server)
    callback = app2.login()
    app2.client.state2nonce[app2.state] = "not-the-nonce"
    with pytest.raises(Exception, match="nonce"):
        app2.tokens(callback)


@pytest.mark.client("pyoidc", "RFC 9207 iss on success")
def test_pyoidc_iss_on_success(server):
    """pyoidc keeps `iss` in the parsed response but does not compare it (quirk): the app does."""
    app = pyoidc_portail(server)
    response = app.parse(app.login())
    assert response["iss"] == app.provider["issuer"]


@pytest.mark.client("pyoidc", "RFC 9207 iss on error: prompt=none → login_required")
def test_pyoidc_prompt_none_without_session(server):
    from oic.oauth2.message import ErrorResponse

    app = pyoidc_portail(server)
    response = requests.get(app.authorize_url(prompt="none"), allow_redirects=False, timeout=10)
    parsed = app.parse(response.headers["Location"])
    assert isinstance(parsed, ErrorResponse) and parsed["error"] == "login_required"
    assert parsed["iss"] == app.provider["issuer"] and parsed["state"] == app.state


@pytest.mark.client("pyoidc", "userinfo (library default)")
def test_pyoidc_userinfo_default_post_body(server):
    """do_user_info_request() POSTs the access token in the form body by default (RFC 6750 §2.2)."""
    from oic.oic.message import OpenIDSchema

    app = pyoidc_portail(server)
    app.tokens(app.login())
    info = app.client.do_user_info_request(state=app.state)
    assert isinstance(info, OpenIDSchema) and info["sub"] == USER


@pytest.mark.client("pyoidc", "refresh rotation")
def test_pyoidc_refresh_rotation(server):
    from oic.oauth2.message import ErrorResponse

    app = pyoidc_portail(server)
    first = app.tokens(app.login())
    first_token = app.client.get_token(state=app.state)
    second = app.client.do_access_token_refresh(state=app.state, **app.authn())
    assert second["refresh_token"] != first["refresh_token"] and second["access_token"] != first["access_token"]
    reused = app.client.do_access_token_refresh(state=app.state, token=first_token, **app.authn())
    assert isinstance(reused, ErrorResponse) and reused["error"] == "invalid_grant"


@pytest.mark.client("pyoidc", "introspection")
def test_pyoidc_introspection(server):
    app = pyoidc_portail(server)
    token = app.tokens(app.login())
    answer = app.extension_client().do_token_introspection(request_args={"token": token["access_token"]},
                                                           authn_method="client_secret_basic")
    assert answer["active"] is True and answer["client_id"] == "demo-portail"


@pytest.mark.client("pyoidc", "revocation")
def test_pyoidc_revocation(server):
    from oic.oauth2.message import ErrorResponse

    app = pyoidc_portail(server)
    token = app.tokens(app.login())
    app.extension_client().do_token_revocation(request_args={"token": token["refresh_token"],
                                                             "token_type_hint": "refresh_token"},
                                               authn_method="client_secret_basic")
    refused = app.client.do_access_token_refresh(state=app.state, **app.authn())
    assert isinstance(refused, ErrorResponse) and refused["error"] == "invalid_grant"


@pytest.mark.client("pyoidc", "RP-initiated logout back to the app with state")
def test_pyoidc_rp_initiated_logout(server):
    app, browser = pyoidc_portail(server), requests.Session()
    app.tokens(app.login(browser))
    request = app.client.construct_EndSessionRequest(state=app.state, request_args={
        "post_logout_redirect_uri": server.portail_logout, "state": "app-state-2"})
    assert request["id_token_hint"]   # taken from the grant by pyoidc
    landed = follow_logout(browser, request.request(app.client.end_session_endpoint), server.portail_logout)
    assert landed.startswith(server.portail_logout) and query(landed).get("state") == "app-state-2", landed


@pytest.mark.client("pyoidc", "RP-initiated logout with state, PSC dropping its state")
def test_pyoidc_rp_initiated_logout_when_psc_drops_state(server_without_logout_state):
    server = server_without_logout_state
    app, browser = pyoidc_portail(server), requests.Session()
    app.tokens(app.login(browser))
    request = app.client.construct_EndSessionRequest(state=app.state, request_args={
        "post_logout_redirect_uri": server.portail_logout, "state": "app-state-4"})
    landed = follow_logout(browser, request.request(app.client.end_session_endpoint), server.portail_logout)
    assert landed.startswith(server.portail_logout) and query(landed).get("state") == "app-state-4", landed


@pytest.mark.client("idpyoidc", "RP-initiated logout with state, PSC dropping its state")
def test_idpyoidc_rp_initiated_logout_when_psc_drops_state(server_without_logout_state):
    server = server_without_logout_state
    app, browser = idpy_portail(server), requests.Session()
    result = app.finalize(app.login(browser))
    info = app.client.logout(result["state"], post_logout_redirect_uri=server.portail_logout)
    landed = follow_logout(browser, info["url"], server.portail_logout)
    assert landed.startswith(server.portail_logout) and query(landed).get("state") == query(info["url"])["state"]


@pytest.mark.client("pyoidc", "back-channel logout token validation")
def test_pyoidc_backchannel_logout_token(server):
    import time

    from oic.oic.message import BackChannelLogoutRequest

    app, browser = pyoidc_portail(server), requests.Session()
    token = app.tokens(app.login(browser))
    request = app.client.construct_EndSessionRequest(state=app.state, request_args={
        "post_logout_redirect_uri": server.portail_logout, "state": "s"})
    follow_logout(browser, request.request(app.client.end_session_endpoint), server.portail_logout)
    for _ in range(50):
        received = server.receiver.tokens_for("/portail/backchannel-logout")
        if received:
            break
        time.sleep(0.1)
    logout = BackChannelLogoutRequest(logout_token=received[0])
    assert logout.verify(keyjar=app.client.keyjar, aud="demo-portail", iss=server.issuer)
    assert logout["logout_token"]["sid"] == token["id_token"]["sid"]


@pytest.mark.client("pyoidc", "private_key_jwt")
@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES256"])
def test_pyoidc_private_key_jwt(server, alg):
    app = PyoidcApp(server, JWT_CLIENT, auth="private_key_jwt", alg=alg)
    token = app.tokens(app.login())
    assert token["id_token"]["sub"] == USER
    # do_access_token_refresh() drops its own authn_endpoint before signing (quirk): KeyError with JWT auth.
    with pytest.raises(KeyError, match="authn_endpoint"):
        app.client.do_access_token_refresh(state=app.state, **app.authn())
    assert "access_token" in pyoidc_refresh_with_jwt(app)


def pyoidc_refresh_with_jwt(app: PyoidcApp):
    """The workaround: the same request through request_info(), which does pass authn_endpoint on."""
    from oic.oauth2.message import RefreshAccessTokenRequest
    from oic.oic.message import AccessTokenResponse

    url, body, http_args, _ = app.client.request_info(
        RefreshAccessTokenRequest, method="POST", token=app.client.get_token(state=app.state),
        authn_method="private_key_jwt", authn_endpoint="refresh", algorithm=app.alg)
    return app.client.request_and_return(url, AccessTokenResponse, "POST", body, "json", state=app.state,
                                         http_args=http_args)


@pytest.mark.client("pyoidc", "public client + PKCE")
def test_pyoidc_public_client(server):
    app = PyoidcApp(server, PUBLIC_CLIENT, auth="")
    token = app.tokens(app.login())
    assert token["id_token"]["aud"] == [PUBLIC_CLIENT]


@pytest.mark.client("pyoidc", "client_secret_post")
def test_pyoidc_client_secret_post(server):
    app = PyoidcApp(server, POST_CLIENT, POST_SECRET, auth="client_secret_post")
    assert "id_token" in app.tokens(app.login())


# ================================================================================================ idpyoidc
IDPY_SERVICES = {
    "discovery": {"class": "idpyoidc.client.oidc.provider_info_discovery.ProviderInfoDiscovery"},
    "authorization": {"class": "idpyoidc.client.oidc.authorization.Authorization"},
    "access_token": {"class": "idpyoidc.client.oidc.access_token.AccessToken"},
    "refresh_access_token": {"class": "idpyoidc.client.oidc.refresh_access_token.RefreshAccessToken"},
    "userinfo": {"class": "idpyoidc.client.oidc.userinfo.UserInfo"},
    "end_session": {"class": "idpyoidc.client.oidc.end_session.EndSession"},
    "token_revocation": {"class": "idpyoidc.client.oauth2.token_revocation.TokenRevocation"},
    "introspection": {"class": "idpyoidc.client.oauth2.introspection.Introspection"},
}


class IdpyApp:
    """An app on idpyoidc's RPHandler (static registration, PKCE add-on) and its StandAloneClient."""

    def __init__(self, server, client_id: str, secret=None, auth="client_secret_basic", alg=None, add_ons=None):
        from idpyoidc.client.rp_handler import RPHandler

        self.server, self.client_id = server, client_id
        self.redirect_uri = redirect_uri(server, client_id)
        config = {"issuer": server.issuer, "client_id": client_id, "redirect_uris": [self.redirect_uri],
                  "client_type": "oidc", "services": IDPY_SERVICES,
                  "preference": {"response_types_supported": ["code"], "scopes_supported": ["openid", "profile"]},
                  # Without this list only the access_token service knows how to authenticate (quirk).
                  "client_authn_methods": [auth] if auth != "none" else [],
                  "add_ons": {"pkce": {"function": "idpyoidc.client.oauth2.add_on.pkce.add_support",
                                       "kwargs": {"code_challenge_length": 64, "code_challenge_method": "S256"}},
                             **(add_ons or {})}}
        if auth != "none":   # idpyoidc has no "none" method (quirk): a public client names no method at all
            config["preference"]["token_endpoint_auth_methods_supported"] = [auth]
        if secret:
            config["client_secret"] = secret
        keyjar = None
        if auth == "private_key_jwt":
            from cryptojwt.key_jar import KeyJar

            keyjar = KeyJar()
            keyjar.import_jwks({"keys": [KEY_FOR[alg].as_dict(private=True)]}, "")
            keyjar.import_jwks({"keys": [KEY_FOR[alg].as_dict(private=True)]}, client_id)
            config["preference"]["token_endpoint_auth_signing_alg_values_supported"] = [alg]
        self.alg = alg
        # Keys in memory: idpyoidc's default writes private/jwks.json and static/jwks.json in the working directory.
        self.handler = RPHandler(server.receiver.url, client_configs={"bridge": config}, keyjar=keyjar,
                                 key_conf={"key_defs": [{"type": "RSA", "use": ["sig"]}]})

    @property
    def client(self):
        return self.handler.issuer2rp[self.server.issuer]

    def authorize_url(self, **req_args) -> str:
        return self.handler.begin("bridge", req_args=req_args or None)

    def login(self, browser=None) -> str:
        return browser_login(self.server, self.authorize_url(), self.redirect_uri, browser)

    def finalize(self, callback: str) -> dict:
        return self.client.finalize(query(callback))


def idpy_portail(server) -> IdpyApp:
    return IdpyApp(server, "demo-portail", "demo-portail-secret")


@pytest.mark.client("idpyoidc", "discovery + metadata validation")
def test_idpyoidc_discovery(server):
    from idpyoidc.message.oidc import ProviderConfigurationResponse

    app = idpy_portail(server)
    app.authorize_url()   # client_setup: discovery (the response is verified), JWKS into the key jar
    info = app.client.get_context().provider_info
    assert isinstance(info, ProviderConfigurationResponse) and info["issuer"] == server.issuer
    assert app.client.keyjar.get_issuer_keys(server.issuer)


@pytest.mark.client("idpyoidc", "code + PKCE S256")
def test_idpyoidc_code_flow_with_pkce(server):
    app = idpy_portail(server)
    url = app.authorize_url()
    assert "code_challenge_method=S256" in url
    result = app.finalize(browser_login(server, url, app.redirect_uri))
    assert result["token"] and result["id_token"]["sub"] == USER


@pytest.mark.client("idpyoidc", "ID token validation")
def test_idpyoidc_id_token_validation(server):
    app = idpy_portail(server)
    url = app.authorize_url()
    callback = browser_login(server, url, app.redirect_uri)
    # The ID token's nonce must lead back to this login's state: bind it to another one.
    app.client.get_context().cstate.bind_key(query(url)["nonce"], "someone-else")
    with pytest.raises(Exception, match="(?i)nonce"):
        app.finalize(callback)


@pytest.mark.client("idpyoidc", "RFC 9207 iss on success")
def test_idpyoidc_iss_on_success(server):
    """idpyoidc does not compare the response's `iss` (quirk): the app does, before finalize()."""
    app = idpy_portail(server)
    callback = app.login()
    assert query(callback)["iss"] == app.client.get_context().provider_info["issuer"]
    assert app.finalize(callback)["token"]


@pytest.mark.client("idpyoidc", "RFC 9207 iss on error: prompt=none → login_required")
def test_idpyoidc_prompt_none_without_session(server):
    app = idpy_portail(server)
    response = requests.get(app.authorize_url(prompt="none"), allow_redirects=False, timeout=10)
    callback = response.headers["Location"]
    assert query(callback)["iss"] == server.issuer
    assert app.finalize(callback)["error"] == "login_required"


@pytest.mark.client("idpyoidc", "userinfo (library default)")
def test_idpyoidc_userinfo(server):
    app = idpy_portail(server)
    result = app.finalize(app.login())   # finalize() calls the userinfo service itself
    assert result["userinfo"]["sub"] == USER and result["userinfo"]["family_name"]


@pytest.mark.client("idpyoidc", "refresh rotation")
def test_idpyoidc_refresh_rotation(server):
    app = idpy_portail(server)
    result = app.finalize(app.login())
    first = app.client.get_context().cstate.get_set(result["state"], claim=["refresh_token", "access_token"])
    second = app.client.refresh_access_token(result["state"])
    assert second["refresh_token"] != first["refresh_token"] and second["access_token"] != first["access_token"]
    reused = app.client.do_request("refresh_token", authn_method="client_secret_basic",
                                   request_args={"refresh_token": first["refresh_token"]}, state=result["state"])
    assert reused["error"] == "invalid_grant"


@pytest.mark.client("idpyoidc", "introspection")
def test_idpyoidc_introspection(server):
    app = idpy_portail(server)
    result = app.finalize(app.login())
    answer = app.client.do_request("introspection", request_args={"token": result["token"]})
    assert answer["active"] is True and answer["client_id"] == "demo-portail"


@pytest.mark.client("idpyoidc", "revocation")
def test_idpyoidc_revocation(server):
    app = idpy_portail(server)
    result = app.finalize(app.login())
    refresh = app.client.get_context().cstate.get_set(result["state"], claim=["refresh_token"])["refresh_token"]
    from idpyoidc.client.exception import ResponseError

    # RFC 7009 §2.2: a 200 whose body the client ignores. idpyoidc raises on an empty answer (quirk); the
    # revocation did happen, as the refresh below shows.
    with pytest.raises(ResponseError, match="Missing or faulty response"):
        app.client.do_request("token_revocation", request_args={"token": refresh, "token_type_hint": "refresh_token"})
    from idpyoidc.client.exception import OidcServiceError

    with pytest.raises(OidcServiceError, match="invalid_grant"):
        app.client.refresh_access_token(result["state"])


@pytest.mark.client("idpyoidc", "RP-initiated logout back to the app with state")
def test_idpyoidc_rp_initiated_logout(server):
    app, browser = idpy_portail(server), requests.Session()
    result = app.finalize(app.login(browser))
    info = app.client.logout(result["state"], post_logout_redirect_uri=server.portail_logout)
    sent_state = query(info["url"])["state"]
    landed = follow_logout(browser, info["url"], server.portail_logout)
    assert landed.startswith(server.portail_logout) and query(landed).get("state") == sent_state, landed


@pytest.mark.client("idpyoidc", "back-channel logout token validation")
def test_idpyoidc_backchannel_logout_token(server):
    import time

    from idpyoidc.message.oidc.session import BackChannelLogoutRequest

    app, browser = idpy_portail(server), requests.Session()
    result = app.finalize(app.login(browser))
    info = app.client.logout(result["state"], post_logout_redirect_uri=server.portail_logout)
    follow_logout(browser, info["url"], server.portail_logout)
    for _ in range(50):
        received = server.receiver.tokens_for("/portail/backchannel-logout")
        if received:
            break
        time.sleep(0.1)
    logout = BackChannelLogoutRequest(logout_token=received[0])
    assert logout.verify(keyjar=app.client.keyjar, aud="demo-portail", iss=server.issuer)
    from idpyoidc import verified_claim_name

    assert logout[verified_claim_name("logout_token")]["sid"] == result["id_token"]["sid"]


@pytest.mark.client("idpyoidc", "private_key_jwt")
@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES256"])
def test_idpyoidc_private_key_jwt(server, alg):
    app = IdpyApp(server, JWT_CLIENT, auth="private_key_jwt", alg=alg)
    result = app.finalize(app.login())
    assert result["id_token"]["sub"] == USER
    assert "access_token" in app.client.refresh_access_token(result["state"])


@pytest.mark.client("idpyoidc", "request object (JAR, RFC 9101)")
def test_idpyoidc_request_object(server):
    """idpyoidc's JAR add-on (request parameter, RS256): the URL keeps only the required parameters besides
    `request` (response_type, client_id, scope, redirect_uri); the bridge uses the object's. ES256 and PAR: quirks
    (docs/provider.md)."""
    jar = {"jar": {"function": "idpyoidc.client.oauth2.add_on.jar.add_support",
                   "kwargs": {"request_type": "request_parameter", "request_object_signing_alg": "RS256"}}}
    app = IdpyApp(server, JWT_CLIENT, auth="private_key_jwt", alg="RS256", add_ons=jar)
    url = app.authorize_url()
    assert "request" in query(url) and "state" not in query(url)
    result = app.finalize(browser_login(server, url, app.redirect_uri))
    assert result["id_token"]["sub"] == USER


@pytest.mark.client("idpyoidc", "public client + PKCE")
def test_idpyoidc_public_client(server):
    app = IdpyApp(server, PUBLIC_CLIENT, auth="none")
    assert app.finalize(app.login())["id_token"]["aud"] == [PUBLIC_CLIENT]


@pytest.mark.client("idpyoidc", "client_secret_post")
def test_idpyoidc_client_secret_post(server):
    app = IdpyApp(server, POST_CLIENT, POST_SECRET, auth="client_secret_post")
    assert app.finalize(app.login())["id_token"]["sub"] == USER


# ================================================================================================ key rotation
def rotate_now(server):
    """`bridge keys rotate --now` under a running bridge: new keys sign at once (the running server notices
    within 1 s); a client that fetched the JWKS before has to refetch it on the unknown kid."""
    import time

    from bridge.provider.keys import KeyRing

    KeyRing(server.bridge.settings.keys_dir).rotate(keep_seconds=600, now=True)
    time.sleep(1.1)


def kid_of(id_token: str) -> str:
    import base64
    import json

    header = id_token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]


@pytest.mark.client("pyoidc", "key rotation while the client runs")
def test_pyoidc_key_rotation_while_running(server):
    app, browser = pyoidc_portail(server), requests.Session()
    first = app.tokens(app.login(browser))
    rotate_now(server)
    second = app.tokens(app.login(browser))   # same Client, same key jar: the new kid is fetched on demand
    assert kid_of(second["id_token_jwt"]) != kid_of(first["id_token_jwt"])
    assert second["id_token"]["sub"] == USER


@pytest.mark.client("idpyoidc", "key rotation while the client runs")
def test_idpyoidc_key_rotation_while_running(server):
    app, browser = idpy_portail(server), requests.Session()
    first = app.finalize(app.login(browser))
    rotate_now(server)
    second = app.finalize(app.login(browser))
    assert second["id_token"]["sub"] == USER and second["state"] != first["state"]

