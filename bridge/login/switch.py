"""User switching: the person at the workstation hands over to someone else (HTTP in bridge/web/switch.py).

The current SSO session ends (reason `switch`: back-channel logout to its apps, audit) and a fresh login starts,
either the pending one of the bridge's own pages or the app's /authorize again. Nothing of the previous user may
steer it: no login hint, no ID token hint, and a fresh authentication (prompt=login), so a PSC or card login
cannot slip back into the previous user's session.
"""
from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

from bridge.login.transactions import LoginTransaction, Transactions
from bridge.provider.grants import PARAM_LIMITS
from bridge.sessions import Sessions, SsoSession

REASON = "switch"
# Parameters that name or favour the previous user (or that the switch replaces): never carried over.
DROPPED = ("prompt", "login_hint", "id_token_hint")


def end_session(sessions: Sessions, session: SsoSession) -> None:
    sessions.end(session.sid, REASON, session)


def restart(transactions: Transactions, txn: LoginTransaction) -> LoginTransaction:
    """The pending login starts again for whoever comes next: a fresh authentication, without the previous user's
    hint, and back before the activity choice if the previous user had reached it."""
    txn.forced, txn.authenticated, txn.login_hint = True, False, ""
    transactions.save(txn)
    return txn


def authorize_params(params: Mapping) -> dict[str, str]:
    """The app's /authorize parameters worth carrying to the next login: only those /authorize understands, within
    its caps, without what names the previous user."""
    return {k: v for k, v in params.items() if k in PARAM_LIMITS and k not in DROPPED and isinstance(v, str) and v
            and len(v) <= PARAM_LIMITS[k]}


def fresh_authorize_query(params: Mapping) -> str:
    return urlencode([*authorize_params(params).items(), ("prompt", "login")])
