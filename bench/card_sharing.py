"""`python -m bench.card_sharing`: the card agent next to the billing software, on a private pcscd + vpcd with a
two-slot virtual reader (carte Vitale in slot 0, CPS in slot 1). Needs root (private pcscd, as the tests) or a
running pcscd with the vpcd reader.

Reports, as JSON in bench/results/card-sharing-<time>.json and a few lines on stdout:
- `alone`: N logins (sign + proof verified by bridge.pki.verify_proof) with nobody else on the card;
- `shared`: the same while a second process (tests/support/billing.py) runs its own transactions on the CPS and on
  the carte Vitale: login latencies, failures, the billing program's transactions, broken dialogues and resets;
- `careless`: a billing program *without* transactions while the agent reads the card (statuses): how many of its
  dialogues broke (the reason for transactions);
- `removal`: card removal -> the agent's POST to <origin>/cps/removed (a local recorder), over R removals.
Timings depend on the machine (2 shared cores here): compare runs on one machine.
"""
from __future__ import annotations

import argparse
import base64
import json
import secrets
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

from bench.harness import RESULTS
from bench.steps import summary

ROOT = Path(__file__).resolve().parent.parent
PIN = "4729"
GAP = 0.15      # between two logins: a person takes seconds; pcsc-lite's lock waiters poll every 100 ms


def logins(agent_url: str, origin: str, trust, count: int) -> tuple[list[float], list]:
    from bridge import pki

    latencies, failures = [], []
    for _ in range(count):
        time.sleep(GAP)
        challenge = secrets.token_urlsafe(32)
        started = time.monotonic()
        answer = requests.post(f"{agent_url}/v1/sign", json={"challenge": challenge, "origin": origin, "pin": PIN},
                               headers={"Origin": origin}, timeout=60)
        latencies.append(time.monotonic() - started)
        if answer.status_code != 200:
            failures.append(answer.json())
            continue
        body = answer.json()
        pki.verify_proof(base64.b64decode(body["certificate"]), base64.b64decode(body["signature"]), origin,
                         challenge, trust, datetime.now(UTC), body["card"]["serial"])
    return latencies, failures


class Recorder(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        self.arrivals: list[float] = []
        self.event = threading.Event()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                recorder.arrivals.append(time.monotonic())
                recorder.event.set()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        super().__init__(("127.0.0.1", 0), Handler)


def removals(card, reader: str, port: int, count: int) -> dict:
    """Sign, watch, pull the card out: seconds until the agent's notice reached the recorder."""
    from bridge.card.agent import make_server
    from tests.support.pcsc import wait_card_state

    recorder = Recorder()
    threading.Thread(target=recorder.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{recorder.server_address[1]}"
    agent = make_server([origin], port=0)
    threading.Thread(target=agent.serve_forever, daemon=True).start()
    url, latencies = f"http://127.0.0.1:{agent.server_address[1]}", []
    try:
        for i in range(count):
            signed = {"challenge": secrets.token_urlsafe(32), "origin": origin, "pin": PIN}
            requests.post(f"{url}/v1/sign", headers={"Origin": origin}, json=signed, timeout=60).raise_for_status()
            requests.post(f"{url}/v1/watch", headers={"Origin": origin}, timeout=10,
                          json={"capability": f"bench-{i:04d}-" + "x" * 30, "reader": reader}).raise_for_status()
            recorder.event.clear()
            removed = time.monotonic()
            card.remove()
            if recorder.event.wait(10):
                latencies.append(recorder.arrivals[-1] - removed)
            wait_card_state(reader, False)
            card.insert(port)
            wait_card_state(reader, True)
    finally:
        agent.shutdown()
        agent.server_close()
        recorder.shutdown()
    return {**summary(latencies), "missed": count - len(latencies)}


def run(count: int, removal_count: int) -> dict:
    from bridge import pki
    from bridge.card.agent import make_server
    from bridge.sandbox.card import VirtualCard
    from bridge.sandbox.testpki import TestPki
    from bridge.sandbox.vitale import VirtualVitale
    from tests.support import billing
    from tests.support.pcsc import start_pcscd, stop_pcscd, wait_card_state

    work = Path(tempfile.mkdtemp(prefix="card-sharing-"))
    daemon = start_pcscd(work)
    test_pki = TestPki("bench", work / "pki")
    material = test_pki.card("899700000001")
    trust = pki.TrustStore.from_directory(test_pki.trust_dir(work / "trust"), test_pki.crl_dir(work / "crl"))
    (vitale_reader, vitale_port), (cps_reader, cps_port) = daemon.slot(0), daemon.slot(1)
    vitale, card = VirtualVitale(), VirtualCard(material, pin=PIN)
    origin = "https://bridge.example"
    agent = make_server([origin], port=0)
    threading.Thread(target=agent.serve_forever, daemon=True).start()
    agent_url, report = f"http://127.0.0.1:{agent.server_address[1]}", {"logins": count}
    try:
        vitale.insert(vitale_port)
        card.insert(cps_port)
        wait_card_state(vitale_reader, True)
        wait_card_state(cps_reader, True)
        latencies, failures = logins(agent_url, origin, trust, count)
        report["alone"] = {**summary(latencies), "failures": len(failures)}
        on_cps = billing.start("loop", "--reader", cps_reader, "--card", "cps", "--pan", material.pan.hex())
        on_vitale = billing.start("loop", "--reader", vitale_reader, "--card", "vitale")
        try:
            latencies, failures = logins(agent_url, origin, trust, count)
        finally:
            report["shared"] = {**summary(latencies), "failures": len(failures), "failure_codes": failures[:5],
                                "billing_cps": billing.stop(on_cps), "billing_vitale": billing.stop(on_vitale)}
        careless = billing.start("loop", "--reader", cps_reader, "--card", "cps", "--pan", material.pan.hex(),
                                 "--no-transactions", "--pause", "0.02", "--idle", "0.005")
        try:
            for _ in range(count):
                time.sleep(GAP)
                requests.get(f"{agent_url}/v1/status", headers={"Origin": origin}, timeout=30)
        finally:
            report["careless"] = {"statuses": count, "billing_cps": billing.stop(careless)}
        report["removal"] = removals(card, cps_reader, cps_port, removal_count)
    finally:
        agent.shutdown()
        agent.server_close()
        card.remove()
        vitale.remove()
        stop_pcscd(daemon)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logins", type=int, default=50)
    parser.add_argument("--removals", type=int, default=10)
    args = parser.parse_args(argv)
    report = {"time": datetime.now(UTC).isoformat(timespec="seconds"), **run(args.logins, args.removals)}
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"card-sharing-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    for name in ("alone", "shared", "careless", "removal"):
        print(f"{name:9s} {json.dumps(report[name])}")
    print(f"written to {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
