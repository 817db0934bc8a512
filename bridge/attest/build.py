"""Assemble the report: policies + settings + audit files, at the injectable clock's date, with the live
self-checks someone else ran (`bridge attest`, through bridge.sandbox.selfcheck): nothing here starts an emulator
or a second bridge, so the admin console can build a report inside a web worker."""
from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

from bridge.attest.chart import logins_chart
from bridge.attest.model import Report, SelfCheckRun
from bridge.attest.services import LOCAL_MEANS_RULES, service_section
from bridge.attest.stats import audit_files, collect
from bridge.clock import Clock
from bridge.policy import PolicySet, Service, paris_date
from bridge.policy.rules import ATTESTATION_DEADLINE, RESERVES_LAST_DAY

DEFAULT_PERIOD_DAYS = 90


class UnknownService(ValueError):
    def __init__(self, service: str, known: list[str]):
        self.service, self.known = service, known
        super().__init__(f"unknown service {service!r} (services: {', '.join(known)})")


def chosen_services(policies: PolicySet, service: str | None) -> list[Service]:
    """The services the report covers: `service` alone, or all of them by id. UnknownService otherwise."""
    if service is not None and service not in policies.services:
        raise UnknownService(service, sorted(policies.services))
    return [policies.services[service]] if service else sorted(policies.services.values(), key=lambda s: s.service)


def report_period(today: date, period_from: date | None, period_to: date | None) -> tuple[date, date]:
    period_to = period_to or today
    period_from = period_from or period_to - timedelta(days=DEFAULT_PERIOD_DAYS - 1)
    if period_from > period_to:
        raise ValueError(f"the period starts ({period_from}) after it ends ({period_to})")
    return period_from, period_to


def live_policies_dir(settings) -> Path:
    """The live set: under `bridge serve`, the validated copy the workers run (bridge.policy.active)."""
    return Path(settings.policies_active_dir or settings.policies_dir)


def build_report(policies: PolicySet, settings, *, clock: Clock | None = None, service: str | None = None,
                 lang: str = "fr", period_from: date | None = None, period_to: date | None = None,
                 checks: SelfCheckRun | None = None, audit_paths: list[Path] | None = None) -> Report:
    """`checks`: the live self-checks already run (None: none, the report says so)."""
    clock = clock or Clock()
    now = clock.now()
    today = paris_date(now)
    chosen = chosen_services(policies, service)
    period_from, period_to = report_period(today, period_from, period_to)
    files = audit_paths if audit_paths is not None else audit_files(settings.audit_path)
    client_map = {c.client_id: s.service for s in policies.services.values() for c in s.clients}
    stats = collect(files, period_from, period_to, [s.service for s in chosen], lang, client_map)
    run = checks or SelfCheckRun()
    title = "Logins per means" if lang == "en" else "Connexions par moyen d'identification"
    empty = "No login in the period" if lang == "en" else "Aucune connexion sur la période"
    sections = []
    for svc in chosen:
        section = service_section(svc, settings, now, lang, policies.warnings)
        svc_stats = stats.services.get(svc.service)
        section = replace(section, rules=passkey_evidence(backup_evidence(section.rules, svc_stats, lang), stats,
                                                          lang))
        sections.append(replace(section, stats=svc_stats, checks=run.per_service.get(svc.service, ()),
                                chart_svg=logins_chart(svc_stats.series, f"{title} — {svc.name}", empty)))
    return Report(
        lang=lang, generated_at=now, today=today,
        days_to_attestation_deadline=(ATTESTATION_DEADLINE - today).days,
        days_to_reserves_deadline=(RESERVES_LAST_DAY - today).days,
        attestation_deadline=ATTESTATION_DEADLINE, reserves_last_day=RESERVES_LAST_DAY,
        policies_dir=str(settings.policies_dir), services=tuple(sections), stats=stats,
        global_checks=run.global_checks, self_checks_run=checks is not None and not run.note,
        self_checks_note=run.note, settings_facts=_settings_facts(settings),
        config_faults=start_up_faults(settings, policies))


def backup_evidence(rules: tuple, stats, lang: str) -> tuple:
    """The backup means rule's detail gets the period's activations and uses from the audit trail."""
    def counted(rule):
        if rule.code != "backup_mie" or rule.status != "enforced" or stats is None:
            return rule
        uses = stats.logins_by_mie.get("backup", 0)
        words = (f"{stats.backup_activations} activation(s), {uses} use(s) in the period" if lang == "en" else
                 f"{stats.backup_activations} activation(s), {uses} utilisation(s) sur la période")
        return replace(rule, detail=f"{rule.detail}; {words}")
    return tuple(counted(rule) for rule in rules)


def passkey_evidence(rules: tuple, stats, lang: str) -> tuple:
    """RIE-PS 07/08 applied to passkeys: the period's enrolments and revocations from the audit trail."""
    def counted(rule):
        if rule.code not in LOCAL_MEANS_RULES or rule.status != "enforced":
            return rule
        count, what = ((stats.fido_enrolled, ("enrolment(s)", "enrôlement(s)")) if rule.code == "enrollment" else
                       (stats.fido_revoked, ("revocation(s)", "révocation(s)")))
        period = "in the period" if lang == "en" else "sur la période"
        return replace(rule, detail=f"{rule.detail}; {count} {what[lang != 'en']} {period}")
    return tuple(counted(rule) for rule in rules)


def start_up_faults(settings, policies: PolicySet) -> tuple[str, ...]:
    """The start-up check the bridge itself runs on the card means (bridge.core): e.g. cps-pin offered without
    BRIDGE_TRUST_DIR, which makes `bridge serve` refuse to start. The self-checks use their own TEST PKI, so they
    pass anyway: the report must say it."""
    from bridge.config import ConfigError
    from bridge.core import _direct_card_login

    try:
        _direct_card_login(settings, policies, None, Clock())
    except ConfigError as exc:
        return (str(exc),)
    return ()


def _settings_facts(settings) -> tuple[tuple[str, str], ...]:
    return (("BRIDGE_ENV", settings.env), ("BRIDGE_PUBLIC_URL", settings.public_url),
            ("BRIDGE_STORE_URL", _without_credentials(settings.store_url)),
            ("BRIDGE_POLICIES_DIR", str(settings.policies_dir)),
            ("BRIDGE_AUDIT_PATH", str(settings.audit_path or "—")),
            ("BRIDGE_AUDIT_REQUIRED", "1" if settings.audit_required else "0"),
            ("BRIDGE_AUDIT_PSEUDONYMIZE", "1" if settings.audit_pseudonymize else "0"),
            ("BRIDGE_TRUST_DIR", str(settings.trust_dir or "—")), ("BRIDGE_CRL_DIR", str(settings.crl_dir or "—")))


def _without_credentials(url: str) -> str:
    """A printed report must not carry the Redis password."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if not parts.netloc:
        return url   # memory:// (urlunsplit would drop the //)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=host))
