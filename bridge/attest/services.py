"""One report section per service: identification, rules with their status, timeouts, attestation (pure)."""
from __future__ import annotations

import re

from bridge.attest.controls import client_controls, service_controls
from bridge.attest.means import means_info
from bridge.attest.model import AttestationInfo, ClientInfo, RuleStatus, ServiceSection, Timeouts
from bridge.mie import CATALOGUE
from bridge.policy import Service, effective_limits, rule_catalogue
from bridge.policy.calendar import covering_reserve, has_reserves, needs_attestation, paris_date, standing
from bridge.policy.rules import IDLE_LIMIT, ORGANISATIONAL, SESSION_LIMIT, Rule
from bridge.policy.values import format_duration

_REQUIREMENT = re.compile(r"RIE-PS (\d{2})((?:/\d{2})*)")
# The catalogue's sources and code locations are written in English (bridge policy rules, docs): their few
# words, in French for the French report.
_FRENCH = (("service policy", "politique du service"), ("TRE_G15 codes", "codes TRE_G15"),
           ("PSC Bridge sanity bound", "borne de cohérence de PSC Bridge"),
           ("PSC documentation", "documentation Pro Santé Connect"),
           (" for bridge/sessions/", " pour bridge/sessions/"),
           (" and upstream modules", " et modules amont (bridge/upstream)"),
           ("the bridge itself", "la passerelle elle-même"), ("CRL checks in", "contrôle des CRL dans"))
_ENGLISH = (("mode d'exercice", "practice mode"),)
STATUS = {"fr": {"none": "aucune", "attested": "attestée", "reserves": "attestée avec réserves"},
          "en": {"none": "none", "attested": "attested", "reserves": "attested with reserves"}}
# RIE-PS 07 (enrolment) and 08/09 (lifecycle): organisational for ANS's means, applied by the bridge to passkeys.
LOCAL_MEANS_RULES = ("enrollment", "mie_lifecycle")
_ATTESTATION_RULES = {"attestation_missing", "attestation_expired", "reserves_expired"}


def yes_no(value: bool, lang: str) -> str:
    return ("yes" if value else "no") if lang == "en" else ("oui" if value else "non")


def words(text: str, lang: str) -> str:
    for theirs, ours in (_ENGLISH if lang == "en" else _FRENCH):
        text = text.replace(theirs, ours)
    return text


def requirements(source: str) -> set[str]:
    """'RIE v2 RIE-PS 18/19' -> {'RIE-PS 18', 'RIE-PS 19'}: what a reserve on a requirement id excuses."""
    found = set()
    for first, more in _REQUIREMENT.findall(source):
        found.add(f"RIE-PS {first}")
        found.update(f"RIE-PS {n}" for n in more.split("/") if n)
    return found


def _not_applicable(rule: Rule, service: Service) -> bool:
    if rule.code in _ATTESTATION_RULES:
        return not needs_attestation(service) and not has_reserves(service)
    if rule.code == "profession_not_allowed":
        return not service.professions
    if rule.code == "mode_not_allowed":
        return not service.modes
    if rule.code == "activity_required":
        return not service.professions and not service.modes
    if rule.code == "backup_mie":
        return "backup" not in service.allowed_mie
    if rule.code in ("non_rpps_card", "mode_unverifiable"):
        return all(CATALOGUE[m].via_psc for m in service.allowed_mie)
    return False


def _detail(rule: Rule, service: Service, now: float, lang: str, settings=None) -> str:
    limits = effective_limits(service, now)
    if rule.code == "backup_mie" and "backup" in service.allowed_mie:
        ttl = format_duration(int(settings.backup_code_ttl)) if settings is not None else "24h"
        return f"allowed_mie ∋ backup; BRIDGE_BACKUP_CODE_TTL = {ttl}"
    if rule.code in LOCAL_MEANS_RULES and "local-fido" in service.allowed_mie and settings is not None:
        return _passkey_detail(rule.code, settings, lang)
    if rule.code == "identity_kind_not_allowed":
        return "identity_kinds = " + ", ".join(service.identity_kinds)
    if rule.code == "psc_not_offered" and service.establishment_idp:   # PSC's own IdP (bridge.policy.establishment)
        return "establishment_idp = " + yes_no(True, lang) + "; allowed_mie = " + ", ".join(service.allowed_mie)
    if rule.code in ("mie_not_allowed", "unknown_mie", "psc_not_offered"):
        return "allowed_mie = " + ", ".join(service.allowed_mie)
    if rule.code in ("idle_timeout_too_long", "significant_reserve"):
        return f"idle_timeout = {format_duration(service.idle_timeout)} → {format_duration(limits.idle_timeout)}"
    if rule.code in ("max_session_too_long", "session_too_old"):
        return f"max_session = {format_duration(service.max_session)} → {format_duration(limits.max_session)}"
    if rule.code in ("single_factor", "require_2fa_reserve"):
        return f"require_2fa = {yes_no(limits.require_2fa, lang)}"
    if rule.code == "profession_not_allowed" and service.professions:
        return "professions = " + ", ".join(service.professions)
    if rule.code == "mode_not_allowed" and service.modes:
        return "modes = " + ", ".join(service.modes)
    if rule.code in ("card_type_not_allowed", "non_rpps_card"):
        return "card_types = " + ", ".join(service.card_types)
    if rule.code == "not_historical_teleservice":
        fi = f"; establishment_idp = {yes_no(True, lang)}" if service.establishment_idp else ""
        return f"historical_teleservice = {yes_no(service.historical_teleservice, lang)}{fi}"
    return ""


