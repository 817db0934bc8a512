"""Languages of the user-facing texts: French (default, the source language of templates) and English.

Templates are written in French and marked with {% trans %} / _(); the English catalog is
bridge/translations/en/LC_MESSAGES/messages.po, compiled to messages.mo (committed, so a fresh clone needs no
build step; tests/unit/test_i18n.py checks that the .mo matches the .po and that no marked string is missing).
"""
from __future__ import annotations

from functools import cache
from pathlib import Path

from babel.support import NullTranslations, Translations

LANGUAGES = ("fr", "en")
DEFAULT = "fr"
TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"


def normalize(lang: str | None) -> str | None:
    """'en', 'en-GB', 'EN_us' -> 'en'; unknown -> None."""
    code = str(lang or "").strip().lower().replace("_", "-").split("-")[0]
    return code if code in LANGUAGES else None


def N_(text: str) -> str:
    """Marks a French text for the catalogue (pybabel extracts it, tests/unit/test_i18n.py checks it is translated);
    `translated` turns it into the reader's language where it is shown."""
    return text


def translated(text: str, lang: str | None) -> str:
    return translations(normalize(lang) or DEFAULT).gettext(text)


@cache
def translations(lang: str) -> NullTranslations:
    """gettext translations for Jinja environments outside Flask (the attestation report)."""
    if normalize(lang) in (None, DEFAULT):
        return NullTranslations()
    return Translations.load(str(TRANSLATIONS_DIR), [normalize(lang)], domain="messages")
