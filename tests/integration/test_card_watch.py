"""The agent side of card removal (docs/card.md "Card removal"): POST /v1/watch, then the
removal notice to <origin>/cps/removed when the card that signed leaves its slot. A small local HTTP server plays
the bridge's endpoint and records what reaches it."""
from __future__ import annotations

import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from bridge.card.watch import post_removal
from tests.support.pcsc import wait_card_state

PIN = "4729"
CHALLENGE = "Zq7wXyT4Ak3J9b2xQ0f1s8"
CAPABILITY = "cap1-" + "A" * 38
OTHER_CAPABILITY = "cap2-" + "B" * 38


class Recorder(ThreadingHTTPServer):
    """The bridge's /cps/removed: records each POST; answers the next status of `answers` (then 200)."""
    daemon_threads = True

    def __init__(self, answers=()):
        self.notices: list[tuple[str, dict, float]] = []
        self.answers = list(answers)
        self.arrived = threading.Condition()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(handler):   # noqa: N805 - the server is `self` here
                body = json.loads(handler.rfile.read(int(handler.headers["Content-Length"])))
                status = self.answers.pop(0) if self.answers else 200
                with self.arrived:
                    self.notices.append((handler.path, body, time.monotonic()))
                    self.arrived.notify_all()
                data = json.dumps({"ended": status == 200}).encode()
                handler.send_response(status)
                handler.send_header("Content-Type", "application/json")
                handler.send_header("Content-Length", str(len(data)))
                handler.end_headers()
                handler.wfile.write(data)

        super().__init__(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server_address[1]}"

    def wait_for(self, count: int, timeout: float = 10) -> list:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.notices) >= count, timeout)
            return list(self.notices)


