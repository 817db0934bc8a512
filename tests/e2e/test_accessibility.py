"""axe-core (WCAG 2.1 A/AA) in a real chromium on every bridge page a professional sees, in French and English:
0 serious or critical violations (docs/accessibility.md). The PSC emulator's and the demo apps' pages are not the
bridge's: they are crossed, never checked. Pages added later call tests.support.axe.check_page(page)."""
from __future__ import annotations

import base64
import hashlib
from urllib.parse import urlencode

import pytest

from tests.e2e.test_admin_console_browser import psc_login, stack  # noqa: F401 - the fixture
from tests.e2e.test_cps_browser_login import PIN, cps_stack, open_page  # noqa: F401 - the fixtures
from tests.support.axe import Tour, check_page

pytestmark = pytest.mark.e2e
# A service for pharmacists only (profession 21): a médecin logged in through PSC gets the denial page.
PHARMACY = """
service: officine
name: Officine (test)
clients:
  - client_id: officine-web
    client_secret_sha256: f7c62450ea45b6b3b790755cb68fb151b6e7b70e4805a863923b66d3f578f2c0
    redirect_uris: [http://127.0.0.1:8002/officine/callback]
allowed_mie: [psc]
professions: ["21"]
"""


@pytest.fixture
def pharmacy(tmp_path):
    """The officine policy, written where the stacks' fixtures copy the shipped policies (requested first)."""
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "officine.yaml").write_text(PHARMACY)


def authorize_url(bridge: str, client_id: str, redirect_uri: str) -> str:
    """What an app sends the browser to (code flow, PKCE)."""
    challenge = base64.urlsafe_b64encode(hashlib.sha256(b"v" * 43).digest()).rstrip(b"=").decode()
    return f"{bridge}/authorize?" + urlencode({
        "client_id": client_id, "response_type": "code", "redirect_uri": redirect_uri, "scope": "openid profile",
        "state": "s" * 16, "nonce": "n" * 16, "code_challenge": challenge, "code_challenge_method": "S256"})


class LangTour(Tour):
    """A tour that also checks the page is in the expected language (<html lang>)."""

    def __init__(self, lang: str):
        super().__init__()
        self.lang = lang

    def check(self, page, name: str) -> None:
        assert page.get_attribute("html", "lang") == self.lang, f"{name}: not in {self.lang}"
        super().check(page, name)


def pin_page_states(page, cps: dict, tour: Tour) -> None:
    """The CPS page: agent unreachable, card ready, PIN too short, wrong PIN; the right PIN, the hand-off page."""
    page.route(f"{cps['agent']}/**", lambda route: route.abort("connectionrefused"))
    page.click("a[data-mie='cps-pin']")
    page.wait_for_selector("#cps-no-agent:visible")
    tour.check(page, "PIN page, agent unreachable")
    page.unroute(f"{cps['agent']}/**")
    page.click("#cps-retry")
    page.wait_for_selector("#cps-pin:enabled")
    tour.check(page, "PIN page, card ready")
    page.fill("#cps-pin", "12")
    page.click("#cps-submit")
    page.wait_for_selector("#cps-pin-error[data-error-code='pin_format']")
    tour.check(page, "PIN page, PIN too short")
    page.fill("#cps-pin", "0000")
    page.click("#cps-submit")
    page.wait_for_selector("#cps-pin-error[data-error-code='wrong_pin']")
    page.wait_for_selector("#cps-pin:enabled")
    tour.check(page, "PIN page, wrong PIN")
    # The page after the card login hands the removal capability to the agent and goes on within 3 s: served
    # without its script here, it stays until checked.
    page.route("**/static/card-watch.js", lambda route: route.fulfill(body="", content_type="text/javascript"))
    page.fill("#cps-pin", PIN)
    page.click("#cps-submit")
    page.wait_for_selector("#card-watch")
    tour.check(page, "card login done, card watch hand-off")
    page.click("#watch-continue")
    page.wait_for_selector("#welcome")


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_login_pages_have_no_serious_violation(pharmacy, cps_stack, open_page, lang):  # noqa: F811
    tour, page, bridge, apps = LangTour(lang), open_page(), cps_stack["bridge"], cps_stack["apps"]
    page.goto(f"{bridge}/?lang={lang}")                     # the language cookie, as the switch sets it
    tour.check(page, "home")
    page.goto(f"{bridge}/login?txn=unknown")
    tour.check(page, "error page (txn_invalid)")
    page.goto(f"{apps}/teleservice/")
    page.click("#login")
    page.wait_for_selector("a[data-mie='cps-pin']")
    tour.check(page, "chooser")
    pin_page_states(page, cps_stack, tour)
    page.goto(f"{bridge}/logout")                           # a session, no id_token_hint: the confirmation
    page.wait_for_selector("#lo-title")
    tour.check(page, "logout confirmation")
    page.click("#main button[type=submit]")
    page.wait_for_selector("[data-logged-out]")
    tour.check(page, "logged out")

    page.goto(f"{apps}/teleservice/")                       # through PSC now: the médecin has three activities
    page.click("#login")
    page.click("a.psc-button")
    psc_login(page, "899700000001")
    page.wait_for_selector("input[name=activity]")
    tour.check(page, "activity choice")
    page.click("#main button[type=submit]")
    page.wait_for_selector("#welcome")
    page.goto(authorize_url(bridge, "officine-web", "http://127.0.0.1:8002/officine/callback"))   # never reached
    page.wait_for_selector("#deny-title")
    tour.check(page, "denial")
    assert len(tour.done()) == 12


