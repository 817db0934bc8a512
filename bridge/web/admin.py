"""Admin console (/admin): live sessions (and killing one), services and policies, audit search and chain status,
the attestation report. Protected by the bridge itself (bridge/web/admin_auth.py); every POST carries the console's
CSRF token; every change is audited as `admin_action`."""
from __future__ import annotations

from datetime import date
from functools import wraps
from urllib.parse import urlencode

from flask import Blueprint, make_response, redirect, render_template, request, url_for

from bridge import events
from bridge.admin.views import AuditQuery, chain_state, paris_stamp, paris_time, search_audit, session_rows
from bridge.attest import SelfCheckRun, UnknownService, build_report, render_html, render_pdf
from bridge.attest.store import latest_run, load_run, run_file
from bridge.audit import EVENTS
from bridge.login.transactions import BROWSER_COOKIE
from bridge.pki.expiry import certificate_expiry
from bridge.policy import PolicyError, effective_limits, load_policies, login_means
from bridge.sessions import session_key
from bridge.web.admin_auth import (
    CONSOLE_COOKIE,
    ConsoleError,
    admin_client,
    begin_login,
    close_console,
    csrf_ok,
    finish_login,
    load_console,
    open_console,
)
from bridge.web.context import bridge
from bridge.web.errors import error_page
from bridge.web.security import browser_secret, cookie_args

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _cookie_args(max_age: int | None = None) -> dict:
    # Strict: a console cookie is never sent with a request started from another site.
    return {**cookie_args(max_age), "samesite": "Strict", "path": "/admin"}


def _refuse(exc: ConsoleError):
    return error_page(exc.code, exc.status, detail=exc.detail)


def _console():
    """(console, None) for a live admin console; (None, refusal) when the admin policy is missing or broken;
    (None, None) when nobody is logged in to the console."""
    try:
        admin_client(bridge())
    except ConsoleError as exc:
        return None, _refuse(exc)
    return load_console(bridge(), request.cookies.get(CONSOLE_COOKIE)), None


def console_page(view):
    """GET pages: a live console or the login; the admin policy must exist."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        console, refusal = _console()
        if refusal is not None:
            return refusal
        if console is None:
            return redirect(url_for("admin.login"))
        return view(console, *args, **kwargs)
    return wrapper


def console_action(view):
    """POST actions: the admin policy, a live console and its CSRF token, or nothing happens."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        console, refusal = _console()
        if refusal is not None:
            return refusal
        if console is None:
            return error_page("admin_login_required", 403)
        if not csrf_ok(console, request.form.get("csrf")):
            bridge().record("admin_action", "denied", service="admin", national_id=console.national_id,
                            reason="csrf", command=request.endpoint or "")
            return error_page("csrf", 403)
        return view(console, *args, **kwargs)
    return wrapper


def page(template: str, console, **context):
    """A console page (also bridge/web/admin_cards.py's): the console, Paris times, now, and the banner of the
    bridge's own certificates that expire within BRIDGE_CERT_WARN_DAYS."""
    b = bridge()
    expiring = [e for e in certificate_expiry(b.settings, b.clock.now()) if e.state != "ok"]
    return render_template(f"admin/{template}", console=console, paris_time=paris_time, paris_stamp=paris_stamp,
                           now=b.clock.now(), expiring_certificates=expiring, **context)


def _killed_key(sid: str) -> str:
    return f"admin:killed:{sid}"


@bp.get("/login")
def login():
    b = bridge()
    secret, new = browser_secret()
    try:
        url = begin_login(b, secret)
    except ConsoleError as exc:
        return _refuse(exc)
    response = redirect(url)
    if new:
        response.set_cookie(BROWSER_COOKIE, secret, **cookie_args())
    return response


@bp.get("/callback")
def callback():
    b = bridge()
    try:
        national_id, claims = finish_login(b, request.args.to_dict(), request.cookies.get(BROWSER_COOKIE))
    except ConsoleError as exc:
        return _refuse(exc)
    service = b.policies.services["admin"]
    if national_id not in service.admins:
        events.login_denied(b, ("not_admin",), service="admin", client="bridge-admin", national_id=national_id,
                            mie=claims.get("mie", ""))
        return error_page("admin_forbidden", 403)
    token = open_console(b, national_id, claims)
    # A page, not a redirect: after a cross-site redirect chain (PSC) a SameSite=Strict cookie would not be sent.
    response = make_response(render_template("admin/entered.html", target=url_for("admin.sessions")))
    response.set_cookie(CONSOLE_COOKIE, token, **_cookie_args())
    return response


@bp.get("/")
@console_page
def sessions(console):
    b = bridge()
    killed = request.args.get("killed", "")[:64]
    # Who the session belonged to: kept a minute by the kill, so the notice names a person, not an identifier.
    who = b.store.get_json(_killed_key(killed)) if killed and killed != "gone" else None
    return page("sessions.html", console, rows=session_rows(b, b.clock.now()), killed=killed, killed_who=who)


@bp.post("/sessions/<sid>/kill")
@console_action
def kill(console, sid):
    b = bridge()
    data = b.store.get_json(session_key(sid))
    if data is None:
        return redirect(url_for("admin.sessions", killed="gone"))
    target = next((s for s in b.sessions.list() if s.sid == sid), None)
    b.record("admin_action", "info", service="admin", national_id=console.national_id, command="kill_session",
             target_sid=sid, target_subject=b.audit.subject(data["authn"]["identity"]["national_id"]))
    b.sessions.end(sid, "admin_kill", target)   # every app of the session gets a back-channel logout
    identity = data["authn"]["identity"]
    name = " ".join(filter(None, (identity.get("given_name"), identity.get("family_name"))))
    b.store.set_json(_killed_key(sid), {"name": name, "national_id": identity["national_id"],
                                        "clients": sorted(target.clients) if target else []}, 60)
    return redirect(url_for("admin.sessions", killed=sid))


