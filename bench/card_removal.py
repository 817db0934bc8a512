"""`python -m bench.card_removal [--rounds 10]`: card removal -> back-channel logout at the app, end to end.

Real parts, as tests/integration/test_card_removal_chain.py: a private pcscd + vpcd with the two-slot virtual reader
(carte Vitale in slot 0, the virtual CPS in slot 1), the card agent (in this process, as bench/card_sharing.py),
the bridge served over HTTP in this process (store `memory://`, audit to a file, the shipped policies with the demo
apps' URLs pointing at a local receiver) and a receiver playing the teleservice app's back-channel logout endpoint.
No PSC is needed: a card login never calls it.

Each round: a card login through the agent (/v1/sign, the proof posted like cps-login.js), the capability of the
bridge's hand-off page (templates/card_watch.html) posted to the agent's /v1/watch exactly as static/card-watch.js
does, the code exchanged by the app; then the CPS is pulled out and the clock runs until the receiver holds a
logout token, signed by the bridge, for that session's sid. `ended` is when the bridge ended the session (its
Sessions listener, called before the back-channel logout is queued). The removal comes a random 0-0.5 s after the
login, so that removals fall anywhere in pcscd's poll cycle. The card goes back in between rounds.

Writes bench/results/card-removal-<time>.json (or --out DIR) and prints p50/p95/max. Needs root for the private
pcscd (as the tests), or a running pcscd with the vpcd reader. Timings depend on the machine: pcscd polls the vpcd
slots every ~0.4 s and the agent's SCardGetStatusChange wakes on its report, which dominates the figures.
"""
from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import platform
import random
import re
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import unescape
from pathlib import Path

import requests

from bench.harness import RESULTS
from bench.steps import summary

ROOT = Path(__file__).resolve().parent.parent
PIN = "4729"
SERIAL = "899700000001"
LOGOUT_PATH = "/teleservice/backchannel-logout"
PHASE = 0.5          # the removal comes 0-0.5 s after the login: anywhere in pcscd's ~0.4 s poll of the slot
WAIT = 15.0          # seconds a round waits for the logout token before counting it missed
BACKCHANNEL_LOGOUT = "http://schemas.openid.net/event/backchannel-logout"


class Arrivals(list):
    """Receiver.received that stamps each back-channel POST with the time it reached the app."""

    def __init__(self):
        super().__init__()
        self.times: list[float] = []
        self.changed = threading.Condition()

    def append(self, item) -> None:
        arrived = time.monotonic()
        with self.changed:
            super().append(item)
            self.times.append(arrived)
            self.changed.notify_all()


@dataclass
class Rig:
    work: Path
    daemon: object
    receiver: object
    server: object
    agent: object
    agent_url: str
    card: object
    vitale: object
    reader: str
    port: int
    ended: dict[str, float] = field(default_factory=dict)   # sid -> when the bridge ended it (card_removed)


def start(work: Path) -> Rig:
    """pcscd + both cards, the receiver, the bridge (in process, memory store), the agent; pcscd is stopped if
    anything after it fails."""
    from tests.support.pcsc import start_pcscd, stop_pcscd

    daemon = start_pcscd(work)
    try:
        return _start_on(work, daemon)
    except BaseException:
        stop_pcscd(daemon)
        raise


def _start_on(work: Path, daemon) -> Rig:
    from bridge.card.agent import make_server
    from bridge.sandbox.card import VirtualCard
    from bridge.sandbox.testpki import TestPki
    from bridge.sandbox.vitale import VirtualVitale
    from tests.support.bridge import Receiver, rewrite_policies, start_bridge
    from tests.support.pcsc import wait_card_state

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    pki = TestPki("bench", work / "pki")
    (vitale_reader, vitale_port), (reader, port) = daemon.slot(0), daemon.slot(1)
    vitale, card = VirtualVitale(), VirtualCard(pki.card(SERIAL), pin=PIN)
    vitale.insert(vitale_port)
    card.insert(port)
    receiver = Receiver()
    receiver.received = Arrivals()
    server = start_bridge({
        "BRIDGE_STORE_URL": "memory://", "BRIDGE_SWEEP_INTERVAL": "0", "BRIDGE_LOG_LEVEL": "WARNING",
        "BRIDGE_RATE_LIMIT_AUTHORIZE": "off", "BRIDGE_RATE_LIMIT_TOKEN": "off",
        "BRIDGE_KEYS_DIR": str(work / "keys"), "BRIDGE_AUDIT_PATH": str(work / "audit.jsonl"),
        "BRIDGE_TRUST_DIR": str(pki.trust_dir(work / "trust")), "BRIDGE_CRL_DIR": str(pki.crl_dir(work / "crl")),
        "BRIDGE_POLICIES_DIR": str(rewrite_policies(work / "policies", receiver.url))})
    agent = make_server([server.url], port=0)
    threading.Thread(target=agent.serve_forever, daemon=True).start()
    rig = Rig(work, daemon, receiver, server, agent, f"http://127.0.0.1:{agent.server_address[1]}", card, vitale,
              reader, port)

    def ended(sid, _clients, reason, _session=None):
        if reason == "card_removed":
            rig.ended[sid] = time.monotonic()

    server.bridge.sessions.listeners.insert(0, ended)   # before the back-channel logout is queued
    wait_card_state(vitale_reader, True)
    wait_card_state(reader, True)
    return rig


