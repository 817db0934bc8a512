"""`bridge doctor`: the go-live checklist in one command.

Configuration (as `bridge serve` reads it), store, policies, signing keys, trust store and CRLs, card agent
origins, then Pro Santé Connect: discovery compared with the configuration, its keys, this client's credentials
and the mTLS certificate. One line per check (✓ ok, ! warning, ✗ failure with what to do, - not applicable);
`--json` for machines. Exit 1 on any ✗, 0 otherwise. Secrets are never printed (URLs lose their user:password).
"""
from __future__ import annotations

import json
import sys
import time

import click

from bridge.config import environment, production_requested
from bridge.doctor.model import Check, Context, t


def language(value: str | None, environ) -> str:
    from bridge.i18n import normalize

    for candidate in (value, environ.get("BRIDGE_LANG"), environ.get("LANG")):
        if normalize(candidate):
            return normalize(candidate)
    return "fr"


def configuration(lang: str, environ) -> tuple[Check, object]:
    from bridge.config import ConfigError, load_settings
    from bridge.serve import serving_settings

    label = t(lang, "Configuration", "Configuration")
    try:
        settings = load_settings(environ)
        serving_settings(environ)
    except ConfigError as exc:
        return Check("config", "fail", label, str(exc), t(
            lang, "corrigez la variable nommée (deploy/production.env.example les décrit toutes)",
            "fix the variable named (deploy/production.env.example describes them all)")), None
    mode = t(lang, "production", "production") if settings.production else t(lang, "développement", "development")
    return Check("config", "ok", label, f"{mode}, {settings.public_url}"), settings


def run(lang: str, environ, *, agent_origins=(), cert_warn_days: int = 30) -> list[Check]:
    from bridge.doctor import local, mtls, psc

    first, settings = configuration(lang, environ)
    if settings is None:
        return [first]
    ctx = Context(lang=lang, settings=settings, now=time.time(), environ=dict(environ),
                  agent_origins=tuple(agent_origins), cert_warn_days=cert_warn_days)
    checks = [first, local.store(ctx), local.policies(ctx), local.keys(ctx), *local.trust(ctx),
              local.agent_origins(ctx), mtls.certificate(ctx), *psc.discovery(ctx), psc.client_credentials(ctx)]
    return checks


@click.command("doctor", help="Go-live checklist: configuration, store, policies, keys, trust store and CRLs, card "
                              "agent origins, PSC discovery, credentials and mTLS certificate. Exit 1 on any ✗.")
@click.option("--lang", type=click.Choice(["fr", "en"]), default=None,
              help="Language of the checklist (default: BRIDGE_LANG, then LANG, then fr).")
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object: {ok, checks: [{id, status, label, detail, fix}]}.")
@click.option("--agent-origin", "agent_origins", multiple=True, metavar="ORIGIN",
              help="An origin the workstation card agents are started with (--allow-origin); repeatable.")
@click.option("--cert-warn-days", default=30, show_default=True,
              help="Warn when the mTLS certificate expires within this many days.")
def doctor(lang, as_json, agent_origins, cert_warn_days) -> None:
    environ = environment()
    lang = language(lang, environ)
    checks = run(lang, environ, agent_origins=agent_origins, cert_warn_days=cert_warn_days)
    failed = any(check.status == "fail" for check in checks)
    if as_json:
        click.echo(json.dumps({"ok": not failed, "checks": [c.as_dict() for c in checks]}, ensure_ascii=False))
    else:
        for check in checks:
            click.echo(check.line(lang))
        counts = {status: sum(c.status == status for c in checks) for status in ("ok", "warn", "fail")}
        tally = f"{counts['ok']} ✓, {counts['warn']} !, {counts['fail']} ✗"
        if failed:
            verdict = t(lang, "à corriger avant la mise en service.", "fix before going live.")
        elif not production_requested(environ):
            verdict = t(lang, "aucun ✗ en développement ; relancez avec les réglages de production.",
                        "no ✗ in development; run it again with the production settings.")
        else:
            verdict = t(lang, "prêt pour la mise en service.", "ready to go live.")
        click.echo(f"{tally}{t(lang, ' : ', ': ')}{verdict}")
    sys.exit(1 if failed else 0)
