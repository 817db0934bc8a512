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


@click.group("attest", invoke_without_command=True,
             help="Rapport d'attestation de conformité (attestation report), HTML ou PDF selon --out, avec les "
                  "auto-tests en direct ; chaque exécution est aussi enregistrée dans BRIDGE_ATTEST_DIR (la console "
                  "d'administration affiche la dernière). À planifier, par ex. chaque nuit. --bundle écrit aussi le "
                  "dossier de preuves signé ; `bridge attest verify DOSSIER.zip` le vérifie hors ligne.")
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
@click.option("--bundle", type=click.Path(dir_okay=False, path_type=Path),
              help="Écrit aussi le dossier de preuves (evidence bundle) signé par la clé d'audit "
                   "(BRIDGE_AUDIT_KEY_FILE) : rapport PDF + HTML, politiques, transcriptions des auto-tests, extrait "
                   "d'audit, configuration sans secrets.")
@click.option("--demonstrate", is_flag=True,
              help="Déroule les auto-tests un par un à l'écran (ce qui est essayé, attendu, chaque étape, le "
                   "résultat), dans la langue de --lang.")
@click.pass_context
def attest_command(ctx, service, out: Path, lang, period_from, period_to, audit_files, no_self_checks, bundle,
                   demonstrate) -> None:
    if ctx.invoked_subcommand is not None:
        return
    from bridge.attest import render_html, render_pdf
    from bridge.attest.build import live_policies_dir
    from bridge.attest.store import store_run
    from bridge.config import ConfigError, load_settings
    from bridge.policy import PolicyError, load_policies

    if out.suffix.lower() not in (".html", ".htm", ".pdf"):
        _fail(f"--out {out}: l'extension doit être .html ou .pdf")
    if demonstrate and no_self_checks:
        _fail("--demonstrate déroule les auto-tests : incompatible avec --no-self-checks")
    try:
        settings = load_settings()
        policies = load_policies(settings.policies_dir, dev=not settings.production)
    except (ConfigError, PolicyError) as exc:
        _fail(f"configuration : {exc}")
    key = _bundle_key(settings) if bundle is not None else None
    options = dict(service=service, lang=lang, period_from=period_from, period_to=period_to,
                   audit_paths=list(audit_files) if audit_files else None)
    report = _build(policies, settings, options, lang, no_self_checks, demonstrate)
    html = render_html(report)
    pdf = render_pdf(report, html) if out.suffix.lower() == ".pdf" or bundle is not None else None
    if pdf is not None:
        out.write_bytes(pdf)
    else:
        out.write_text(html, encoding="utf-8")
    _summary(out, report)
    if bundle is not None:
        _write_bundle(bundle, report, html, pdf, settings, options["audit_paths"], key)
    if settings.attest_dir is None:
        return   # production without BRIDGE_ATTEST_DIR: nothing stored, the console says how to get a run
    try:
        run = store_run(settings.attest_dir, report, html, pdf, policies_dir=live_policies_dir(settings),
                        service=service, bundle=bundle.read_bytes() if bundle is not None else None)
    except OSError as exc:
        _fail(f"BRIDGE_ATTEST_DIR : exécution non enregistrée dans {settings.attest_dir} : {exc}")
    click.echo(f"exécution enregistrée : {run.path} (console d'administration : /admin/report)")


def _build(policies, settings, options: dict, lang, no_self_checks: bool, demonstrate: bool):
    """The report, with the live self-checks unless --no-self-checks (told step by step with --demonstrate)."""
    from bridge.attest import UnknownService
    from bridge.config import variable

    try:
        if no_self_checks:
            from bridge.attest import build_report

            return build_report(policies, settings, **options)
        # the lab: a second bridge and the PSC emulator, in this process only; logging is kept as it was
        from bridge.attest.demonstrate import Narrator
        from bridge.sandbox.selfcheck import build_report as build_with_self_checks

        watch = Narrator(lang, click.echo) if demonstrate else None
        report = build_with_self_checks(policies, settings, **options, watch=watch,
                                        log_level=variable("BRIDGE_ATTEST_LOG_LEVEL", "WARNING"))
        if watch is not None:
            watch.finish()
        return report
    except UnknownService as exc:
        _fail(f"service inconnu {exc.service!r} ; services : {', '.join(exc.known)}")
    except ValueError as exc:
        _fail(str(exc))


