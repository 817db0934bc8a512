"""The report shows the security controls of each service (min_acr beside what its means give, card removal,
shared workstation) and client (consent, sender-constrained tokens, PAR, logout channels), in French and English."""
from __future__ import annotations

import shutil

import pytest

from bridge.attest import build_report, render_html
from bridge.config import Settings
from bridge.policy import load_policies
from tests.integration.test_attest_words import ENGLISH, FRENCH, _found, visible_words
from tests.support.html import parse

POLICY = """\
service: controls-demo
name: Service aux contrôles renforcés
clients:
  - client_id: tiers-mtls
    token_endpoint_auth_method: tls_client_auth
    tls_client_auth_subject_dn: CN=tiers.example.org,O=Editeur,C=FR
    redirect_uris: [https://tiers.example.org/cb]
    backchannel_logout_uri: https://tiers.example.org/bc
    frontchannel_logout_uri: https://tiers.example.org/fc
    consent: required
    dpop_bound_access_tokens: true
    require_pushed_authorization_requests: true
  - client_id: maison
    client_secret_sha256: 07f4acac118140b0f01f34a44264fd3caea382fdf734b0cf2aac4728215e92f7
    redirect_uris: [https://maison.example.org/cb]
allowed_mie: [psc, cps-pin]
historical_teleservice: true
min_acr: eidas2
on_card_removal: ignore
shared_workstation: true
idle_timeout: 15m
max_session: 4h
"""
UNREACHABLE = """\
service: too-high
name: Niveau inatteignable
clients:
  - client_id: too-high-web
    client_secret_sha256: 07f4acac118140b0f01f34a44264fd3caea382fdf734b0cf2aac4728215e92f7
    redirect_uris: [https://high.example.org/cb]
allowed_mie: [psc, cps-pin]
historical_teleservice: true
min_acr: eidas3
idle_timeout: 15m
max_session: 4h
"""


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    base = tmp_path_factory.mktemp("attest-controls")
    policies = base / "policies"
    shutil.copytree("policies", policies)
    (policies / "controls-demo.yaml").write_text(POLICY)
    (policies / "too-high.yaml").write_text(UNREACHABLE)
    settings = Settings(policies_dir=policies, keys_dir=base / "keys", audit_path=base / "audit.jsonl")
    loaded = load_policies(policies)
    return {lang: render_html(build_report(loaded, settings, lang=lang)) for lang in ("fr", "en")}


def _field(section, name: str) -> str:
    return " ".join(section.find(data_field=name).text.split())


@pytest.mark.parametrize("lang, expected", [
    ("fr", {"min_acr": "eidas2 (les moyens admis donnent eidas1, eidas2)",
            "on_card_removal": "sans effet sur la session", "shared_workstation": "oui"}),
    ("en", {"min_acr": "eidas2 (the allowed means give eidas1, eidas2)",
            "on_card_removal": "no effect on the session", "shared_workstation": "yes"}),
])
def test_service_controls(pages, lang, expected):
    section = parse(pages[lang]).find("section", data_service="controls-demo")
    identification = section.find("table", data_part="identification")
    assert {name: _field(identification, name) for name in expected} == expected
    high = parse(pages[lang]).find("section", data_service="too-high")
    cell = high.find(data_field="min_acr")
    assert "bad" in cell.attr("class") and ("inatteignable" if lang == "fr" else "unreachable") in cell.text
    # unset with cps-pin allowed: logout (the card is how the professional leaves); PSC only: no card to remove
    assert _field(high, "on_card_removal") == ("déconnexion : la session SSO prend fin" if lang == "fr"
                                               else "logout: the SSO session ends")
    psc_only = parse(pages[lang]).find("section", data_service="dpi")
    assert _field(psc_only, "on_card_removal").startswith("sans objet" if lang == "fr" else "not applicable")


@pytest.mark.parametrize("lang, third, first", [
    ("fr", ["demandé au professionnel (application d'un tiers)",
            "mTLS : certificat du client (RFC 8705) + DPoP : clé du client (RFC 9449)", "oui"],
     ["non demandé (application de l'établissement)", "aucune (jeton au porteur)", "non", "—"]),
    ("en", ["asked of the professional (third-party application)",
            "mTLS: the client's certificate (RFC 8705) + DPoP: the client's key (RFC 9449)", "yes"],
     ["not asked (first-party application)", "none (bearer token)", "no", "—"]),
])
def test_client_controls(pages, lang, third, first):
    page = parse(pages[lang])
    table = page.find("section", data_service="controls-demo").find("table",
                                                                                   data_part="client-controls")
    assert table.find("caption").text == ("Contrôles par application" if lang == "fr" else "Controls per application")
    headers = [th.text for th in table.find("thead").find_all("th")]
    assert headers[1:] == (["Consentement", "Jetons liés à l'application", "PAR exigé", "Canaux de déconnexion"]
                           if lang == "fr" else ["Consent", "Sender-constrained tokens", "PAR required",
                                                 "Logout channels"])
    row = table.find("tr", data_client_controls="tiers-mtls")
    assert [_field(row, f) for f in ("consent", "sender-constraint", "par")] == third
    assert _field(row, "logout-channels") == ("back-channel https://tiers.example.org/bc "
                                              "front-channel https://tiers.example.org/fc")
    plain = table.find("tr", data_client_controls="maison")
    assert [_field(plain, f) for f in ("consent", "sender-constraint", "par", "logout-channels")] == first


def test_the_controls_speak_the_report_language(pages):
    assert _found(visible_words(pages["fr"]), ENGLISH) == []
    english = visible_words(pages["en"])
    for name in ("Console d'administration de la passerelle", "Console d'administration",
                 "Service aux contrôles renforcés", "Niveau inatteignable"):   # policy data, not report text
        english = english.replace(name, "")
    assert _found(english, FRENCH) == []
