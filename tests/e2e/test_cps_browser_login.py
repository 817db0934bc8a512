"""A real chromium (Playwright) logs in to the demo historical teleservice with the virtual CPS card: the page talks
to the running card agent (CORS + Private Network Access), the PIN is typed in the page and goes to the agent only."""
from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import structlog
from werkzeug.serving import make_server

from tests.support.bridge import rewrite_policies, start_bridge

ARTIFACTS = Path(__file__).parent / "artifacts"
PIN = "4729"
PIN_ALONE = re.compile(rf"(?<![\w-]){PIN}(?![\w-])")
pytestmark = pytest.mark.e2e


@pytest.fixture
def cps_stack(tmp_path, redis_url, psc_emulator_factory, test_pki, insert_card, card_agent):
    """Demo apps + bridge (test PKI trust store, agent URL) + PSC emulator + agent allowing the bridge's origin, and
    the virtual card in the reader."""
    from bridge.sandbox.apps import create_demo_apps
    from bridge.sandbox.psc import EmulatedClient

    apps_server = make_server("127.0.0.1", 0, None, threaded=True)
    apps_url = f"http://127.0.0.1:{apps_server.port}"
    policies = rewrite_policies(tmp_path / "policies", apps_url)
    bridge_reserved = make_server("127.0.0.1", 0, None, threaded=True)
    bridge_url = f"http://127.0.0.1:{bridge_reserved.port}"
    agent = card_agent([bridge_url])
    material = test_pki.card("899700000001", family_name="MEDECIN", given_name="PAUL")
    insert_card(material, pin=PIN)
    psc = psc_emulator_factory(clients=[EmulatedClient(
        client_id="bridge-test", secret="bridge-test-secret", redirect_uris=[f"{bridge_url}/psc/callback"],
        post_logout_redirect_uris=[f"{bridge_url}/logout/done"])])
    bridge = start_bridge({"BRIDGE_STORE_URL": redis_url, "BRIDGE_KEYS_DIR": str(tmp_path / "keys"),
                           "BRIDGE_POLICIES_DIR": str(policies), "BRIDGE_PSC_DISCOVERY_URL": psc.discovery_url,
                           "BRIDGE_PSC_CLIENT_ID": "bridge-test", "BRIDGE_PSC_CLIENT_SECRET": "bridge-test-secret",
                           "BRIDGE_TRUST_DIR": str(test_pki.trust_dir()), "BRIDGE_CRL_DIR": str(test_pki.crl_dir()),
                           "BRIDGE_AGENT_URL": agent.url}, reserved=bridge_reserved)
    apps_server.app = create_demo_apps(bridge_url, apps_url)
    thread = threading.Thread(target=apps_server.serve_forever, daemon=True)
    thread.start()
    yield {"apps": apps_url, "bridge": bridge_url, "agent": agent.url, "card": material}
    apps_server.shutdown()
    bridge.stop()


@pytest.fixture
def open_page():
    """open_page(public_port=None, local_network=False) -> a chromium page.

    `public_port`: chromium treats 127.0.0.1:<port> as a public web site (--ip-address-space-overrides), as the
    bridge is in production, so the page's requests to the loopback agent fall under Local Network Access (which
    replaced the Private Network Access preflights in recent chromium); `local_network` grants that permission,
    as the user does in the browser's prompt."""
    from playwright.sync_api import sync_playwright

    from tests.support.browser import launch

    with sync_playwright() as playwright:
        browsers = []

        def open_(public_port: int | None = None, local_network: bool = False):
            extra = [f"--ip-address-space-overrides=127.0.0.1:{public_port}=public"] if public_port else []
            browser = launch(playwright, extra)
            browsers.append(browser)
            context = browser.new_context(locale="fr-FR")
            if local_network:
                context.grant_permissions(["local-network-access"])
            return context.new_page()

        yield open_
        for browser in browsers:
            browser.close()


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


