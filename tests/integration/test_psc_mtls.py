"""mTLS client authentication to PSC (tls_client_auth, IGC-Santé-like certificate) over real HTTPS."""
from __future__ import annotations

import requests

from bridge.sandbox.tls import server_ssl_context
from tests.support.bridge import PORTAIL, AppClient


def start(bridge_factory, psc_tls, cert, key):
    # Client certificates optional at the TLS layer (browsers reach the authorize page without one);
    # the token endpoint of a tls_client_auth client requires the registered one.
    return bridge_factory(
        ssl_context=server_ssl_context(psc_tls, require_client_cert=False),
        psc_client={"secret": "", "auth_method": "tls_client_auth",
                    "tls_client_cert_sha256": psc_tls.client_cert_sha256},
        env={"BRIDGE_PSC_CLIENT_CERT": str(cert), "BRIDGE_PSC_CLIENT_KEY": str(key),
             "BRIDGE_PSC_CA_BUNDLE": str(psc_tls.ca_cert), "BRIDGE_PSC_CLIENT_SECRET": ""})


def browser_for(psc_tls) -> requests.Session:
    browser = requests.Session()
    browser.verify = str(psc_tls.ca_cert)
    return browser


def test_login_with_the_registered_client_certificate(bridge_factory, psc_tls):
    server = start(bridge_factory, psc_tls, psc_tls.client_cert, psc_tls.client_key)
    assert server.psc.url.startswith("https://")
    assert server.bridge.settings.psc_token_auth_method == "tls_client_auth"
    app = AppClient(server.url, **PORTAIL)
    result = app.login(browser_for(psc_tls), user="899700000002")
    assert app.verify_id_token(app.exchange(result["code"])["id_token"])["sub"] == "899700000002"


def test_another_certificate_is_refused_by_psc(bridge_factory, psc_tls):
    server = start(bridge_factory, psc_tls, psc_tls.other_client_cert, psc_tls.other_client_key)
    outcome = AppClient(server.url, **PORTAIL).login(browser_for(psc_tls), user="899700000002")
    assert outcome.status_code == 502 and 'data-error-code="psc_error"' in outcome.text
    assert "invalid_client" in outcome.text
