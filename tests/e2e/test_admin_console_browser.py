"""Chromium: a doctor in the DPI demo app (idle warning, language switch), an administrator in the console kills
the doctor's session, and the DPI shows the doctor logged out by the back-channel logout."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from bridge.clock import Clock
from tests.support.console import start_stack

ARTIFACTS = Path(__file__).parent / "artifacts"
pytestmark = pytest.mark.e2e


@pytest.fixture
def stack(tmp_path, redis_url, psc_emulator_factory):
    from bridge.sandbox.apps import create_demo_apps

    apps_server = make_server("127.0.0.1", 0, None, threaded=True)
    apps_url = f"http://127.0.0.1:{apps_server.port}"
    bridge = start_stack(tmp_path, redis_url, psc_emulator_factory, apps_url)
    demo_clock = Clock()
    apps_server.app = create_demo_apps(bridge.url, apps_url, clock=demo_clock)
    threading.Thread(target=apps_server.serve_forever, daemon=True).start()
    yield {"apps": apps_url, "bridge": bridge, "demo_clock": demo_clock}
    apps_server.shutdown()
    bridge.stop()


def psc_login(page, user: str) -> None:
    page.wait_for_selector("input[name=user]")
    page.check(f"input[name=user][value='{user}']")
    page.check("input[name=auth_mode][value='CARD']")
    page.click("button[value=login]")


def test_admin_kills_a_session_and_the_demo_app_is_logged_out(stack, chromium):
    ARTIFACTS.mkdir(exist_ok=True)
    doctor = chromium.new_context(locale="fr-FR").new_page()

    # Language switch: English sticks across pages (cookie), French comes back.
    doctor.goto(f"{stack['apps']}/dpi/")
    assert "Vous n'êtes pas connecté" in doctor.inner_text("main")
    doctor.click("nav.lang a[data-lang=en]")
    assert "You are not logged in to this service." in doctor.inner_text("main")
    doctor.goto(f"{stack['apps']}/")
    assert doctor.inner_text("h1") == "Demo applications"
    doctor.screenshot(path=str(ARTIFACTS / "admin-0-english.png"))
    doctor.click("nav.lang a[data-lang=fr]")
    assert doctor.inner_text("h1") == "Applications de démonstration"

    # The pharmacist logs in to the DPI through the bridge and the PSC emulator.
    doctor.goto(f"{stack['apps']}/dpi/")
    doctor.click("#login")
    psc_login(doctor, "899700000002")
    doctor.wait_for_selector("#welcome")
    sid = doctor.inner_text("[data-claim=sid]")

    # A minute before the DPI's 15-minute idle timeout, the page sends the user to the warning page.
    stack["demo_clock"].advance(15 * 60 - 60)
    doctor.reload()
    doctor.wait_for_url("**/dpi/idle-warning")
    assert doctor.inner_text("h1") == "Vous allez être déconnecté"
    assert doctor.get_attribute("#countdown", "role") == "timer"
    doctor.screenshot(path=str(ARTIFACTS / "admin-1-idle-warning.png"))
    doctor.click("#stay")   # refreshes the tokens at the bridge: activity
    doctor.wait_for_selector("#welcome")

    # The administrator logs in to the console through the bridge (PSC, then the situation d'exercice).
    admin = chromium.new_context(locale="fr-FR").new_page()
    admin.goto(f"{stack['bridge'].url}/admin/")
    psc_login(admin, "899700000001")
    admin.wait_for_selector("input[name=activity]")
    admin.click("button[type=submit]")
    admin.wait_for_selector(f"article[data-sid='{sid}']")
    assert "899700000002" in admin.inner_text(f"article[data-sid='{sid}']")
    assert "dpi-web" in admin.inner_text(f"article[data-sid='{sid}'] table")
    admin.screenshot(path=str(ARTIFACTS / "admin-2-sessions.png"), full_page=True)

    assert not admin.is_visible(f"button[data-kill='{sid}']")   # behind a confirmation step
    admin.click(f"summary[data-kill-open='{sid}']")
    admin.click(f"button[data-kill='{sid}']")
    admin.wait_for_selector("#killed")
    assert "899700000002" in admin.inner_text("#killed")
    assert admin.locator(f"article[data-sid='{sid}']").count() == 0
    admin.screenshot(path=str(ARTIFACTS / "admin-3-killed.png"), full_page=True)

    # The bridge sent the DPI its back-channel logout: the DPI page shows the doctor logged out.
    stack["bridge"].bridge.backchannel.wait()
    doctor.goto(f"{stack['apps']}/dpi/")
    assert doctor.get_attribute("#ended", "data-ended") == "backchannel"
    assert doctor.locator("#welcome").count() == 0
    doctor.screenshot(path=str(ARTIFACTS / "admin-4-dpi-logged-out.png"), full_page=True)

    # The audit page shows the kill and an intact chain.
    admin.goto(f"{stack['bridge'].url}/admin/audit?event=admin_action")
    assert admin.get_attribute("#chain", "data-chain") == "ok"
    assert admin.locator("tr[data-event=admin_action]").count() == 1
    admin.screenshot(path=str(ARTIFACTS / "admin-5-audit.png"), full_page=True)
