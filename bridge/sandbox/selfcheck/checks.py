"""Live self-checks run by `bridge attest`: each one drives the real bridge (the lab, bridge.sandbox.selfcheck.lab)
or the real certificate verification, and keeps the audit lines it produced as evidence."""
from __future__ import annotations

import tempfile
from pathlib import Path

from bridge.attest.model import SelfCheck, SelfCheckRun
from bridge.attest.render import human_duration
from bridge.mie import satisfies
from bridge.policy import Service, effective_limits, eligible_activities
from bridge.sandbox.selfcheck.lab import Lab

AUDIT_KEYS = ("time", "seq", "event", "outcome", "service", "client", "subject", "mie", "reason")


def _t(lang: str, fr: str, en: str) -> str:
    return en if lang == "en" else fr


def _evidence(lines: list[dict]) -> tuple[dict, ...]:
    return tuple({k: line.get(k, "") for k in AUDIT_KEYS} for line in lines)


def pick_professional(service: Service) -> str | None:
    """A test professional the service's profession/mode filters admit (so only the checked rule can refuse)."""
    from bridge.model import Authentication
    from bridge.sandbox.professionals import TEST_PROFESSIONALS
    from bridge.upstream.psc_claims import identity_from_userinfo

    for national_id, userinfo in TEST_PROFESSIONALS.items():
        identity = identity_from_userinfo(userinfo)
        authn = Authentication(identity=identity, mie="psc", amr=("mfa",), acr="eidas1", auth_time=0, upstream="psc")
        if eligible_activities(service, authn):
            return national_id
    return None


def single_factor(lab: Lab, service: Service, user: str, lang: str) -> SelfCheck:
    """PSC forwards a password-only login (amr=["pwd"], no authMode): RIE-PS 09 must refuse it."""
    client = service.clients[0]
    required = effective_limits(service, lab.clock.now()).require_2fa
    mark = lab.audit_mark()
    lab.psc.set_faults({"access_token_claims": {"authMode": None}, "id_token_claims": {"amr": ["pwd"]}})
    try:
        outcome, _ = lab.login(client, user)
    finally:
        lab.psc.set_faults({})
    lines = lab.audit_since(mark)
    denied = [x for x in lines if x["event"] == "login_denied" and "single_factor" in x["reason"].split(",")]
    refused = outcome.kind == "page" and outcome.status == 403 and bool(denied)
    return SelfCheck(
        id="single_factor", service=service.service,
        title=_t(lang, "Connexion à un seul facteur refusée", "Single-factor login refused"),
        expected=_t(lang, "refus (HTTP 403, motif single_factor, ligne d'audit login_denied)" if required else
                    "acceptée : réserve RIE-PS 09 en vigueur", "refusal (HTTP 403, reason single_factor, audit line "
                    "login_denied)" if required else "accepted: reserve on RIE-PS 09 in force"),
        observed=(f"HTTP {outcome.status}" if outcome.kind == "page" else _t(lang, "code délivré", "code issued"))
        + (", login_denied single_factor" if denied else ""),
        passed=refused if required else outcome.kind == "code", audit_lines=_evidence(lines),
        steps=tuple(outcome.steps))


def disallowed_means(lab: Lab, service: Service, user: str, lang: str) -> SelfCheck | None:
    """A PSC means the service does not list (when it lists PSC means one by one)."""
    mapping = lab.bridge.settings.psc_authmode_mie
    refused = [(mode, mie) for mode, mie in mapping.items() if not satisfies(service.allowed_mie, mie)]
    if not refused:
        return None   # `psc` or every mapped PSC means is allowed: nothing to refuse
    mode, mie = refused[0]
    mark = lab.audit_mark()
    outcome, _ = lab.login(service.clients[0], user, auth_mode=mode)
    lines = lab.audit_since(mark)
    denied = [x for x in lines if x["event"] == "login_denied" and "mie_not_allowed" in x["reason"].split(",")]
    return SelfCheck(
        id="disallowed_means", service=service.service,
        title=_t(lang, f"Moyen non admis refusé ({mie})", f"Means not allowed refused ({mie})"),
        expected=_t(lang, "refus (motif mie_not_allowed)", "refusal (reason mie_not_allowed)"),
        observed=f"HTTP {outcome.status}" + (", login_denied mie_not_allowed" if denied else ""),
        passed=outcome.kind == "page" and bool(denied), audit_lines=_evidence(lines), steps=tuple(outcome.steps))


