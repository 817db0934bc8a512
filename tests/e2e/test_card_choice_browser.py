"""A real chromium on the card page with a two-slot reader: the carte Vitale alone gets « no CPS card », two CPS
cards get a choice by holder and card number, and the chosen card logs in (the proof names the reader it used, for
the card removal watch)."""
from __future__ import annotations

import threading
from urllib.parse import parse_qs

import pytest
from werkzeug.serving import make_server

from bridge.web.messages import message
from tests.support.axe import check_page
from tests.support.bridge import rewrite_policies, start_bridge

PIN = "4729"
pytestmark = pytest.mark.e2e


@pytest.fixture
def stack(tmp_path, redis_url, psc_emulator_factory, test_pki, card_agent):
    """Demo apps + bridge (test PKI, agent URL) + PSC emulator + agent; the test inserts the cards."""
    from bridge.sandbox.apps import create_demo_apps
    from bridge.sandbox.psc import EmulatedClient

    apps_server = make_server("127.0.0.1", 0, None, threaded=True)
    apps_url = f"http://127.0.0.1:{apps_server.port}"
    bridge_reserved = make_server("127.0.0.1", 0, None, threaded=True)
    bridge_url = f"http://127.0.0.1:{bridge_reserved.port}"
    agent = card_agent([bridge_url])
    psc = psc_emulator_factory(clients=[EmulatedClient(
        client_id="bridge-test", secret="bridge-test-secret", redirect_uris=[f"{bridge_url}/psc/callback"],
        post_logout_redirect_uris=[f"{bridge_url}/logout/done"])])
    bridge = start_bridge({"BRIDGE_STORE_URL": redis_url, "BRIDGE_KEYS_DIR": str(tmp_path / "keys"),
                           "BRIDGE_POLICIES_DIR": str(rewrite_policies(tmp_path / "policies", apps_url)),
                           "BRIDGE_PSC_DISCOVERY_URL": psc.discovery_url, "BRIDGE_PSC_CLIENT_ID": "bridge-test",
                           "BRIDGE_PSC_CLIENT_SECRET": "bridge-test-secret",
                           "BRIDGE_TRUST_DIR": str(test_pki.trust_dir()), "BRIDGE_CRL_DIR": str(test_pki.crl_dir()),
                           "BRIDGE_AGENT_URL": agent.url}, reserved=bridge_reserved)
    apps_server.app = create_demo_apps(bridge_url, apps_url)
    threading.Thread(target=apps_server.serve_forever, daemon=True).start()
    yield {"apps": apps_url, "bridge": bridge_url, "agent": agent.url}
    apps_server.shutdown()
    bridge.stop()


def open_card_page(page, stack):
    page.goto(f"{stack['apps']}/teleservice/")
    page.click("#login")
    page.wait_for_selector("a[data-mie='cps-pin']")
    page.click("a[data-mie='cps-pin']")


def test_a_vitale_card_alone_is_not_taken_for_a_cps(stack, page, insert_vitale):
    insert_vitale(slot=0)
    open_card_page(page, stack)
    page.wait_for_selector("#cps-state[data-state='no_cps_card']")
    assert page.inner_text("#cps-state") == message("no_cps_card")
    assert page.is_disabled("#cps-pin") and page.is_hidden("#cps-choose")
    check_page(page, "card page, carte Vitale only")


def test_two_cps_cards_the_user_chooses_by_holder_and_card_number(stack, page, insert_card, test_pki, pcscd):
    paul = test_pki.card("899700000001", family_name="MEDECIN", given_name="PAUL")
    jeanne = test_pki.card("899700000002", family_name="INFIRMIERE", given_name="JEANNE")
    insert_card(paul, slot=0, pin="1111")
    insert_card(jeanne, slot=1, pin=PIN)
    sent = []
    page.on("request", lambda request: sent.append((request.url, request.post_data or "")))
    open_card_page(page, stack)
    page.wait_for_selector("#cps-state[data-state='several_cards']")
    assert page.is_disabled("#cps-pin")
    labels = page.inner_text("#cps-choices")
    assert f"PAUL MEDECIN — Numéro de carte {paul.serial}" in labels
    assert f"JEANNE INFIRMIERE — Numéro de carte {jeanne.serial}" in labels
    check_page(page, "card page, two CPS cards to choose from")
    page.check(f"#cps-choices label[data-reader='{pcscd.slot(1)[0]}'] input")
    page.wait_for_selector("#cps-pin:enabled")
    assert page.inner_text("#cps-card-holder") == "JEANNE INFIRMIERE"
    assert page.inner_text("#cps-card-serial") == jeanne.serial
    page.fill("#cps-pin", PIN)
    page.click("#cps-submit")
    page.wait_for_selector("#welcome")
    assert page.inner_text("[data-claim=sub]") == "899700000002"
    proof = next(parse_qs(body) for url, body in sent if url.endswith("/login/cps/proof"))
    assert proof["card_reader"] == [pcscd.slot(1)[0]] and proof["card_serial"] == [jeanne.serial]
