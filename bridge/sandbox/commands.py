"""`bridge sandbox ...`: development-only emulators. Other sandbox areas add their commands to this group."""
from __future__ import annotations

import click

from bridge.sandbox.card_cli import card_command


@click.group("sandbox", help="Development and test emulators (never in production).")
def sandbox() -> None:
    pass


sandbox.add_command(card_command)
