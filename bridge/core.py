"""The bridge's parts, built once per process from Settings (a plain object tests can build too)."""
from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass, field

from bridge import acr, events, metrics
from bridge.audit import Audit, open_audit
from bridge.clock import Clock
from bridge.config import ConfigError, Settings
from bridge.login.consent import Consents
from bridge.login.transactions import Transactions
from bridge.logs import current_request_id
from bridge.pki import TrustStore
from bridge.policy import PolicySet, load_policies
from bridge.provider.backchannel import BackChannel
from bridge.provider.keys import KeyRing
from bridge.provider.tokens import Tokens
from bridge.sessions import Sessions
from bridge.sessions.removal import Removals
from bridge.store import Store, open_store
from bridge.upstream import psc_tokens
from bridge.upstream.cps import DIRECT_MIE, CpsLogin, public_origin
from bridge.upstream.psc import PscClient


@dataclass
class Bridge:
    """Every part, built in dependency order by build_bridge; the web layer adds the Authlib server beside it."""
    settings: Settings
    clock: Clock
    store: Store
    policies: PolicySet
    keys: KeyRing
    psc: PscClient
    sessions: Sessions
    transactions: Transactions
    tokens: Tokens
    audit: Audit
    backchannel: BackChannel
    cps: CpsLogin | None        # None: no service allows a direct card means (cps-pin, cps-tls)
    removals: Removals          # what lets the card agent end a cps-pin login's session when the card leaves
    consents: Consents | None = None   # what professionals allowed third-party clients (bridge.login.consent)
    instance: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}")

    def record(self, event: str, outcome: str = "success", **fields) -> dict:
        """One audit line; the request id is taken from the current request when there is one.
        Raises AuditUnavailable when the audit is required and cannot be written (the caller fails closed)."""
        fields.setdefault("request_id", current_request_id())
        return self.audit.record(event, outcome=outcome, **fields)


def build_bridge(settings: Settings, *, clock: Clock | None = None, store: Store | None = None) -> Bridge:
    clock = clock or Clock()
    store = store or open_store(settings.store_url, clock=clock, wait_replicas=settings.store_wait_replicas,
                                wait_timeout=settings.store_wait_timeout)
    policies = load_policies(settings.policies_active_dir or settings.policies_dir, dev=not settings.production,
                             shown_as=settings.policies_dir)
    for problem in acr.unreachable_minimums(policies.services.values(), settings):
        raise ConfigError(problem)
    keys = KeyRing(settings.keys_dir, create=not settings.production, clock=clock)
    sessions = Sessions(store, clock)
    bridge = Bridge(settings=settings, clock=clock, store=store, policies=policies, keys=keys,
                    psc=PscClient(settings, store, clock), sessions=sessions, transactions=Transactions(store),
                    tokens=Tokens(store, clock, sessions.idle_max), audit=open_audit(settings, clock),
                    backchannel=BackChannel(settings, clock, keys, policies),
                    cps=_direct_card_login(settings, policies, store, clock),
                    removals=Removals(store, sessions, clock), consents=Consents(store, clock))
    sessions.listeners.append(bridge.backchannel.notify)
    if bridge.cps is not None:   # a refused opposed card is audited with the opposition's number
        bridge.cps.opposed_listeners.append(lambda found, authn: events.card_opposed(bridge, found, authn))
    sessions.listeners.append(bridge.removals.session_ended)   # before the audit, which may fail closed
    sessions.listeners.append(lambda sid, clients, reason, session: psc_tokens.forget(bridge, sid))
    sessions.listeners.append(
        lambda sid, clients, reason, session: _audit_session_end(bridge, sid, clients, reason, session))
    bridge.backchannel.listeners.append(lambda client, outcome, attempts: bridge.record(
        f"backchannel_{outcome}", "success" if outcome == "delivered" else "failure", client=client, attempts=attempts))
    bridge.record("policy_loaded", "info", services=sorted(policies.services))
    return bridge


SESSION_END_EVENTS = {"idle_expired": "idle_expired", "absolute_expired": "absolute_expired"}


def _audit_session_end(bridge: Bridge, sid: str, clients: list[str], reason: str, session) -> None:
    event = SESSION_END_EVENTS.get(reason, "logout")
    if reason == "idle_expired":
        for client in clients:
            metrics.idle_logout(client)
    national_id = session.authn.identity.national_id if session else ""
    for client in clients or [""]:   # "": the session had no application (e.g. a login the policy then refused)
        service = (bridge.policies.client(client) or (None,))[0] if client else None
        bridge.record(event, "info", service=service.service if service else "", client=client,
                      national_id=national_id, reason=reason, sid=sid)


def _direct_card_login(settings: Settings, policies: PolicySet, store: Store, clock: Clock):
    """The trust store is built only when some service allows a direct card means (cps-pin, cps-tls): a bridge
    serving PSC alone needs no BRIDGE_TRUST_DIR. When one does, a missing or empty trust store stops start-up."""
    users = sorted(f"{service.service} ({', '.join(m for m in service.allowed_mie if m in DIRECT_MIE)})"
                   for service in policies.services.values() if set(DIRECT_MIE) & set(service.allowed_mie))
    if not users:
        return None
    if settings.trust_dir is None:
        raise ConfigError(f"BRIDGE_TRUST_DIR: required because service {users[0]} allows direct CPS card login "
                          "(IGC-Santé roots and intermediates; `bridge sandbox card` prints a test one)")
    try:
        trust = TrustStore.from_settings(settings)
    except (ValueError, OSError) as exc:
        raise ConfigError(f"BRIDGE_TRUST_DIR: {exc}") from None
    return CpsLogin(store, clock, trust, public_origin(settings.public_url), acr=settings.cps_acr)
