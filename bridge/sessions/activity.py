"""Who used an SSO session when (the act:{sid} hash), and the one rule that says whether a timer has run out.

    act:{sid}   HASH  _seen        -> last activity of any client of the session              stamp(t)
                      <client_id>  -> the client's timer                      "last|idle|deadline"
                      ~<client_id> -> tombstone: the client's part ended (idle_expired, absolute_expired); its next
                                      /authorize needs a fresh authentication
                      !f:<family>  -> "1": a token family (one code grant) is revoked
A client missing from the hash has no valid tokens (idle expiry, logout): no token scan needed.

The rule, for a timer (last, idle, deadline) at `now`: the deadline first (absolute), then the idle timeout (idle);
a token check also weighs the session-wide inactivity (session_idle) and the token's family (revoked).
The session itself is such a timer: (seen, bridge-wide idle, session deadline).
bridge/sessions/scripts.py applies the same rule in Lua, one store round trip per token check;
tests/integration/test_session_verdict_lua.py proves that both give the same verdicts.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

SEEN = "_seen"        # field: last activity of any client
TOMBSTONE = "~"       # prefix: a client whose part of the session ended
FAMILY = "!f:"        # prefix: a revoked token family
_NOT_CLIENTS = ("_", "!", "~")

# Verdicts of a token check (the Lua script answers the same words).
OK, IDLE, ABSOLUTE, SESSION_IDLE = "ok", "idle", "absolute", "session_idle"
CLIENT_ENDED, REVOKED = "client_ended", "revoked"
# The reason an expiry is recorded under (tombstones, back-channel logout, audit).
REASONS = {ABSOLUTE: "absolute_expired", IDLE: "idle_expired", SESSION_IDLE: "idle_expired"}

Entry = tuple[float, float, float]  # (last, idle, deadline)


def activity_key(sid: str) -> str:
    return f"act:{{{sid}}}"


# -- encoding -------------------------------------------------------------------------------------------------------

def stamp(t: float) -> str:
    """Times in the store: milliseconds are plenty, and shorter than repr()."""
    return f"{t:.3f}"


def encode(last: float, idle: float, deadline: float) -> str:
    """A client's timer as stored: "last|idle|deadline" (idle in whole seconds prints without a decimal point)."""
    return f"{stamp(last)}|{idle:.14g}|{stamp(deadline)}"


def decode(value: str | None) -> Entry | None:
    if not value:
        return None
    last, idle, deadline = value.split("|")
    return float(last), float(idle), float(deadline)


def touched(client_id: str, now: float, idle: float, deadline: float) -> dict[str, str]:
    """The fields a use of the session writes: the client's idle timer restarts, and so does the session's."""
    return {client_id: encode(now, idle, deadline), SEEN: stamp(now)}


def tombstone(client_id: str) -> str:
    return TOMBSTONE + client_id


def revoked_family(family: str) -> str:
    return FAMILY + family


def is_client(name: str) -> bool:
    return not name.startswith(_NOT_CLIENTS)


@dataclass
class Activity:
    """The act:{sid} hash read back."""
    seen: float | None = None
    clients: dict[str, Entry] = field(default_factory=dict)
    expired: set[str] = field(default_factory=set)  # tombstoned clients


def read(act: dict[str, str]) -> Activity:
    found = Activity(seen=float(act[SEEN]) if SEEN in act else None)
    for name, value in act.items():
        if name.startswith(TOMBSTONE):
            found.expired.add(name[len(TOMBSTONE):])
        elif is_client(name):
            entry = decode(value)
            if entry is not None:
                found.clients[name] = entry
    return found


# -- the rule ---------------------------------------------------------------------------------------------------------

def verdict(now: float, entry: Entry | None, seen: float | None = None, global_idle: float = math.inf,
            revoked: bool = False) -> str:
    """revoked | client_ended | absolute | idle | session_idle | ok. Limits are reached *at* them (>=).
    `seen` is the session's last activity (the client's own when unknown), `global_idle` the bridge-wide idle
    timeout; leave them out to judge one timer alone."""
    if revoked:
        return REVOKED
    if entry is None:
        return CLIENT_ENDED
    last, idle, deadline = entry
    if now >= deadline:
        return ABSOLUTE
    if now - last >= idle:
        return IDLE
    if now - (seen if seen is not None else last) >= global_idle:
        return SESSION_IDLE
    return OK


def check(act: dict[str, str], client_id: str, family: str, now: float, global_idle: float) -> str:
    """A token check on the act:{sid} hash: the fields the Lua script reads (HMGET client, _seen, !f:family)."""
    seen = act.get(SEEN)
    return verdict(now, decode(act.get(client_id)), None if seen is None else float(seen), global_idle,
                   bool(act.get(revoked_family(family))))


def expired(now: float, entry: Entry | None) -> str | None:
    """absolute_expired | idle_expired when this timer (a client's, or the session's own) has run out, else None."""
    return REASONS.get(verdict(now, entry)) if entry is not None else None


def due(entry: Entry) -> float:
    """When this timer runs out if nothing happens."""
    last, idle, deadline = entry
    return min(last + idle, deadline)
