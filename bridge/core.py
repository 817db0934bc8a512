"""The bridge's parts, built once per process from Settings (a plain object tests can build too)."""
from __future__ import annotations

from dataclasses import dataclass, field

from bridge.clock import Clock
from bridge.config import Settings
from bridge.policy import PolicySet, load_policies
from bridge.provider.keys import KeyRing
from bridge.provider.tokens import Tokens
from bridge.sessions import Sessions
from bridge.store import Store, open_store
from bridge.transactions import Transactions
from bridge.upstream.psc import PscClient


@dataclass
class Bridge:
    settings: Settings
    clock: Clock
    store: Store
    policies: PolicySet
    keys: KeyRing
    psc: PscClient
    sessions: Sessions
    transactions: Transactions
    tokens: Tokens
    backchannel: object = None  # BackChannel, needs the keys and policies above
    server: object = None       # Authlib AuthorizationServer, set by the web layer
    protector: object = None
    extra: dict = field(default_factory=dict)


def build_bridge(settings: Settings, *, clock: Clock | None = None, store: Store | None = None) -> Bridge:
    clock = clock or Clock()
    store = store or open_store(settings.store_url, clock=clock)
    policies = load_policies(settings.policies_dir, dev=not settings.production)
    keys = KeyRing(settings.keys_dir, create=not settings.production)
    from bridge.provider.backchannel import BackChannel

    sessions = Sessions(store, clock)
    bridge = Bridge(settings=settings, clock=clock, store=store, policies=policies, keys=keys,
                    psc=PscClient(settings, store, clock), sessions=sessions, transactions=Transactions(store),
                    tokens=Tokens(store, clock, sessions.idle_max))
    bridge.backchannel = BackChannel(bridge)
    sessions.listeners.append(bridge.backchannel.notify)
    return bridge
