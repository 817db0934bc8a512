"""A real chromium (Playwright) logs in to the demo portal through the bridge and the PSC emulator."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.support.bridge import rewrite_policies, start_bridge

ARTIFACTS = Path(__file__).parent / "artifacts"
pytestmark = pytest.mark.e2e


@pytest.fixture
def demo_stack(tmp_path, redis_url, psc_emulator_factory):
    """Bridge + PSC emulator + demo apps, with the demo policies rewritten to the apps' free port."""
    from bridge.sandbox.apps import create_demo_apps
    from bridge.sandbox.psc import EmulatedClient

    apps_server = make_server("127.0.0.1", 0, None, threaded=True)
    apps_url = f"http://127.0.0.1:{apps_server.port}"
    policies = rewrite_policies(tmp_path / "policies", apps_url)
    bridge_reserved = make_server("127.0.0.1", 0, None, threaded=True)
    bridge_url = f"http://127.0.0.1:{bridge_reserved.port}"
    psc = psc_emulator_factory(clients=[EmulatedClient(
        client_id="bridge-test", secret="bridge-test-secret", redirect_uris=[f"{bridge_url}/psc/callback"],
        post_logout_redirect_uris=[f"{bridge_url}/logout/done"])])
    bridge = start_bridge({"BRIDGE_STORE_URL": redis_url, "BRIDGE_KEYS_DIR": str(tmp_path / "keys"),
                           "BRIDGE_POLICIES_DIR": str(policies), "BRIDGE_PSC_DISCOVERY_URL": psc.discovery_url,
                           "BRIDGE_PSC_CLIENT_ID": "bridge-test", "BRIDGE_PSC_CLIENT_SECRET": "bridge-test-secret"},
                          reserved=bridge_reserved)
    apps_server.app = create_demo_apps(bridge_url, apps_url)
    thread = threading.Thread(target=apps_server.serve_forever, daemon=True)
    thread.start()
    yield {"apps": apps_url, "bridge": bridge_url, "psc": psc}
    apps_server.shutdown()
    bridge.stop()


def test_doctor_logs_in_to_the_portal_then_the_dpi_with_sso(demo_stack, page):
    ARTIFACTS.mkdir(exist_ok=True)
    page.goto(f"{demo_stack['apps']}/portail/")
    page.click("#login")
    # The portal allows only PSC means: the bridge sends the browser straight to (emulated) PSC.
    page.wait_for_selector("input[name=user]")
    page.check("input[name=user][value='899700000001']")
    page.check("input[name=auth_mode][value='CARD']")
    page.screenshot(path=str(ARTIFACTS / "1-psc-emulator.png"))
    page.click("button[type=submit]")
    # The médecin has three activities: the bridge asks for the situation d'exercice.
    page.wait_for_selector("input[name=activity]")
    page.screenshot(path=str(ARTIFACTS / "2-situation-exercice.png"))
    page.check("input[name=activity][value='0-1']")
    page.click("button[type=submit]")
    page.wait_for_selector("#welcome")
    assert page.inner_text("[data-claim=sub]") == "899700000001"
    assert page.inner_text("[data-claim=mie]") == "psc-card"
    page.screenshot(path=str(ARTIFACTS / "3-portail-connecte.png"), full_page=True)

    # SSO: the DPI gets its code without any PSC page.
    page.goto(f"{demo_stack['apps']}/dpi/")
    page.click("#login")
    page.wait_for_selector("#welcome")
    assert page.inner_text("[data-claim=sub]") == "899700000001"
    page.screenshot(path=str(ARTIFACTS / "4-dpi-sso.png"), full_page=True)


def test_after_logout_the_app_says_so_on_a_clean_address(demo_stack, page):
    page.goto(f"{demo_stack['apps']}/portail/")
    page.click("#login")
    page.wait_for_selector("input[name=user]")
    page.check("input[name=user][value='899700000002']")
    page.click("button[type=submit]")
    page.wait_for_selector("#welcome")
    page.click("form[action$='/portail/logout'] button")
    page.wait_for_selector("#ended")
    assert page.get_attribute("#ended", "data-ended") == "logout"
    assert page.url == f"{demo_stack['apps']}/portail/"     # no ?state= left in the address bar
    page.reload()
    assert page.locator("#ended").count() == 0               # said once
