"""Direct CPS card login pages: the PIN page, its challenge and proof endpoints, and cps-tls.

    GET  /login/cps?txn=…            the page; its script talks to the card agent on the workstation
    POST /login/cps/challenge        {txn, csrf} -> {challenge, origin, expires_in}      (JSON or form)
    POST /login/cps/proof            txn, csrf, challenge, certificate, signature, card_type, card_serial,
                                     card_reader (optional: the reader the agent used, for the card watch) (form)
    GET  /login/cps-tls?txn=…        certificate forwarded by a trusted TLS proxy in BRIDGE_CLIENT_CERT_HEADER

HTTP only: checks and identity live in bridge/upstream/cps.py. The PIN never comes here.
"""
from __future__ import annotations

from flask import Blueprint, jsonify, make_response, render_template, request

from bridge import events, metrics
from bridge.i18n import N_, translated
from bridge.policy import login_means, reason_message
from bridge.upstream.card_failures import CardFailures, fingerprint
from bridge.upstream.cps import CpsError, certificate_from_header, decode_base64, means_refusal, proxy_trusted
from bridge.web.answers import render_denial
from bridge.web.completion import finish_login
from bridge.web.context import bridge
from bridge.web.errors import error_page
from bridge.web.i18n import current_lang
from bridge.web.limits import client_ip
from bridge.web.messages import message
from bridge.web.pending import bound_txn

