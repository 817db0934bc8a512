"""`python -m bench.instructions [-n 300] [scenario ...]`: CPU instructions per request of the bridge's Flask app,
counted by valgrind (callgrind) in process: no gunicorn, no load generator, system calls not counted.

`login_flow` counts per complete login instead (the 7 requests of bench.scenarios.login_flow, audit file on), and
only the bridge's share: its five requests are WSGI calls in the counted process (with the bridge's own calls to
PSC's token and userinfo endpoints as a client), while the browser's two visits to the PSC emulator (login page,
form post) are made by a helper process valgrind does not follow, and the emulator runs in its own process too.
It also prints the store round trips and the outgoing HTTP calls per flow (counted in uncounted warm-up flows).
`--profile` runs the same in process under cProfile instead of valgrind (a quick look at where the time goes).

Throughput on a shared VM moves by ±10 points from one round to the next; these counts repeat within 0.3 %, so
they show what one change to the code buys (docs/performance.md). Redis and the PSC emulator run as for
`python -m bench`; the counted requests are the same as its scenarios' (one login gives the token).
Needs `valgrind` (Debian package valgrind); a run takes about a minute per scenario.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import io
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile

SCENARIOS = ("login_flow", "introspection", "userinfo", "hello")
FLOWS = 20   # counted logins (-n counts requests for the other scenarios)
# The browser's side at PSC, in a helper process: reads the PSC authorize URL, prints the callback URL.
_BROWSER_AT_PSC = """
import sys
from html import unescape
from urllib.parse import urljoin
import requests
from bench.scenarios import _FORM, _HIDDEN, AUTH_MODE, USER
for url in sys.stdin:
    http = requests.Session()
    page = http.get(url.strip(), allow_redirects=False, timeout=30)
    fields = {unescape(k): unescape(v) for k, v in _HIDDEN.findall(page.text)}
    sent = http.post(urljoin(page.url, unescape(_FORM.search(page.text).group(1))), allow_redirects=False,
                     data={**fields, "user": USER, "auth_mode": AUTH_MODE, "action": "login"}, timeout=30)
    print(urljoin(page.url, sent.headers["Location"]), flush=True)
"""


def count(scenario: str, requests: int, id_token_alg: str = "") -> float:
    """Instructions per request (per flow for login_flow): valgrind runs this module with --inside, which switches
    counting on around the measured requests only (not the imports, the stack's start or the login)."""
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={tmp}/callgrind.out",
             sys.executable, "-m", "bench.instructions", "--inside", "-n", str(requests), scenario,
             *(["--id-token-alg", id_token_alg] if id_token_alg else [])],
            capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
    collected = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or collected is None or "measured" not in done.stdout:
        raise RuntimeError(f"{scenario}: valgrind run failed (exit {done.returncode}): {done.stderr[-2000:]}")
    for line in done.stdout.splitlines():
        if not line.startswith("measured"):
            print(f"  {scenario}: {line}")
    return int(collected.group(1)) / requests


