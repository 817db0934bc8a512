"""`bridge sandbox card`: serve a virtual CPS card (or, with --vitale, a carte Vitale-like card) to pcscd's vpcd
reader until interrupted (dev/test only)."""
from __future__ import annotations

import time

import click

from bridge.sandbox import vpcd
from bridge.sandbox.card import VirtualCard
from bridge.sandbox.vitale import VirtualVitale


@click.command("card")
@click.option("--holder", default="899700000001", show_default=True, help="PS_IdNat in the certificate CN.")
@click.option("--type", "kind", type=click.Choice(["CPS", "CPF", "CPE", "CPA"]), default="CPS", show_default=True)
@click.option("--expired", is_flag=True, help="Certificate expired 30 days ago.")
@click.option("--revoked", is_flag=True, help="Certificate listed in the CA's CRL.")
@click.option("--legacy", is_flag=True, help="Issued by the legacy GIP-CPS CLASSE-1 CA.")
@click.option("--blocked", is_flag=True, help="PIN already blocked (unblock code needed).")
@click.option("--generation", type=click.Choice(["CPS3", "CPS4"]), default="CPS3", show_default=True)
@click.option("--pin", default="1234", show_default=True)
@click.option("--puk", default="12345678", show_default=True, help="8-digit unblock code.")
@click.option("--port", default=vpcd.DEFAULT_PORT, show_default=True, help="vpcd port of the reader's slot 0.")
@click.option("--slot", type=click.IntRange(0, 1), default=0, show_default=True,
              help="Slot of the two-slot virtual reader: 0 = 'Virtual PCD 00 00' (port), 1 = '... 00 01' (port+1).")
@click.option("--vitale", is_flag=True, help="A carte Vitale-like card (not a CPS) instead of a CPS card.")
@click.option("--seed", default="psc-bridge", show_default=True, help="Test PKI seed.")
@click.option("--pki-dir", default="var/testpki", show_default=True,
              help="Key cache; trust/ and crl/ are written here for BRIDGE_TRUST_DIR / BRIDGE_CRL_DIR.")
def card_command(holder, kind, expired, revoked, legacy, blocked, generation, pin, puk, port, slot, vitale, seed,
                 pki_dir):
    """Serve a virtual CPS card to pcscd's vpcd reader until interrupted (dev/test only)."""
    from bridge.sandbox.testpki import TestPki

    port += slot
    if vitale:
        card = VirtualVitale()
        click.echo(f"virtual carte Vitale-like card on vpcd port {port} (slot {slot})")
    else:
        pki = TestPki(seed, pki_dir)
        material = pki.card(holder, kind, expired=expired, revoked=revoked, legacy=legacy)
        trust, crls = pki.trust_dir(), pki.crl_dir()
        card = VirtualCard(material, pin=pin, puk=puk, blocked=blocked, generation=generation)
        click.echo(f"virtual {generation} {kind} card {material.serial} for {holder} on vpcd port {port} "
                   f"(slot {slot})")
        click.echo(f"BRIDGE_TRUST_DIR={trust.resolve()} BRIDGE_CRL_DIR={crls.resolve()}")
    try:
        while True:     # reconnect when pcscd restarts; PIN tries persist in this process
            if not card.inserted:
                try:
                    card.insert(port)
                    click.echo("inserted")
                except OSError:
                    click.echo(f"vpcd not reachable on 127.0.0.1:{port}; is pcscd running? retrying", err=True)
            time.sleep(1)
    except KeyboardInterrupt:
        card.remove()