def _summary(out: Path, report) -> None:
    checks = report.all_checks
    failed = [c for c in checks if c.passed is False]
    click.echo(f"{out} : {len(report.services)} service(s), auto-tests {len(checks) - len(failed)}/{len(checks)} "
               "conformes" + (f" — NON CONFORMES : {', '.join(f'{c.service}:{c.id}' for c in failed)}" if failed
                              else "")
               + "".join(f" — NON CONFORME, configuration bloquante (la passerelle refuserait de démarrer) : {f}"
                         for f in report.config_faults))


def _bundle_key(settings):
    """The audit key signs the bundle, as it signs the checkpoints: refused before the self-checks run."""
    from bridge.audit.checkpoint import AuditKeyError, load_or_create_key

    if settings.audit_key_file is None:
        _fail("--bundle : BRIDGE_AUDIT_KEY_FILE n'est pas défini, la clé d'audit signe le dossier de preuves")
    try:
        return load_or_create_key(settings.audit_key_file)
    except (AuditKeyError, OSError) as exc:
        _fail(f"--bundle : {exc}")


def _write_bundle(target: Path, report, html: str, pdf: bytes, settings, audit_paths, key) -> None:
    from bridge.attest.build import live_policies_dir
    from bridge.attest.bundle import BundleError, write_bundle
    from bridge.attest.stats import audit_files

    files = audit_paths if audit_paths is not None else audit_files(settings.audit_path)
    try:
        manifest = write_bundle(target, report=report, html=html, pdf=pdf, settings=settings,
                                policies_dir=live_policies_dir(settings), audit_files=files, key=key)
    except (BundleError, OSError) as exc:
        _fail(f"--bundle {target} : {exc}")
    click.echo(f"{target} : dossier de preuves signé par la clé d'audit {manifest['audit_key']['kid']} "
               f"({len(manifest['files'])} fichiers) ; vérification : bridge attest verify {target}")


@attest_command.command("verify", help="Vérifie hors ligne un dossier de preuves (evidence bundle) de bridge attest "
                                       "--bundle : signature, empreinte de chaque fichier, aucun fichier ajouté ni "
                                       "retiré, chaîne et points de contrôle de l'extrait d'audit ; dit ce que cela "
                                       "prouve et ne prouve pas. Codes de sortie : 0 vérifié, 2 illisible, 3 "
                                       "signature absente, 4 signature invalide ou mauvaise clé, 5 fichier modifié, "
                                       "6 fichier manquant ou ajouté, 7 extrait d'audit invalide, 8 jeton "
                                       "d'horodatage invalide (avec --tsa-ca).")
@click.argument("bundle", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--public-key", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="Clé publique d'audit (JWK JSON, `bridge audit key --public`) ; défaut : celle du dossier, dont "
                   "l'empreinte est affichée pour comparaison.")
@click.option("--tsa-ca", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="CA de l'autorité d'horodatage (PEM) : vérifie aussi les jetons RFC 3161 des points de contrôle "
                   "de l'extrait (audit/timestamps/).")
@click.option("--lang", type=click.Choice(["fr", "en"]), default="fr", show_default=True)
def verify_command(bundle: Path, public_key: Path | None, tsa_ca: Path | None, lang: str) -> None:
    from bridge.attest.verify_bundle import explain, verify_bundle
    from bridge.audit.checkpoint import AuditKeyError, load_key

    try:
        key = load_key(public_key) if public_key is not None else None
    except AuditKeyError as exc:
        raise click.UsageError(str(exc)) from None
    check = verify_bundle(bundle, key, tsa_ca)
    if not check.ok:
        click.echo(f"bridge attest verify : {check.message(lang)}", err=True)
        raise SystemExit(check.exit_code)
    for line in explain(check, lang, key_given=key is not None):
        click.echo(line)


def _fail(message: str):

    click.echo(f"bridge attest : {message}", err=True)
    raise SystemExit(1)
