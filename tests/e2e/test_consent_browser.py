"""A real chromium: the consent page of a third-party client and « Mes autorisations » pass axe (WCAG 2.1 A/AA),
and their buttons work with a mouse as a professional would use them."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.e2e.test_browser_login import demo_stack  # noqa: F401 - the fixture
from tests.integration.test_consent import EDITEUR
from tests.support.axe import check_page
from tests.support.bridge import AppClient

pytestmark = pytest.mark.e2e


def test_consent_page_and_mes_autorisations_are_accessible_and_work(bridge_server, page):
    landed = []

    def app_callback(route):   # the third-party app's redirect URI: nothing listens there in the test
        landed.append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body="<!doctype html><title>app</title><p>app</p>")

    page.route("http://127.0.0.1:8002/**", app_callback)
    app = AppClient(bridge_server.url, **EDITEUR)
    page.goto(app.authorize_url())
    page.wait_for_selector("input[name=user]")          # the PSC emulator
    page.check("input[name=user][value='899700000002']")
    page.click("button[type=submit]")
    page.wait_for_selector("#consent-allow")
    assert "Application tierce de l'éditeur (démo)" in page.inner_text("h1")
    check_page(page, "consent page")
    page.click("#consent-allow")
    page.wait_for_url("http://127.0.0.1:8002/**")
    assert "code" in parse_qs(urlsplit(landed[-1]).query)

    page.goto(f"{bridge_server.url}/?lang=fr")
    page.click("[data-link=authorizations]")
    page.wait_for_selector("li[data-client=demo-editeur]")
    check_page(page, "« Mes autorisations » with one consent")
    page.click("li[data-client=demo-editeur] button")
    page.wait_for_selector("#auth-revoked")
    check_page(page, "« Mes autorisations » after withdrawing")
    assert page.query_selector("li[data-client=demo-editeur]") is None


def test_the_demo_third_party_app_asks_once(demo_stack, page):  # noqa: F811
    page.goto(f"{demo_stack['apps']}/editeur/")
    page.click("#login")
    page.wait_for_selector("input[name=user]")
    page.check("input[name=user][value='899700000002']")
    page.click("button[type=submit]")
    page.wait_for_selector("#consent-allow")
    page.click("#consent-allow")
    page.wait_for_selector("#welcome")
    assert page.inner_text("[data-claim=sub]") == "899700000002"
    page.goto(f"{demo_stack['apps']}/portail/")   # first-party: SSO, no consent page
    page.click("#login")
    page.wait_for_selector("#welcome")
