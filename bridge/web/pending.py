"""The login this browser has pending (a transaction bound to it by cookie) and where it goes next: used by the
login pages, by /authorize when it starts one, and by error pages for their ways back."""
from __future__ import annotations

from flask import request, url_for

from bridge.login.transactions import BROWSER_COOKIE, LoginTransaction
from bridge.policy import login_means
from bridge.web.context import bridge


def chooser_means(service) -> list:
    return login_means(service, bridge().clock.now())  # PSC first (RIE-PS 03), blocked means left out


def login_entry(txn: LoginTransaction) -> str:
    if txn.authenticated:
        return url_for("consent.page" if txn.consent else "login.activity", txn=txn.id)
    service = bridge().policies.services[txn.service]
    means = chooser_means(service)
    if means and all(m.via_psc for m in means):
        return url_for("login.psc_start", txn=txn.id)   # only PSC means: no chooser page
    return url_for("login.chooser", txn=txn.id)


def bound_txn(txn_id: str | None = None) -> LoginTransaction | None:
    """The pending login named by `txn_id` (default: the request's `txn`), if this browser started it."""
    txn = bridge().transactions.get(txn_id if txn_id is not None else request.values.get("txn"))
    if txn is None or not txn.bound_to(request.cookies.get(BROWSER_COOKIE)):
        return None
    return txn
