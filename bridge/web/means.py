"""« Mes moyens de connexion » (/me/means): the professional's passkeys and FIDO2 keys, enrolment, rename, revoke.

    GET  /me/means                   the list; the enrolment form when the session's login is recent and strong
    POST /me/means/options           {csrf} -> PublicKeyCredentialCreationOptions (JSON, base64url)
    POST /me/means/register          csrf, credential (JSON), name -> 303 /me/means?done=added
    POST /me/means/rename            csrf, key, name               -> 303 /me/means?done=renamed
    POST /me/means/revoke            csrf, key                     -> 303 /me/means?done=revoked

Needs the browser's SSO session; the forms carry a token bound to the browser (bridge.web.security.form_token).
Enrolment follows RIE-PS 07 (bridge.upstream.fido): only within BRIDGE_FIDO_ENROL_WINDOW of a PSC or card login of
this very session; otherwise the page says so and how to log in again. Every change is audited.
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, jsonify, make_response, redirect, render_template, request, url_for

from bridge.login.transactions import BROWSER_COOKIE
from bridge.sessions import COOKIE
from bridge.upstream.fido import MIE_ID, FidoError, rp_id_problem
from bridge.web.context import bridge
from bridge.web.errors import error_page
from bridge.web.fido import passkeys, script_texts, text
from bridge.web.limits import client_ip
from bridge.web.security import browser_secret, cookie_args, form_token, form_token_ok

bp = Blueprint("means", __name__)
PARIS = ZoneInfo("Europe/Paris")
PURPOSE = "means"
DONE = ("added", "renamed", "revoked")


def paris(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, PARIS).strftime("%d/%m/%Y %H:%M") if epoch else ""


def _session():
    return bridge().sessions.load(request.cookies.get(COOKIE))


def _csrf_ok(token) -> bool:
    return form_token_ok(PURPOSE, request.cookies.get(BROWSER_COOKIE, ""), token)


def _audit(event: str, session, key, **details) -> None:
    bridge().record(event, "success", national_id=key.national_id, mie=MIE_ID, key_id=key.id,
                    session_mie=session.authn.mie, remote_addr=client_ip(), **details)


@bp.get("/me/means")
def page():
    return _render()


def _render(error: str = "", status: int = 200):
    b = bridge()
    session = _session()
    if session is None:
        return render_template("means.html", session=None), 401
    secret, new = browser_secret()
    keys = passkeys()
    refusal = keys.enrol_refusal(session)
    now = b.clock.now()
    listed = [{"id": k.id, "name": k.name, "created": paris(k.created), "expires": paris(k.expires),
               "last_used": paris(k.last_used), "expired": k.expired(now), "synced": k.backed_up}
              for k in keys.keys(session.authn.identity.national_id)]
    done = request.args.get("done", "")
    response = make_response(render_template(
        "means.html", session=session, keys=listed, csrf=form_token(PURPOSE, secret), refusal=refusal,
        window=int(b.settings.fido_enrol_window // 60), done=done if done in DONE else "",
        rp_problem=rp_id_problem(keys.rp_id), error=error, error_text=text(error) if error else "",
        script_texts=script_texts()), status)
    if new:
        response.set_cookie(BROWSER_COOKIE, secret, **cookie_args())
    return response


@bp.post("/me/means/options")
def options():
    session = _session()
    data = request.get_json(silent=True) if request.is_json else request.form
    data = data if isinstance(data, dict) else {}
    if session is None:
        return jsonify(error="login_required", message=text("fido_enrol_not_strong")), 401
    if not _csrf_ok(data.get("csrf")):
        return jsonify(error="csrf", message=text("csrf")), 403
    try:
        return jsonify(passkeys().registration_options(session))
    except FidoError as exc:
        return jsonify(error=exc.code, message=text(exc.code)), exc.status


@bp.post("/me/means/register")
def register():
    session = _session()
    if session is None:
        return error_page("txn_invalid", 401)
    if not _csrf_ok(request.form.get("csrf")):
        return error_page("csrf", 403)
    try:
        key = passkeys().register(session, request.form.get("credential"), request.form.get("name", ""))
    except FidoError as exc:
        bridge().record("fido_enrolled", "failure", national_id=session.authn.identity.national_id, mie=MIE_ID,
                        reason=exc.code, session_mie=session.authn.mie, remote_addr=client_ip())
        return _render(exc.code, exc.status)
    _audit("fido_enrolled", session, key, name=key.name, enrolled_with=key.enrolled_with,
           expires=int(key.expires), aaguid=key.aaguid, synced=key.backed_up)
    return redirect(url_for("means.page", done="added"), 303)


@bp.post("/me/means/rename")
def rename():
    session = _session()
    if session is None:
        return error_page("txn_invalid", 401)
    if not _csrf_ok(request.form.get("csrf")):
        return error_page("csrf", 403)
    key = passkeys().rename(session.authn.identity.national_id, request.form.get("key", ""),
                            request.form.get("name", ""))
    if key is None:
        return _render("fido_rename_invalid", 400)
    _audit("fido_renamed", session, key, name=key.name)
    return redirect(url_for("means.page", done="renamed"), 303)


@bp.post("/me/means/revoke")
def revoke():
    session = _session()
    if session is None:
        return error_page("txn_invalid", 401)
    if not _csrf_ok(request.form.get("csrf")):
        return error_page("csrf", 403)
    key = passkeys().revoke(session.authn.identity.national_id, request.form.get("key", ""))
    if key is None:
        return _render("fido_unknown_key", 404)
    _audit("fido_revoked", session, key, name=key.name, by="owner")
    return redirect(url_for("means.page", done="revoked"), 303)
