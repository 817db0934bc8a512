"""Admin console, backup codes (/admin/backup/): activate a one-time code for one professional and the services
that allow the backup means (RIE-PS 16), shown once on the answer page and never again; the pending codes and
their revocation. HTTP only: bridge/admin/backup.py holds what it does, bridge/upstream/backup.py the codes."""
from __future__ import annotations

from flask import Blueprint, make_response, redirect, request, url_for

from bridge.admin import backup
from bridge.upstream.backup import NATIONAL_ID, BackupError, formatted
from bridge.web.admin import console_action, console_page, page
from bridge.web.context import bridge

bp = Blueprint("admin_backup", __name__, url_prefix="/admin/backup")
DONE = ("revoked",)


def _page(console, *, status: int = 200, **context):
    b = bridge()
    response = make_response(page("backup.html", console, services=backup.backup_services(b),
                                  pending=backup.codes(b).pending(), ttl=int(backup.codes(b).ttl), **context), status)
    response.headers["Cache-Control"] = "no-store"   # the answer page carries the code: never cached
    return response


@bp.get("/")
@console_page
def home(console):
    done = request.args.get("done", "")
    return _page(console, done=done if done in DONE else "")


@bp.post("/activate")
@console_action
def activate(console):
    form = request.form
    typed = {"national_id": form.get("national_id", "").strip()[:40], "family_name": form.get("family_name", "")
             .strip()[:100], "given_name": form.get("given_name", "").strip()[:100]}
    chosen = form.getlist("services")
    if not NATIONAL_ID.fullmatch(typed["national_id"]):
        return _page(console, status=400, error="backup_activation_incomplete", typed=typed, chosen=chosen)
    try:
        activation = backup.activate(bridge(), console.national_id, typed["national_id"], typed["family_name"],
                                     typed["given_name"], chosen)
    except BackupError as exc:
        return _page(console, status=exc.status, error=exc.code, typed=typed, chosen=chosen)
    return _page(console, activation=activation, code=formatted(activation.code), typed=typed)


@bp.post("/revoke")
@console_action
def revoke(console):
    national_id = request.form.get("national_id", "")[:40]
    if backup.revoke(bridge(), console.national_id, national_id) is None:
        return _page(console, status=404, error="backup_not_pending")
    return redirect(url_for("admin_backup.home", done="revoked"))
