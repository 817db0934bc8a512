"""`bridge attest`: the attestation report of one or every service, as HTML or PDF (French by default)."""
from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import click


def _day(_ctx, param, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date YYYY-MM-DD") from None


@click.command("attest", help="Rapport d'attestation de conformité (attestation report), HTML ou PDF selon --out.")
@click.option("--service", help="Un seul service (défaut : tous).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("report.html"),
              show_default=True, help="Fichier produit : .html ou .pdf.")
@click.option("--lang", type=click.Choice(["fr", "en"]), default="fr", show_default=True)
@click.option("--from", "period_from", callback=_day, metavar="YYYY-MM-DD",
              help="Début de la période des statistiques (défaut : 90 jours avant --to).")
@click.option("--to", "period_to", callback=_day, metavar="YYYY-MM-DD", help="Fin de la période (défaut : aujourd'hui).")
@click.option("--audit", "audit_files", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Fichiers d'audit, du plus ancien au plus récent (défaut : BRIDGE_AUDIT_PATH et ses rotations).")
@click.option("--no-self-checks", is_flag=True, help="Ne pas exécuter les auto-tests (rapport plus rapide).")
def attest_command(service, out: Path, lang, period_from, period_to, audit_files, no_self_checks) -> None:
    from bridge.attest import UnknownService, build_report, render_html, render_pdf
    from bridge.config import ConfigError, load_settings
    from bridge.policy import PolicyError, load_policies

    if out.suffix.lower() not in (".html", ".htm", ".pdf"):
        _fail(f"--out {out}: l'extension doit être .html ou .pdf")
    try:
        settings = load_settings()
        policies = load_policies(settings.policies_dir, dev=not settings.production)
    except (ConfigError, PolicyError) as exc:
        _fail(f"configuration : {exc}")
    try:
        report = build_report(policies, settings, service=service, lang=lang, period_from=period_from,
                              period_to=period_to, self_checks=not no_self_checks,
                              audit_paths=list(audit_files) if audit_files else None,
                              log_level=os.environ.get("BRIDGE_ATTEST_LOG_LEVEL", "WARNING"))
    except UnknownService as exc:
        _fail(f"service inconnu {exc.service!r} ; services : {', '.join(exc.known)}")
    except ValueError as exc:
        _fail(str(exc))
    html = render_html(report)
    if out.suffix.lower() == ".pdf":
        out.write_bytes(render_pdf(report, html))
    else:
        out.write_text(html, encoding="utf-8")
    checks = [c for s in report.services for c in s.checks] + list(report.global_checks)
    failed = [c for c in checks if c.passed is False]
    click.echo(f"{out} : {len(report.services)} service(s), auto-tests {len(checks) - len(failed)}/{len(checks)} "
               "conformes" + (f" — NON CONFORMES : {', '.join(f'{c.service}:{c.id}' for c in failed)}" if failed
                              else "")
               + "".join(f" — NON CONFORME, configuration bloquante (la passerelle refuserait de démarrer) : {f}"
                         for f in report.config_faults))


def _fail(message: str):
    click.echo(f"bridge attest : {message}", err=True)
    raise SystemExit(1)
