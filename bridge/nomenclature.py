"""Words for the ANS codes the bridge shows: profession 10 -> « Médecin », secteur SA07 -> « Cabinet individuel ».

The labels, with the nomenclature each comes from (its URL, version and date), are in nomenclature.yaml next to
this module: a small extract of ANS's NOS nomenclatures (TRE_G15, TRE_R09, TRE_R02, TRE_R38, TRE_R23, TRE_G02).
A code not in the extract is never hidden or guessed: it is shown as « code SA99 », so support can still read it.

    label("profession", "10", "fr")   -> "Médecin"
    label("sector", "SA99", "en")     -> "code SA99"
    labelled("profession", "10")      -> "Médecin (10)"
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

DATA = Path(__file__).with_name("nomenclature.yaml")
KINDS = ("profession", "category", "sector", "savoir_faire", "mode", "card")


@lru_cache(maxsize=1)
def catalogue() -> dict:
    """The whole data file: its header (checked, verified...) and `kinds`, each with its source and codes."""
    with DATA.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def codes(kind: str) -> dict[str, dict]:
    """The codes of one kind; an unknown kind is a programming error (KeyError), not a user's data."""
    return catalogue()["kinds"][kind]["codes"]


def source(kind: str) -> dict:
    """Where the labels of `kind` come from: nomenclature, url, oid, version, date."""
    return {k: v for k, v in catalogue()["kinds"][kind].items() if k != "codes"}


def known(kind: str, code: str | None) -> bool:
    """Whether the extract has a word for `code` (else label() says « code X »)."""
    return (code or "").strip() in codes(kind)


def label(kind: str, code: str | None, lang: str = "fr") -> str:
    """The label of `code` in `lang` ('en*' gives English, anything else French); "" for no code."""
    code = (code or "").strip()
    if not code:
        return ""
    entry = codes(kind).get(code)
    if entry is None:
        return f"code {code}"        # the same words in both languages
    english = str(lang).lower().startswith("en")
    return entry.get("en", entry["fr"]) if english else entry["fr"]


def labelled(kind: str, code: str | None, lang: str = "fr") -> str:
    """« Médecin (10) »: the label with its code, for pages that support staff read too; the bare
    « code SA99 » when the code is unknown (no repetition)."""
    text = label(kind, code, lang)
    if not text or text == f"code {(code or '').strip()}":
        return text
    return f"{text} ({code.strip()})"