def card_pages(admin, tour: Tour) -> None:
    """The console's card pages: search, a wrong number, a card with its confirmation open, the card opposed."""
    admin.click(".admin-nav a[href$='/admin/cards/']")
    admin.wait_for_selector("#f-number")
    tour.check(admin, "console: cards")
    admin.fill("#f-number", "12")
    admin.press("#f-number", "Enter")
    admin.wait_for_selector("#number-error")
    tour.check(admin, "console: cards, wrong number")
    admin.fill("#f-number", "2400140649")
    admin.press("#f-number", "Enter")
    admin.click("summary[data-oppose-open]")
    tour.check(admin, "console: a card, confirmation open")
    admin.click("button[data-oppose]")
    admin.wait_for_selector("#done[data-done=opposed]")
    tour.check(admin, "console: a card opposed")


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_admin_console_and_error_pages_have_no_serious_violation(stack, chromium, lang):  # noqa: F811
    tour, bridge = LangTour(lang), stack["bridge"]
    admin = chromium.new_context(locale="fr-FR" if lang == "fr" else "en-GB").new_page()
    admin.goto(f"{bridge.url}/admin/")
    psc_login(admin, "899700000001")
    admin.wait_for_selector("input[name=activity]")
    admin.click("#main button[type=submit]")
    admin.wait_for_selector("article[data-sid]")
    admin.click("summary[data-kill-open]")                 # the confirmation step, open
    tour.check(admin, "console: sessions")
    for name in ("services", "audit", "report"):
        admin.click(f".admin-nav a[href$='/admin/{name}']")
        admin.wait_for_selector(f".admin-nav a[aria-current=page][href$='/admin/{name}']")
        tour.check(admin, f"console: {name}")
    card_pages(admin, tour)

    other = chromium.new_context(locale="fr-FR" if lang == "fr" else "en-GB").new_page()
    other.goto(f"{bridge.url}/admin/")                      # a pharmacist, not an administrator
    psc_login(other, "899700000002")
    other.wait_for_selector("[data-error-code=admin_forbidden]")
    tour.check(other, "error page (admin_forbidden)")
    import requests

    requests.post(f"{bridge.psc.url}/_emulator/faults", json={"authorize_error": "invalid_scope"},
                  timeout=10).raise_for_status()
    fresh = chromium.new_context(locale="fr-FR" if lang == "fr" else "en-GB").new_page()   # no SSO session
    fresh.goto(f"{stack['apps']}/portail/")
    fresh.click("#login")
    fresh.wait_for_selector("[data-way-back=app]")
    tour.check(fresh, "error page with its ways back")
    assert len(tour.done()) == 10


def test_a_violation_fails_the_check(chromium):
    """The helper is not blind: a field without a label and unreadable text fail it, and the message says why."""
    page = chromium.new_page()
    page.set_content('<html lang="fr"><head><title>t</title></head><body><main><h1>t</h1>'
                     '<input id="pin" type="password"><p style="color:#bbb;background:#fff">gris</p></main></body>'
                     '</html>')
    with pytest.raises(AssertionError) as failure:
        check_page(page, "sample")
    message = str(failure.value)
    assert "label (critical)" in message and "#pin" in message and "https://dequeuniversity.com/rules/axe/" in message
    assert "color-contrast (serious)" in message


def tab_to(page, selector: str, limit: int = 25) -> int:
    """Press Tab until the focused element matches `selector`; the number of presses."""
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        if page.evaluate("s => !!document.activeElement && document.activeElement.matches(s)", selector):
            return presses
    raise AssertionError(f"{selector} never got the focus in {limit} Tab presses on {page.url}")


def focus_ring(page) -> str:
    """The focused element's outline as drawn (computed style)."""
    return page.evaluate("() => { const s = getComputedStyle(document.activeElement);"
                         " return `${s.outlineStyle} ${s.outlineWidth}`; }")


def test_the_whole_card_login_works_with_the_keyboard_alone(cps_stack, open_page):  # noqa: F811
    """From the app to the app through the chooser and the PIN page: Tab, Enter and typing, nothing else (no click,
    no fill); the focus is visible at each step and comes back to the PIN field after a wrong PIN."""
    from playwright.sync_api import expect

    page = open_page()
    page.goto(f"{cps_stack['apps']}/teleservice/")
    tab_to(page, "#login")
    page.keyboard.press("Enter")
    page.wait_for_selector("a[data-mie='cps-pin']")
    assert tab_to(page, "a.skip") == 1                   # the skip link comes first, and shows itself
    assert page.locator("a.skip").bounding_box()["x"] >= 0
    page.keyboard.press("Enter")                         # to the main content: the means come next
    assert tab_to(page, "a[data-mie='cps-pin']") == 3     # after the PSC button and its information link
    assert focus_ring(page) == "solid 3px"
    page.keyboard.press("Enter")

    page.wait_for_selector("#cps-pin:enabled")
    expect(page.locator("#cps-pin")).to_be_focused()     # the page puts the cursor in the PIN field
    assert focus_ring(page) == "solid 3px"
    page.keyboard.type("0000")
    page.keyboard.press("Enter")
    page.wait_for_selector("#cps-pin-error[data-error-code='wrong_pin']")
    page.wait_for_selector("#cps-pin:enabled")
    expect(page.locator("#cps-pin")).to_be_focused()     # back in the field, the error read out beside it
    page.keyboard.type(PIN)
    page.keyboard.press("Enter")
    page.wait_for_selector("#welcome")
    assert page.inner_text("[data-claim=mie]") == "cps-pin"