class Browser:
    """One login at a time against the in-process app: WSGI environs built by hand (a few microseconds, counted),
    cookies kept by name, the PSC pages visited by the helper process."""

    def __init__(self, app, bridge_url: str, psc: subprocess.Popen):
        from urllib.parse import urlsplit

        self.app, self.psc, self.cookies = app, psc, {}
        self.host = urlsplit(bridge_url).netloc
        self.statuses: list[str] = []

    def call(self, method: str, target: str, body: bytes = b"", headers: dict | None = None) -> tuple[str, dict]:
        path, _, query = target.partition("?")
        environ = {"REQUEST_METHOD": method, "SCRIPT_NAME": "", "PATH_INFO": path, "QUERY_STRING": query,
                   "SERVER_NAME": "127.0.0.1", "SERVER_PORT": self.host.rpartition(":")[2],
                   "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": self.host,
                   "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body),
                   "wsgi.errors": sys.stderr, "wsgi.multithread": True, "wsgi.multiprocess": True,
                   "wsgi.run_once": False, "CONTENT_LENGTH": str(len(body))}
        if body:
            environ["CONTENT_TYPE"] = "application/x-www-form-urlencoded"
        if self.cookies:
            environ["HTTP_COOKIE"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        for name, value in (headers or {}).items():
            environ["HTTP_" + name.upper().replace("-", "_")] = value
        answer: dict = {}

        def start(status, header_list, *_):
            self.statuses.append(f"{method} {path} {status}")
            for name, value in header_list:
                if name.lower() == "set-cookie":
                    cookie, _, _ = value.partition(";")
                    key, _, val = cookie.partition("=")
                    self.cookies[key.strip()] = val
                else:
                    answer[name.lower()] = value

        response = self.app(environ, start)
        answer["body"] = b"".join(response)
        response.close()
        return self.statuses[-1].rpartition(" ")[0].rsplit(" ", 1)[-1], answer

    def login(self) -> dict:
        """bench.scenarios.login_flow, the bridge's five requests in process."""
        import json
        from urllib.parse import parse_qs, urlencode, urlsplit

        from bench.scenarios import CLIENT, USER

        self.cookies.clear()
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        state, nonce = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
        target = "/authorize?" + urlencode({
            "response_type": "code", "client_id": CLIENT["client_id"], "redirect_uri": CLIENT["redirect_uri"],
            "scope": CLIENT["scope"], "state": state, "nonce": nonce, "code_challenge": challenge,
            "code_challenge_method": "S256"})
        for _ in range(2):   # 1 /authorize -> /login/psc, 2 /login/psc -> PSC
            status, answer = self.call("GET", target)
            target = answer["location"].removeprefix(f"http://{self.host}")
        self.psc.stdin.write(target + "\n")   # 3, 4: the browser at PSC, not counted
        self.psc.stdin.flush()
        callback = self.psc.stdout.readline().strip()
        status, answer = self.call("GET", callback.removeprefix(f"http://{self.host}"))   # 5
        query = {k: v[0] for k, v in parse_qs(urlsplit(answer.get("location", "")).query).items()}
        if query.get("state") != state:
            raise SystemExit(f"login_flow: no code ({self.statuses[-1]})")
        basic = base64.b64encode(f"{CLIENT['client_id']}:{CLIENT['client_secret']}".encode()).decode()
        body = urlencode({"grant_type": "authorization_code", "code": query["code"],
                          "redirect_uri": CLIENT["redirect_uri"], "code_verifier": verifier}).encode()
        status, answer = self.call("POST", "/token", body, {"Authorization": f"Basic {basic}"})   # 6
        tokens = json.loads(answer["body"])
        status, answer = self.call("GET", "/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
        if json.loads(answer["body"]).get("sub") != USER:   # 7
            raise SystemExit(f"login_flow: userinfo {status}")
        return tokens


def _trips() -> dict[str, int]:
    """Counters of the store round trips (one packed send each, a pipeline or EVALSHA being one) and of the
    outgoing HTTP calls; installed for uncounted flows only."""
    import redis.connection
    import requests.adapters

    seen = {"store": 0, "http": 0}
    for owner, name, key in ((redis.connection.AbstractConnection, "send_packed_command", "store"),
                             (requests.adapters.HTTPAdapter, "send", "http")):
        original = getattr(owner, name)

        def counted(self, *args, _original=original, _key=key, **kwargs):
            seen[_key] += 1
            return _original(self, *args, **kwargs)
        setattr(owner, name, counted)
        seen.setdefault("_restore", []).append((owner, name, original))
    return seen


def inside_login(requests: int, profile: bool, id_token_alg: str = "") -> None:
    from bench.harness import Stack

    with Stack(1, 1, "INFO", audit=True, id_token_alg=id_token_alg) as stack:
        from app import create_app
        from bridge.config import load_settings

        env = {**stack.bridge_env(), "BRIDGE_AUDIT_PATH": str(stack.tmp / "inproc.log")}
        app = create_app(load_settings(env))
        helper = subprocess.Popen([sys.executable, "-c", _BROWSER_AT_PSC], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": os.getcwd()})
        try:
            browser = Browser(app, stack.bridge_url, helper)
            stdout, sys.stderr = sys.stdout, open(os.devnull, "w")  # the request log is counted, not shown
            for _ in range(3):
                browser.login()   # caches, connection pools, JWKS, first-use imports
            seen = _trips()
            for _ in range(3):
                browser.login()
            for owner, name, original in seen.pop("_restore"):
                setattr(owner, name, original)
            print(f"store round trips per flow {seen['store'] / 3:.1f}, outgoing HTTP calls per flow "
                  f"{seen['http'] / 3:.1f}", file=stdout)
            browser.statuses.clear()
            if profile:
                import cProfile
                import pstats
                import threading
                import time
                import types

                import bridge.upstream.psc

                class Inline(threading.Thread):   # cProfile sees one thread: PSC calls run in the caller's here
                    def start(self):
                        self.run()

                    def join(self, timeout=None):
                        pass

                    def is_alive(self):
                        return False

                bridge.upstream.psc.threading = types.SimpleNamespace(Thread=Inline, Event=threading.Event)
                profiler = cProfile.Profile(time.process_time)   # CPU time: waits for PSC and Redis left out
                profiler.enable()
                for _ in range(requests):
                    browser.login()
                profiler.disable()
                pstats.Stats(profiler, stream=stdout).sort_stats("tottime").print_stats(45)
                pstats.Stats(profiler, stream=stdout).sort_stats("cumtime").print_stats(60)
                profiler.dump_stats(os.environ.get("BENCH_PROFILE_OUT", os.devnull))
            else:
                subprocess.run(["callgrind_control", "-i", "on", str(os.getpid())], capture_output=True, check=True)
                for _ in range(requests):
                    browser.login()
                subprocess.run(["callgrind_control", "-i", "off", str(os.getpid())], capture_output=True, check=True)
            print(f"audit lines {sum(1 for _ in open(stack.tmp / 'inproc.log'))}", file=stdout)
            print("measured", requests, file=stdout)
        finally:
            helper.stdin.close()
            helper.wait(10)


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
    parser.add_argument("scenario", nargs="*", help=f"{' '.join(SCENARIOS)} (default: all)")
    parser.add_argument("-n", type=int, default=None,
                        help=f"counted requests per scenario [300], logins for login_flow [{FLOWS}]")
    parser.add_argument("--profile", action="store_true", help="login_flow under cProfile, no valgrind")
    parser.add_argument("--id-token-alg", default="", choices=("", "RS256", "ES256"),
                        help="login_flow: the client declares this id_token_signed_response_alg [policy's: RS256]")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if unknown := set(args.scenario) - set(SCENARIOS):   # not choices=: Python 3.11 checks an empty list against them
        parser.error(f"unknown scenario {', '.join(sorted(unknown))}")
    if args.inside or args.profile:
        scenario = args.scenario[0] if args.scenario else "login_flow"
        if scenario == "login_flow":
            inside_login(args.n or FLOWS, args.profile, args.id_token_alg)
        else:
            inside(scenario, args.n or 300)
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install -y valgrind)", file=sys.stderr)
        return 2
    for scenario in args.scenario or SCENARIOS:
        per = "flow" if scenario == "login_flow" else "request"
        n = args.n or (FLOWS if scenario == "login_flow" else 300)
        print(f"{scenario:14s} {count(scenario, n, args.id_token_alg) / 1e6:6.3f} M instructions per {per}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
