"""Shared workstation in a real chromium: the workstation mark, the « Poste partagé » notice naming who is logged in
with its one-click logout, and « Changer d'utilisateur » from an application; axe-core on each of these pages."""
from __future__ import annotations

import pytest

from tests.e2e.test_admin_console_browser import psc_login, stack  # noqa: F401 - the fixture
from tests.support.axe import check_page

pytestmark = pytest.mark.e2e


def test_a_shared_workstation_shows_who_is_logged_in_and_hands_over(stack, chromium):  # noqa: F811
    bridge = stack["bridge"].url
    page = chromium.new_context(locale="fr-FR").new_page()
    page.goto(f"{bridge}/poste-partage?actif=1")
    assert page.get_attribute("[data-page=workstation]", "data-marked") == "true"
    check_page(page, "poste-partage")

    page.goto(f"{stack['apps']}/portail/")
    page.click("#login")
    psc_login(page, "899700000002")
    page.wait_for_selector("#welcome")
    page.goto(f"{bridge}/")
    notice = page.locator("[data-session-bar]")
    assert "Poste partagé" in notice.text_content() and "Connecté : Hugo BERNARD" in notice.inner_text()
    assert "Hugo BERNARD" in page.inner_text("[data-shared-home]")
    check_page(page, "home (shared, signed in)")

    # « Changer d'utilisateur » from the application: the confirmation names who is logged out.
    page.goto(f"{stack['apps']}/portail/")
    page.click("#switch-user")
    page.wait_for_selector("[data-page=switch]")
    assert "La session de Hugo BERNARD sera fermée dans toutes les applications." in page.inner_text("main")
    check_page(page, "switch confirmation")
    page.click("[data-page=switch] button[type=submit]")
    psc_login(page, "899700000003")                       # through PSC's logout, then a fresh PSC login
    page.wait_for_selector("#welcome")
    assert "Léa PETIT" in page.inner_text("main")

    # The notice's one click logs out of every application.
    page.goto(f"{bridge}/")
    assert "Connecté : Léa PETIT" in page.inner_text("[data-session-bar]")
    page.click("[data-logout-all] button")
    page.wait_for_load_state()
    page.goto(f"{bridge}/")
    assert "Aucune session ouverte" in page.inner_text("[data-session-bar]")
    check_page(page, "home (shared, signed out)")
    page.goto(f"{stack['apps']}/portail/")
    assert page.locator("#welcome").count() == 0
