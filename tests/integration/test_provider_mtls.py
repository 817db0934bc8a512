"""mTLS for the bridge's clients (RFC 8705) over HTTP: tls_client_auth and self_signed_tls_client_auth with the
certificate the trusted reverse proxy forwards in BRIDGE_CLIENT_CERT_HEADER (the test plays that proxy: it talks
from 127.0.0.1 and sets the header), and certificate-bound tokens at userinfo and introspection."""
from __future__ import annotations

import datetime
import json
from urllib.parse import quote

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from joserfc.jwk import ECKey

from bridge.provider import mtls
from tests.support.bridge import AppClient, rewrite_policies

HEADER = "X-Client-Cert"
DN = "CN=dpi.example,O=Hopital Test,C=FR"


def certificate(common_name: str = "dpi.example", key=None) -> tuple[x509.Certificate, object]:
    key = key or ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Hopital Test"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    return cert, key


def header(cert: x509.Certificate) -> dict:
    """What nginx sends with `proxy_set_header X-Client-Cert $ssl_client_escaped_cert`."""
    return {HEADER: quote(cert.public_bytes(serialization.Encoding.PEM).decode(), safe="")}


DN_CERT, _ = certificate()
SELF_CERT, SELF_KEY = certificate("portail-editeur")
OTHER_CERT, _ = certificate()          # same DN as DN_CERT, another key: another certificate
SELF_JWK = ECKey.import_key(SELF_KEY.public_key()).as_dict(private=False)
POLICY = f"""
service: mtls
name: mTLS apps
clients:
  - client_id: mtls-dn
    token_endpoint_auth_method: tls_client_auth
    tls_client_auth_subject_dn: "{DN}"
    redirect_uris: [http://127.0.0.1:8002/dn/callback]
    scopes: [openid, profile]
  - client_id: mtls-self
    token_endpoint_auth_method: self_signed_tls_client_auth
    jwks: {json.dumps({"keys": [SELF_JWK]})}
    redirect_uris: [http://127.0.0.1:8002/self/callback]
    scopes: [openid, profile]
  - client_id: mtls-spa
    token_endpoint_auth_method: none
    redirect_uris: [http://127.0.0.1:8002/spa/callback]
    scopes: [openid, profile]
allowed_mie: [psc]
subject_type: public
idle_timeout: 30m
max_session: 4h
"""


def conf(name: str) -> dict:
    return {"client_id": f"mtls-{name}", "client_secret": None,
            "redirect_uri": f"http://127.0.0.1:8002/{name}/callback", "scope": "openid profile"}


@pytest.fixture
def start(bridge_factory, tmp_path):
    def started(proxies: str = "127.0.0.1"):
        policies = rewrite_policies(tmp_path / "policies", "http://127.0.0.1:8002", {"mtls.yaml": POLICY})
        return bridge_factory(env={"BRIDGE_POLICIES_DIR": str(policies), "BRIDGE_TRUSTED_PROXIES": proxies,
                                   "BRIDGE_CLIENT_CERT_HEADER": HEADER})
    return started


@pytest.fixture
def server(start):
    return start()


def exchange(server, name: str, cert: x509.Certificate | None) -> requests.Response:
    """Log in as the app `mtls-<name>` and exchange the code at /token, through the proxy with `cert`."""
    app = AppClient(server.url, **conf(name))
    code = app.login(requests.Session(), user="899700000002")["code"]
    return requests.post(f"{server.url}/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": conf(name)["redirect_uri"],
        "code_verifier": app.pending["verifier"], "client_id": f"mtls-{name}"},
        headers=header(cert) if cert is not None else {}, timeout=10)


def userinfo(server, token: str, cert: x509.Certificate | None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}", **(header(cert) if cert is not None else {})}
    return requests.get(f"{server.url}/userinfo", headers=headers, timeout=10)


def test_discovery_advertises_mtls(server):
    metadata = requests.get(f"{server.url}/.well-known/openid-configuration", timeout=10).json()
    assert {"tls_client_auth", "self_signed_tls_client_auth"} <= set(metadata["token_endpoint_auth_methods_supported"])
    assert {"tls_client_auth", "self_signed_tls_client_auth"} <= \
        set(metadata["introspection_endpoint_auth_methods_supported"])
    assert metadata["tls_client_certificate_bound_access_tokens"] is True
    assert "mtls_endpoint_aliases" not in metadata     # the proxy forwards the certificate on the same endpoints


@pytest.mark.parametrize("name, cert", [("dn", DN_CERT), ("self", SELF_CERT)])
def test_mtls_client_gets_certificate_bound_tokens(server, name, cert):
    response = exchange(server, name, cert)
    assert response.status_code == 200, response.text
    token = response.json()
    assert token["token_type"] == "Bearer"
    assert userinfo(server, token["access_token"], cert).status_code == 200
    for presented in (None, OTHER_CERT if name == "self" else SELF_CERT):   # without it, or another certificate
        refused = userinfo(server, token["access_token"], presented)
        assert refused.status_code == 401
        assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    introspected = requests.post(f"{server.url}/introspect", data={"token": token["access_token"],
                                                                     "client_id": f"mtls-{name}"},
                                 headers=header(cert), timeout=10).json()
    assert introspected["active"] is True and introspected["token_type"] == "Bearer"
    assert introspected["cnf"] == {"x5t#S256": mtls.thumbprint(cert)}
    refreshed = requests.post(f"{server.url}/token", data={"grant_type": "refresh_token", "client_id": f"mtls-{name}",
                                                           "refresh_token": token["refresh_token"]},
                              headers=header(cert), timeout=10)
    assert refreshed.status_code == 200, refreshed.text
    assert userinfo(server, refreshed.json()["access_token"], cert).status_code == 200
    assert userinfo(server, refreshed.json()["access_token"], None).status_code == 401


