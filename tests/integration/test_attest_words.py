"""The report speaks one language: no English value on the French report, no French on the English one (booleans,
statuses, timeouts, self-check results in words); a configuration the bridge would refuse to start with is flagged;
session-end lines without an application are explained; nothing says the card path is not wired."""
from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import pytest

from bridge.attest import render_html
from bridge.config import Settings
from bridge.policy import load_policies
from bridge.sandbox.selfcheck import build_report  # with the live self-checks: their words too
from tests.support.html import parse

ROOT = Path(__file__).resolve().parents[2]
ENGLISH = ["attested", "true", "false", "none", "connect", "read", "current", "accepted", "revoked", "legacy",
           "success", "denied", "Relying party", "service policy", "the bridge itself", "sanity bound",
           "CRL checks in", "and upstream modules", "not wired", "not set"]
FRENCH = ["oui", "non", "conforme", "attestée", "acceptée", "refusée", "connexion", "lecture", "aucune",
          "appliquée", "sans objet", "non configuré", "mode d'exercice", "succès", "refus"]


def visible_words(html: str) -> str:
    html = re.sub(r"<(style|svg)\b.*?</\1>", " ", html, flags=re.S)
    return unescape(re.sub(r"<[^>]+>", " ", html))


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    base = tmp_path_factory.mktemp("attest-words")
    settings = Settings(policies_dir=Path("policies"), keys_dir=base / "keys")   # no BRIDGE_TRUST_DIR
    policies = load_policies(Path("policies"))
    return {lang: render_html(build_report(policies, settings, lang=lang)) for lang in ("fr", "en")}


def _found(text: str, words: list[str]) -> list[str]:
    return [w for w in words if re.search(rf"(?<![\w/_.-]){re.escape(w)}(?![\w/_.-])", text)]


def test_no_english_word_on_the_french_report(reports):
    assert _found(visible_words(reports["fr"]), ENGLISH) == []


def test_no_french_word_on_the_english_report(reports):
    text = visible_words(reports["en"])
    # policy data, not report text
    for name in ("Console d'administration de la passerelle", "Console d'administration"):
        text = text.replace(name, "")
    assert _found(text, FRENCH) == []


def test_cps_pin_without_trust_dir_is_a_blocking_fault(reports):
    page = parse(reports["fr"])
    fault = page.find(data_config_faults=True)
    assert fault is not None and "BRIDGE_TRUST_DIR" in fault.text and "refuserait de démarrer" in fault.text
    card = page.find("section", data_service="teleservice-historique").find("tr", data_mie="cps-pin")
    assert "obligatoire pour ce moyen" in card.text


def test_a_trust_dir_clears_the_fault(tmp_path):
    from bridge.sandbox.testpki import TestPki

    trust = TestPki("attest-words", tmp_path / "pki").trust_dir()
    settings = Settings(policies_dir=Path("policies"), keys_dir=tmp_path / "keys", trust_dir=trust)
    report = build_report(load_policies(Path("policies")), settings, self_checks=False)
    assert report.config_faults == ()
    assert parse(render_html(report)).find_all(data_config_faults=True) == []


def test_session_ends_without_an_application_are_explained(reports):
    page = parse(reports["fr"])
    rows = [r for a in page.find_all("article", data_check="idle_logout") for r in a.find_all("tr", data_event=True)
            if r.attr("data-event") == "idle_expired"]
    assert rows
    for row in rows:
        who = row.find_all("td")[4].text.strip()
        assert who == "— (session sans application)" or len(who.split()) == 2, who   # service and client
    assert page.find(data_sessions_without_app=True) is not None


def test_nothing_says_the_card_path_is_not_wired():
    said = []
    for path in [*ROOT.joinpath("bridge").rglob("*.py"), *ROOT.joinpath("templates").rglob("*.html"),
                 ROOT / "docs" / "attestation.md"]:
        text = path.read_text(encoding="utf-8")
        said += [f"{path.relative_to(ROOT)}: {m}" for m in re.findall(r"non branché|not wired|n'est pas livré|"
                                                                        r"not shipped in this version", text)]
    assert said == []
