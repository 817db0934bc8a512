"""Demo apps: the idle warning page before the service's idle timeout, and back-channel logout handling."""
from __future__ import annotations

import pytest

from bridge.clock import Clock
from bridge.policy import load_policies
from bridge.sandbox.apps import DEMO_SERVICES, create_demo_apps
from tests.support.html import parse


def test_each_demo_app_knows_its_service_idle_timeout():
    policies = load_policies("policies")
    for demo in DEMO_SERVICES:
        service, _client = policies.client(demo.client_id)
        assert demo.idle_timeout == service.idle_timeout, demo.slug


@pytest.fixture
def demo():
    clock = Clock(fixed=1_800_000_000)
    app = create_demo_apps("http://127.0.0.1:9", clock=clock)   # the bridge is never called in these tests
    client = app.test_client()
    with client.session_transaction() as session:
        session["dpi"] = {"id_token": "x", "claims": {"sub": "899700000002", "sid": "sid-1", "mie": "psc-card"},
                          "userinfo": {"name": "Hugo BERNARD"}, "refresh_token": "r", "active": clock.now()}
    return client, clock


def test_the_service_page_arms_the_warning_and_the_warning_page_counts_down(demo):
    client, clock = demo
    page = client.get("/dpi/").get_data(as_text=True)
    assert 'data-idle-remaining="900"' in page and 'data-warn-before="120"' in page
    assert 'data-warning-url="/dpi/idle-warning"' in page and "/static/demo-idle.js" in page
    clock.advance(900 - 90)
    warning = client.get("/dpi/idle-warning").get_data(as_text=True)
    assert "Vous allez être déconnecté" in warning and 'data-remaining="90"' in warning
    assert 'action="/dpi/keepalive"' in warning and 'id="stay"' in warning
    english = client.get("/dpi/idle-warning?lang=en").get_data(as_text=True)
    assert "You are about to be logged out" in english and "Stay logged in" in english


def test_after_the_idle_timeout_the_app_logs_out(demo):
    client, clock = demo
    clock.advance(900)
    page = client.get("/dpi/?idle=1").get_data(as_text=True)
    assert 'data-ended="idle"' in page and 'id="welcome"' not in page
    assert client.get("/dpi/idle-warning").status_code == 302


def test_a_forged_backchannel_logout_is_refused_and_changes_nothing(demo):
    client, _clock = demo
    answer = client.post("/dpi/backchannel-logout", data={"logout_token": "not-a-jwt"})
    assert answer.status_code == 400
    assert 'id="welcome"' in client.get("/dpi/").get_data(as_text=True)


# --- looks: its own banner, claims in words, a login button that promises what follows -------------------------------
def test_each_demo_app_knows_whether_the_bridge_shows_its_means_chooser():
    from bridge.clock import Clock as RealClock
    from bridge.policy import login_means

    policies = load_policies("policies")
    for demo in DEMO_SERVICES:
        service, _client = policies.client(demo.client_id)
        means = login_means(service, RealClock().now())
        assert demo.card_login == (not all(m.via_psc for m in means)), demo.slug


@pytest.fixture
def apps():
    clock = Clock(fixed=1_800_000_000)
    return create_demo_apps("http://127.0.0.1:9", clock=clock).test_client(), clock


def logged_in(client, clock, slug: str, userinfo: dict, **claims) -> None:
    with client.session_transaction() as session:
        session[slug] = {"id_token": "x", "refresh_token": "r", "active": clock.now(), "userinfo": userinfo,
                         "claims": {"sub": "899700000001", "sid": "sid-1", "mie": "psc-card", "acr": "eidas1",
                                    "amr": ["sc", "pin", "mfa"], **claims}}


MEDECIN = {"name": "Camille MARTIN", "national_id_type": "rpps", "profession": "10", "profession_category": "C",
           "savoir_faire": "SM54", "activity": {"mode": "L", "sector": "SA07",
                                                "organization": "CABINET DU DR CAMILLE MARTIN"}}


def rows(html: str) -> dict[str, str]:
    """The claims table as {row heading: cell text}."""
    table = parse(html).find("table", class_="claims")
    return {tr.find("th").text: tr.find("td").text for tr in table.find_all("tr")}


def test_the_demo_banner_is_not_the_bridge_s(apps):
    client, _clock = apps
    page = client.get("/portail/").get_data(as_text=True)
    banner = parse(page).find("header", data_demo_banner=True)
    assert "demo-banner" in banner.attr("class")
    assert "Application de démonstration — Portail éditeur" in banner.text and "PSC Bridge" not in banner.text
    assert "/static/demo.css" in page and "· Démo</title>" in page
    assert "Application de démonstration" in parse(client.get("/").get_data(as_text=True)).find("header").text
    english = parse(client.get("/dpi/?lang=en").get_data(as_text=True)).find("header")
    assert "Demo application — Dossier patient informatisé" in english.text


def test_claims_are_shown_in_words_with_their_codes(apps):
    client, clock = apps
    logged_in(client, clock, "portail", MEDECIN)
    french = rows(client.get("/portail/").get_data(as_text=True))
    assert french["Profession"] == "Médecin ( 10 )"        # .text spaces the <code>: « Médecin (10) » on screen
    assert french["Savoir-faire"] == "Médecine générale ( SM54 )"
    assert french["Mode d'exercice"] == "Libéral ( L )"
    assert french["Secteur d'activité"] == "Cabinet individuel ( SA07 )"
    assert french["Moyen d'identification"] == "Carte CPS via Pro Santé Connect ( psc-card )"
    assert set(french["Identifiant national"].split()) == {"899700000001", "(RPPS)"}
    english = rows(client.get("/portail/?lang=en").get_data(as_text=True))
    assert english["Profession"] == "Physician ( 10 )" and english["Practice mode"] == "Self-employed ( L )"
    assert english["Means of identification"] == "CPS card through Pro Santé Connect ( psc-card )"


def test_an_unknown_code_is_shown_as_a_code(apps):
    client, clock = apps
    logged_in(client, clock, "dpi", {**MEDECIN, "activity": {"mode": "S", "sector": "SA99", "organization": "X"}})
    page = client.get("/dpi/").get_data(as_text=True)
    assert rows(page)["Secteur d'activité"] == "code SA99"
    assert '<code data-claim="activity.sector">SA99</code>' in page


def test_the_teleservice_login_button_leads_to_the_chooser_without_the_psc_mark(apps):
    client, _clock = apps
    teleservice = parse(client.get("/teleservice/").get_data(as_text=True)).find("a", id="login")
    assert teleservice.attr("data-login") == "chooser" and teleservice.text == "Se connecter"
    assert not teleservice.find_all(class_="psc-logo") and "psc-button" not in teleservice.attr("class")
    portail = parse(client.get("/portail/").get_data(as_text=True)).find("a", id="login")
    assert portail.attr("data-login") == "psc" and portail.find_all(class_="psc-logo")
    assert "Pro Santé Connect" in portail.text
