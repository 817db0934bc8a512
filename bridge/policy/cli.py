"""`bridge policy check` and `bridge policy rules`: what start-up would say about the policy files, ahead of time."""
from __future__ import annotations

import time
from datetime import date

import click

from bridge.clitext import table
from bridge.config import production_requested
from bridge.policy.calendar import effective_limits, paris_date, paris_epoch
from bridge.policy.loader import PolicyError, load_policies
from bridge.policy.means import login_means
from bridge.policy.rules import rule_catalogue
from bridge.policy.schema import PolicySet, Service
from bridge.policy.values import format_duration


def _attestation(service: Service) -> str:
    att = service.attestation
    if att.status == "none":
        return "-"
    return f"{att.status} until {att.valid_until.isoformat() if att.valid_until else '?'}"


def services_table(policies: PolicySet, now: float) -> str:
    rows = [["SERVICE", "CLIENTS", "LOGIN MEANS", "2FA", "IDLE", "MAX", "ATTESTATION", "FILE"]]
    for service in sorted(policies.services.values(), key=lambda s: s.service):
        limits = effective_limits(service, now)
        rows.append([service.service, ",".join(c.client_id for c in service.clients),
                     ",".join(m.id for m in login_means(service, now)) or "(none)",
                     "yes" if limits.require_2fa else "NO", format_duration(limits.idle_timeout),
                     format_duration(limits.max_session), _attestation(service), service.source])
    return table(rows)


def _parse_at(_ctx, _param, value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return paris_epoch(date.fromisoformat(value), 12)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date YYYY-MM-DD") from None


@click.group(help="Service policies (policies/*.yaml) and the identification referential rules.")
def policy() -> None:
    pass


@policy.command(help="Validate the policy files; print every error (exit 1) or a table of services (exit 0).")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=str),
              envvar="BRIDGE_POLICIES_DIR", default="policies", show_default=True, show_envvar=True,
              help="Policies directory.")
@click.option("--production/--development", default=production_requested,
              help="Production refuses http redirect URIs, even on loopback, but for a public client's portless "
                   "http://127.0.0.1/… or http://[::1]/… (native app, RFC 8252) (default from BRIDGE_ENV).")
@click.option("--at", "at", callback=_parse_at, metavar="YYYY-MM-DD",
              help="Check as of this date (noon, Paris), e.g. to see what 2027-01-01 will block.")
@click.option("--strict", is_flag=True, help="Warnings fail too (exit 1), e.g. for CI.")
def check(directory: str, production: bool, at: float | None, strict: bool) -> None:
    now = time.time() if at is None else at
    try:
        policies = load_policies(directory, dev=not production, now=now)
    except PolicyError as exc:
        for line in exc.errors:
            click.echo(f"error: {line}", err=True)
        for line in exc.warnings:
            click.echo(f"warning: {line}", err=True)
        click.echo(f"{len(exc.errors)} error(s): the bridge would refuse to start.", err=True)
        raise SystemExit(1) from None
    for line in policies.warnings:
        click.echo(f"warning: {line}", err=True)
    click.echo(f"Policies in {directory} as of {paris_date(now).isoformat()}: {len(policies.services)} service(s)")
    click.echo(services_table(policies, now))
    if strict and policies.warnings:
        click.echo(f"{len(policies.warnings)} warning(s) with --strict.", err=True)
        raise SystemExit(1)


@policy.command(help="List the referential rules the engine knows (code, kind, source).")
@click.option("--lang", type=click.Choice(["fr", "en"]), default="fr", show_default=True)
def rules(lang: str) -> None:
    rows = [["CODE", "KIND", "SOURCE", "RESEARCH"]]
    for rule in rule_catalogue():
        rows.append([rule.code, rule.kind, rule.source, ",".join(rule.research) or "-"])
    click.echo(table(rows))
    click.echo("")
    for rule in rule_catalogue():
        click.echo(f"{rule.code}: {rule.text_en if lang == 'en' else rule.text_fr}")
