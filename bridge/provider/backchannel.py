"""OIDC Back-Channel Logout 1.0: a signed logout token POSTed to each client of an ended session or client.

Deliveries run in a small thread pool with retries and backoff, so a dead app slows nobody's login.
"""
from __future__ import annotations

import secrets
import time
from concurrent.futures import Future, ThreadPoolExecutor

import requests
from joserfc import jwt

from bridge import metrics
from bridge.logs import log
from bridge.provider.claims import subject

EVENT = "http://schemas.openid.net/event/backchannel-logout"


class BackChannel:
    def __init__(self, settings, clock, keys, policies, *, retries: int = 3, backoff: float = 0.5,
                 timeout: float = 5.0):
        self.settings, self.clock, self.keys, self.policies = settings, clock, keys, policies
        self.retries, self.backoff, self.timeout = retries, backoff, timeout
        self.pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="backchannel")
        self.pending: list[Future] = []
        self.listeners = []  # (client_id, outcome, attempts) for audit and metrics

    def logout_token(self, client_id: str, sid: str, sub: str | None = None) -> str:
        now = int(self.clock.now())
        key = self.keys.signing_key("RS256")
        claims = {"iss": self.settings.issuer, "aud": client_id, "iat": now, "exp": now + 120,
                  "jti": secrets.token_urlsafe(16), "sid": sid, "events": {EVENT: {}}}
        if sub:
            claims["sub"] = sub
        return jwt.encode({"alg": "RS256", "kid": key.kid, "typ": "logout+jwt"}, claims, key)

    def notify(self, sid: str, client_ids: list[str], reason: str, session=None) -> None:
        for client_id in client_ids:
            found = self.policies.client(client_id)
            if not found or not found[1].backchannel_logout_uri:
                continue
            service, client = found
            sub = None
            if session is not None:
                sub = subject(service, session.authn.identity.national_id, self.settings.secret_key)
            token = self.logout_token(client_id, sid, sub)
            log.info("backchannel_logout", client=client_id, reason=reason)
            self.pending = [f for f in self.pending if not f.done()]
            self.pending.append(self.pool.submit(self._deliver, client_id, client.backchannel_logout_uri, token))

    def _deliver(self, client_id: str, uri: str, token: str) -> bool:
        for attempt in range(1, self.retries + 1):
            try:
                response = requests.post(uri, data={"logout_token": token}, timeout=self.timeout,
                                         headers={"Cache-Control": "no-store"}, allow_redirects=False)
                if response.status_code in (200, 204):
                    self._report(client_id, "delivered", attempt)
                    return True
                error = f"http_{response.status_code}"
            except requests.Timeout:
                error = "timeout"
            except requests.RequestException:
                error = "connection"
            log.warning("backchannel_retry", client=client_id, attempt=attempt, error=error)
            if attempt < self.retries:
                time.sleep(self.backoff * 2 ** (attempt - 1))
        metrics.backchannel_failed(client_id, error)
        self._report(client_id, "failed", self.retries)
        return False

    def _report(self, client_id: str, outcome: str, attempts: int) -> None:
        log.info("backchannel_" + outcome, client=client_id, attempts=attempts)
        for listener in self.listeners:
            listener(client_id, outcome, attempts)

    def wait(self, timeout: float = 30) -> None:
        """Tests and shutdown: let queued deliveries finish."""
        for future in list(self.pending):
            future.result(timeout)