bp = Blueprint("cps", __name__)
# No form-action: browsers apply it to the redirect that follows the proof POST (to the app, another origin).
CSP = ("default-src 'self'; connect-src 'self' {agent}; img-src 'self' data:; style-src 'self'; "
       "frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
# Codes the page's script may show (agent answers and our own); sent to it as a JSON data block.
PAGE_CODES = ("wrong_pin", "wrong_pin_last", "card_blocked", "no_card", "card_removed", "no_reader",
              "unsupported_card", "card_error", "busy", "origin_mismatch", "origin_not_allowed", "bad_request",
              "no_cps_card", "several_cards", "card_reset", "agent_unreachable", "pin_format", "challenge_invalid",
              "challenge_expired", "txn_invalid", "csrf", "cps_unavailable", "store_unavailable", "server_error")
POLICY_CODES = ("mie_not_allowed", "not_historical_teleservice", "attestation_missing", "attestation_expired",
                "reserves_expired")   # the challenge endpoint's refusals (bridge.upstream.cps.means_refusal)


LOCKED_TEXT = {   # code -> French text (msgid) with the minutes left; English in the gettext catalogue
    "card_locked": N_("Trop de tentatives avec cette carte : par sécurité, elle est refusée pour le moment. "
                      "Réessayez dans %(minutes)s minutes, ou prévenez le support informatique si la carte "
                      "est expirée ou a été renouvelée."),
    "address_locked": N_("Trop de tentatives de connexion par carte refusées depuis ce réseau : par sécurité, "
                         "elles sont bloquées pour le moment. Réessayez dans %(minutes)s minutes."),
}


def _certificate_sha256(read) -> str | None:
    try:
        return fingerprint(read())
    except CpsError:
        return None


def _locked_out(upstream: str, txn, cert_sha256: str | None) -> tuple[str, str] | None:
    """(code, text) when this certificate or source address is locked out after repeated bad certificates."""
    b = bridge()
    found = CardFailures(b.store, b.clock, b.settings).locked(cert_sha256, client_ip())
    if found is None:
        return None
    scope, minutes = found
    code = "card_locked" if scope == "certificate" else "address_locked"
    metrics.card_lockout(scope, "refused")
    _failed(upstream, txn, code, f"{scope} locked out, {minutes} min left")
    return code, translated(LOCKED_TEXT[code], current_lang()) % {"minutes": minutes}


def _count_failure(upstream: str, txn, code: str, cert_sha256: str | None) -> None:
    """One refused card login: counted; a lockout it starts is audited and counted."""
    b = bridge()
    for scope in CardFailures(b.store, b.clock, b.settings).failed(code, cert_sha256, client_ip()):
        metrics.card_lockout(scope, "locked")
        b.record("login_failed", "failure", reason="card_lockout", upstream=upstream, scope=scope, last_reason=code,
                 cert_sha256=cert_sha256 or "", remote_addr=client_ip(), service=txn.service if txn else "",
                 client=txn.client_id if txn else "", lockout_seconds=int(b.settings.card_lockout))


def _denial(service, reasons, authn=None, txn=None):
    return render_denial(service, reasons, authn, txn.client_id if txn else "")


def _failed(upstream: str, txn, reason: str, detail: str = "") -> None:
    events.login_failed(bridge(), upstream=upstream, reason=reason, detail=detail,
                        service=txn.service if txn else "", client=txn.client_id if txn else "",
                        remote_addr=request.remote_addr)


def _page(txn, service, error: str = "", status: int = 200, text: str = ""):
    b = bridge()
    lang = current_lang()
    psc_offered = any(m.via_psc for m in login_means(service, b.clock.now()))
    response = make_response(render_template(
        "cps_login.html", txn=txn, service=service, agent_url=b.settings.agent_url,
        origin=b.cps.origin if b.cps else "", psc_offered=psc_offered, messages=_script_texts(lang),
        error=error, error_text=text or (message(error, lang) if error else "")), status)
    # The page's script must reach the agent on the workstation: this page alone may connect there.
    response.headers["Content-Security-Policy"] = CSP.format(agent=b.settings.agent_url)
    return response


def _script_texts(lang: str) -> dict[str, str]:
    """What the page's script may show for a code (agent answers, ours, policy refusals), in the page's language."""
    texts = {code: message(code, lang) for code in PAGE_CODES}
    texts.update({code: reason_message(code, lang) for code in POLICY_CODES})
    texts["default"] = message("", lang)
    return texts


@bp.get("/login/cps")
def login():
    txn = bound_txn(request.args.get("txn", ""))
    if txn is None:
        return error_page("txn_invalid", 400)
    service = bridge().policies.services[txn.service]
    refusal = means_refusal(service, "cps-pin", bridge().clock.now())
    if refusal:
        return _denial(service, refusal)
    return _page(txn, service)


@bp.post("/login/cps/challenge")
def challenge():
    b = bridge()
    data = request.get_json(silent=True) if request.is_json else request.form
    data = data if isinstance(data, dict) else {}
    txn = bound_txn(data["txn"] if isinstance(data.get("txn"), str) else "")
    if txn is None:
        return jsonify(error="txn_invalid", message=message("txn_invalid")), 400
    if not txn.check_csrf(data.get("csrf") if isinstance(data.get("csrf"), str) else None):
        return jsonify(error="csrf", message=message("csrf")), 403
    refusal = means_refusal(b.policies.services[txn.service], "cps-pin", b.clock.now())
    if refusal:
        events.login_denied(b, refusal[:1], service=txn.service, client=txn.client_id, upstream="cps-pin",
                            remote_addr=request.remote_addr)
        return jsonify(error=refusal[0], message=message(refusal[0])), 403
    if b.cps is None:
        return jsonify(error="cps_unavailable", message=message("cps_unavailable")), 503
    if not b.transactions.attempt(txn, "cps"):
        return jsonify(error="too_many_requests", message=message("too_many_requests")), 429
    issued = b.cps.issue(txn.id)
    return jsonify(challenge=issued.value, origin=issued.origin, expires_in=issued.ttl)


@bp.post("/login/cps/proof")
def proof():
    b = bridge()
    form = request.form
    txn = bound_txn(form.get("txn", ""))
    if txn is None:
        _failed("cps-pin", None, "txn_invalid")
        return error_page("txn_invalid", 400)
    if not txn.check_csrf(form.get("csrf")):
        _failed("cps-pin", txn, "csrf")
        return error_page("csrf", 403)
    service = b.policies.services[txn.service]
    refusal = means_refusal(service, "cps-pin", b.clock.now())
    if refusal:   # a direct POST for a service that does not offer the means: refused before any check
        return _denial(service, refusal)
    if b.cps is None:
        return error_page("cps_unavailable", 503)
    cert_sha256 = _certificate_sha256(lambda: decode_base64(form.get("certificate"), "certificate", 16384))
    locked = _locked_out("cps-pin", txn, cert_sha256)
    if locked:
        return _page(txn, service, error=locked[0], status=429, text=locked[1])
    try:
        authn = b.cps.verify_proof(txn.id, form.get("challenge"), form.get("certificate"), form.get("signature"),
                                   form.get("card_serial", ""))
    except CpsError as exc:
        _failed("cps-pin", txn, exc.code, exc.detail)
        _count_failure("cps-pin", txn, exc.code, cert_sha256)
        return _page(txn, service, error=exc.code, status=exc.status)
    return _finish(txn, authn)


@bp.get("/login/cps-tls")
def tls_login():
    b = bridge()
    txn = bound_txn(request.args.get("txn", ""))
    if txn is None:
        return error_page("txn_invalid", 400)
    service = b.policies.services[txn.service]
    refusal = means_refusal(service, "cps-tls", b.clock.now())
    if refusal:
        return _denial(service, refusal)
    header = request.headers.get(b.settings.client_cert_header)
    if not proxy_trusted(request.remote_addr, b.settings.trusted_proxies):
        # Anyone can send the header: it only means something when our own TLS proxy set it.
        _failed("cps-tls", txn, "cps_tls_untrusted_proxy",
                f"{b.settings.client_cert_header} {'present' if header else 'absent'}")
        return error_page("cps_tls_untrusted_proxy", 403)
    if b.cps is None:
        return error_page("cps_unavailable", 503)
    cert_sha256 = _certificate_sha256(lambda: certificate_from_header(header))
    locked = _locked_out("cps-tls", txn, cert_sha256)
    if locked:
        return error_page(locked[0], 429, text=locked[1])
    try:
        authn = b.cps.verify_tls(header)
    except CpsError as exc:
        _failed("cps-tls", txn, exc.code, exc.detail)
        _count_failure("cps-tls", txn, exc.code, cert_sha256)
        return error_page(exc.code, exc.status)
    return _finish(txn, authn)


def _finish(txn, authn):
    """The card is valid: the login pipeline decides (policy first, so a refused card never replaces the browser's
    session), and the login is audited once allowed, before any session exists."""
    def succeeded(authn) -> None:
        events.login_succeeded(bridge(), authn, service=txn.service, client=txn.client_id, card_type=authn.card.type,
                               cert_sha256=authn.card.cert_sha256, remote_addr=request.remote_addr)

    return finish_login(txn, authn, succeeded, reader=request.form.get("card_reader", ""))