@pytest.fixture
def bridge_endpoint():
    servers = []

    def start(answers=()):
        server = Recorder(answers)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def sign(agent, origin: str, reader: str | None = None) -> dict:
    body = {"challenge": CHALLENGE, "origin": origin, "pin": PIN, **({"reader": reader} if reader else {})}
    response = requests.post(f"{agent.url}/v1/sign", json=body, headers={"Origin": origin}, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def watch(agent, origin: str, reader: str, capability: str = CAPABILITY) -> requests.Response:
    return requests.post(f"{agent.url}/v1/watch", json={"capability": capability, "reader": reader},
                         headers={"Origin": origin}, timeout=10)


def test_removing_the_card_sends_every_watch_once(card_agent, insert_card, bridge_endpoint, caplog):
    caplog.set_level(logging.DEBUG)
    bridge = bridge_endpoint()
    agent = card_agent([bridge.origin])
    virtual = insert_card(pin=PIN)
    reader = sign(agent, bridge.origin)["card"]["reader"]
    first = watch(agent, bridge.origin, reader)
    assert first.status_code == 202 and first.json() == {"watching": True}
    assert first.headers["Access-Control-Allow-Origin"] == bridge.origin
    assert watch(agent, bridge.origin, reader, OTHER_CAPABILITY).status_code == 202   # a second login of the card
    assert watch(agent, bridge.origin, reader).status_code == 202                     # the same one again: once
    sign(agent, bridge.origin)          # another login with the card: its dialogue resets the card, not a removal
    time.sleep(0.5)
    assert bridge.notices == []
    removed_at = time.monotonic()
    virtual.remove()
    notices = bridge.wait_for(2)
    assert sorted((path, body["capability"]) for path, body, _ in notices) == [
        ("/cps/removed", CAPABILITY), ("/cps/removed", OTHER_CAPABILITY)]
    print(f"\nremoval -> notice: {max(at for *_, at in notices) - removed_at:.2f} s")
    virtual.insert(virtual._address[1])     # reinserting revives nothing
    wait_card_state(reader, True)
    time.sleep(1.0)
    assert len(bridge.notices) == 2
    assert CAPABILITY not in caplog.text and OTHER_CAPABILITY not in caplog.text
    assert CAPABILITY[:6] in caplog.text


def test_removing_another_card_changes_nothing(card_agent, insert_card, insert_vitale, bridge_endpoint, test_pki,
                                               pcscd):
    bridge = bridge_endpoint()
    agent = card_agent([bridge.origin])
    vitale = insert_vitale(slot=0)
    cps = insert_card(test_pki.card("899700000001"), slot=1, pin=PIN)
    reader = sign(agent, bridge.origin)["card"]["reader"]
    assert reader == pcscd.slot(1)[0]
    assert watch(agent, bridge.origin, reader).status_code == 202
    vitale.remove()
    wait_card_state(pcscd.slot(0)[0], False)
    time.sleep(1.0)
    assert bridge.notices == []
    cps.remove()
    assert [body for _, body, _ in bridge.wait_for(1)] == [{"capability": CAPABILITY}]


def test_another_card_in_the_slot_ends_the_watch(card_agent, insert_card, bridge_endpoint, test_pki, pcscd):
    bridge = bridge_endpoint()
    agent = card_agent([bridge.origin])
    paul = insert_card(test_pki.card("899700000001"), pin=PIN)
    assert watch(agent, bridge.origin, sign(agent, bridge.origin)["card"]["reader"]).status_code == 202
    paul.remove()
    insert_card(test_pki.card("899700000002"), pin=PIN)      # swapped for someone else's card
    assert len(bridge.wait_for(1)) == 1


def test_watch_for_a_card_no_longer_there(card_agent, insert_card, bridge_endpoint, pcscd):
    bridge = bridge_endpoint()
    agent = card_agent([bridge.origin])
    virtual = insert_card(pin=PIN)
    none_signed = watch(agent, bridge.origin, pcscd.reader)
    assert none_signed.status_code == 409 and none_signed.json() == {"error": "no_card"}
    reader = sign(agent, bridge.origin)["card"]["reader"]
    virtual.remove()
    wait_card_state(reader, False)
    gone = watch(agent, bridge.origin, reader)
    assert gone.status_code == 409 and gone.json() == {"error": "card_removed"}
    virtual.insert(virtual._address[1])
    wait_card_state(reader, True)
    back = watch(agent, bridge.origin, reader)       # the same card, but it left since it signed
    assert back.status_code == 409 and back.json() == {"error": "card_removed"}
    assert bridge.notices == []


@pytest.mark.parametrize("body", [{"capability": "short", "reader": "Virtual PCD 00 00"},
                                  {"capability": "x" * 201, "reader": "Virtual PCD 00 00"},
                                  {"capability": "has space and more than twenty", "reader": "Virtual PCD 00 00"},
                                  {"capability": CAPABILITY},
                                  {"capability": CAPABILITY, "reader": ""},
                                  {"capability": 12345678901234567890123, "reader": "Virtual PCD 00 00"}])
def test_malformed_watches(card_agent, body):
    agent = card_agent(["https://bridge.example"])
    response = requests.post(f"{agent.url}/v1/watch", json=body, headers={"Origin": "https://bridge.example"},
                             timeout=5)
    assert response.status_code == 400 and response.json() == {"error": "bad_request"}


def test_watch_has_the_guards_of_sign(card_agent):
    agent = card_agent(["https://bridge.example"])
    body = {"capability": CAPABILITY, "reader": "Virtual PCD 00 00"}
    foreign = requests.post(f"{agent.url}/v1/watch", json=body, headers={"Origin": "https://evil.example"}, timeout=5)
    assert foreign.status_code == 403 and foreign.json() == {"error": "origin_not_allowed"}
    form = requests.post(f"{agent.url}/v1/watch", data=body, headers={"Origin": "https://bridge.example"}, timeout=5)
    assert form.status_code == 415
    rebinding = requests.post(f"{agent.url}/v1/watch", json=body, timeout=5,
                              headers={"Origin": "https://bridge.example", "Host": "evil.example"})
    assert rebinding.status_code == 403
    assert requests.get(f"{agent.url}/v1/watch", headers={"Origin": "https://bridge.example"},
                        timeout=5).status_code == 405


def test_notices_are_retried_when_the_bridge_fails_not_when_it_refuses(bridge_endpoint):
    flaky = bridge_endpoint(answers=[503, 502])
    assert post_removal(flaky.origin, CAPABILITY, pauses=(0.05, 0.05)) == 200
    assert len(flaky.notices) == 3
    refusing = bridge_endpoint(answers=[404])
    assert post_removal(refusing.origin, CAPABILITY, pauses=(0.05, 0.05)) == 404
    assert len(refusing.notices) == 1          # unknown capability: trying again changes nothing
    down = bridge_endpoint(answers=[503, 503, 503, 503])
    assert post_removal(down.origin, CAPABILITY, pauses=(0.05, 0.05)) is None
    assert len(down.notices) == 3              # bounded
