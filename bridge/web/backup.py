"""Login with a backup code (« code de secours », RIE-PS 16): the page and its form.

    GET  /login/backup?txn=…   national id + code fields, offered only where the service's policy lists `backup`
    POST /login/backup         txn, csrf, national_id, code -> the same login pipeline as every upstream

HTTP only: the code store is bridge/upstream/backup.py. Every refusal is audited (login_failed, upstream backup) and
opens no session; wrong codes count towards the R8 lockout of the person (then 429 with the minutes left).
"""
from __future__ import annotations

from flask import Blueprint, make_response, render_template, request

from bridge import events
from bridge.i18n import N_, translated
from bridge.policy import login_means
from bridge.upstream.backup import NATIONAL_ID, BackupCodes, BackupError
from bridge.web.answers import render_denial
from bridge.web.completion import finish_login
from bridge.web.context import bridge
from bridge.web.errors import error_page
from bridge.web.i18n import current_lang
from bridge.web.limits import client_ip
from bridge.web.pending import bound_txn

bp = Blueprint("backup", __name__)
NOT_COUNTED = frozenset({"backup_code_other_service"})   # the right code, wrong service: no guessing

TEXTS = {   # code -> French text (msgid); English in the gettext catalogue
    "backup_code_invalid": N_("Identifiant national ou code de secours incorrect. Vérifiez les deux et réessayez."),
    "backup_code_used": N_("Ce code de secours a déjà été utilisé : il ne sert qu'une fois. Demandez un nouveau code "
                           "à un administrateur."),
    "backup_code_expired": N_("Ce code de secours a expiré. Demandez un nouveau code à un administrateur."),
    "backup_code_other_service": N_("Ce code de secours n'a pas été activé pour ce service. Demandez à un "
                                    "administrateur un code pour ce service."),
    "backup_locked": N_("Trop de tentatives avec un code de secours : par sécurité, la connexion par code de secours "
                        "est bloquée pour le moment. Réessayez dans %(minutes)s minutes."),
    "backup_national_id": N_("Saisissez votre identifiant national (RPPS, ADELI ou Pro Santé Identité)."),
}


def text(code: str, minutes: int = 0) -> str:
    words = translated(TEXTS[code], current_lang())
    return words % {"minutes": minutes} if "%(minutes)" in TEXTS[code] else words


def offered(service) -> bool:
    return any(m.id == "backup" for m in login_means(service, bridge().clock.now()))


def _page(txn, service, *, error: str = "", minutes: int = 0, national_id: str = "", status: int = 200):
    return make_response(render_template("backup_login.html", txn=txn, service=service, error=error,
                                         error_text=text(error, minutes) if error else "",
                                         national_id=national_id), status)


def _failed(txn, reason: str, national_id: str = "", detail: str = "", **extra) -> None:
    events.login_failed(bridge(), upstream="backup", reason=reason, service=txn.service, client=txn.client_id,
                        detail=detail, national_id=national_id, remote_addr=client_ip(), **extra)


def _refused(txn, service):
    """The service's policy does not list `backup`: the denial page (render_denial audits it)."""
    return render_denial(service, ("mie_not_allowed",), None, txn.client_id)


@bp.get("/login/backup")
def login():
    txn = bound_txn()
    if txn is None:
        return error_page("txn_invalid", 400)
    service = bridge().policies.services[txn.service]
    if not offered(service):
        return _refused(txn, service)
    return _page(txn, service)


@bp.post("/login/backup")
def submit():
    b = bridge()
    txn = bound_txn(request.form.get("txn", ""))
    if txn is None:
        events.login_failed(b, upstream="backup", reason="txn_invalid", remote_addr=client_ip())
        return error_page("txn_invalid", 400)
    if not txn.check_csrf(request.form.get("csrf")):
        _failed(txn, "csrf")
        return error_page("csrf", 403)
    service = b.policies.services[txn.service]
    if not offered(service):   # a direct POST for a service that does not allow the backup means
        return _refused(txn, service)
    national_id = request.form.get("national_id", "").strip()
    if not NATIONAL_ID.fullmatch(national_id):
        return _page(txn, service, error="backup_national_id", status=400)
    codes = BackupCodes(b.store, b.clock, b.settings)
    minutes = codes.locked(national_id, client_ip())
    if minutes:
        _failed(txn, "backup_locked", national_id, f"{minutes} min left")
        return _page(txn, service, error="backup_locked", minutes=minutes, national_id=national_id, status=429)
    try:
        authn, record = codes.use(national_id, request.form.get("code", "")[:64], txn.service)
    except BackupError as exc:
        _failed(txn, exc.code, national_id, exc.detail, backup_id=exc.record.get("id", ""))
        if exc.code not in NOT_COUNTED:
            for scope in codes.failed(national_id, client_ip()):
                _failed(txn, "backup_lockout", national_id, scope=scope, last_reason=exc.code)
        return _page(txn, service, error=exc.code, national_id=national_id, status=exc.status)

    def succeeded(authn) -> None:
        events.login_succeeded(b, authn, service=txn.service, client=txn.client_id, backup_id=record["id"],
                               remote_addr=client_ip())

    return finish_login(txn, authn, succeeded)
