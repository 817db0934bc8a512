"""Chromium: an administrator activates a backup code in the console (keyboard only), reads it once, and the
professional logs in with it from the means chooser; the app gets its code; every page passes axe (WCAG 2.1 A/AA);
the same code a second time is refused on the page."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.e2e.test_admin_console_browser import psc_login
from tests.integration.test_backup_means import PRO, SECOURS_POLICY, client
from tests.support.axe import Tour
from tests.support.bridge import AppClient
from tests.support.console import start_stack

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack(tmp_path, redis_url, psc_emulator_factory, receiver):
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "secours-a.yaml").write_text(
        SECOURS_POLICY.format(service="secours-a").replace("http://127.0.0.1:8002", receiver.url))
    server = start_stack(tmp_path, redis_url, psc_emulator_factory, receiver.url)
    yield server
    server.stop()


def test_admin_activates_a_code_and_the_professional_logs_in_with_it(stack, chromium, receiver):
    tour = Tour()
    admin = chromium.new_context(locale="fr-FR").new_page()
    admin.goto(f"{stack.url}/admin/")
    psc_login(admin, "899700000001")
    admin.wait_for_selector("input[name=activity]")
    admin.click("#main button[type=submit]")
    admin.wait_for_selector("article[data-sid]")
    admin.click(".admin-nav a[href$='/admin/backup/']")
    admin.wait_for_selector("#backup-activate")
    tour.check(admin, "admin backup: form")
    admin.focus("#b-national-id")
    admin.keyboard.type(PRO)
    admin.keyboard.press("Tab")
    admin.keyboard.type("BERNARD")
    admin.keyboard.press("Tab")
    admin.keyboard.type("Hugo")
    admin.keyboard.press("Tab")
    admin.keyboard.press("Space")                               # the only service that allows backup
    admin.keyboard.press("Enter")
    admin.wait_for_selector("#backup-code")
    code = admin.get_attribute("#backup-code", "data-code")
    assert admin.is_visible(f"tr[data-pending='{PRO}']")
    tour.check(admin, "admin backup: code shown once")

    app = AppClient(stack.url, **client(receiver, "secours-a"))
    pro = chromium.new_context(locale="fr-FR").new_page()
    pro.goto(app.authorize_url())
    pro.click("a[data-mie=backup]")
    pro.wait_for_selector("#backup-form")
    tour.check(pro, "backup login")
    pro.fill("#backup-national-id", PRO)
    pro.fill("#backup-code", code)
    pro.click("#backup-submit")
    pro.wait_for_url(f"{receiver.url}/secours-a/callback*")
    result = parse_qs(urlsplit(pro.url).query)
    claims = app.verify_id_token(app.exchange(result["code"][0])["id_token"])
    assert (claims["sub"], claims["mie"], claims["amr"]) == (PRO, "backup", ["pwd"])

    again = chromium.new_context(locale="fr-FR").new_page()
    again.goto(AppClient(stack.url, **client(receiver, "secours-a")).authorize_url())
    again.click("a[data-mie=backup]")
    again.fill("#backup-national-id", PRO)
    again.fill("#backup-code", code)
    again.click("#backup-submit")
    again.wait_for_selector("#backup-error[data-error=backup_code_used]")
    assert again.get_attribute("#backup-national-id", "aria-invalid") == "true"
    tour.check(again, "backup login: code already used")
    admin.goto(f"{stack.url}/admin/backup/")   # (a reload would POST the activation again)
    assert not admin.is_visible(f"tr[data-pending='{PRO}']")
    tour.done()
