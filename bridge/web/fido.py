"""Passkey login pages (local-fido): the page, its WebAuthn options and the assertion.

    GET  /login/fido?txn=…           the page; its script (static/passkey.js) calls navigator.credentials.get
    POST /login/fido/options         {txn, csrf} -> PublicKeyCredentialRequestOptions (JSON, base64url)
    POST /login/fido/verify          txn, csrf, credential (the PublicKeyCredential as JSON) (form)

Discoverable credentials: nobody types an identifier, the authenticator offers the bridge's keys and the
credential id names the professional. HTTP only: the checks live in bridge/upstream/fido.py, the rest of the login
in the same pipeline as every upstream (bridge.login.complete), so the service's policy decides.
"""
from __future__ import annotations

from flask import Blueprint, jsonify, make_response, render_template, request

from bridge import events
from bridge.i18n import N_, translated
from bridge.upstream.cps import means_refusal
from bridge.upstream.fido import MIE_ID, FidoError, FidoFailures, Passkeys, rp_id_problem
from bridge.web.answers import render_denial
from bridge.web.completion import finish_login
from bridge.web.context import bridge
from bridge.web.errors import error_page
from bridge.web.i18n import current_lang
from bridge.web.limits import client_ip
from bridge.web.pending import bound_txn, chooser_means

bp = Blueprint("fido", __name__)

TEXTS = {   # code -> French text (msgid); English in the gettext catalogue
    "fido_malformed": N_("La réponse de votre clé est illisible. Réessayez."),
    "fido_challenge_invalid": N_("Cette tentative de connexion a expiré ou a déjà servi. Réessayez."),
    "fido_wrong_origin": N_("La réponse de votre clé a été produite pour un autre site : connexion refusée."),
    "fido_wrong_rp": N_("Cette clé a été enregistrée pour un autre site : connexion refusée."),
    "fido_no_user_verification": N_("Votre clé n'a pas vérifié votre identité (code PIN de la clé ou empreinte, "
                                    "visage…) : c'est obligatoire. Réessayez en déverrouillant la clé."),
    "fido_unknown_key": N_("Cette clé n'est pas enregistrée auprès de la passerelle. Connectez-vous avec Pro Santé "
                           "Connect ou votre carte CPS, puis enregistrez-la dans « Mes moyens de connexion »."),
    "fido_key_revoked": N_("Cette clé a été révoquée : elle ne permet plus de se connecter."),
    "fido_key_expired": N_("Cette clé a expiré : elle doit être enregistrée de nouveau au moins tous les 3 ans. "
                           "Connectez-vous avec Pro Santé Connect ou votre carte CPS, puis enregistrez-la de nouveau."),
    "fido_cloned": N_("Cette clé a renvoyé un compteur de signatures qui recule : elle a peut-être été copiée. "
                      "La connexion est refusée ; prévenez le support informatique."),
    "fido_invalid": N_("La signature de votre clé n'a pas pu être vérifiée : connexion refusée."),
    "fido_locked_key": N_("Trop de tentatives refusées avec cette clé : par sécurité, elle est refusée pour le moment. "
                          "Réessayez dans %(minutes)s minutes."),
    "fido_locked_address": N_("Trop de tentatives de connexion par clé refusées depuis ce réseau : par sécurité, elles "
                              "sont bloquées pour le moment. Réessayez dans %(minutes)s minutes."),
    "fido_enrol_not_strong": N_("Pour enregistrer une clé, connectez-vous d'abord avec Pro Santé Connect ou votre "
                                "carte CPS : c'est ce qui prouve votre identité."),
    "fido_enrol_too_old": N_("Votre connexion date de plus de quelques minutes : pour enregistrer une clé, "
                             "reconnectez-vous avec Pro Santé Connect ou votre carte CPS, puis revenez sur cette "
                             "page."),
    "fido_too_many_keys": N_("Vous avez déjà 10 clés enregistrées : révoquez-en une avant d'en ajouter une autre."),
    "fido_already_enrolled": N_("Cette clé est déjà enregistrée."),
    "fido_rename_invalid": N_("Donnez un nom à la clé (60 caractères au plus)."),
    "fido_rp_id": N_("Cette adresse de la passerelle est une adresse IP : les navigateurs n'acceptent les clés "
                     "d'accès que sur un nom de domaine. Demandez l'adresse à votre service informatique."),
}


def text(code: str, **values) -> str:
    source = TEXTS.get(code)
    if source is None:
        from bridge.web.messages import message

        return message(code, current_lang())
    return translated(source, current_lang()) % values if values else translated(source, current_lang())


def passkeys() -> Passkeys:
    b = bridge()
    return Passkeys(b.store, b.clock, b.settings)


