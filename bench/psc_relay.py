"""`python -m bench.psc_relay [--rounds 50]`: what the PSC token relay (RFC 8693 at /token) costs, per step.

Real parts, as tests/integration/test_psc_token_relay.py: the bridge served over HTTP in this process (store
`memory://`, audit to a file, the shipped policies: client dpi-lourd, which may exchange for urn:demo:dmp) and the
PSC emulator over HTTP. Each round logs dpi-lourd in by CIBA (untimed), then times, as the thick client sees it:
  kept       POST /token token-exchange, kept PSC token valid  (subject token check, decrypt: no PSC call)
  refresh    the same with < 30 s left on the kept token       (+ one PSC refresh call, encrypt, audit)
  logout     PSC's back-channel logout to the bridge           (logout token verified, SSO session ended, the
             app's back-channel logout queued), timed at the emulator's POST
The clocks of both are moved, never slept on. Writes bench/results/psc-relay-<time>.json (or --out DIR) and prints
p50/p95/max per step. Timings depend on the machine.
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import tempfile
import time
from pathlib import Path

import requests

from bench.harness import RESULTS
from bench.steps import summary, timed, write_steps

EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
AUTH = ("dpi-lourd", "dpi-lourd-secret")


def run(rounds: int, work: Path) -> dict:
    from bridge.clock import Clock
    from bridge.sandbox.psc import EmulatedClient, EmulatorConfig, serve
    from bridge.sandbox.psc.backchannel import end_and_notify
    from tests.support.bridge import start_bridge

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    psc = serve(EmulatorConfig(clients=[EmulatedClient("bridge-bench", "bridge-bench-secret", [])]))
    clock = Clock()
    server = start_bridge({
        "BRIDGE_STORE_URL": "memory://", "BRIDGE_SWEEP_INTERVAL": "0", "BRIDGE_LOG_LEVEL": "WARNING",
        "BRIDGE_RATE_LIMIT_AUTHORIZE": "off", "BRIDGE_RATE_LIMIT_TOKEN": "off",
        "BRIDGE_RATE_LIMIT_TOKEN_FAILURES": "off", "BRIDGE_KEYS_DIR": str(work / "keys"),
        "BRIDGE_AUDIT_PATH": str(work / "audit.jsonl"), "BRIDGE_PSC_DISCOVERY_URL": psc.discovery_url,
        "BRIDGE_PSC_CLIENT_ID": "bridge-bench", "BRIDGE_PSC_CLIENT_SECRET": "bridge-bench-secret"}, clock=clock)
    emu = psc.emulator
    emu.config = dataclasses.replace(emu.config, clients=(dataclasses.replace(
        emu.config.clients[0], backchannel_logout_uri=f"{server.url}/psc/backchannel-logout"),))
    steps: dict[str, list[float]] = {"kept": [], "refresh": [], "logout": []}

    def tick(seconds: float) -> None:
        clock.advance(seconds)
        psc.advance_clock(seconds)

    def exchange(subject: str):
        return timed(lambda: requests.post(f"{server.url}/token", auth=AUTH, timeout=30, data={
            "grant_type": EXCHANGE, "subject_token": subject, "audience": "urn:demo:dmp",
            "subject_token_type": "urn:ietf:params:oauth:token-type:access_token"}))

    try:
        for round_ in range(rounds + 1):
            started = requests.post(f"{server.url}/bc-authorize", auth=AUTH, timeout=30, data={
                "scope": "openid profile rpps", "login_hint": "899700000002", "binding_message": "42"}).json()
            requests.post(f"{psc.url}/_emulator/ciba", json={"login_hint": "899700000002", "decision": "approve"},
                          timeout=30)
            tick(6)
            tokens = requests.post(f"{server.url}/token", auth=AUTH, timeout=30, data={
                "grant_type": "urn:openid:params:grant-type:ciba", "auth_req_id": started["auth_req_id"]}).json()
            kept_took, kept = exchange(tokens["access_token"])
            tick(95)   # the kept PSC token (120 s) has < 30 s left
            refresh_took, refreshed = exchange(tokens["access_token"])
            psc_sid = emu.state.live_sessions_of("899700000002")[0]
            start = time.perf_counter()
            delivered = end_and_notify(emu, psc_sid)
            logout_took = time.perf_counter() - start
            server.bridge.backchannel.wait()
            if kept.status_code != 200 or refreshed.status_code != 200 or list(delivered.values()) != [200] \
                    or kept.json()["access_token"] == refreshed.json()["access_token"]:
                raise RuntimeError(f"unexpected answers: {kept.text[:200]} {refreshed.text[:200]} {delivered}")
            if round_ == 0:
                continue   # the first round warms the connection pools and the JWKS cache
            for name, value in (("kept", kept_took), ("refresh", refresh_took), ("logout", logout_took)):
                steps[name].append(value)
    finally:
        server.stop()
        psc.stop()
    return {name: summary(values) for name, values in steps.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-psc-relay-") as work:
        steps = run(args.rounds, Path(work))
    write_steps("psc_relay", steps, args.out, rounds=args.rounds)
    return 0

if __name__ == "__main__":
    raise SystemExit(main())
