"""Device authorization grant (RFC 8628) in a real Chromium: the professional types the kiosk's code at /device and
logs in through the PSC emulator while the test polls /token like a kiosk; the demo « Poste de soins » page does
the same by itself. The /device pages pass axe (WCAG 2.1 A/AA)."""
from __future__ import annotations

import pytest
import requests

from bridge.clock import Clock
from tests.e2e.test_browser_login import demo_stack  # noqa: F401 - the fixture
from tests.support.axe import check_page

pytestmark = pytest.mark.e2e

GRANT = "urn:ietf:params:oauth:grant-type:device_code"
KIOSK = ("poste-de-soins", "poste-de-soins-secret")


def poll(url: str, device_code: str) -> requests.Response:
    return requests.post(f"{url}/token", auth=KIOSK, data={"grant_type": GRANT, "device_code": device_code},
                         timeout=10)


def log_in_at_psc(page, user: str = "899700000002") -> None:
    page.wait_for_selector("input[name=user]")          # the PSC emulator
    page.check(f"input[name=user][value='{user}']")
    page.click("button[type=submit]")


def test_the_professional_types_the_code_while_the_kiosk_polls(bridge_factory, page):
    clock = Clock()
    server = bridge_factory(clock=clock)
    started = requests.post(f"{server.url}/device_authorization", auth=KIOSK, data={"scope": "openid profile"},
                            timeout=10).json()
    assert poll(server.url, started["device_code"]).json()["error"] == "authorization_pending"

    page.goto(f"{server.url}/device")
    check_page(page, "/device, the code form")
    page.fill("#device-code", "bcdf ghjk" if started["user_code"] != "BCDF-GHJK" else "zzzz zzzz")
    page.click("#device-submit")
    page.wait_for_selector("#device-wrong")
    check_page(page, "/device, a wrong code")
    page.fill("#device-code", started["user_code"].lower().replace("-", ""))   # as typed on a phone
    page.click("#device-submit")
    page.wait_for_selector("#device-login")
    assert "Poste de soins (démo)" in page.inner_text("h1")
    assert started["user_code"] in page.inner_text("#device-app")
    check_page(page, "/device, which application asks")
    clock.advance(5)
    assert poll(server.url, started["device_code"]).json()["error"] == "authorization_pending"
    page.click("#device-login")
    log_in_at_psc(page)
    page.wait_for_selector("#device-done")
    assert "Connexion réussie, vous pouvez revenir à l'appareil" in page.inner_text("#device-done")
    check_page(page, "/device, done")

    clock.advance(5)
    tokens = poll(server.url, started["device_code"])
    assert tokens.status_code == 200 and tokens.json()["access_token"] and tokens.json()["id_token"]
    assert poll(server.url, started["device_code"]).json()["error"] == "invalid_grant"


def test_the_demo_kiosk_page_greets_whoever_logged_in_on_another_device(demo_stack, chromium):  # noqa: F811
    kiosk = chromium.new_context(locale="fr-FR").new_page()
    kiosk.goto(f"{demo_stack['apps']}/poste-de-soins/")
    kiosk.click("#kiosk-start")
    kiosk.wait_for_selector("#kiosk-code")
    check_page(kiosk, "demo kiosk, waiting")
    code, link = kiosk.inner_text("#kiosk-code"), kiosk.get_attribute("#kiosk-link", "href")
    assert link.endswith(f"/device?user_code={code}")

    phone = chromium.new_context(locale="fr-FR").new_page()   # another device: its own cookies
    phone.goto(link)
    assert phone.input_value("#device-code") == code           # verification_uri_complete fills it in
    phone.click("#device-submit")
    phone.click("#device-login")
    log_in_at_psc(phone)
    phone.wait_for_selector("#device-done")

    kiosk.wait_for_selector("#kiosk-welcome", timeout=30_000)   # its next poll (the page reloads every 5 s)
    assert kiosk.inner_text("[data-claim=sub]") == "899700000002"
    check_page(kiosk, "demo kiosk, logged in")
