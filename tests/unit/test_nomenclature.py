"""ANS codes become words (bridge/nomenclature.py): known codes, unknown codes, and every sandbox code."""
from __future__ import annotations

import re

import pytest

from bridge import nomenclature
from bridge.nomenclature import KINDS, codes, label, labelled, source
from bridge.sandbox.professionals import TEST_PROFESSIONALS


def test_known_codes_have_french_and_english_words():
    assert label("profession", "10", "fr") == "Médecin"
    assert label("profession", "10", "en") == "Physician"
    assert label("sector", "SA07") == "Cabinet individuel"
    assert label("sector", "SA07", "en-GB") == "Individual practice"
    assert label("savoir_faire", "SM54", "fr") == "Médecine générale"
    assert label("mode", "L", "fr") == "Libéral" and label("mode", "S", "en") == "Employed"
    assert label("category", "C", "fr") == "Civil"
    assert label("card", "CPS", "en") == "Health professional card"


def test_an_unknown_code_is_shown_as_a_code_never_hidden():
    assert label("sector", "SA99", "fr") == "code SA99"
    assert label("sector", "SA99", "en") == "code SA99"
    assert labelled("sector", "SA99") == "code SA99"
    assert label("profession", "", "fr") == "" and label("profession", None) == "" and labelled("mode", "") == ""


def test_labelled_keeps_the_code_for_support():
    assert labelled("profession", "10") == "Médecin (10)"
    assert labelled("sector", "SA33", "en") == "Community pharmacy (SA33)"


def test_an_unknown_kind_is_a_programming_error():
    with pytest.raises(KeyError):
        label("colour", "10")


def sandbox_codes() -> set[tuple[str, str]]:
    """Every (kind, code) the sandbox professionals carry, as the bridge reads them."""
    found = set()
    for pro in TEST_PROFESSIONALS.values():
        for ex in pro["SubjectRefPro"]["exercices"]:
            found |= {("profession", ex["codeProfession"]), ("category", ex["codeCategorieProfessionnelle"]),
                      ("savoir_faire", ex["codeSavoirFaire"])}
            for act in ex["activities"]:
                found |= {("sector", act["codeSecteurDactivite"]), ("mode", act["codeModeExercice"])}
    return {(kind, code) for kind, code in found if code}


def test_every_code_of_the_sandbox_professionals_has_a_label():
    missing = sorted((kind, code) for kind, code in sandbox_codes() if label(kind, code).startswith("code "))
    assert not missing
    assert ("sector", "SA43") in sandbox_codes()    # the set is not empty by accident


def test_every_card_type_the_card_reader_names_has_a_label():
    from bridge.card.certificate import CARD_TYPES

    assert all(not label("card", name).startswith("code ") for name in CARD_TYPES.values())


def test_the_data_file_names_its_sources_and_date():
    data = nomenclature.catalogue()
    assert data["verified"] is True and data["checked"] and "ans.fr.terminologies" in data["verified_against"]
    assert set(data["kinds"]) == set(KINDS)
    for kind in KINDS:
        where = source(kind)
        assert where["url"].startswith("https://mos.esante.gouv.fr/NOS/"), kind
        assert where["nomenclature"].split("-")[0] in where["url"], kind
        assert re.fullmatch(r"\d{14}", where["version"]) and where["date"] and where["oid"], kind
        assert all(entry.get("fr") for entry in codes(kind).values()), kind


def test_known_tells_whether_the_extract_has_a_word():
    assert nomenclature.known("sector", "SA07") and not nomenclature.known("sector", "SA99")
    assert not nomenclature.known("profession", "") and not nomenclature.known("profession", None)