def _page(txn, service, error: str = "", status: int = 200, error_text: str = ""):
    b = bridge()
    others = [m for m in chooser_means(service) if m.id != MIE_ID]
    return make_response(render_template(
        "fido_login.html", txn=txn, service=service, error=error,
        error_text=error_text or (text(error) if error else ""), others=others,
        rp_problem=rp_id_problem(passkeys().rp_id), script_texts=script_texts(),
        psc_offered=any(m.via_psc for m in others), host=b.settings.public_url), status)


def script_texts() -> dict[str, str]:
    return {"working": translated(N_("Suivez les indications de votre navigateur : choisissez votre clé, puis "
                                     "déverrouillez-la (code PIN, empreinte ou visage)."), current_lang()),
            "sending": translated(N_("Vérification par la passerelle…"), current_lang()),
            "cancelled": translated(N_("La connexion par clé a été annulée ou n'a pas abouti. Vous pouvez réessayer."),
                                    current_lang()),
            "unsupported": translated(N_("Ce navigateur ne prend pas en charge les clés d'accès (WebAuthn)."),
                                      current_lang())}


def _failed(txn, reason: str, detail: str = "", **extra) -> None:
    events.login_failed(bridge(), upstream=MIE_ID, reason=reason, detail=detail, service=txn.service if txn else "",
                        client=txn.client_id if txn else "", remote_addr=request.remote_addr, **extra)


@bp.get("/login/fido")
def login():
    txn = bound_txn()
    if txn is None:
        return error_page("txn_invalid", 400)
    service = bridge().policies.services[txn.service]
    refusal = means_refusal(service, MIE_ID, bridge().clock.now())
    if refusal:
        return render_denial(service, refusal)
    return _page(txn, service)


@bp.post("/login/fido/options")
def options():
    b = bridge()
    data = request.get_json(silent=True) if request.is_json else request.form
    data = data if isinstance(data, dict) else {}
    txn = bound_txn(data.get("txn") if isinstance(data.get("txn"), str) else "")
    if txn is None:
        return jsonify(error="txn_invalid", message=text("txn_invalid")), 400
    if not txn.check_csrf(data.get("csrf") if isinstance(data.get("csrf"), str) else None):
        return jsonify(error="csrf", message=text("csrf")), 403
    if means_refusal(b.policies.services[txn.service], MIE_ID, b.clock.now()):
        return jsonify(error="mie_not_allowed", message=text("mie_not_allowed")), 403
    if not b.transactions.attempt(txn, "fido"):
        return jsonify(error="too_many_requests", message=text("too_many_requests")), 429
    return jsonify(passkeys().authentication_options(txn.id))


@bp.post("/login/fido/verify")
def verify():
    b = bridge()
    form = request.form
    txn = bound_txn(form.get("txn", ""))
    if txn is None:
        _failed(None, "txn_invalid")
        return error_page("txn_invalid", 400)
    if not txn.check_csrf(form.get("csrf")):
        _failed(txn, "csrf")
        return error_page("csrf", 403)
    service = b.policies.services[txn.service]
    refusal = means_refusal(service, MIE_ID, b.clock.now())
    if refusal:   # a direct POST for a service that does not offer the means: refused before any check
        return render_denial(service, refusal)
    raw = form.get("credential")
    announced = Passkeys.announced_key(raw)
    failures = FidoFailures(b.store, b.clock, b.settings)
    locked = failures.locked(announced, client_ip())
    if locked:
        scope, minutes = locked
        _failed(txn, "fido_lockout", f"{scope} locked out, {minutes} min left", key_id=announced or "")
        return _page(txn, service, error=f"fido_locked_{scope}", status=429,
                     error_text=text(f"fido_locked_{scope}", minutes=minutes))
    keys = passkeys()
    try:
        key, authn = keys.verify(txn.id, raw)
    except FidoError as exc:
        key = getattr(exc, "key", None)
        _failed(txn, exc.code, exc.detail, key_id=announced or "")
        if exc.code == "fido_cloned":
            b.record("fido_cloned", "denied", service=txn.service, client=txn.client_id,
                     national_id=key.national_id, mie=MIE_ID, reason="sign_count", key_id=key.id,
                     remote_addr=client_ip())
        for scope in failures.failed(exc.code, announced, client_ip()):
            b.record("login_failed", "failure", reason="fido_lockout", upstream=MIE_ID, scope=scope,
                     last_reason=exc.code, key_id=announced or "", remote_addr=client_ip(), service=txn.service,
                     client=txn.client_id, lockout_seconds=int(b.settings.fido_lockout))
        return _page(txn, service, error=exc.code, status=exc.status)

    def succeeded(authn) -> None:
        events.login_succeeded(bridge(), authn, service=txn.service, client=txn.client_id, key_id=key.id,
                               key_name=key.name, remote_addr=request.remote_addr)

    return finish_login(txn, authn, succeeded)
