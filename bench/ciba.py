"""`python -m bench.ciba [--rounds 50]`: what CIBA costs at the bridge, relayed to PSC CIBA, per step.

Real parts, as tests/integration/test_ciba.py: the bridge served over HTTP in this process (store `memory://`,
audit to a file, the shipped policies: client dpi-lourd) and the PSC emulator over HTTP (its CIBA). The clocks
of both are moved, never slept on, so only the work is timed. Each round, as the thick client sees it:
  request   POST /bc-authorize          (the bridge authenticates the client and asks PSC CIBA: one PSC call)
  pending   POST /token, PSC asked      (one PSC token call answering authorization_pending)
  local     POST /token before PSC's interval (no PSC call: the bridge's record says pending)
  tokens    POST /token once approved   (PSC tokens, ID token + userinfo checked, policy, SSO session, tokens)
The approval itself (the professional on their phone) is instant here. Writes bench/results/ciba-<time>.json
(or --out DIR) and prints p50/p95/max per step. Timings depend on the machine.
"""
from __future__ import annotations

import argparse
import logging
import tempfile
from pathlib import Path

import requests

from bench.harness import RESULTS
from bench.steps import summary, timed, write_steps

GRANT = "urn:openid:params:grant-type:ciba"
AUTH = ("dpi-lourd", "dpi-lourd-secret")


def run(rounds: int, work: Path) -> dict:
    from bridge.clock import Clock
    from bridge.sandbox.psc import EmulatedClient, EmulatorConfig, serve
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
    steps: dict[str, list[float]] = {"request": [], "pending": [], "local": [], "tokens": []}

    def tick(seconds: float) -> None:
        clock.advance(seconds)
        psc.advance_clock(seconds)

    def poll(auth_req_id: str):
        return timed(lambda: requests.post(f"{server.url}/token", data={"grant_type": GRANT,
                                                                        "auth_req_id": auth_req_id}, auth=AUTH,
                                           timeout=30))
    try:
        requests.get(f"{server.url}/.well-known/openid-configuration", timeout=30)   # warm: discovery, JWKS
        for _ in range(rounds + 1):
            took, started = timed(lambda: requests.post(f"{server.url}/bc-authorize", auth=AUTH, timeout=30, data={
                "scope": "openid profile rpps", "login_hint": "899700000002", "binding_message": "42"}))
            auth_req_id = started.json()["auth_req_id"]
            local_took, local = poll(auth_req_id)               # PSC's interval not over: answered locally
            tick(6)
            pending_took, pending = poll(auth_req_id)           # the bridge asks PSC: pending
            requests.post(f"{psc.url}/_emulator/ciba", json={"login_hint": "899700000002", "decision": "approve"},
                          timeout=30)
            tick(6)
            tokens_took, tokens = poll(auth_req_id)
            if not (pending.json()["error"] == local.json()["error"] == "authorization_pending"
                    and "access_token" in tokens.json()):
                raise RuntimeError(f"unexpected answers: {pending.text} {local.text} {tokens.text[:200]}")
            if _ == 0:
                continue   # the first round warms the connection pools and the JWKS cache
            for name, value in (("request", took), ("pending", pending_took), ("local", local_took),
                                ("tokens", tokens_took)):
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
    with tempfile.TemporaryDirectory(prefix="bench-ciba-") as work:
        steps = run(args.rounds, Path(work))
    write_steps("ciba", steps, args.out, rounds=args.rounds)
    return 0

if __name__ == "__main__":
    raise SystemExit(main())
