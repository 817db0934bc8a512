"""A real chromium: « Annuler » at PSC brings the user back to the app, which shows why (no bridge dead end);
the bridge's pages load their icon, with no 404 in the console."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.e2e.test_browser_login import demo_stack  # noqa: F401 - the fixture

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
pytestmark = pytest.mark.e2e


def test_cancel_at_psc_returns_to_the_portal_with_access_denied(demo_stack, page):  # noqa: F811
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    seen = []
    page.on("response", lambda response: seen.append((response.url, response.status)))
    page.goto(f"{demo_stack['apps']}/portail/")
    page.click("#login")
    page.wait_for_selector("button[value=cancel]")
    page.click("button[value=cancel]")
    page.wait_for_selector(".error[role=alert]")
    assert urlsplit(page.url).path == "/portail/"
    assert page.inner_text(".error[role=alert] code") == "access_denied"
    page.screenshot(path=str(SCREENSHOTS / "psc-cancel.png"), full_page=True)
    back = next(url for url, _ in seen if url.startswith(f"{demo_stack['apps']}/portail/callback"))
    answer = {k: v[0] for k, v in parse_qs(urlsplit(back).query).items()}
    assert answer["error"] == "access_denied" and answer["iss"] == demo_stack["bridge"] and answer["state"]
    bridge_pages = [(url, status) for url, status in seen if url.startswith(demo_stack["bridge"]) and status != 302]
    assert bridge_pages == []   # the bridge only redirected: no page of its own on the way back


def test_bridge_pages_load_their_icon_and_nothing_is_missing(demo_stack, page):  # noqa: F811
    responses = []
    page.on("response", lambda response: responses.append(response))
    page.goto(f"{demo_stack['bridge']}/logout")     # no session: the « Déconnecté » page
    page.wait_for_selector("[data-logged-out]")
    page.wait_for_load_state("networkidle")
    assert [r.url for r in responses if r.status == 404] == []
    icons = [r for r in responses if r.url.endswith("/static/favicon.svg")]
    assert icons and icons[0].status == 200 and icons[0].headers["content-type"].startswith("image/svg+xml")


def test_an_error_page_leads_back_to_the_app(demo_stack, page):  # noqa: F811
    import requests

    requests.post(f"{demo_stack['psc'].url}/_emulator/faults", json={"authorize_error": "invalid_scope"},
                  timeout=10).raise_for_status()
    page.goto(f"{demo_stack['apps']}/portail/")
    page.click("#login")
    page.wait_for_selector("[data-way-back=app]")
    assert page.inner_text("h1") == "Connexion impossible" and page.is_visible("[data-way-back=retry]")
    page.screenshot(path=str(SCREENSHOTS / "psc-error-way-back.png"), full_page=True)
    page.click("[data-way-back=app]")
    page.wait_for_selector(".error[role=alert]")
    assert urlsplit(page.url).path == "/portail/"
    assert page.inner_text(".error[role=alert] code") == "access_denied"
