"""Chromium: an administrator scans a card's envelope barcode into the console (the scanner types like a keyboard),
declares the card lost with the keyboard alone, and every state of the cards page passes axe (WCAG 2.1 A/AA), in
French and English."""
from __future__ import annotations

import pytest

from tests.e2e.test_admin_console_browser import psc_login, stack  # noqa: F401 - the fixture
from tests.support.axe import Tour

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_a_scanned_number_is_found_and_declared_lost_with_the_keyboard(stack, chromium, lang):  # noqa: F811
    bridge, tour = stack["bridge"], Tour()
    admin = chromium.new_context(locale="fr-FR" if lang == "fr" else "en-GB").new_page()
    admin.goto(f"{bridge.url}/admin/cards/")
    psc_login(admin, "899700000001")
    admin.wait_for_selector("input[name=activity]")
    admin.click("#main button[type=submit]")
    admin.wait_for_selector("article[data-sid]")
    admin.click(".admin-nav a[href$='/admin/cards/']")
    admin.wait_for_selector("#f-number:focus")                 # autofocus: the scanner can type at once
    tour.check(admin, "cards: empty")

    admin.keyboard.type("24OO140649")                          # letters O for zeros: refused with a reason
    admin.keyboard.press("Enter")
    admin.wait_for_selector("#number-error[data-error=card_number_characters]")
    tour.check(admin, "cards: error")

    admin.fill("#f-number", "")
    admin.focus("#f-number")
    admin.keyboard.type("*2400140649*")                        # what a CODE_39 scanner sends, then Enter
    admin.keyboard.press("Enter")
    admin.wait_for_selector("section#card[data-card='2400140649']")
    admin.focus("summary[data-oppose-open]")
    admin.keyboard.press("Enter")                              # the confirmation step, opened from the keyboard
    admin.wait_for_selector("button[data-oppose]", state="visible")
    tour.check(admin, "cards: confirmation")
    admin.focus("button[data-oppose]")
    admin.keyboard.press("Enter")
    admin.wait_for_selector("#done[data-done=opposed]")
    assert admin.is_visible("#opposition [data-state=number_only]")
    assert admin.is_visible("tr[data-opposition='2400140649']")
    tour.check(admin, "cards: opposed")
    assert [o.number for o in bridge.bridge.cps.oppositions.list()] == ["2400140649"]
    tour.done()
