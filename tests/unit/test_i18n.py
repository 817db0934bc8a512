"""French by default, English on request: the catalog is complete and compiled, and the switch sticks."""
from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from bridge.i18n import TRANSLATIONS_DIR

ROOT = Path(__file__).resolve().parents[2]
PO = TRANSLATIONS_DIR / "en" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")


def marked_strings() -> set[str]:
    # Templates, and the messages Python code marks with N_ (bridge/web/messages.py, bridge/policy/messages.py).
    method_map = [("templates/**.html", "jinja2"), ("bridge/**.py", "python")]
    found = extract_from_dir(str(ROOT), method_map, options_map={"templates/**.html": {}, "bridge/**.py": {}})
    return {message if isinstance(message, str) else message[0] for _f, _l, message, _c, _x in found}


def test_every_marked_string_has_an_english_translation():
    catalog = read_po(PO.open("rb"))
    translated = {m.id: m.string for m in catalog if m.id}
    missing = sorted(s for s in marked_strings() if not translated.get(s))
    assert not missing, f"run pybabel extract/update (docs/i18n.md); untranslated: {missing}"
    assert not [m.id for m in catalog if m.id and m.fuzzy], "fuzzy entries are not used by gettext"


def test_the_committed_mo_matches_the_po():
    po = {m.id: m.string for m in read_po(PO.open("rb")) if m.id}
    mo = {m.id: m.string for m in read_mo(io.BytesIO(MO.read_bytes())) if m.id}
    assert mo == po, "recompile: pybabel compile -d bridge/translations (docs/i18n.md)"


def test_placeholders_survive_translation():
    for message in read_po(PO.open("rb")):
        if message.id:
            assert set(re.findall(r"%\((\w+)\)s", message.id)) == set(re.findall(r"%\((\w+)\)s", message.string))


@pytest.fixture
def client(tmp_path):
    from app import create_app
    from bridge.config import load_settings
    from tests.support.bridge import default_card_trust

    app = create_app(load_settings({"BRIDGE_KEYS_DIR": str(tmp_path / "keys"), "BRIDGE_SWEEP_INTERVAL": "0",
                                    **default_card_trust()}))
    return app.test_client()


def heading(response) -> str:
    return re.search(r"<h1[^>]*>(.*?)</h1>", response.get_data(as_text=True), re.S).group(1).strip()


def test_french_by_default_then_english_by_switch_kept_in_a_cookie(client):
    page = client.get("/login?txn=unknown")
    assert heading(page) == "Connexion impossible" and '<html lang="fr">' in page.get_data(as_text=True)
    assert 'href="?txn=unknown&amp;lang=en"' in page.get_data(as_text=True)   # the switch in base.html: query only
    english = client.get("/login?txn=unknown&lang=en")
    text = english.get_data(as_text=True)
    assert heading(english) == "Login impossible" and '<html lang="en">' in text
    assert "This login expired or was started in another browser." in text
    assert "bridge_lang=en" in english.headers["Set-Cookie"] and "HttpOnly" in english.headers["Set-Cookie"]
    assert heading(client.get("/login?txn=unknown")) == "Login impossible"          # the cookie keeps it
    assert heading(client.get("/login?txn=unknown&lang=fr")) == "Connexion impossible"
    assert heading(client.get("/login?txn=unknown")) == "Connexion impossible"


def test_accept_language_is_the_fallback_and_unknown_languages_are_ignored(client):
    assert heading(client.get("/nowhere", headers={"Accept-Language": "en-GB,en;q=0.9"})) == "Page not found"
    assert heading(client.get("/nowhere", headers={"Accept-Language": "de-DE,de;q=0.9"})) == "Page introuvable"
    page = client.get("/nowhere?lang=xx", headers={"Accept-Language": "en"})
    assert heading(page) == "Page not found" and "Set-Cookie" not in page.headers


def test_the_catalogue_defines_each_message_once():
    """Parallel edits append to messages.po: a message defined twice makes msgfmt fail and hides which wins."""
    text = (TRANSLATIONS_DIR / "en" / "LC_MESSAGES" / "messages.po").read_text(encoding="utf-8")
    entries = [re.sub(r'"\n"', "", m) for m in re.findall(r'^(?:msgctxt .*\n)?msgid (?:".*"\n)+', text, re.M)]
    repeated = sorted({e for e in entries if entries.count(e) > 1})
    assert not repeated, repeated[:3]