def rule_status(rule: Rule, service: Service, now: float, lang: str, settings=None) -> RuleStatus:
    day = paris_date(now)
    reserve = next((r for r in service.attestation.reserves if r.requirement in requirements(rule.source)), None)
    if reserve is not None:
        status = "reserve"
    elif rule.code in LOCAL_MEANS_RULES and "local-fido" in service.allowed_mie:
        status = "enforced"      # for the bridge's own means; ANS enrols and revokes CPx cards and e-CPS
    elif rule.kind == ORGANISATIONAL:
        status = "organisational"
    elif _not_applicable(rule, service):
        status = "not_applicable"
    else:
        status = "enforced"
    return RuleStatus(
        code=rule.code, kind=rule.kind, status=status, source=words(rule.source, lang), research=rule.research,
        confidence=rule.confidence, text=rule.text_en if lang == "en" else rule.text_fr,
        where=words(rule.where, lang), detail=_detail(rule, service, now, lang, settings),
        reserve_plan=reserve.action_plan if reserve else "", reserve_due=reserve.due if reserve else None,
        reserve_overdue=bool(reserve and reserve.due < day),
        reserve_in_force=bool(reserve and covering_reserve(service, reserve.requirement, day) is reserve))


def _passkey_detail(code: str, settings, lang: str) -> str:
    window, life = format_duration(int(settings.fido_enrol_window)), format_duration(int(settings.fido_key_lifetime))
    if code == "enrollment":
        return (f"local-fido: enrolment only within BRIDGE_FIDO_ENROL_WINDOW = {window} of a PSC or card login "
                "of the same session" if lang == "en" else
                f"local-fido : enrôlement seulement dans les BRIDGE_FIDO_ENROL_WINDOW = {window} qui suivent une "
                "connexion Pro Santé Connect ou carte de la même session")
    return (f"local-fido: keys expire after BRIDGE_FIDO_KEY_LIFETIME = {life}; revocation by the professional "
            "(/me/means) or an administrator; each event in the audit trail" if lang == "en" else
            f"local-fido : clés échues après BRIDGE_FIDO_KEY_LIFETIME = {life} ; révocation par le professionnel "
            "(/me/means) ou un administrateur ; chaque événement dans le journal d'audit")


def _attestation(service: Service, now: float, lang: str) -> AttestationInfo:
    att, situation = service.attestation, standing(service, now)
    day = situation.day
    return AttestationInfo(
        needed=needs_attestation(service), status=att.status,
        status_label=STATUS["en" if lang == "en" else "fr"].get(att.status, att.status),
        signed_on=att.signed_on, valid_until=att.valid_until,
        days_to_valid_until=(att.valid_until - day).days if att.valid_until else None,
        reserves=tuple({"requirement": r.requirement, "action_plan": r.action_plan, "due": r.due,
                        "overdue": r.due < day} for r in att.reserves),
        blocked_by=situation.blocked_by, warnings=situation.warnings)


def _filters(service: Service, lang: str) -> tuple[tuple[str, str], ...]:
    return (("professions", ", ".join(service.professions) or "—"), ("modes", ", ".join(service.modes) or "—"),
            ("card_types", ", ".join(service.card_types)),
            ("historical_teleservice", yes_no(service.historical_teleservice, lang)),
            ("subject_type", service.subject_type))


def _auth_method(method: str, lang: str) -> str:
    """OIDC's `none` is a public client (PKCE, no secret): said in words, not as a bare 'none'."""
    if method != "none":
        return method
    return "public client (PKCE, no secret)" if lang == "en" else "client public (PKCE, sans secret)"


def service_section(service: Service, settings, now: float, lang: str, warnings: tuple[str, ...]) -> ServiceSection:
    limits = effective_limits(service, now)
    clients = tuple(ClientInfo(c.client_id, c.name, _auth_method(c.token_endpoint_auth_method, lang), c.redirect_uris,
                               c.post_logout_redirect_uris, c.backchannel_logout_uri, c.scopes,
                               **client_controls(c, lang))
                    for c in service.clients)
    own = tuple(w for w in warnings if service.source and w.startswith(service.source + ":"))
    return ServiceSection(
        id=service.service, name=service.name, source=service.source, clients=clients,
        means=means_info(service, settings, now, lang),
        rules=tuple(rule_status(rule, service, now, lang, settings) for rule in rule_catalogue()),
        timeouts=Timeouts(service.idle_timeout, service.max_session, limits.idle_timeout, limits.max_session,
                          limits.require_2fa, IDLE_LIMIT, SESSION_LIMIT),
        attestation=_attestation(service, now, lang), filters=_filters(service, lang), warnings=own,
        admins=tuple(getattr(service, "admins", ()) or ()), controls=service_controls(service, settings, lang))
