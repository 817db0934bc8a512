"""An in-process bridge wired to the PSC emulator, for the report's live self-checks (`bridge attest` only: never
inside a serving bridge).

It loads the policies being attested, a memory store, a temporary audit file and its own signing keys, and drives
the real HTTP flow with Flask's test client (the bridge) and requests (the emulator, over loopback HTTP). It never
sends a back-channel logout: those POSTs would reach the real applications named in the policies.
"""
from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import secrets
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from urllib.parse import urlencode, urljoin, urlsplit

import requests

from bridge.clock import Clock
from bridge.config import Settings
from bridge.web.factory import create_app

PUBLIC_URL = "http://127.0.0.1:9"   # never contacted: the bridge is reached through the test client (loopback:
# Authlib accepts http only there)
CLIENT_ID = "attest-selfcheck"


@dataclass
class Outcome:
    kind: str                    # code | page
    status: int = 0
    location: str = ""
    text: str = ""
    steps: list[str] = field(default_factory=list)


class Lab:
    def __init__(self, policies_dir: Path, workdir: Path, *, log_level: str = "WARNING"):
        from bridge.sandbox.psc import EmulatedClient, EmulatorConfig, serve
        from bridge.sandbox.testpki import TestPki

        secret = secrets.token_urlsafe(24)
        werkzeug = logging.getLogger("werkzeug")   # the emulator's access log would drown the CLI output
        self._werkzeug_level = werkzeug.level
        werkzeug.setLevel(logging.WARNING)
        self.psc = serve(EmulatorConfig(clients=[EmulatedClient(
            CLIENT_ID, secret, [f"{PUBLIC_URL}/psc/callback"], [f"{PUBLIC_URL}/logout/done"])]), port=0)
        try:
            self.clock = Clock()
            self.audit_path = workdir / "selfcheck-audit.jsonl"
            self.pki = pki = TestPki("attest-lab", workdir / "pki")   # the lab's card means trust the TEST PKI only
            settings = Settings(trust_dir=pki.trust_dir(), crl_dir=pki.crl_dir(include_legacy=False),
                                public_url=PUBLIC_URL, store_url="memory://", policies_dir=Path(policies_dir),
                                keys_dir=workdir / "keys", psc_discovery_url=self.psc.discovery_url,
                                psc_client_id=CLIENT_ID, psc_client_secret=secret, audit_path=self.audit_path,
                                audit_required=True, sweep_interval=0, log_level=log_level)
            self.app = create_app(settings, clock=self.clock)
        except BaseException:
            werkzeug.setLevel(self._werkzeug_level)
            self.psc.stop()
            raise
        self.bridge = self.app.extensions["bridge"]
        self.backchannel: list[tuple[str, str]] = []   # (client, reason) that a real bridge would notify
        sessions = self.bridge.sessions
        sessions.listeners.remove(self.bridge.backchannel.notify)
        sessions.listeners.append(lambda sid, clients, reason, session: self.backchannel.extend(
            (c, reason) for c in clients))

    def close(self) -> None:
        logging.getLogger("werkzeug").setLevel(self._werkzeug_level)
        self.psc.stop()
        self.bridge.backchannel.pool.shutdown(wait=False)

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- time and evidence ------------------------------------------------------------------------------------
    def advance(self, seconds: float) -> None:
        """Move the bridge and the emulator together, so later PSC tokens are not seen as from the past."""
        self.clock.advance(seconds)
        self.psc.emulator.state.clock.advance(seconds)

    def audit_mark(self) -> int:
        return len(self.audit_path.read_bytes().splitlines()) if self.audit_path.exists() else 0

    def audit_since(self, mark: int) -> list[dict]:
        return [json.loads(line) for line in self.audit_path.read_bytes().splitlines()[mark:]]

    # --- a browser --------------------------------------------------------------------------------------------
    def browser(self):
        return self.app.test_client(), requests.Session()

    def authorize(self, web, client, means: str = "psc", **extra) -> Outcome:
        """`means`: what to pick in the chooser; `cps-pin` stops on the card page (Outcome page, its URL)."""
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        query = {"response_type": "code", "client_id": client.client_id, "redirect_uri": client.redirect_uris[0],
                 "scope": "openid", "state": secrets.token_urlsafe(8), "nonce": secrets.token_urlsafe(8),
                 "code_challenge": challenge, "code_challenge_method": "S256", **extra}
        return self._follow(web, None, client.redirect_uris[0], "/authorize?" + urlencode(query), None, None,
                            means=means)

    def login(self, client, user: str, auth_mode: str = "CARD", web=None, psc=None) -> tuple[Outcome, object]:
        fresh_web, fresh_psc = self.browser()
        web, psc = web or fresh_web, psc or fresh_psc
        outcome = self.authorize(web, client)
        if outcome.kind == "psc":
            outcome = self._follow(web, psc, client.redirect_uris[0], outcome.location, user, auth_mode,
                                   outcome.steps)
        return outcome, web

    def _follow(self, web, psc, redirect_uri: str, url: str, user, auth_mode, steps=None, means="psc") -> Outcome:
        steps = list(steps or [])
        for _ in range(12):
            if url.startswith(redirect_uri):
                return Outcome("code", 302, url, steps=steps + ["→ " + _short(url)])
            if url.startswith(("http://", "https://")) and urlsplit(url).netloc != urlsplit(PUBLIC_URL).netloc:
                if psc is None:
                    return Outcome("psc", 302, url, steps=steps)
                steps.append("Pro Santé Connect " + urlsplit(url).path)
                url = _psc_login(psc, url, user, auth_mode)
                continue
            parts = urlsplit(url)
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            response = web.get(path)
            steps.append(f"{parts.path} → HTTP {response.status_code}")   # each request and what it answered
            text = response.get_data(as_text=True)
            if response.status_code in (301, 302, 303):
                url = urljoin(PUBLIC_URL + parts.path, response.headers["Location"])
                continue
            if response.status_code == 200 and 'name="activity"' in text:
                action = unescape(re.search(r'<form[^>]*action="([^"]*)"', text).group(1))
                csrf = re.search(r'name="csrf" value="([^"]*)"', text).group(1)
                choice = re.search(r'name="activity" value="([^"]+)"', text).group(1)
                response = web.post(action, data={"csrf": csrf, "activity": choice})
                steps.append(f"{urlsplit(action).path} (POST) → HTTP {response.status_code}")
                if response.status_code in (301, 302, 303):
                    url = urljoin(PUBLIC_URL, response.headers["Location"])
                    continue
                text = response.get_data(as_text=True)
            path_of = {"psc": "/login/psc", "cps-pin": "/login/cps"}[means]
            link = re.search(rf'href="([^"]*{path_of}\?txn=[^"]*)"', text)
            if response.status_code == 200 and link and parts.path != path_of:
                url = urljoin(PUBLIC_URL, unescape(link.group(1)))   # the means chooser: take the asked means
                continue
            return Outcome("page", response.status_code, url, text, steps)
        raise RuntimeError("self-check: too many redirects")


def _short(url: str) -> str:
    parts = urlsplit(url)
    keys = [k.split("=")[0] for k in parts.query.split("&") if k]
    return f"{parts.scheme}://{parts.netloc}{parts.path}?{'&'.join(k + '=…' for k in keys)}"


def _psc_login(psc: requests.Session, url: str, user: str, auth_mode: str) -> str:
    page = psc.get(url, allow_redirects=False, timeout=10)
    if page.is_redirect:
        return page.headers["Location"]
    action = unescape(re.search(r'<form[^>]*action="([^"]*)"', page.text).group(1))
    txn = re.search(r'name="txn" value="([^"]*)"', page.text).group(1)
    answer = psc.post(urljoin(page.url, action), allow_redirects=False, timeout=10,
                      data={"txn": txn, "user": user, "auth_mode": auth_mode, "action": "login"})
    if not answer.is_redirect:
        raise RuntimeError(f"self-check: the PSC emulator answered {answer.status_code}")
    return answer.headers["Location"]