def idle_logout(lab: Lab, service: Service, user: str, lang: str) -> SelfCheck:
    """Log in, stay idle past the service's effective idle timeout, let the sweeper run, come back."""
    client = service.clients[0]
    mark = lab.audit_mark()
    outcome, web = lab.login(client, user)
    idle = effective_limits(service, lab.clock.now()).idle_timeout
    steps = list(outcome.steps)
    if outcome.kind != "code":
        return SelfCheck("idle_logout", service.service, _t(lang, "Déconnexion après inactivité",
                                                              "Logout after inactivity"),
                         "", _t(lang, f"connexion impossible (HTTP {outcome.status})",
                                f"login failed (HTTP {outcome.status})"), False, _evidence(lab.audit_since(mark)),
                         tuple(steps))
    lab.backchannel.clear()
    lab.advance(idle + 1)
    swept = lab.bridge.sessions.sweep()
    again = lab.authorize(web, client)
    shown = human_duration(idle, lang)
    steps += [_t(lang, f"horloge avancée de {shown} + 1 s ; balayage : {swept} expiration(s)",
                 f"clock moved {shown} + 1 s; sweeper: {swept} expiry(ies)"),
              "/authorize → " + ("code" if again.kind == "code" else again.location.split("?")[0])]
    lines = lab.audit_since(mark)
    expired = [x for x in lines if x["event"] == "idle_expired" and x["client"] == client.client_id]
    notified = [c for c, reason in lab.backchannel if c == client.client_id and reason == "idle_expired"]
    return SelfCheck(
        id="idle_logout", service=service.service,
        title=_t(lang, "Déconnexion après inactivité", "Logout after inactivity"),
        expected=_t(lang, f"après {shown} sans activité : ligne idle_expired, déconnexion "
                          f"back-channel de {client.client_id}, nouvelle identification exigée",
                    f"after {shown} idle: idle_expired line, back-channel logout of "
                    f"{client.client_id}, new login required"),
        observed=_t(lang, f"{len(expired)} ligne(s) idle_expired ; back-channel {'prévu' if notified else 'absent'}"
                          f" ; retour : {'code délivré' if again.kind == 'code' else 'identification demandée'}",
                    f"{len(expired)} idle_expired line(s); back-channel {'due' if notified else 'missing'}; "
                    f"return: {'code issued' if again.kind == 'code' else 'login required'}"),
        passed=bool(expired) and bool(notified) and again.kind != "code", audit_lines=_evidence(lines),
        steps=tuple(steps))