@pytest.mark.parametrize("name, cert, why", [
    ("dn", certificate("autre.example")[0], "wrong subject DN"),
    ("self", OTHER_CERT, "a key the client did not register"),
    ("dn", None, "no certificate"),
    ("self", None, "no certificate")])
def test_bad_client_certificates_are_invalid_client(server, name, cert, why):
    response = exchange(server, name, cert)
    assert response.status_code == 401, why
    assert response.json()["error"] == "invalid_client"


def test_a_garbage_certificate_header_is_no_certificate(server):
    app = AppClient(server.url, **conf("dn"))
    code = app.login(requests.Session(), user="899700000002")["code"]
    response = requests.post(f"{server.url}/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": conf("dn")["redirect_uri"],
        "code_verifier": app.pending["verifier"], "client_id": "mtls-dn"}, headers={HEADER: "not a certificate"},
        timeout=10)
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    bound = exchange(server, "dn", DN_CERT).json()["access_token"]
    for garbage in ("not a certificate", "%%%", "-----BEGIN CERTIFICATE-----AAAA-----END CERTIFICATE-----", "x" * 5000):
        answer = requests.get(f"{server.url}/userinfo", headers={"Authorization": f"Bearer {bound}", HEADER: garbage},
                              timeout=10)
        assert answer.status_code == 401, garbage    # no certificate: the bound token is refused, never a 500


def test_the_header_from_an_untrusted_address_is_ignored(start):
    server = start("10.0.0.0/8")      # the proxy is elsewhere: this test talks to the bridge directly
    for name, cert in (("dn", DN_CERT), ("self", SELF_CERT)):
        response = exchange(server, name, cert)
        assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    token = exchange(server, "spa", SELF_CERT).json()     # a public client's certificate is not believed either
    assert "refresh_token" in token
    assert userinfo(server, token["access_token"], None).status_code == 200   # so its tokens are not bound


def test_a_public_client_presenting_a_certificate_gets_bound_access_and_refresh_tokens(server):
    token = exchange(server, "spa", SELF_CERT).json()
    assert token["token_type"] == "Bearer"
    assert userinfo(server, token["access_token"], SELF_CERT).status_code == 200
    assert userinfo(server, token["access_token"], OTHER_CERT).status_code == 401
    refresh = {"grant_type": "refresh_token", "client_id": "mtls-spa", "refresh_token": token["refresh_token"]}
    for presented in (None, OTHER_CERT):
        refused = requests.post(f"{server.url}/token", data=refresh, headers=header(presented) if presented else {},
                                timeout=10)
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    refreshed = requests.post(f"{server.url}/token", data=refresh, headers=header(SELF_CERT), timeout=10)
    assert refreshed.status_code == 200, refreshed.text
    assert userinfo(server, refreshed.json()["access_token"], None).status_code == 401
    assert userinfo(server, refreshed.json()["access_token"], SELF_CERT).status_code == 200


def test_an_unbound_token_still_works_when_a_certificate_comes_along(server):
    token = exchange(server, "spa", None).json()
    assert userinfo(server, token["access_token"], None).status_code == 200
    assert userinfo(server, token["access_token"], SELF_CERT).status_code == 200


def test_store_outage_fails_closed(server):
    from bridge.store import StoreUnavailable

    token = exchange(server, "dn", DN_CERT).json()
    store = server.bridge.store

    def down(*args, **kwargs):
        raise StoreUnavailable("down")

    original, store.run = store.run, down
    try:
        response = userinfo(server, token["access_token"], DN_CERT)
    finally:
        store.run = original
    assert response.status_code == 503 and "sub" not in response.text


def test_par_and_revocation_authenticate_mtls_clients_too(server):
    pushed = {"client_id": "mtls-dn", "response_type": "code", "redirect_uri": conf("dn")["redirect_uri"],
              "scope": "openid", "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
              "code_challenge_method": "S256"}
    ok = requests.post(f"{server.url}/par", data=pushed, headers=header(DN_CERT), timeout=10)
    assert ok.status_code == 201 and ok.json()["request_uri"].startswith("urn:ietf:params:oauth:request_uri:")
    for presented in ({}, header(SELF_CERT)):
        refused = requests.post(f"{server.url}/par", data=pushed, headers=presented, timeout=10)
        assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    token = exchange(server, "dn", DN_CERT).json()
    revoke = {"client_id": "mtls-dn", "token": token["access_token"]}
    assert requests.post(f"{server.url}/revoke", data=revoke, timeout=10).status_code == 401
    assert requests.post(f"{server.url}/revoke", data=revoke, headers=header(DN_CERT), timeout=10).status_code == 200
    assert userinfo(server, token["access_token"], DN_CERT).status_code == 401
