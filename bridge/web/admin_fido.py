"""Admin console, passkeys (/admin/passkeys/): a professional's passkeys and FIDO2 keys by national id, and
revoking any of them (confirmation, the console's CSRF token, audited as `fido_revoked` by the administrator and
`admin_action`); the sessions the key opened end with it. HTTP only: the keys live in bridge/upstream/fido.py."""
from __future__ import annotations

from flask import Blueprint, redirect, request, url_for

from bridge.upstream.fido import MIE_ID
from bridge.web.admin import console_action, console_page, page
from bridge.web.context import bridge
from bridge.web.fido import passkeys
from bridge.web.limits import client_ip

bp = Blueprint("admin_fido", __name__, url_prefix="/admin/passkeys")


def _national_id(value) -> str:
    value = (value or "").strip()[:64] if isinstance(value, str) else ""
    return value if value.isprintable() else ""


@bp.get("/")
@console_page
def search(console):
    national_id = _national_id(request.args.get("national_id"))
    keys = passkeys().keys(national_id) if national_id else []
    return page("passkeys.html", console, national_id=national_id, keys=keys,
                revoked=request.args.get("done") == "revoked", ended=request.args.get("ended", 0, type=int))


@bp.post("/revoke")
@console_action
def revoke(console):
    b = bridge()
    national_id = _national_id(request.form.get("national_id"))
    key = passkeys().revoke(national_id, request.form.get("key", "")) if national_id else None
    if key is None:
        return page("passkeys.html", console, national_id=national_id, keys=passkeys().keys(national_id) if
                    national_id else [], revoked=False, error="fido_unknown_key"), 404
    b.record("fido_revoked", "success", national_id=key.national_id, mie=MIE_ID, key_id=key.id, name=key.name,
             by="admin", admin=console.national_id, remote_addr=client_ip())
    b.record("admin_action", "success", service="admin", national_id=console.national_id, command="fido_revoke",
             target=key.national_id, key_id=key.id)
    # A key an administrator revokes may be in the wrong hands: the sessions it opened end too (back-channel).
    opened = [s for s in b.sessions.list() if s.authn.upstream == MIE_ID
              and s.authn.upstream_session.get("key_id") == key.id]
    for session in opened:
        b.sessions.end(session.sid, "fido_revoked", session)
    return redirect(url_for("admin_fido.search", national_id=key.national_id, done="revoked", ended=len(opened)), 303)
