"""`bridge cert status`: when do the bridge's own certificates expire (PSC mTLS client certificate, trust store CAs)?

Exit codes follow the monitoring-plugin convention (Nagios, Centreon, Icinga), so the command can be a check as is:
0 every certificate has more than BRIDGE_CERT_WARN_DAYS left (30), 1 one expires within it, 2 one expires within
BRIDGE_CERT_CRITICAL_DAYS (7) or has expired, 3 unknown: the settings are wrong, a configured certificate file
cannot be read, or no certificate is configured at all. The first line is the plugin summary.
"""
from __future__ import annotations

import sys
import time

import click

from bridge.clitext import table

STATES = {0: "OK", 1: "WARNING", 2: "CRITICAL", 3: "UNKNOWN"}
CODES = {"ok": 0, "warning": 1, "critical": 2, "unreadable": 3}


def report(entries) -> tuple[int, list[str]]:
    """(exit code, lines) for `entries` (bridge.pki.expiry.certificate_expiry)."""
    if not entries:
        return 3, ["CERT UNKNOWN: no certificate configured (BRIDGE_PSC_CLIENT_CERT, BRIDGE_TRUST_DIR)"]
    code = max(CODES[e.state] for e in entries)
    counts = {state: sum(e.state == state for e in entries) for state in CODES}
    soonest = next((e for e in entries if e.seconds_left is not None), None)
    summary = f"CERT {STATES[code]}: " + ", ".join(f"{n} {state}" for state, n in counts.items() if n)
    if soonest is not None:
        summary += f"; soonest: {soonest.kind} in {soonest.days_left:.1f} days"
    rows = [(e.state, e.kind, f"{e.not_after:%Y-%m-%d %H:%M}" if e.not_after else "-",
             f"{e.days_left:.1f}" if e.days_left is not None else "-", e.subject) for e in entries]
    return code, [summary, table([("STATE", "KIND", "NOT AFTER (UTC)", "DAYS LEFT", "SUBJECT")] + rows)]


@click.group("cert", help="The bridge's own certificates: PSC mTLS client certificate, trust store CAs.")
def cert() -> None:
    pass


@cert.command("status", help="One line per certificate: subject, not after, days left. Exit 0/1/2/3 (OK/WARNING/"
                             "CRITICAL/UNKNOWN); thresholds BRIDGE_CERT_WARN_DAYS, BRIDGE_CERT_CRITICAL_DAYS.")
def status() -> None:
    from bridge.config import ConfigError, load_settings
    from bridge.pki.expiry import certificate_expiry

    try:
        entries = certificate_expiry(load_settings(), time.time())
    except (ConfigError, ValueError, OSError) as exc:
        click.echo(f"CERT UNKNOWN: {exc}")
        sys.exit(3)
    code, lines = report(entries)
    for line in lines:
        click.echo(line)
    sys.exit(code)
