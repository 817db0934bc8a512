"""Login transactions: an /authorize request waiting for the user to authenticate upstream.

The record keeps the app's request as /authorize validated it (its code is issued from it once the user is
authenticated, without validating it again), is bound to the browser
by a cookie (login CSRF: a callback only completes in the browser that started it), and carries the CSRF token
of the bridge's own forms.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from bridge.store import Store

TXN_TTL = 15 * 60
# Upstream attempts one login may start (card challenges, PSC redirects): a user retrying a wrong PIN or coming
# back from PSC a few times stays far below; a script creating store keys without end does not.
ATTEMPTS_PER_TXN = 20
BROWSER_COOKIE = "bridge_browser"   # logical name; on the wire: bridge.web.security.cookie_name


def browser_hash(browser_secret: str | None) -> str:
    return hashlib.sha256((browser_secret or "").encode()).hexdigest()


@dataclass
class LoginTransaction:
    id: str
    client_id: str
    service: str
    query: str           # the original /authorize query string
    browser: str         # SHA-256 of the browser cookie
    csrf: str
    forced: bool = False  # prompt=login / max_age / step-up: a fresh authentication is required
    authenticated: bool = False
    login_hint: str = ""
    redirect_uri: str = ""  # as /authorize validated it (the registered default when the app sent none)
    scope: str = ""         # as /authorize validated it (the scopes the client may have)
    consent: bool = False   # authenticated, waiting for the professional's consent (bridge.login.consent)
    device: str = ""        # RFC 8628: this login approves that device authorization (bridge.login.device); no
                            # redirect URI, its outcome goes to the kiosk's poll

    def bound_to(self, browser_secret: str | None) -> bool:
        return hmac.compare_digest(self.browser, browser_hash(browser_secret))

    def check_csrf(self, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf.encode(), token.encode())


class Transactions:
    def __init__(self, store: Store):
        self.store = store

    def begin(self, client_id: str, service: str, query: str, browser_secret: str, forced: bool,
              **fields) -> LoginTransaction:
        """`fields`: the transaction's other fields, known at once (one store write, not two)."""
        txn = LoginTransaction(id=secrets.token_urlsafe(24), client_id=client_id, service=service, query=query,
                               browser=browser_hash(browser_secret), csrf=secrets.token_urlsafe(24), forced=forced,
                               **fields)
        self.save(txn)
        return txn

    def save(self, txn: LoginTransaction) -> None:
        self.store.set_json(f"txn:{txn.id}", dict(vars(txn)), TXN_TTL)   # flat str/bool fields: no asdict copy

    def get(self, txn_id: str | None) -> LoginTransaction | None:
        data = self.store.get_json(f"txn:{txn_id}") if txn_id else None
        return LoginTransaction(**data) if data else None

    def attempt(self, txn: LoginTransaction, what: str) -> bool:
        """Count one upstream attempt (`cps`, `psc`) of this login; False once ATTEMPTS_PER_TXN is passed."""
        return self.store.count(f"txn_n:{txn.id}:{what}", TXN_TTL) <= ATTEMPTS_PER_TXN

    def consume(self, txn_id: str) -> LoginTransaction | None:
        data = self.store.consume_json(f"txn:{txn_id}")
        return LoginTransaction(**data) if data else None
