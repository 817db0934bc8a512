"""Checks that need no network beyond the store: store, policies, signing keys, trust store, CRLs, card agent."""
from __future__ import annotations

import secrets
from datetime import UTC, datetime

from bridge.doctor.model import Check, Context, safe_url

CRL_WARN_HOURS = 24    # like `bridge crl status --warn-hours`


def store(ctx: Context) -> Check:
    from bridge.store import StoreUnavailable, open_store

    url, label = ctx.settings.store_url, ctx.t("Stockage", "Store")
    if url.startswith("memory:"):
        return Check("store", "warn", label, ctx.t("memory:// (un seul processus, sessions perdues au redémarrage)",
                                                   "memory:// (one process, sessions lost on restart)"),
                     ctx.t("en production, BRIDGE_STORE_URL=redis://… (refusé par BRIDGE_ENV=production)",
                           "in production set BRIDGE_STORE_URL=redis://… (BRIDGE_ENV=production refuses memory://)"))
    key, value = f"doctor:{secrets.token_hex(8)}", secrets.token_hex(8)
    try:
        ctx.store = backend = open_store(url)
        backend.ping()
        backend.set(key, value, 30)
        read = backend.get(key)
        backend.delete(key)
        gone = backend.get(key) is None
    except (StoreUnavailable, ValueError, OSError) as exc:
        return Check("store", "fail", label, ctx.t(f"{safe_url(url)} injoignable ({exc})",
                                                   f"{safe_url(url)} unreachable ({exc})"),
                     ctx.t("démarrez Redis ou corrigez BRIDGE_STORE_URL (hôte, port, mot de passe, TLS)",
                           "start Redis or fix BRIDGE_STORE_URL (host, port, password, TLS)"))
    if read != value or not gone:
        return Check("store", "fail", label, ctx.t(f"{safe_url(url)} répond mais ne relit pas ce qui est écrit",
                                                   f"{safe_url(url)} answers but does not read back what was written"),
                     ctx.t("vérifiez que BRIDGE_STORE_URL désigne un Redis maître (pas une réplique en lecture seule)",
                           "check that BRIDGE_STORE_URL names a Redis master (not a read-only replica)"))
    return Check("store", "ok", label, ctx.t(f"{safe_url(url)} : ping, écriture, lecture, suppression",
                                             f"{safe_url(url)}: ping, write, read, delete"))


def policies(ctx: Context) -> Check:
    from bridge.policy import PolicyError
    from bridge.policy.loader import load_policies

    label, directory = ctx.t("Politiques", "Policies"), ctx.settings.policies_dir
    try:
        ctx.policies = loaded = load_policies(directory, dev=not ctx.settings.production, now=ctx.now)
    except PolicyError as exc:
        more = len(exc.errors) - 1
        suffix = ctx.t(f" (et {more} autre(s))", f" (and {more} more)") if more > 0 else ""
        return Check("policies", "fail", label, f"{exc.errors[0]}{suffix}",
                     ctx.t(f"corrigez le fichier nommé ; `bridge policy check --dir {directory}` liste tout",
                           f"fix the file named; `bridge policy check --dir {directory}` lists everything"))
    count = len(loaded.services)
    detail = ctx.t(f"{count} service(s) dans {directory}", f"{count} service(s) in {directory}")
    if loaded.warnings:
        return Check("policies", "warn", label, f"{detail} ; {loaded.warnings[0]}",
                     ctx.t("`bridge policy check` détaille les avertissements",
                           "`bridge policy check` details the warnings"))
    return Check("policies", "ok", label, detail)


