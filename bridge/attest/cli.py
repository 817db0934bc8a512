"""`bridge attest`: the attestation report of one or every service, as HTML or PDF (French by default).

The one place that runs the live self-checks (bridge.sandbox.selfcheck), in this command's own process; each run
is also stored in BRIDGE_ATTEST_DIR (bridge.attest.store), where the admin console finds the latest one."""
from __future__ import annotations

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


@click.command("attest", help="Rapport d'attestation de conformité (attestation report), HTML ou PDF selon --out, "
                              "avec les auto-tests en direct ; chaque exécution est aussi enregistrée dans "
                              "BRIDGE_ATTEST_DIR (la console d'administration affiche la dernière). À planifier, par "
                              "ex. chaque nuit.")
@click.option("--service", help="Un seul service (défaut : tous).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("report.html"),
              show_default=True, help="Fichier produit : .html ou .pdf.")
@click.option("--lang", type=click.Choice(["fr", "en"]), default="fr", show_default=True)
@click.option("--from", "period_from", callback=_day, metavar="YYYY-MM-DD",
              help="Début de la période des statistiques (défaut : 90 jours avant --to).")
@click.option("--to", "period_to", callback=_day, metavar="YYYY-MM-DD",
              help="Fin de la période (défaut : aujourd'hui).")
@click.option("--audit", "audit_files", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Fichiers d'audit, du plus ancien au plus récent (défaut : BRIDGE_AUDIT_PATH et ses rotations).")
@click.option("--no-self-checks", is_flag=True, help="Ne pas exécuter les auto-tests (rapport plus rapide).")
def attest_command(service, out: Path, lang, period_from, period_to, audit_files, no_self_checks) -> None:
    from bridge.attest import UnknownService, render_html, render_pdf
    from bridge.attest.build import live_policies_dir
    from bridge.attest.store import store_run
    from bridge.config import ConfigError, load_settings, variable
    from bridge.policy import PolicyError, load_policies

    if out.suffix.lower() not in (".html", ".htm", ".pdf"):
        _fail(f"--out {out}: l'extension doit être .html ou .pdf")
    try:
        settings = load_settings()
        policies = load_policies(settings.policies_dir, dev=not settings.production)
    except (ConfigError, PolicyError) as exc:
        _fail(f"configuration : {exc}")
    options = dict(service=service, lang=lang, period_from=period_from, period_to=period_to,
                   audit_paths=list(audit_files) if audit_files else None)
    try:
        if no_self_checks:
            from bridge.attest import build_report

            report = build_report(policies, settings, **options)
        else:   # the lab: a second bridge and the PSC emulator, in this process only; logging is kept as it was
            from bridge.sandbox.selfcheck import build_report as build_with_self_checks

            report = build_with_self_checks(policies, settings, **options,
                                            log_level=variable("BRIDGE_ATTEST_LOG_LEVEL", "WARNING"))
    except UnknownService as exc:
        _fail(f"service inconnu {exc.service!r} ; services : {', '.join(exc.known)}")
    except ValueError as exc:
        _fail(str(exc))
    html = render_html(report)
    pdf = render_pdf(report, html) if out.suffix.lower() == ".pdf" else None
    if pdf is not None:
        out.write_bytes(pdf)
    else:
        out.write_text(html, encoding="utf-8")
    checks = report.all_checks
    failed = [c for c in checks if c.passed is False]
    click.echo(f"{out} : {len(report.services)} service(s), auto-tests {len(checks) - len(failed)}/{len(checks)} "
               "conformes" + (f" — NON CONFORMES : {', '.join(f'{c.service}:{c.id}' for c in failed)}" if failed
                              else "")
               + "".join(f" — NON CONFORME, configuration bloquante (la passerelle refuserait de démarrer) : {f}"
                         for f in report.config_faults))
    if settings.attest_dir is None:
        return   # production without BRIDGE_ATTEST_DIR: nothing stored, the console says how to get a run
    try:
        run = store_run(settings.attest_dir, report, html, pdf, policies_dir=live_policies_dir(settings),
                        service=service)
    except OSError as exc:
        _fail(f"BRIDGE_ATTEST_DIR : exécution non enregistrée dans {settings.attest_dir} : {exc}")
    click.echo(f"exécution enregistrée : {run.path} (console d'administration : /admin/report)")


def _fail(message: str):
    click.echo(f"bridge attest : {message}", err=True)
    raise SystemExit(1)
