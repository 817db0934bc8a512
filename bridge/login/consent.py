"""Consent of a professional to a third-party client (policy `consent: required`): which scopes of which client
they allowed, remembered per person so that the next login to that client does not ask again.

One store hash per professional, `consent:{national_id}`: field = client_id, value = {"scopes": [...], "at": t}.
A consent covers a request whose scopes it already holds (a superset granted counts); a request for more asks
again, and allowing it keeps the union. It lasts CONSENT_TTL after the last time it was given (store keys always
expire), and until the professional withdraws it on « Mes autorisations » (bridge/web/consent.py).
"""
from __future__ import annotations

import json

from bridge.clock import Clock
from bridge.policy.schema import Client
from bridge.store import Store

CONSENT_TTL = 365 * 24 * 3600   # one year after it was last given: then the page asks again


def consent_key(national_id: str) -> str:
    return f"consent:{national_id}"


def scope_set(scope: str) -> frozenset[str]:
    return frozenset(scope.split())


class Consents:
    def __init__(self, store: Store, clock: Clock):
        self.store, self.clock = store, clock

    def needed(self, client: Client | None, national_id: str, scope: str) -> bool:
        """Whether this login must show the consent page: a client that requires consent, and no consent of this
        professional already holding every requested scope."""
        if client is None or client.consent != "required":
            return False
        granted = self._get(national_id).get(client.client_id)
        return granted is None or not scope_set(scope) <= frozenset(granted["scopes"])

    def grant(self, national_id: str, client_id: str, scope: str) -> None:
        previous = self._get(national_id).get(client_id)
        scopes = scope_set(scope) | frozenset(previous["scopes"] if previous else ())
        value = json.dumps({"scopes": sorted(scopes), "at": self.clock.now()}, separators=(",", ":"))
        self.store.hash_set(consent_key(national_id), {client_id: value}, CONSENT_TTL)

    def revoke(self, national_id: str, client_id: str) -> bool:
        """Withdraw one consent; False when there was none."""
        if client_id not in self._get(national_id):
            return False
        self.store.hash_delete(consent_key(national_id), client_id)
        return True

    def list(self, national_id: str) -> dict[str, dict]:
        """client_id -> {"scopes": [...], "at": epoch seconds}."""
        return self._get(national_id)

    def _get(self, national_id: str) -> dict[str, dict]:
        raw = self.store.hash_get_all(consent_key(national_id))
        return {client_id: json.loads(value) for client_id, value in raw.items()}
