"""Card removal end to end with real parts: a card login through the agent (pcscd + vpcd, a carte Vitale in the
other slot), the bridge's watch page hands the capability to the agent, the virtual CPS is pulled out, and the
back-channel logout reaches the app (bounded wait). Removing the carte Vitale first changes nothing."""
from __future__ import annotations

import base64
import re
import time
from html import unescape

import requests
from joserfc import jwt
from joserfc.jwk import KeySet

from bridge.sessions import COOKIE
from tests.integration.test_cps_login import TELESERVICE, CpsBrowser
from tests.support.bridge import at, rewrite_policies
from tests.support.pcsc import wait_card_state

PIN = "4729"


def test_pulling_the_card_out_logs_the_apps_out(bridge_factory, receiver, tmp_path, test_pki, card_agent,
                                                insert_card, insert_vitale, pcscd):
    policies = rewrite_policies(tmp_path / "policies", receiver.url)
    server = bridge_factory(env={"BRIDGE_TRUST_DIR": str(test_pki.trust_dir()),
                                 "BRIDGE_CRL_DIR": str(test_pki.crl_dir()), "BRIDGE_POLICIES_DIR": str(policies)})
    vitale = insert_vitale(slot=0)
    card = insert_card(test_pki.card("899700000001"), slot=1, pin=PIN)
    agent = card_agent([server.url])
    browser = CpsBrowser(server, client=at(receiver.url, TELESERVICE))
    browser.start()
    browser.page()
    issued = browser.new_challenge()
    signed = requests.post(f"{agent.url}/v1/sign", headers={"Origin": server.url}, timeout=60, json={
        "challenge": issued["challenge"], "origin": issued["origin"], "pin": PIN}).json()
    page = browser.post_proof(issued["challenge"], base64.b64decode(signed["certificate"]),
                              base64.b64decode(signed["signature"]), signed["card"],
                              card_reader=signed["card"]["reader"])
    assert page.status_code == 200 and 'id="card-watch"' in page.text, page.text[:500]
    # What templates/card_watch.html's script sends to the agent.
    capability = unescape(re.search(r'data-capability="([^"]+)"', page.text).group(1))
    reader = unescape(re.search(r'data-reader="([^"]*)"', page.text).group(1))
    assert reader == pcscd.slot(1)[0]
    watch = requests.post(f"{agent.url}/v1/watch", headers={"Origin": server.url}, timeout=10,
                          json={"capability": capability, "reader": reader})
    assert watch.status_code == 202, watch.text
    browser.app.exchange(browser.code(page)["code"])
    sid = server.bridge.sessions.load(browser.http.cookies[COOKIE]).sid

    vitale.remove()                                  # the patient's card leaves: nothing happens
    wait_card_state(pcscd.slot(0)[0], False)
    time.sleep(1.0)
    assert server.bridge.sessions.load(browser.http.cookies[COOKIE]) is not None
    assert receiver.tokens_for("/teleservice/backchannel-logout") == []

    removed_at = time.monotonic()
    card.remove()                                    # the professional's card leaves: the session ends
    deadline = removed_at + 15
    while not receiver.tokens_for("/teleservice/backchannel-logout") and time.monotonic() < deadline:
        time.sleep(0.05)
    latency = time.monotonic() - removed_at
    tokens = receiver.tokens_for("/teleservice/backchannel-logout")
    assert len(tokens) == 1, "no back-channel logout within 15 s of the removal"
    print(f"\ncard removal -> back-channel logout at the app: {latency:.2f} s")
    assert server.bridge.sessions.load(browser.http.cookies[COOKIE]) is None
    keys = KeySet.import_key_set(requests.get(f"{server.url}/jwks", timeout=10).json())
    assert jwt.decode(tokens[0], keys).claims["sid"] == sid
