"""The CPS card + PIN page speaks the page's language: with English chosen, no French is left in its text, its
script's texts (JSON blocks) or the chooser's card buttons; French stays the default."""
from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests

from tests.support.bridge import AppClient
from tests.support.html import parse

TELESERVICE = {"client_id": "teleservice-web", "client_secret": "teleservice-secret",
               "redirect_uri": "http://127.0.0.1:8002/teleservice/callback", "scope": "openid profile rpps"}
# Phrases of the French page (template, script states, agent answers): none may survive in English.
FRENCH = ("Se connecter", "carte CPS", "Recherche de l'agent", "Carte détectée", "Saisissez", "Essais restants",
          "Numéro", "Code porteur", "Votre code", "transmis", "Installer et démarrer", "petit programme",
          "Branchez", "Installez", "paquet", "Démarrez", "réseau local", "Réessayer", "cliquez",
          "Utiliser Pro Santé Connect", "Choisir un autre moyen", "Signature en cours", "Vérification",
          "Code erroné", "il vous reste", "Aucune carte", "Carte bloquée", "agent carte", "Cette page",
          "Code d'erreur", "lecteur", "Accès refusé", "La connexion")


def open_card_page(bridge, query: str = "") -> tuple[requests.Session, str, requests.Response]:
    """/authorize on the historical teleservice (PSC or card), then the card page: (browser, chooser, card page)."""
    app, browser = AppClient(bridge.url, **TELESERVICE), requests.Session()
    first = browser.get(app.authorize_url(), allow_redirects=False, timeout=10)
    chooser_url = urljoin(bridge.url, first.headers["Location"]) + query
    chooser = browser.get(chooser_url, timeout=10)
    txn = parse_qs(urlsplit(chooser_url).query)["txn"][0]
    page = browser.get(f"{bridge.url}/login/cps?txn={txn}{query}", timeout=10)
    assert page.status_code == 200, page.text
    return browser, chooser.text, page


def json_block(html: str, block_id: str) -> dict:
    found = re.search(rf'<script type="application/json" id="{block_id}">(.*?)</script>', html, re.DOTALL)
    return json.loads(found.group(1))


def visible_text(html: str) -> str:
    """The page's words (hidden help included: the script shows it), without the script blocks."""
    return unescape(re.sub(r"<script.*?</script>|<[^>]+>", " ", html, flags=re.DOTALL))


def french_left(text: str) -> list[str]:
    return [phrase for phrase in FRENCH if phrase.lower() in text.lower()]


def test_the_card_page_in_english_has_no_french_left(bridge_server):
    _browser, _chooser, page = open_card_page(bridge_server, "&lang=en")
    html = page.text
    assert '<html lang="en">' in html
    assert not french_left(visible_text(html)), french_left(visible_text(html))
    tree = parse(html)
    assert tree.find("h1").text == "Log in to “Téléservice historique (démo)” with your CPS card"
    assert tree.find("p", id="cps-state").text == "Looking for the card agent on this workstation…"
    assert "Tries left" in tree.find("dl", id="cps-card").text
    assert "bridge card-agent --allow-origin" in tree.find("section", id="cps-no-agent").text
    states, messages = json_block(html, "cps-states"), json_block(html, "cps-messages")
    assert states["ready"] == "Card detected. Enter your PIN."
    assert messages["wrong_pin"] == "Wrong PIN: {tries} tries left."
    assert not french_left(" ".join([*states.values(), *messages.values()]))


def test_the_card_page_stays_french_by_default(bridge_server):
    _browser, _chooser, page = open_card_page(bridge_server)
    text = visible_text(page.text)
    assert '<html lang="fr">' in page.text and "Recherche de l'agent carte sur ce poste…" in text
    assert "Réessayer" in text and "Essais restants" in text
    assert len(french_left(text)) > 20          # the list really catches this page's French
    assert json_block(page.text, "cps-states")["signing"].startswith("Signature en cours")
    assert json_block(page.text, "cps-messages")["wrong_pin"] == "Code erroné : il vous reste {tries} essais."


def test_the_chooser_names_the_card_means_in_the_page_language(bridge_server):
    _browser, chooser, _page = open_card_page(bridge_server, "&lang=en")
    assert parse(chooser).find("a", data_mie="cps-pin").text == "CPS card and PIN (local reader)"


@pytest.fixture
def tls_policies(tmp_path) -> Path:
    """The shipped policies with the historical teleservice offering the TLS client certificate instead."""
    directory = tmp_path / "policies"
    directory.mkdir()
    for source in Path("policies").glob("*.yaml"):
        text = source.read_text()
        if source.name == "teleservice-historique.yaml":
            text, replaced = re.subn(r"allowed_mie: \[psc, cps-pin[^]]*\]", "allowed_mie: [psc, cps-tls]", text)
            assert replaced == 1
        (directory / source.name).write_text(text)
    return directory


def test_the_chooser_s_tls_card_button_follows_the_language(bridge_factory, tls_policies):
    bridge = bridge_factory(env={"BRIDGE_POLICIES_DIR": str(tls_policies), "BRIDGE_TRUSTED_PROXIES": "127.0.0.1/32",
                                 "BRIDGE_CLIENT_CERT_HEADER": "X-Client-Cert"})
    app, browser = AppClient(bridge.url, **TELESERVICE), requests.Session()
    first = browser.get(app.authorize_url(), allow_redirects=False, timeout=10)
    chooser_url = urljoin(bridge.url, first.headers["Location"])
    english = parse(browser.get(chooser_url + "&lang=en", timeout=10).text)
    assert english.find("a", data_mie="cps-tls").text == "CPS card (TLS client certificate)"
    french = parse(browser.get(chooser_url + "&lang=fr", timeout=10).text)
    assert french.find("a", data_mie="cps-tls").text == "Carte CPS (certificat TLS client)"
