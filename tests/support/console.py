"""Helpers for the admin console tests: policies whose admin client points at the test bridge, and a browser-like
login through the bridge and the PSC emulator."""
from __future__ import annotations

import re
from html import unescape
from pathlib import Path
from urllib.parse import urljoin

import requests
from werkzeug.serving import make_server

from tests.support.bridge import form_fields, rewrite_policies, start_bridge
from tests.support.psc import psc_login


def admin_policies(directory: Path, bridge_url: str, apps_url: str, *, admins=("899700000001",),
                   with_admin: bool = True) -> Path:
    """The shipped policies, apps at `apps_url`, the console's redirect URIs at `bridge_url`."""
    rewrite_policies(directory, apps_url)
    admin = directory / "admin.yaml"
    if not with_admin:
        admin.unlink()
        return directory
    text = admin.read_text().replace("http://127.0.0.1:8000", bridge_url)
    text = re.sub(r"^admins:.*$", "admins: [" + ", ".join(f'"{a}"' for a in admins) + "]", text, flags=re.M)
    admin.write_text(text)
    return directory


def start_stack(tmp_path: Path, redis_url: str, psc_emulator_factory, apps_url: str, *, clock=None,
                audit: bool = True, env_extra: dict | None = None, **policy_options):
    """A bridge on a free port with the admin console configured, and its PSC emulator; `env_extra` adds settings."""
    from bridge.sandbox.psc import EmulatedClient

    reserved = make_server("127.0.0.1", 0, None, threaded=True)
    bridge_url = f"http://127.0.0.1:{reserved.port}"
    policies = admin_policies(tmp_path / "policies", bridge_url, apps_url, **policy_options)
    psc = psc_emulator_factory(clients=[EmulatedClient(
        client_id="bridge-test", secret="bridge-test-secret", redirect_uris=[f"{bridge_url}/psc/callback"],
        post_logout_redirect_uris=[f"{bridge_url}/logout/done"])])
    env = {"BRIDGE_STORE_URL": redis_url, "BRIDGE_KEYS_DIR": str(tmp_path / "keys"), "BRIDGE_SWEEP_INTERVAL": "0",
           "BRIDGE_POLICIES_DIR": str(policies), "BRIDGE_PSC_DISCOVERY_URL": psc.discovery_url,
           "BRIDGE_PSC_CLIENT_ID": "bridge-test", "BRIDGE_PSC_CLIENT_SECRET": "bridge-test-secret"}
    if audit:
        env["BRIDGE_AUDIT_PATH"] = str(tmp_path / "audit" / "audit.jsonl")
    server = start_bridge({**env, **(env_extra or {})}, clock=clock, reserved=reserved)
    server.psc = psc
    server.policies_dir = policies
    return server


def console_login(browser: requests.Session, bridge_url: str, user: str = "899700000001",
                  max_steps: int = 15) -> requests.Response:
    """Open /admin/ and go through the bridge's login like a person; returns the last page."""
    url = f"{bridge_url}/admin/"
    for _ in range(max_steps):
        response = browser.get(url, allow_redirects=False, timeout=30)
        if response.is_redirect:
            url = urljoin(url, response.headers["Location"])
            continue
        if response.status_code == 200 and 'name="auth_mode"' in response.text:
            url = psc_login(browser, url, user=user)
            continue
        if response.status_code == 200 and 'name="activity"' in response.text:
            action, hidden = form_fields(response.text)
            choice = re.search(r'name="activity" value="([^"]+)"', response.text).group(1)
            answer = browser.post(urljoin(url, action), data={**hidden, "activity": choice}, allow_redirects=False,
                                  timeout=30)
            url = urljoin(url, answer.headers["Location"])
            continue
        refresh = re.search(r'http-equiv="refresh" content="0;url=([^"]+)"', response.text)
        if response.status_code == 200 and refresh:
            url = urljoin(url, unescape(refresh.group(1)))
            continue
        return response
    raise AssertionError("too many steps")


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)