def legacy_card(workdir: Path, lang: str) -> SelfCheck:
    """IGC-Santé TEST PKI: a GIP-CPS (IGC 2bis/2ter) card is refused, a revoked one too, a current one accepted."""
    from bridge import pki
    from bridge.sandbox.testpki import TestPki

    test_pki = TestPki("attest-selfcheck", workdir / "testpki")
    current = test_pki.card("899700000001")
    revoked = test_pki.card("899700000003", revoked=True)
    legacy = test_pki.card("899700000002", legacy=True)
    trust = pki.TrustStore.from_directory(test_pki.trust_dir(include_legacy=True), test_pki.crl_dir())
    now = test_pki.anchor.timestamp() + 12 * 3600
    results = {}
    for name, card in (("current", current), ("revoked", revoked), ("legacy", legacy)):
        try:
            pki.verify_certificate(card.cert_der, trust, now)
            results[name] = "accepted"
        except pki.PkiError as exc:
            results[name] = exc.code
    passed = results == {"current": "accepted", "revoked": "certificate_revoked", "legacy": "legacy_chain"}
    names = {"current": _t(lang, "carte IGC-Santé valide", "valid IGC-Santé card"),
             "revoked": _t(lang, "carte révoquée", "revoked card"), "legacy": _t(lang, "carte GIP-CPS", "GIP-CPS card")}
    accepted, refused, colon = _t(lang, "acceptée", "accepted"), _t(lang, "refusée", "refused"), _t(lang, " : ", ": ")
    return SelfCheck(
        id="legacy_card", service="",
        title=_t(lang, "Carte de l'ancienne IGC GIP-CPS refusée", "Legacy GIP-CPS card refused"),
        expected=_t(lang, "GIP-CPS → legacy_chain ; carte révoquée → certificate_revoked ; carte IGC-Santé valide "
                          "→ acceptée", "GIP-CPS → legacy_chain; revoked card → certificate_revoked; valid "
                          "IGC-Santé card → accepted"),
        observed=_t(lang, " ; ", "; ").join(
            f"{names[k]}{colon}{accepted}" if v == "accepted" else f"{names[k]}{colon}{refused} ({v})"
            for k, v in results.items()),
        passed=passed,
        steps=(_t(lang, "bridge.pki.verify_certificate, la vérification qu'utilisent les connexions par carte "
                        "(cps-pin, cps-tls), appelée directement avec la PKI de TEST (bridge.sandbox.testpki) et un "
                        "magasin de confiance contenant aussi les AC GIP-CPS ; appelée hors connexion, elle ne produit "
                        "pas de ligne d'audit (la connexion carte + PIN complète est l'auto-test « Connexion par carte "
                        "CPS et code PIN » des services qui la proposent)",
                  "bridge.pki.verify_certificate, the verification card logins use (cps-pin, cps-tls), called "
                  "directly with the TEST PKI (bridge.sandbox.testpki) and a trust store also holding the GIP-CPS "
                  "CAs; called outside a login, it writes no audit line (the full card + PIN login is the 'CPS card "
                  "+ PIN login' self-check of the services offering it)"),))


def run_checks(policies_dir: Path, services: list[Service], lang: str, log_level: str = "WARNING",
               watch=None) -> SelfCheckRun:
    """Every check of every service, and the global ones. Never raises: a check that cannot run says why.
    `watch` (bridge.attest.demonstrate.Narrator): told before (`start(id, service)`) and after (`done(check)`)
    each check, for `bridge attest --demonstrate`."""
    per_service: dict[str, tuple[SelfCheck, ...]] = {}
    with tempfile.TemporaryDirectory(prefix="bridge-attest-") as tmp:
        workdir = Path(tmp)
        try:
            lab = Lab(policies_dir, workdir, log_level=log_level)
        except Exception as exc:  # e.g. BRIDGE_ENV=production refuses the sandbox
            return SelfCheckRun(note=_t(lang, f"auto-tests non exécutés : {exc}", f"self-checks not run: {exc}"))
        with lab:
            for service in services:
                user = pick_professional(service)
                if user is None or not service.clients:
                    continue
                checks = [_watched(watch, check, lang, lab, service, user, lang)   # idle last: it moves the clock
                          for check in (single_factor, disallowed_means, _card_if_offered, idle_logout)]
                per_service[service.service] = tuple(c for c in checks if c is not None)
        global_checks = (_watched(watch, legacy_card, lang, workdir, lang),)
    return SelfCheckRun(per_service, global_checks)


def _card_if_offered(lab: Lab, service: Service, user: str, lang: str) -> SelfCheck | None:
    from bridge.policy import login_means
    from bridge.sandbox.selfcheck.card_check import card_pin_login

    if "cps-pin" not in {m.id for m in login_means(service, lab.clock.now())}:
        return None
    return card_pin_login(lab, service, user, lang)


def _watched(watch, check, lang: str, *args) -> SelfCheck | None:
    if watch is None:
        return _safely(check, lang, *args)
    service = args[1].service if len(args) > 1 and isinstance(args[1], Service) else ""
    watch.start("card_pin_login" if check is _card_if_offered else check.__name__, service)
    result = _safely(check, lang, *args)
    watch.done(result)
    return result


def _safely(check, lang: str, *args) -> SelfCheck | None:
    """A check that crashes is a failed check in the report, not a missing report."""
    try:
        return check(*args)
    except Exception as exc:
        service = args[1].service if len(args) > 1 and isinstance(args[1], Service) else ""
        return SelfCheck(check.__name__, service, check.__name__, "", _t(lang, f"erreur : {exc!r}",
                                                                          f"error: {exc!r}"), False)