def stop(rig: Rig) -> None:
    from tests.support.pcsc import stop_pcscd

    try:
        rig.agent.shutdown()
        rig.agent.server_close()
        rig.server.stop()
        rig.receiver.server.shutdown()
        rig.card.remove()
        rig.vitale.remove()
    finally:
        stop_pcscd(rig.daemon)


def login(rig: Rig) -> str:
    """One card login through the agent whose hand-off page's capability goes to the agent's /v1/watch; the app
    exchanges its code. Returns the SSO session's sid."""
    from bridge.sessions import COOKIE
    from tests.integration.test_cps_login import TELESERVICE, CpsBrowser
    from tests.support.bridge import at

    origin = rig.server.url
    browser = CpsBrowser(rig.server, client=at(rig.receiver.url, TELESERVICE))
    browser.start()
    browser.page()
    issued = browser.new_challenge()
    signed = requests.post(f"{rig.agent_url}/v1/sign", headers={"Origin": origin}, timeout=60, json={
        "challenge": issued["challenge"], "origin": issued["origin"], "pin": PIN})
    signed.raise_for_status()
    body = signed.json()
    page = browser.post_proof(issued["challenge"], base64.b64decode(body["certificate"]),
                              base64.b64decode(body["signature"]), body["card"], card_reader=body["card"]["reader"])
    if page.status_code != 200 or 'id="card-watch"' not in page.text:
        raise RuntimeError(f"no card watch page after the proof: {page.status_code} {page.text[:300]}")
    handoff = {"capability": unescape(re.search(r'data-capability="([^"]+)"', page.text).group(1))}
    reader = unescape(re.search(r'data-reader="([^"]*)"', page.text).group(1))
    if reader:                                        # card-watch.js sends the reader only when the page has one
        handoff["reader"] = reader
    watch = requests.post(f"{rig.agent_url}/v1/watch", headers={"Origin": origin}, json=handoff, timeout=10)
    if watch.status_code != 202:
        raise RuntimeError(f"the agent refused the watch: {watch.status_code} {watch.text[:300]}")
    browser.app.exchange(browser.code(page)["code"])
    return rig.server.bridge.sessions.load(browser.http.cookies[COOKIE]).sid


def logout_for(rig: Rig, keys, sid: str, since: int, deadline: float) -> float | None:
    """When the first logout token for `sid` (signed by the bridge: `keys`) among the receiver's POSTs from index
    `since` reached it."""
    from joserfc import jwt

    arrivals, seen = rig.receiver.received, since
    while True:
        with arrivals.changed:
            arrivals.changed.wait_for(lambda n=seen: len(arrivals) > n or time.monotonic() >= deadline,
                                      timeout=max(0.0, deadline - time.monotonic()))
            fresh = [(arrivals[i], arrivals.times[i]) for i in range(seen, len(arrivals))]
        seen += len(fresh)
        for (path, token), arrived in fresh:
            claims = jwt.decode(token, keys).claims if path.startswith(LOGOUT_PATH) else {}
            if claims.get("sid") == sid and BACKCHANNEL_LOGOUT in claims.get("events", {}):
                return arrived
        if not fresh and time.monotonic() >= deadline:
            return None


def one_round(rig: Rig) -> dict:
    """Login, pull the CPS out, wait for its session's logout token at the app, put the card back."""
    from joserfc.jwk import KeySet

    from tests.support.pcsc import wait_card_state

    sid = login(rig)
    keys = KeySet.import_key_set(requests.get(f"{rig.server.url}/jwks", timeout=10).json())
    since = len(rig.receiver.received)
    time.sleep(random.uniform(0, PHASE))              # a hand is not in step with pcscd's polling
    removed = time.monotonic()
    rig.card.remove()
    arrived = logout_for(rig, keys, sid, since, removed + WAIT)
    ended = rig.ended.get(sid)
    wait_card_state(rig.reader, False)
    rig.card.insert(rig.port)
    wait_card_state(rig.reader, True)
    return {"sid": sid[:8], "logout_s": None if arrived is None else round(arrived - removed, 4),
            "ended_s": None if ended is None else round(ended - removed, 4)}


def run(rounds: int) -> dict:
    work = Path(tempfile.mkdtemp(prefix="card-removal-"))
    rig = start(work)
    results = []
    try:
        for number in range(1, rounds + 1):
            results.append(one_round(rig))
            print(f"round {number}: {json.dumps(results[-1])}", flush=True)
    finally:
        stop(rig)
    logouts = [r["logout_s"] for r in results if r["logout_s"] is not None]
    ended = [r["ended_s"] for r in results if r["ended_s"] is not None]
    return {"rounds": rounds, "store": "memory://",
            "removal_to_logout": {**summary(logouts), "missed": rounds - len(logouts)},
            "removal_to_session_end": {**summary(ended), "missed": rounds - len(ended)},
            "samples": results}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--out", type=Path, default=RESULTS, help="directory of the JSON report")
    args = parser.parse_args(argv)
    started = datetime.now(UTC)
    report = {"time": started.isoformat(timespec="seconds"),
              "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()},
              **run(args.rounds)}
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"card-removal-{started:%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    for name in ("removal_to_session_end", "removal_to_logout"):
        print(f"{name:23s} {json.dumps(report[name])}")
    print(f"written to {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
