"""`bridge` command line. Each area adds its sub-commands in its own module, listed in COMMANDS."""
from __future__ import annotations

import importlib

import click

# "module:attribute" of click commands or groups; imported lazily so one broken area cannot hide the others.
COMMANDS = [
    "bridge.sandbox.commands:sandbox",
    "bridge.card.agent:card_agent_command",
    "bridge.policy.cli:policy",
    "bridge.policy.client_cli:client",
    "bridge.provider.cli:keys",
    "bridge.sweeper:sweeper",
    "bridge.audit.cli:audit",
    "bridge.serve:serve",
    "bridge.attest.cli:attest_command",
    "bridge.pki.cli:crl",
    "bridge.pki.cert_cli:cert",
    "bridge.doctor:doctor",
]


@click.group(help="PSC Bridge: Pro Santé Connect / CPS identity bridge and OIDC provider.")
def main() -> None:
    pass


for spec in COMMANDS:
    module, _, attribute = spec.partition(":")
    command = getattr(importlib.import_module(module), attribute)
    existing = main.commands.get(command.name)
    if isinstance(existing, click.Group) and isinstance(command, click.Group):
        for sub in command.commands.values():   # two areas may both contribute to one group (e.g. sandbox)
            existing.add_command(sub)
    else:
        main.add_command(command)

if __name__ == "__main__":
    main()
