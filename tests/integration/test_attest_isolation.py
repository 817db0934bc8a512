"""Product code is cut loose from the emulators: the web application (what a gunicorn worker runs) imports nothing
from bridge.sandbox, and generating a report from the admin console starts no emulator, no lab bridge, no thread
and no listening socket. Live self-checks belong to `bridge attest` (bridge/attest/cli.py), in its own process."""
from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.bridge import default_card_trust

ROOT = Path(__file__).resolve().parents[2]
# The only modules outside bridge/sandbox/ allowed to import it: `make demo`, and `bridge attest`, the one caller of
# the self-check harness (bridge.sandbox.selfcheck). bridge/cli.py names the `bridge sandbox` command as a string.
ALLOWED = {"bridge/demo.py", "bridge/attest/cli.py"}

WORKER = r"""
import json, socket, sys, threading

import app                                  # what gunicorn's `app:create_app()` imports

application = app.create_app()              # the settings from the environment, as a worker reads them


def sandbox_modules():
    return sorted(m for m in sys.modules if m == "bridge.sandbox" or m.startswith("bridge.sandbox."))


after_start = sandbox_modules()
from bridge.sessions import session_key
from bridge.web.admin_auth import CONSOLE_COOKIE, load_console, open_console

bridge = application.extensions["bridge"]
bridge.store.set_json(session_key("sid-isolation"), {"authn": {}}, 3600)   # the SSO session behind the console
token = open_console(bridge, "899700000001", {"sid": "sid-isolation", "id_token": "unused"})
csrf = load_console(bridge, token, touch=False).csrf
client = application.test_client()
client.set_cookie(CONSOLE_COOKIE, token, path="/admin")
form = client.get("/admin/report")

started, bound = [], []                     # every thread started and socket bound while the report is generated
thread_start, socket_bind = threading.Thread.start, socket.socket.bind
threading.Thread.start = lambda self, *a, **k: (started.append(self.name), thread_start(self, *a, **k))[1]
socket.socket.bind = lambda self, address: (bound.append(str(address)), socket_bind(self, address))[1]
try:
    report = client.post("/admin/report", data={"csrf": csrf, "service": "", "format": "html", "lang": "fr",
                                                "self_checks": "1"})    # the old form's option: ignored
finally:
    threading.Thread.start, socket.socket.bind = thread_start, socket_bind
html = report.get_data(as_text=True)
print(json.dumps({
    "blueprints": sorted(application.blueprints), "sandbox_after_start": after_start,
    "sandbox_after_report": sandbox_modules(), "form": form.status_code, "form_text": form.get_data(as_text=True),
    "status": report.status_code, "disposition": report.headers.get("Content-Disposition", ""),
    "csp": report.headers.get("Content-Security-Policy", ""), "threads": started, "binds": bound,
    "checks": html.count("data-check="), "note": 'data-self-checks="not-run"' in html and "bridge attest" in html,
    "services": html.count('class="service"'),
}))
"""


def test_the_web_app_imports_nothing_from_the_sandbox_and_the_console_report_starts_nothing(tmp_path):
    policies = tmp_path / "policies"
    shutil.copytree(ROOT / "policies", policies)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "PYTHONPATH": str(ROOT),
           "BRIDGE_ENV": "development", "BRIDGE_POLICIES_DIR": str(policies), "BRIDGE_KEYS_DIR": str(tmp_path / "keys"),
           "BRIDGE_SWEEP_INTERVAL": "0", "BRIDGE_AUDIT_PATH": str(tmp_path / "audit.jsonl"),
           "BRIDGE_ATTEST_DIR": str(tmp_path / "attest"), **default_card_trust()}
    result = subprocess.run([sys.executable, "-c", WORKER], env=env, cwd=tmp_path, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"admin", "oidc", "login", "logout", "cps"} <= set(seen["blueprints"]), seen["blueprints"]
    assert seen["sandbox_after_start"] == []
    assert seen["form"] == 200 and 'data-no-run="empty"' in seen["form_text"] and 'name="self_checks"' not in \
        seen["form_text"]
    assert seen["status"] == 200 and seen["disposition"].startswith("attachment")
    assert seen["csp"] == "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    assert seen["services"] == len(list(policies.glob("*.yaml")))   # the whole report: every service
    assert seen["note"] and seen["checks"] == 0          # no live self-check in it: it says bridge attest runs them
    assert seen["sandbox_after_report"] == []            # no emulator, no lab: not even imported
    assert seen["threads"] == [] and seen["binds"] == []   # nothing started, nothing listening


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_nothing_outside_the_sandbox_imports_it_but_the_demo_and_bridge_attest():
    offenders = []
    for path in sorted((ROOT / "bridge").rglob("*.py")):
        name = path.relative_to(ROOT).as_posix()
        if name.startswith("bridge/sandbox/") or name in ALLOWED:
            continue
        if any(i == "bridge.sandbox" or i.startswith("bridge.sandbox.") for i in _imports(path)):
            offenders.append(name)
    assert offenders == []
    attest = [p.relative_to(ROOT).as_posix() for p in (ROOT / "bridge" / "attest").glob("*.py")
              if any(i.startswith("bridge.sandbox") for i in _imports(p))]
    assert attest == ["bridge/attest/cli.py"]   # the one caller of the harness
