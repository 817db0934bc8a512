"""Device authorization grant (RFC 8628), its HTTP side: the kiosk's POST /device_authorization (Authlib endpoint in
bridge/provider/device.py) and /device, the page where the professional types the code shown by the kiosk (or
arrives by verification_uri_complete), sees which application asks, and logs in by the normal login pipeline
(bridge.login.complete: the service's policy applies exactly as for a browser login).

The login transaction carries the device authorization instead of a redirect URI: where a browser login would
answer the app with a code, this one approves the authorization (`approved`) and where it would send the app an
error, refuses it (`refused`); the kiosk learns it at its next poll.
"""
from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, make_response, redirect, render_template, request

from bridge import events, metrics
from bridge.login.device import display, normalize
from bridge.login.transactions import BROWSER_COOKIE, LoginTransaction, browser_hash
from bridge.logs import log
from bridge.provider.device import DEVICE_CODE_GRANT_TYPE, audit_ref, devices, new_family
from bridge.web.context import bridge, server
from bridge.web.errors import authlib_call, error_page
from bridge.web.grantee import grantee_for
from bridge.web.limits import client_ip
from bridge.web.pending import login_entry
from bridge.web.security import browser_secret, cookie_args, form_token, form_token_ok

bp = Blueprint("device", __name__)
PURPOSE = "device"


@bp.route("/device_authorization", methods=["POST"])
def authorization():
    return authlib_call(lambda: server().create_endpoint_response("device_authorization"))


def _page(step: str, status: int = 200, **context):
    secret, new = browser_secret()
    response = make_response(render_template("device.html", step=step, csrf=form_token(PURPOSE, secret),
                                             **context), status)
    response.headers["Cache-Control"] = "no-store"
    if new:
        response.set_cookie(BROWSER_COOKIE, secret, **cookie_args())
    return response


@bp.get("/device")
def page():
    typed = (request.args.get("user_code") or "")[:32]
    code = normalize(typed)
    return _page("code", user_code=display(code) if code else typed)


@bp.post("/device")
def submit():
    """The code typed (step « code ») and, once the page showed which application asks, « Se connecter »
    (step « start ») which begins the login."""
    b = bridge()
    browser = request.cookies.get(BROWSER_COOKIE, "")
    if not browser or not form_token_ok(PURPOSE, browser, request.form.get("csrf")):
        return error_page("csrf", 400)
    holder = browser_hash(browser)
    locked = devices(b).locked(holder, client_ip())
    if locked:
        b.record("device_code_wrong", "failure", reason="locked", scope=locked[0])
        metrics.device_authorization("locked")
        return _page("code", 429, locked_minutes=locked[1])
    typed = (request.form.get("user_code") or "")[:32]
    code = normalize(typed)
    pending = devices(b).by_user_code(code) if code else None
    if pending is None:
        counts = devices(b).failed(holder, client_ip())
        b.record("device_code_wrong", "failure", browser_count=counts.get("browser", 0),
                 address_count=counts.get("address", 0))
        metrics.device_authorization("wrong_code")
        left = max(0, devices(b).per_browser - counts.get("browser", 0))
        return _page("code", 400, user_code=typed, wrong=True, tries_left=left)
    found = b.policies.client(pending.client_id)
    if found is None:   # the kiosk's client left the policies meanwhile
        return error_page("txn_invalid", 400)
    service, client = found
    if request.form.get("step") != "start":
        return _page("confirm", user_code=display(code), app=client.name or client.client_id, service=service)
    return _start_login(pending, client)


def _start_login(pending, client):
    """The login transaction of a device approval: the client's request as the kiosk made it, no redirect URI."""
    b = bridge()
    secret, new = browser_secret()
    txn = b.transactions.begin(client.client_id, pending.service,
                               urlencode({"client_id": client.client_id, "scope": pending.scope}), secret,
                               forced=False)
    txn.device, txn.scope = pending.hash, pending.scope
    b.transactions.save(txn)
    events.login_started(b, service=pending.service, client=client.client_id)
    response = make_response(redirect(login_entry(txn)))
    if new:
        response.set_cookie(BROWSER_COOKIE, secret, **cookie_args())
    return response


def approved(txn: LoginTransaction, session):
    """The login of a device approval succeeded and the policy allowed it: the kiosk's next poll gets tokens for
    this session, with the bounds a code would carry (bridge.web.grantee)."""
    b = bridge()
    pending = devices(b).get(txn.device)
    client = server().query_client(txn.client_id)
    if pending is None or client is None or not client.check_grant_type(DEVICE_CODE_GRANT_TYPE):
        return _page("expired", 400)
    grantee = grantee_for(client, session)
    grant = {"authn": grantee.authn.to_dict(), "sid": grantee.sid, "service": grantee.service,
             "deadline": grantee.deadline, "family": new_family()}
    if not devices(b).approve(pending, grant):   # expired meanwhile, or decided in another browser
        return _page("expired", 400)
    b.record("device_approved", service=txn.service, client=txn.client_id,
             national_id=session.authn.identity.national_id, mie=session.authn.mie, device=audit_ref(pending.hash),
             sid=session.sid)
    metrics.device_authorization("approved")
    log.info("device_approved", client=txn.client_id, service=txn.service, mie=session.authn.mie)
    return _page("done", app=_client_name(txn.client_id))


def refused(txn: LoginTransaction, reason: str, *, page: bool = True):
    """The login of a device approval ended without approval (the policy refused, the professional went back,
    PSC refused): the kiosk gets access_denied at its next poll. `page`: answer with the « cancelled » page (else
    the caller shows its own, e.g. the denial page)."""
    b = bridge()
    pending = devices(b).get(txn.device)
    if pending is not None and devices(b).deny(pending, reason):
        b.record("device_denied", "denied", service=txn.service, client=txn.client_id, reason=reason,
                 device=audit_ref(pending.hash))
        metrics.device_authorization("denied")
    return _page("cancelled", app=_client_name(txn.client_id)) if page else None


def _client_name(client_id: str) -> str:
    found = bridge().policies.client(client_id)
    return (found[1].name or client_id) if found else client_id
