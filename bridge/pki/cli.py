"""`bridge crl status`: are the IGC-Santé revocation lists fresh enough for direct CPS login?

Exit codes follow the monitoring-plugin convention (Nagios, Centreon, Icinga), so the command can be a check as is:
0 every CA has a fresh CRL for longer than --warn-hours, 1 one expires within it, 2 one is stale or missing (card
logins through that CA are refused), 3 no trust store is configured. The first line is the plugin summary.
"""
from __future__ import annotations

import sys
import time

import click

from bridge.clitext import table

STATES = {0: "OK", 1: "WARNING", 2: "CRITICAL", 3: "UNKNOWN"}


@click.group("crl", help="Revocation lists (CRLs) of the IGC-Santé trust store used by direct CPS login.")
def crl() -> None:
    pass


@crl.command("status", help="One line per CA: its latest CRL and when it expires. Exit 0/1/2/3 (OK/WARNING/"
                            "CRITICAL/UNKNOWN).")
@click.option("--warn-hours", default=24.0, show_default=True,
              help="WARNING when a CRL expires within this many hours (refresh them daily).")
def status(warn_hours: float) -> None:
    from bridge.config import ConfigError, load_settings
    from bridge.pki import TrustStore

    try:
        settings = load_settings()
        if settings.trust_dir is None:
            raise ConfigError("BRIDGE_TRUST_DIR is not set (no direct card login on this bridge)")
        trust = TrustStore.from_settings(settings)
    except (ConfigError, ValueError, OSError) as exc:
        click.echo(f"CRL UNKNOWN: {exc}")
        sys.exit(3)
    now = time.time()
    rows = []
    for entry in trust.crl_status(now):
        left = entry.next_update.timestamp() - now if entry.next_update else None
        state = "expiring" if entry.state == "fresh" and left < warn_hours * 3600 else entry.state
        rows.append((state, f"{entry.next_update:%Y-%m-%d %H:%M}" if entry.next_update else "-",
                     f"{left / 3600:.1f} h" if left is not None else "-", entry.issuer))
    states = {row[0] for row in rows}
    code = 2 if states & {"stale", "missing"} else 1 if "expiring" in states else 0
    counts = {state: sum(row[0] == state for row in rows) for state in ("fresh", "expiring", "stale", "missing")}
    click.echo(f"CRL {STATES[code]}: " + ", ".join(f"{n} {state}" for state, n in counts.items() if n)
               + (f" (source: {settings.crl_dir or 'CRL distribution points'})"))
    click.echo(table([("STATE", "NEXT UPDATE (UTC)", "LEFT", "CA")] + rows))
    sys.exit(code)
