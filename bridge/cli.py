"""`bridge` command line. Each area adds its sub-commands in its own module, listed in COMMANDS."""
from __future__ import annotations

import importlib

import click

# "module:attribute" of click commands or groups; imported lazily so one broken area cannot hide the others.
COMMANDS = [
    "bridge.serve:serve",
]


@click.group(help="PSC Bridge: Pro Santé Connect / CPS identity bridge and OIDC provider.")
def main() -> None:
    pass


for spec in COMMANDS:
    module, _, attribute = spec.partition(":")
    main.add_command(getattr(importlib.import_module(module), attribute))

if __name__ == "__main__":
    main()
