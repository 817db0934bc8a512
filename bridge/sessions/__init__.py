"""SSO sessions (sso.py), the activity of their clients and the one expiry rule (activity.py), and that rule in
Lua for the one-round-trip token checks (scripts.py).

Imported from here: the names the rest of the bridge has always taken from `bridge.sessions`.
"""
from __future__ import annotations

from bridge.sessions.activity import activity_key, stamp
from bridge.sessions.sso import (
    COOKIE,
    IDP_IDLE_MAX,
    IDP_SESSION_MAX,
    INDEX,
    Listener,
    Sessions,
    SsoSession,
    browser_label,
    session_key,
)

__all__ = ["COOKIE", "IDP_IDLE_MAX", "IDP_SESSION_MAX", "INDEX", "Listener", "Sessions", "SsoSession",
           "activity_key", "browser_label", "session_key", "stamp"]
