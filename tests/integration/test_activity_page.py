"""The 'situation d'exercice' page over HTTP (bridge + PSC emulator + Redis): words instead of ANS codes, the
codes kept small for support, the service named, and a way out that gives the app access_denied."""
from __future__ import annotations

from urllib.parse import parse_qs, urljoin, urlsplit

import requests

from tests.support.bridge import PORTAIL, AppClient, form_fields
from tests.support.html import parse

NBSP = "\u00a0"


def activity_page(bridge_server, query: str = ""):
    """Log Dr MARTIN (3 activities) in up to the page, then GET it as the browser would: (app, browser, url, page)."""
    app, browser = AppClient(bridge_server.url, **PORTAIL), requests.Session()
    reshown = app.login(browser, user="899700000001", activity="__stop__")   # an invalid choice: the page again
    action, _hidden = form_fields(reshown.text)
    url = urljoin(bridge_server.url, action) + query
    page = browser.get(url, allow_redirects=False, timeout=10)
    assert page.status_code == 200, page.text
    return app, browser, url, page


def test_the_page_shows_words_keeps_the_codes_small_and_names_the_service(bridge_server):
    _app, _browser, _url, page = activity_page(bridge_server)
    tree = parse(page.text)
    assert f"connectez-vous{NBSP}?</h1>" in page.text and f"Codes{NBSP}:" in page.text   # never wrap alone
    assert "Vous vous connectez à « Portail éditeur (démo) »." in tree.find("p", id="act-service").text
    words = [node.text for node in tree.find_all("span", data_words=True)]
    assert words[0] == "Médecin (Médecine générale) · Libéral · Cabinet individuel"
    assert words[1].startswith("Médecin (Médecine générale) · Salarié · Etablissement public de santé · FINESS ")
    assert words[2].startswith("Médecin (Médecine générale) · Salarié · Secteur non défini · SIRET ")
    assert not any("SA0" in w or " 10 " in w for w in words)
    codes = [node.text for node in tree.find_all("small", data_codes=True)]
    assert codes[0] == "Codes : profession 10 · savoir-faire SM54 · mode L · secteur SA07"   # .text folds spaces


def test_the_page_in_english(bridge_server):
    _app, _browser, _url, page = activity_page(bridge_server, "&lang=en")
    tree = parse(page.text)
    assert tree.find("h1").text == "Which practice situation are you logging in with?"
    assert "You are logging in to “Portail éditeur (démo)”." in tree.find("p", id="act-service").text
    words = [node.text for node in tree.find_all("span", data_words=True)]
    assert words[0] == "Physician (General practice) · Self-employed · Individual practice"
    assert tree.find("small", data_codes=True).text == "Codes: profession 10 · specialty SM54 · mode L · sector SA07"
    assert tree.find("a", id="act-cancel").text == "Cancel and go back to “Portail éditeur (démo)”"


def test_cancel_sends_the_app_access_denied_and_ends_the_pending_login(bridge_server):
    app, browser, url, page = activity_page(bridge_server)
    cancel = parse(page.text).find("a", id="act-cancel")
    assert cancel.text == "Annuler et revenir à « Portail éditeur (démo) »"
    answer = browser.get(urljoin(url, cancel.attr("href")), allow_redirects=False, timeout=10)
    assert answer.status_code == 302 and answer.headers["Location"].startswith(PORTAIL["redirect_uri"])
    query = {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["Location"]).query).items()}
    assert query["error"] == "access_denied" and query["state"] == app.pending["state"]
    assert browser.get(url, allow_redirects=False, timeout=10).status_code == 400   # nothing left to choose
