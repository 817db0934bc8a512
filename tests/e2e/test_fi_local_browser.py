"""« FI local » in a real chromium with the DevTools virtual authenticator (issue 18 item 4): the professional enrols
a passkey after a PSC login, then an app whose policy names the establishment IdP (psc_idp_hint) sends them to
PSC, PSC (the emulator) hands the login to the bridge as its establishment IdP, the passkey answers, PSC completes,
and the app's ID token says psc-delegated with the passkey's amr.

The bridge is at http://localhost:PORT (WebAuthn needs a host name as RP ID, tests/e2e/test_passkey_browser.py),
the PSC emulator at http://127.0.0.1:PORT: two sites, two cookie jars, as in production.
"""
from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from werkzeug.serving import make_server

from tests.support.bridge import AppClient, at, rewrite_policies, start_bridge

pytestmark = pytest.mark.e2e

ALIAS = "bridge-fi"
EXAMPLE = (Path(__file__).resolve().parents[2] / "docs" / "examples" / "policies" / "psc-fi.yaml").read_text()
DEMO_BROKER = "http://127.0.0.1:8001/auth/realms/esante-wallet/broker/bridge-fi/endpoint"
APP_POLICY = """service: dpi-fi
name: DPI (FI local)
clients:
  - client_id: dpi-fi-web
    client_secret_sha256: f7c62450ea45b6b3b790755cb68fb151b6e7b70e4805a863923b66d3f578f2c0
    redirect_uris: [http://127.0.0.1:8002/dpi-fi/callback]
    scopes: [openid, profile, rpps]
allowed_mie: [psc]
psc_idp_hint: bridge-fi
"""
DPI = {"client_id": "dpi-web", "client_secret": "dpi-secret",
       "redirect_uri": "http://127.0.0.1:8002/dpi/callback", "scope": "openid profile rpps"}
DPI_FI = {"client_id": "dpi-fi-web", "client_secret": "dpi-secret",
          "redirect_uri": "http://127.0.0.1:8002/dpi-fi/callback", "scope": "openid profile rpps"}


@pytest.fixture
def fi_stack(psc_emulator_factory, redis_url, tmp_path, receiver):
    from bridge.sandbox.psc import EmulatedClient, EstablishmentIdp

    reserved = make_server("127.0.0.1", 0, None, threaded=True)
    url = f"http://localhost:{reserved.port}"
    psc = psc_emulator_factory(clients=[EmulatedClient(
        client_id="bridge-test", secret="bridge-test-secret", redirect_uris=[f"{url}/psc/callback"],
        post_logout_redirect_uris=[f"{url}/logout/done"])],
        establishment_idps=[EstablishmentIdp(ALIAS, url, "psc-fi", "psc-fi-secret")])
    policies = rewrite_policies(tmp_path / "policies", receiver.url, {
        "psc-fi.yaml": EXAMPLE.replace(DEMO_BROKER, psc.config.broker_endpoint(ALIAS)), "dpi-fi.yaml": APP_POLICY})
    server = start_bridge({"BRIDGE_PUBLIC_URL": url, "BRIDGE_STORE_URL": redis_url, "BRIDGE_SWEEP_INTERVAL": "0",
                           "BRIDGE_RATE_LIMIT_AUTHORIZE": "off", "BRIDGE_RATE_LIMIT_TOKEN": "off",
                           "BRIDGE_KEYS_DIR": str(tmp_path / "keys"), "BRIDGE_PSC_DISCOVERY_URL": psc.discovery_url,
                           "BRIDGE_PSC_CLIENT_ID": "bridge-test", "BRIDGE_PSC_CLIENT_SECRET": "bridge-test-secret",
                           "BRIDGE_AUDIT_PATH": str(tmp_path / "audit" / "audit.jsonl"),
                           "BRIDGE_POLICIES_DIR": str(policies)}, reserved=reserved)
    server.url, server.apps, server.psc = url, receiver.url, psc
    yield server
    server.stop()


@pytest.fixture
def browser(chromium):
    context = chromium.new_context(locale="fr-FR")
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True,
        "isUserVerified": True, "automaticPresenceSimulation": True}})
    yield context, page
    context.close()


def test_app_bridge_psc_bridge_as_fi_with_a_passkey_psc_bridge_app(fi_stack, browser):
    context, page = browser
    url, apps = fi_stack.url, fi_stack.apps
    page.goto(AppClient(url, **at(apps, DPI)).authorize_url())   # a PSC card login: the identity proof
    page.wait_for_selector("input[name=user]")
    page.check("input[name=user][value='899700000002']")
    page.click("button[type=submit]")
    page.wait_for_url(f"{apps}/**")
    page.goto(f"{url}/me/means")
    page.click("#enrol-submit")
    page.wait_for_selector("#means-done[data-done=added]")

    context.clear_cookies()   # another day: no bridge session, no PSC session; the key stays on the authenticator
    app = AppClient(url, **at(apps, DPI_FI))
    page.goto(app.authorize_url())
    # PSC skipped its own page (kc_idp_hint) and sent the browser to the bridge, now PSC's IdP
    page.wait_for_selector("[data-mie=local-fido]")
    assert page.url.startswith(f"{url}/login?") and page.locator("[data-mie=psc]").count() == 0
    assert "Pro Santé Connect (FI d'établissement)" in page.inner_text("h1")
    page.click("[data-mie=local-fido]")
    page.click("#fido-start")
    page.wait_for_url(f"{apps}/dpi-fi/**")
    code = parse_qs(urlsplit(page.url).query)["code"][0]
    claims = app.verify_id_token(app.exchange(code)["id_token"])
    assert claims["mie"] == "psc-delegated" and claims["amr"] == ["hwk", "user", "mfa"], claims
    assert claims["national_id"] == "899700000002"
    lines = [json.loads(line) for line in fi_stack.bridge.settings.audit_path.read_text().splitlines()]
    succeeded = [(e["service"], e["mie"]) for e in lines if e["event"] == "login_succeeded"]
    assert succeeded[-2:] == [("psc-fi", "local-fido"), ("dpi-fi", "psc-delegated")]
