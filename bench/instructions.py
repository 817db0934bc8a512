"""`python -m bench.instructions [-n 300] [scenario ...]`: CPU instructions per request of the bridge's Flask app,
counted by valgrind (callgrind) in process: no gunicorn, no load generator, system calls not counted.

Throughput on a shared VM moves by ±10 points from one round to the next; these counts repeat within 0.3 %, so
they show what one change to the code buys (docs/performance.md). Redis and the PSC emulator run as for
`python -m bench`; the counted requests are the same as its scenarios' (one login gives the token).
Needs `valgrind` (Debian package valgrind); a run takes about a minute per scenario.
"""
from __future__ import annotations

import argparse
import base64
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile

SCENARIOS = ("introspection", "userinfo", "hello")


def count(scenario: str, requests: int) -> float:
    """Instructions per request: valgrind runs this module with --inside, which switches counting on around the
    measured requests only (not the imports, the stack's start or the login)."""
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={tmp}/callgrind.out",
             sys.executable, "-m", "bench.instructions", "--inside", "-n", str(requests), scenario],
            capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
    collected = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or collected is None or "measured" not in done.stdout:
        raise RuntimeError(f"{scenario}: valgrind run failed (exit {done.returncode}): {done.stderr[-2000:]}")
    return int(collected.group(1)) / requests


def inside(scenario: str, requests: int) -> None:
    import requests as http
    from werkzeug.test import EnvironBuilder

    from bench.harness import Stack
    from bench.scenarios import CLIENT, Context, login_flow

    with Stack(1, 1, "INFO") as stack:
        if scenario == "hello":
            from bench.hello import app
            environ = EnvironBuilder(path="/").get_environ()
        else:
            from app import create_app
            from bridge.config import load_settings

            token = login_flow(Context(stack.bridge_url, stack.hello_url, stack.psc_url),
                               http.Session())["access_token"]
            app = create_app(load_settings(stack.bridge_env()))
            basic = base64.b64encode(f"{CLIENT['client_id']}:{CLIENT['client_secret']}".encode()).decode()
            environ = (EnvironBuilder(path="/introspect", method="POST", data={"token": token},
                                      headers={"Authorization": f"Basic {basic}"}) if scenario == "introspection"
                       else EnvironBuilder(path="/userinfo",
                                           headers={"Authorization": f"Bearer {token}"})).get_environ()
        body = environ["wsgi.input"].read()
        statuses: list[str] = []

        def run(n: int) -> None:
            for _ in range(n):
                response = app({**environ, "wsgi.input": io.BytesIO(body)}, lambda status, *_: statuses.append(status))
                b"".join(response)
                response.close()

        stdout, sys.stderr = sys.stdout, open(os.devnull, "w")  # the request log is part of the count, not the output
        run(50)  # caches, connection pool, first-use imports
        subprocess.run(["callgrind_control", "-i", "on", str(os.getpid())], capture_output=True, check=True)
        run(requests)
        subprocess.run(["callgrind_control", "-i", "off", str(os.getpid())], capture_output=True, check=True)
        if not all(status.startswith("200") for status in statuses):
            raise SystemExit(f"{scenario}: unexpected statuses {sorted(set(statuses))}")
        print("measured", requests, file=stdout)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario", nargs="*", choices=SCENARIOS, help=f"default: {' '.join(SCENARIOS)}")
    parser.add_argument("-n", type=int, default=300, help="counted requests per scenario [300]")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside:
        inside(args.scenario[0], args.n)
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install -y valgrind)", file=sys.stderr)
        return 2
    for scenario in args.scenario or SCENARIOS:
        print(f"{scenario:14s} {count(scenario, args.n) / 1e6:6.3f} M instructions per request", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
