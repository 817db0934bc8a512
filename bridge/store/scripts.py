"""Atomic multi-key operations in one store round trip: a Script is Lua for Redis (`RedisStore.run`) and the same
steps in Python for memory:// (`MemoryStore.run` calls `python(store, keys, args)` under its lock).

The scripts themselves live with what they decide: the SSO session token checks in bridge/sessions/scripts.py.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Script:
    name: str
    lua: str
    python: Callable