@pytest.mark.parametrize("bridge_space", ["loopback", "public"])
def test_doctor_logs_in_to_the_historical_teleservice_with_card_and_pin(cps_stack, open_page, bridge_space):
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(exist_ok=True)
    public = bridge_space == "public"
    page = open_page(port_of(cps_stack["bridge"]) if public else None, local_network=public)
    prefix = "cps-public-" if public else "cps-"
    sent = []
    page.on("request", lambda request: sent.append((request.method, request.url, request.post_data or "")))
    console = []
    page.on("console", lambda message: console.append(message.text))

    with structlog.testing.capture_logs() as bridge_logs:
        page.goto(f"{cps_stack['apps']}/teleservice/")
        page.click("#login")
        # The teleservice allows PSC and the direct card: the bridge shows its chooser.
        page.wait_for_selector("a[data-mie='cps-pin']")
        page.screenshot(path=str(ARTIFACTS / f"{prefix}1-chooser.png"))
        page.click("a[data-mie='cps-pin']")
        # The page found the agent and the card, and asks for the PIN.
        page.wait_for_selector("#cps-pin:enabled")
        assert page.inner_text("#cps-card-type") == "CPS"
        assert page.inner_text("#cps-card-serial") == cps_stack["card"].serial
        assert page.inner_text("#cps-card-tries") == "3"
        assert page.is_hidden("#cps-no-agent")
        page.screenshot(path=str(ARTIFACTS / f"{prefix}2-carte-detectee.png"))

        page.fill("#cps-pin", "0000")
        page.click("#cps-submit")
        page.wait_for_selector("#cps-pin-error[data-error-code='wrong_pin']")
        assert page.inner_text("#cps-pin-error") == "Code erroné : il vous reste 2 essais."
        expect(page.locator("#cps-card-tries")).to_have_text("2")    # the page asked the agent again
        page.screenshot(path=str(ARTIFACTS / f"{prefix}3-code-errone.png"))

        page.fill("#cps-pin", PIN)
        page.click("#cps-submit")
        page.wait_for_selector("#welcome")
        assert page.inner_text("[data-claim=sub]") == "899700000001"
        assert page.inner_text("[data-claim=mie]") == "cps-pin"
        page.screenshot(path=str(ARTIFACTS / f"{prefix}4-teleservice-connecte.png"), full_page=True)

    # The PIN went to the agent, and nowhere else.
    to_agent = [(url, body) for method, url, body in sent if url.startswith(cps_stack["agent"]) and method == "POST"]
    assert [json.loads(body)["pin"] for url, body in to_agent if url.endswith("/v1/sign")] == ["0000", PIN]
    # After the login, the page handed the card's removal capability to the agent (docs/card.md): no PIN in it.
    watches = [json.loads(body) for url, body in to_agent if url.endswith("/v1/watch")]
    assert len(watches) == 1 and len(watches[0]["capability"]) >= 43 and "pin" not in watches[0]
    assert len(to_agent) == 3
    to_bridge = [(url, body) for _, url, body in sent if url.startswith(cps_stack["bridge"])]
    proofs = [parse_qs(body) for url, body in to_bridge if url.endswith("/login/cps/proof")]
    assert len(proofs) == 1
    # card_reader (optional): the reader the agent used, passed back to it with the card's removal capability.
    assert set(proofs[0]) - {"card_reader"} == {"txn", "csrf", "challenge", "certificate", "signature", "card_type",
                                                "card_serial"}
    assert not any(PIN_ALONE.search(url + body) for url, body in to_bridge)
    assert not PIN_ALONE.search(repr(bridge_logs))
    assert any(e["event"] == "login_succeeded" and e["mie"] == "cps-pin" for e in bridge_logs)
    assert not [text for text in console if "Content Security Policy" in text]


def test_without_the_agent_the_page_explains_how_to_start_it(cps_stack, open_page):
    page = open_page()
    page.goto(f"{cps_stack['apps']}/teleservice/")
    page.click("#login")
    page.wait_for_selector("a[data-mie='cps-pin']")
    page.route(f"{cps_stack['agent']}/**", lambda route: route.abort("connectionrefused"))   # nothing listens
    page.click("a[data-mie='cps-pin']")
    page.wait_for_selector("#cps-no-agent:visible")
    assert f"bridge card-agent --allow-origin {cps_stack['bridge']}" in page.inner_text("#cps-no-agent")
    assert page.is_hidden("#cps-pin-form")
    page.screenshot(path=str(ARTIFACTS / "cps-5-agent-absent.png"), full_page=True)
    page.unroute(f"{cps_stack['agent']}/**")
    page.click("#cps-retry")                      # agent started: the page picks it up
    page.wait_for_selector("#cps-pin:enabled")
    assert page.is_hidden("#cps-no-agent")


def test_a_public_bridge_without_the_local_network_permission_shows_the_help(cps_stack, open_page):
    page = open_page(port_of(cps_stack["bridge"]), local_network=False)
    page.goto(f"{cps_stack['apps']}/teleservice/")
    page.click("#login")
    page.click("a[data-mie='cps-pin']")
    page.wait_for_selector("#cps-no-agent:visible")
    assert "réseau local" in page.inner_text("#cps-no-agent")


def test_the_page_and_its_script_speak_english(cps_stack, open_page):
    """English chosen on the chooser: the card page, its help and what its script writes are English."""
    page = open_page()
    page.goto(f"{cps_stack['apps']}/teleservice/")
    page.click("#login")
    page.click("a[data-lang='en']")                       # the switch on the chooser; the cookie keeps it
    page.route(f"{cps_stack['agent']}/**", lambda route: route.abort("connectionrefused"))
    page.click("a[data-mie='cps-pin']")
    page.wait_for_selector("#cps-no-agent:visible")
    assert page.inner_text("#cps-state") == "The card agent does not answer on this workstation: see the " \
                                            "instructions below."
    assert "Install and start the card agent" in page.inner_text("#cps-no-agent")
    page.unroute(f"{cps_stack['agent']}/**")
    page.click("#cps-retry")
    page.wait_for_selector("#cps-pin:enabled")
    assert page.inner_text("#cps-state") == "Card detected. Enter your PIN."
    page.fill("#cps-pin", "12")
    page.click("#cps-submit")
    assert page.inner_text("#cps-pin-error") == "The PIN has 4 digits."
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "cps-6-page-en.png"), full_page=True)
