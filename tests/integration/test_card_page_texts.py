"""The card page carries the texts of the card agent v2 answers (no CPS card, several cards, card reset) in the
page's language, exactly bridge/web/messages.py's sentences, and the labels of the card chooser."""
from __future__ import annotations

import pytest

from bridge.web.messages import message
from tests.integration.test_cps_page_language import json_block, open_card_page
from tests.support.html import parse

CODES = ("no_cps_card", "several_cards", "card_reset")


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_agent_v2_answers_have_their_sentences(bridge_server, lang):
    _browser, _chooser, page = open_card_page(bridge_server, "&lang=en" if lang == "en" else "")
    messages = json_block(page.text, "cps-messages")
    for code in CODES:
        assert messages[code] == message(code, lang)
    states = json_block(page.text, "cps-states")
    assert states["card_number"] == ("Card number" if lang == "en" else "Numéro de carte")
    tree = parse(page.text)
    assert tree.find("fieldset", id="cps-choose").attr("hidden") is not None
    assert tree.find("input", name="card_reader").attr("type") == "hidden"
    labels = tree.find("dl", id="cps-card").text
    assert ("Holder" in labels and "Card number" in labels) if lang == "en" else \
        ("Titulaire" in labels and "Numéro de carte" in labels)
