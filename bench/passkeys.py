"""`python -m bench.passkeys [-n N]`: what a passkey costs the bridge (bridge.upstream.fido), in process, with the
software authenticator of the tests (tests/support/fido.py) and the memory store (no network: the store's round
trips are measured by the live benches).

Reports p50/p95 of `registration_options` + `register` (enrolment) and of `authentication_options` + `verify` (a
login: challenge, flags, counter, ES256 signature, key update), as JSON in bench/results/passkeys-<time>.json and a
few lines on stdout. Timings depend on the machine (2 shared cores here): compare runs on one machine.
"""
from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime

from bench.harness import RESULTS
from bench.steps import summary, timed
from bridge.clock import Clock
from bridge.config import load_settings
from bridge.model import Authentication, Identity
from bridge.sessions import Sessions
from bridge.store.memory import MemoryStore
from bridge.upstream.fido import Passkeys
from tests.support.fido import SoftKey

ORIGIN = "http://localhost:8000"


def main(n: int) -> dict:
    clock = Clock()
    store = MemoryStore(clock)
    keys, sessions = Passkeys(store, clock, load_settings({"BRIDGE_PUBLIC_URL": ORIGIN})), Sessions(store, clock)
    enrol, login = [], []
    for i in range(n):
        session = sessions.create(Authentication(identity=Identity(national_id=f"8{i:010d}"), mie="psc-card",
                                                 amr=("mfa",), acr="eidas2", auth_time=int(clock.now()),
                                                 upstream="psc"))
        soft = SoftKey()
        # Only the bridge's calls are timed: the authenticator's part (a real key) is left out.
        spent, options = timed(keys.registration_options, session)
        credential = soft.register(options, origin=ORIGIN)
        enrol.append(spent + timed(keys.register, session, credential, "bench")[0])
        spent, options = timed(keys.authentication_options, f"txn-{i}")
        assertion = soft.assert_(options, origin=ORIGIN)
        login.append(spent + timed(keys.verify, f"txn-{i}", assertion)[0])
    result = {"enrol": summary(enrol, 3), "login": summary(login, 3), "at": datetime.now(UTC).isoformat()}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"passkeys-{datetime.now(UTC):%Y%m%dT%H%M%S}.json").write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=300)
    found = main(parser.parse_args().n)
    print(f"enrolment (bridge side): p50 {found['enrol']['p50_ms']} ms, p95 {found['enrol']['p95_ms']} ms")
    print(f"login (bridge side):     p50 {found['login']['p50_ms']} ms, p95 {found['login']['p95_ms']} ms")