def keys(ctx: Context) -> Check:
    from joserfc import jwt
    from joserfc.jwk import KeySet

    from bridge.provider.keys import KeyRing

    label, directory = ctx.t("Clés de signature", "Signing keys"), ctx.settings.keys_dir
    try:
        ring = KeyRing(directory, create=False)
        published = KeySet.import_key_set(ring.jwks())
        for alg, key in ring.active().items():   # the key that signs now signs, and verifies with what /jwks shows
            jwt.decode(jwt.encode({"alg": alg, "kid": key.kid}, {"doctor": 1}, key), published, algorithms=[alg])
    except FileNotFoundError as exc:
        status = "fail" if ctx.settings.production else "warn"
        return Check("keys", status, label, ctx.t(f"absentes ({exc})", f"missing ({exc})"),
                     ctx.t(f"créez-les : BRIDGE_KEYS_DIR={directory} bridge keys rotate (en développement, "
                           "`bridge serve` les crée)",
                           f"create them: BRIDGE_KEYS_DIR={directory} bridge keys rotate (in development "
                           "`bridge serve` creates them)"))
    except Exception as exc:  # noqa: BLE001 - unreadable JSON, wrong key type...: say which, not a traceback
        return Check("keys", "fail", label, ctx.t(f"inutilisables dans {directory} ({type(exc).__name__})",
                                                  f"unusable in {directory} ({type(exc).__name__})"),
                     ctx.t("restaurez le répertoire depuis la sauvegarde, ou `bridge keys rotate --now`",
                           "restore the directory from its backup, or `bridge keys rotate --now`"))
    detail = ", ".join(f"{alg} {key.kid[:8]}…" for alg, key in sorted(ring.active().items()))
    pending = ring.pending()
    if pending:
        at = datetime.fromtimestamp(min(pending.values()), UTC)
        detail += ctx.t(f" ; rotation en cours, les nouvelles clés signent à partir de {at:%Y-%m-%d %H:%M} UTC",
                        f"; rotation under way, the new keys sign from {at:%Y-%m-%d %H:%M} UTC")
    if ring.retired:
        detail += ctx.t(f" ; {len(ring.retired)} clé(s) retirée(s) encore publiée(s)",
                        f"; {len(ring.retired)} retired key(s) still published")
    loose = sorted(p.name for p in directory.glob("*.json") if p.stat().st_mode & 0o077)
    if loose:
        return Check("keys", "warn", label, detail + ctx.t(f" ; lisibles par d'autres : {', '.join(loose)}",
                                                           f"; readable by others: {', '.join(loose)}"),
                     f"chmod 600 {directory}/*.json")
    return Check("keys", "ok", label, detail)


def direct_card_services(ctx: Context) -> list[str] | None:
    """Services allowing cps-pin / cps-tls; None when the policies did not load."""
    from bridge.upstream.cps import DIRECT_MIE

    if ctx.policies is None:
        return None
    return sorted(s.service for s in ctx.policies.services.values() if set(DIRECT_MIE) & set(s.allowed_mie))