@bp.get("/services")
@console_page
def services(console):
    b = bridge()
    now = b.clock.now()
    rows = [(s, effective_limits(s, now), login_means(s, now)) for s in
            sorted(b.policies.services.values(), key=lambda s: s.service)]
    try:
        on_disk = load_policies(b.settings.policies_dir, dev=not b.settings.production, now=now)
        disk_errors, disk_warnings = [], list(on_disk.warnings)
    except PolicyError as exc:
        disk_errors, disk_warnings = exc.errors, exc.warnings
    crls = b.cps.trust.crl_status(now) if b.cps else []
    return page("services.html", console, rows=rows, warnings=b.policies.warnings, disk_errors=disk_errors,
                 disk_warnings=disk_warnings, crls=crls)


def _day_arg(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


@bp.get("/audit")
@console_page
def audit(console):
    b = bridge()
    query = AuditQuery(event=request.args.get("event", "") if request.args.get("event") in EVENTS else "",
                       subject=request.args.get("subject", "").strip()[:64],
                       service=request.args.get("service", "").strip()[:64],
                       day_from=_day_arg("from"), day_to=_day_arg("to"))
    forms = tuple({query.subject, b.audit.subject(query.subject)}) if query.subject else ()
    lines, total = search_audit(b.settings.audit_path, query, forms)
    return page("audit.html", console, query=query, lines=lines, total=total, events=sorted(EVENTS),
                 chain=chain_state(b.settings.audit_path), services=sorted(b.policies.services))


# The report is a standalone document: its own stylesheet is inline, nothing else may load.
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
REPORT_TYPES = {"html": "text/html; charset=utf-8", "pdf": "application/pdf", "zip": "application/zip"}


def _report_response(body, fmt: str, filename: str):
    response = make_response(body)
    response.headers["Content-Type"] = REPORT_TYPES[fmt]
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Content-Security-Policy"] = REPORT_CSP
    return response


def _no_live_checks_note(lang: str) -> str:
    if lang == "en":
        return ("Live self-checks not run for this report: they are produced by the bridge attest command (schedule "
                "it, e.g. nightly); the admin console offers the latest stored run.")
    return ("Auto-tests en direct non exécutés pour ce rapport : ils sont produits par la commande bridge attest "
            "(planifiez-la, par ex. chaque nuit) ; la console d'administration propose la dernière exécution "
            "enregistrée.")


@bp.get("/report")
@console_page
def report_form(console):
    b = bridge()
    return page("report.html", console, services=sorted(b.policies.services), attest_dir=b.settings.attest_dir,
                 latest=latest_run(b.settings.attest_dir))


@bp.get("/report/runs/<run_id>/report.<fmt>")
@console_page
def stored_report(console, run_id, fmt):
    """A report `bridge attest` stored (BRIDGE_ATTEST_DIR), served as the generated ones are."""
    b = bridge()
    path = run_file(b.settings.attest_dir, run_id, fmt)
    if path is None:
        return error_page("not_found", 404)
    run = load_run(b.settings.attest_dir, run_id)
    b.record("admin_action", "info", service="admin", national_id=console.national_id, command="attestation_report",
             target_service=(run.summary.get("service") if run else None) or "*", format=fmt, run=run_id)
    return _report_response(path.read_bytes(), fmt, f"attestation-{run_id}.{fmt}")


@bp.post("/report")
@console_action
def report(console):
    """A report built now from the policies, the settings and the audit trail, WITHOUT live self-checks: those
    need a second bridge and the PSC emulator, which never run in a web worker (`bridge attest` runs them)."""
    b = bridge()
    service = request.form.get("service") or None
    lang = "en" if request.form.get("lang") == "en" else "fr"
    fmt = "pdf" if request.form.get("format") == "pdf" else "html"
    try:
        built = build_report(b.policies, b.settings, clock=b.clock, service=service, lang=lang,
                             checks=SelfCheckRun(note=_no_live_checks_note(lang)))
    except UnknownService:
        return error_page("invalid_request", 400, detail=f"unknown service {service!r}")
    b.record("admin_action", "info", service="admin", national_id=console.national_id, command="attestation_report",
             target_service=service or "*", format=fmt)
    html = render_html(built)
    try:
        body = render_pdf(built, html) if fmt == "pdf" else html
    except (ImportError, OSError) as exc:   # WeasyPrint without pango on this host: the HTML still works
        return error_page("report_pdf_unavailable", 503, detail=str(exc))
    return _report_response(body, fmt, f"attestation-{service or 'services'}.{fmt}")


@bp.post("/logout")
@console_action
def logout(console):
    b = bridge()
    close_console(b, console)
    _service, client, _ = admin_client(b)
    target = f"{b.settings.public_url}/admin/"
    query = {"id_token_hint": console.id_token, "client_id": client.client_id}
    if target in client.post_logout_redirect_uris:
        query["post_logout_redirect_uri"] = target
    response = redirect(f"{url_for('logout.logout')}?{urlencode(query)}")
    response.delete_cookie(CONSOLE_COOKIE, path="/admin")
    return response

