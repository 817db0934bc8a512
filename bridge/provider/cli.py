"""`bridge keys rotate`."""
from __future__ import annotations

import time

import click


@click.group("keys", help="Signing keys of the OIDC provider.")
def keys() -> None:
    pass


@keys.command("rotate", help="New keys are published now and sign once every client's cached JWKS has expired "
                              "(--now: at once); previous ones stay published while tokens they signed can be used.")
@click.option("--keep", type=int, default=None,
              help="Seconds the retired keys stay in the JWKS [default: longest session of the policies (≥ 4 h) "
                   "+ ID token lifetime + JWKS cache lifetime].")
@click.option("--now", "at_once", is_flag=True,
              help="Emergency: the new keys sign at once (clients with a cached JWKS refetch it on the unknown kid).")
def rotate(keep: int | None, at_once: bool) -> None:
    from bridge.config import load_settings
    from bridge.provider.keys import KeyRing, RotationPending, retired_keep

    settings = load_settings()
    if keep is None:
        try:
            from bridge.policy.loader import load_policies

            keep = retired_keep(load_policies(settings.policies_dir, dev=not settings.production))
        except Exception:  # unreadable policies must not block an emergency rotation
            keep = retired_keep()
    ring = KeyRing(settings.keys_dir, create=True)
    old = [key.kid for key in ring.active().values()]
    try:
        new = ring.rotate(keep, now=at_once)
    except RotationPending as pending:
        raise click.ClickException(f"rotation en cours (rotation pending): {pending}; --now pour basculer") from None
    from bridge.audit import open_audit

    open_audit(settings).record("key_rotated", outcome="success", new=",".join(new), retired=",".join(old),
                                immediate=at_once)
    if at_once:
        click.echo(f"nouvelles clés (new keys), signent dès maintenant (signing now): {', '.join(new)}; "
                   f"anciennes publiées {keep} s (retired): {', '.join(old)}")
    else:
        start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(min(ring.pending().values())))
        click.echo(f"nouvelles clés publiées (new keys published): {', '.join(new)}; signent à partir de "
                   f"(signing from) {start}; anciennes publiées ensuite {keep} s (then retired): {', '.join(old)}")
