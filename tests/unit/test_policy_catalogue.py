"""The rule catalogue, the user messages and the docs stay in step with the codes the engine produces."""
from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from bridge.policy import REASONS, WARNINGS, paris_date, paris_epoch, reason_message, rule_catalogue
from bridge.policy.checks import add_years
from bridge.policy.rules import KINDS, broken

DOCS = Path(__file__).resolve().parents[2] / "docs" / "policies.md"
REFERENTIAL_REASONS = set(REASONS) - {"profession_not_allowed", "mode_not_allowed", "activity_required",
                                      "acr_below_minimum", "identity_kind_not_allowed"}


def test_rule_codes_are_unique_and_kinds_known():
    codes = [r.code for r in rule_catalogue()]
    assert len(codes) == len(set(codes))
    assert {r.kind for r in rule_catalogue()} == set(KINDS)
    for r in rule_catalogue():
        assert r.text_fr and r.text_en and r.text_fr != r.text_en and r.source and r.summary, r.code


def test_every_decision_code_is_a_catalogued_rule():
    codes = {r.code for r in rule_catalogue()}
    assert set(REASONS) <= codes
    assert set(WARNINGS) - {"reserve_overdue"} <= codes  # reserve_overdue is a finding of reserve_due_too_late


def test_every_research_row_is_covered():
    covered = {ref for r in rule_catalogue() for ref in r.research}
    assert covered == {f"R{i}" for i in range(1, 23)}


@pytest.mark.parametrize("code", sorted(set(REASONS) | set(WARNINGS)))
def test_every_decision_code_has_french_and_english_sentences(code):
    fr, en = reason_message(code), reason_message(code, lang="en")
    assert fr != en and len(fr) > 40 and len(en) > 40
    assert reason_message(code, lang="fr-FR") == fr and reason_message(code, lang="en-GB") == en
    if code in REFERENTIAL_REASONS | {"reserve_overdue"}:
        assert re.search(r"RIE-PS \d\d", fr) and re.search(r"RIE-PS \d\d", en), code


def test_french_messages_are_french():
    assert "service" in reason_message("mie_not_allowed") and "Identifiez-vous" in reason_message("mie_not_allowed")
    assert "Please log in" in reason_message("mie_not_allowed", "en")


def test_unknown_codes_get_a_generic_sentence_not_an_error():
    assert "no_such_code" in reason_message("no_such_code")
    assert reason_message("no_such_code", "en").startswith("Access refused")


def test_load_check_codes_fall_back_to_the_rule_text():
    assert reason_message("psc_not_offered") == next(r.text_fr for r in rule_catalogue() if r.code == "psc_not_offered")


def test_load_errors_cite_the_catalogue():
    assert broken("not_historical_teleservice") == (
        "(RIE v2 RIE-PS 02: direct CPS only for ANS-authorized historical teleservices)")


def test_docs_describe_every_rule_and_research_row():
    text = DOCS.read_text(encoding="utf-8")
    for r in rule_catalogue():
        assert f"`{r.code}`" in text, r.code
    for i in range(1, 23):
        assert re.search(rf"^\| R{i} \|", text, re.M), f"R{i} missing from the table"


@pytest.mark.parametrize("utc_iso, expected", [
    ("2026-12-30T22:59:59+00:00", date(2026, 12, 30)),   # winter: UTC+1
    ("2026-12-30T23:00:00+00:00", date(2026, 12, 31)),
    ("2027-07-14T21:59:59+00:00", date(2027, 7, 14)),    # summer: UTC+2
    ("2027-07-14T22:00:00+00:00", date(2027, 7, 15)),
    ("2027-03-28T00:59:59+00:00", date(2027, 3, 28)),    # last Sunday of March, before the switch
    ("2027-10-30T22:30:00+00:00", date(2027, 10, 31)),   # last Sunday of October, still summer time
])
def test_paris_civil_date(utc_iso, expected):
    from datetime import datetime

    assert paris_date(datetime.fromisoformat(utc_iso).timestamp()) == expected


def test_paris_epoch_round_trips_and_refuses_the_spring_gap():
    assert paris_date(paris_epoch(date(2028, 12, 31), 23, 59, 59)) == date(2028, 12, 31)
    assert paris_date(paris_epoch(date(2028, 12, 31), 23, 59, 59) + 1) == date(2029, 1, 1)
    with pytest.raises(ValueError):
        paris_epoch(date(2027, 3, 28), 2, 30)


def test_add_years_handles_the_leap_day():
    assert add_years(date(2028, 2, 29), 3) == date(2031, 2, 28)
    assert add_years(date(2026, 10, 1), 1) == date(2027, 10, 1)
