"""The running bridge of the current request: the one object the blueprints reach their parts through."""
from __future__ import annotations

from flask import current_app


def bridge():
    return current_app.extensions["bridge"]


def server():
    """The Authlib authorization server built over that bridge (bridge/provider/server.py)."""
    return current_app.extensions["oauth_server"]