def trust(ctx: Context) -> list[Check]:
    from bridge.pki import TrustStore

    label, crl_label = ctx.t("Magasin de confiance", "Trust store"), ctx.t("Listes de révocation", "CRLs")
    users, directory = direct_card_services(ctx), ctx.settings.trust_dir
    if directory is None:
        if users:
            return [Check("trust", "fail", label,
                          ctx.t(f"BRIDGE_TRUST_DIR absent alors que {users[0]} permet la connexion carte directe",
                                f"BRIDGE_TRUST_DIR unset although {users[0]} allows direct card login"),
                          ctx.t("mettez les racines et intermédiaires IGC-Santé dans un répertoire et nommez-le dans "
                                "BRIDGE_TRUST_DIR (ou retirez cps-pin/cps-tls de la politique)",
                                "put the IGC-Santé roots and intermediates in a directory named by BRIDGE_TRUST_DIR "
                                "(or remove cps-pin/cps-tls from the policy)")),
                    Check("crl", "skip", crl_label, ctx.t("non vérifiées (pas de magasin)", "not checked (no store)"))]
        why = ctx.t("aucun service n'offre la carte en direct", "no service offers direct card login")
        return [Check("trust", "skip", label, why), Check("crl", "skip", crl_label, why)]
    try:
        store = TrustStore.from_settings(ctx.settings, fetch_crls=False)
    except (ValueError, OSError) as exc:
        return [Check("trust", "fail", label, f"{directory} : {exc}",
                      ctx.t("copiez-y les certificats IGC-Santé (PEM, DER ou .p7b de l'ANS)",
                            "copy the IGC-Santé certificates there (PEM, DER or ANS's .p7b)")),
                Check("crl", "skip", crl_label, ctx.t("non vérifiées", "not checked"))]
    checks = [Check("trust", "ok", label, ctx.t(
        f"{len(store.roots)} racine(s), {len(store.intermediates)} intermédiaire(s) dans {directory}",
        f"{len(store.roots)} root(s), {len(store.intermediates)} intermediate(s) in {directory}"))]
    if ctx.settings.crl_dir is None:
        checks.append(Check("crl", "warn", crl_label,
                            ctx.t("BRIDGE_CRL_DIR absent : téléchargées à la première connexion carte, fraîcheur non "
                                  "vérifiable ici", "BRIDGE_CRL_DIR unset: downloaded at the first card login, "
                                  "freshness not checkable here"),
                            ctx.t("téléchargez les CRL chaque jour dans un répertoire nommé par BRIDGE_CRL_DIR",
                                  "download the CRLs daily into a directory named by BRIDGE_CRL_DIR")))
        return checks
    statuses = store.crl_status(ctx.now)
    bad = [s for s in statuses if s.state != "fresh"]
    if bad:
        states = {"stale": ctx.t("périmée", "stale"), "missing": ctx.t("absente", "missing")}
        checks.append(Check("crl", "fail", crl_label, ctx.t(
            f"{len(bad)}/{len(statuses)} CA sans CRL à jour : {bad[0].issuer} ({states[bad[0].state]})",
            f"{len(bad)}/{len(statuses)} CA(s) without a fresh CRL: {bad[0].issuer} ({states[bad[0].state]})"),
            ctx.t(f"les connexions carte de ces CA sont refusées : mettez les CRL du jour dans "
                  f"{ctx.settings.crl_dir} (`bridge crl status` pour le détail)",
                  f"card logins through these CAs are refused: put today's CRLs in {ctx.settings.crl_dir} "
                  "(`bridge crl status` for the details)")))
        return checks
    soonest = min(s.next_update for s in statuses)
    detail = ctx.t(f"{len(statuses)} CA, prochaine échéance {soonest:%Y-%m-%d %H:%M} UTC",
                   f"{len(statuses)} CA(s), next update due {soonest:%Y-%m-%d %H:%M} UTC")
    if soonest.timestamp() - ctx.now < CRL_WARN_HOURS * 3600:
        checks.append(Check("crl", "warn", crl_label, detail, ctx.t(
            "rafraîchissez les CRL (au moins une par jour)", "refresh the CRLs (at least daily)")))
    else:
        checks.append(Check("crl", "ok", crl_label, detail))
    return checks


def agent_origins(ctx: Context) -> Check:
    """The card agents on the workstations must allow the bridge's origin (their --allow-origin list)."""
    from bridge.card.agent import normalize_origin
    from bridge.upstream.cps import public_origin

    label = ctx.t("Origines de l'agent carte", "Card agent origins")
    if not direct_card_services(ctx) and not ctx.agent_origins:
        return Check("agent", "skip", label, ctx.t("aucun service n'offre la carte en direct",
                                                   "no service offers direct card login"))
    own = public_origin(ctx.settings.public_url)
    if not ctx.agent_origins:
        return Check("agent", "ok", label, ctx.t(
            f"les agents des postes doivent autoriser {own} (bridge card-agent --allow-origin {own})",
            f"the workstation agents must allow {own} (bridge card-agent --allow-origin {own})"))
    origins = []
    for value in ctx.agent_origins:
        try:
            origins.append(normalize_origin(value))
        except ValueError:
            return Check("agent", "fail", label,
                         ctx.t(f"{value!r} n'est pas une origine", f"{value!r} is not an origin"),
                         ctx.t("écrivez schéma://hôte[:port], sans chemin", "write scheme://host[:port], no path"))
    plain = [o for o in origins if not o.startswith("https://")]
    if ctx.settings.production and plain:
        return Check("agent", "fail", label,
                     ctx.t(f"{plain[0]} en http en production", f"{plain[0]} is http in production"),
                     ctx.t(f"n'autorisez que {own} (https) dans --allow-origin des agents",
                           f"allow only {own} (https) in the agents' --allow-origin"))
    if own not in origins:
        return Check("agent", "fail", label, ctx.t(f"{own} (l'origine de la passerelle) n'est pas dans la liste",
                                                   f"{own} (the bridge's origin) is not in the list"),
                     ctx.t(f"ajoutez --allow-origin {own} au lancement des agents",
                           f"add --allow-origin {own} where the agents are started"))
    return Check("agent", "ok", label, ", ".join(origins))
