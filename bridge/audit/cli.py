"""`bridge audit verify`: check the hash chain of the audit files (or of the Redis stream).

Exit 0 when intact, 1 at the first broken or missing line (printed with file and line number), 2 on bad usage.
Messages in French by default, `--lang en` for English.
"""
from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import click

from bridge.audit.chain import VerifyResult, chain_files, head_path, verify_chain
from bridge.audit.checkpoint import AuditKeyError, load_key, load_or_create_key, public_jwk
from bridge.audit.stream import verify_stream
from bridge.config import variable

TEXT = {
    "fr": {"line": "ligne", "entry": "entrée", "last": "dernière ligne : seq {seq}, sha256 {hash}",
           "no_path": "BRIDGE_AUDIT_PATH n'est pas défini : donnez les fichiers à vérifier",
           "no_redis": "--stream demande --redis-url ou BRIDGE_STORE_URL en redis:// ou rediss://",
           "signed": "{count} point(s) de contrôle signé(s) vérifié(s) ; dernière ligne signée : seq {seq} ({time})",
           "uncovered": "{count} ligne(s) après le dernier point de contrôle ne sont couvertes par aucune signature",
           "unsigned": "points de contrôle non vérifiés (pas de clé d'audit : --public-key ou BRIDGE_AUDIT_KEY_FILE)",
           "no_key": "BRIDGE_AUDIT_KEY_FILE n'est pas défini : donnez --key-file",
           "stamp_ok": "point de contrôle seq {seq} horodaté par la TSA le {time} (RFC 3161)",
           "stamp_bad": "jeton d'horodatage du point de contrôle seq {seq} invalide : {error}",
           "stamp_orphan": "jeton d'horodatage seq {seq} sans point de contrôle de cette seq dans la chaîne",
           "stamp_none": "aucun jeton d'horodatage RFC 3161 dans {dir}",
           "stamped": "point de contrôle seq {seq} horodaté : {time} ({file})",
           "nothing_new": "aucun nouveau point de contrôle à horodater",
           "no_tsa": "donnez --tsa-url et --tsa-ca (ou BRIDGE_AUDIT_TSA_URL et BRIDGE_AUDIT_TSA_CA)"},
    "en": {"line": "line", "entry": "entry", "last": "last line: seq {seq}, sha256 {hash}",
           "no_path": "BRIDGE_AUDIT_PATH is not set: give the files to verify",
           "no_redis": "--stream needs --redis-url or BRIDGE_STORE_URL on redis:// or rediss://",
           "signed": "{count} signed checkpoint(s) verified; last signed line: seq {seq} ({time})",
           "uncovered": "{count} line(s) after the last checkpoint are not covered by a signature",
           "unsigned": "checkpoints not verified (no audit key: --public-key or BRIDGE_AUDIT_KEY_FILE)",
           "no_key": "BRIDGE_AUDIT_KEY_FILE is not set: give --key-file",
           "stamp_ok": "checkpoint seq {seq} timestamped by the TSA at {time} (RFC 3161)",
           "stamp_bad": "timestamp token of checkpoint seq {seq} invalid: {error}",
           "stamp_orphan": "timestamp token seq {seq} with no checkpoint of that seq in the chain",
           "stamp_none": "no RFC 3161 timestamp token in {dir}",
           "stamped": "checkpoint seq {seq} timestamped: {time} ({file})",
           "nothing_new": "no new checkpoint to timestamp",
           "no_tsa": "give --tsa-url and --tsa-ca (or BRIDGE_AUDIT_TSA_URL and BRIDGE_AUDIT_TSA_CA)"},
}


@click.group("audit", help="Journal d'audit chaîné (hash-chained audit trail).")
def audit() -> None:
    pass


@audit.command("verify", help="Vérifie la chaîne d'audit (verify the audit chain). Sans FILES : BRIDGE_AUDIT_PATH "
                              "et ses fichiers tournés, dans l'ordre (without FILES: BRIDGE_AUDIT_PATH and its "
                              "rotated files, in order).")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--head", type=click.Path(path_type=Path, dir_okay=False),
              help="Tête qui scelle la dernière ligne (head sealing the last line); "
                   "défaut : <dernier fichier>.head.")
@click.option("--partial", is_flag=True,
              help="Le premier fichier peut commencer en cours de chaîne (older files archived elsewhere).")
@click.option("--stream", help="Vérifie ce flux Redis au lieu des fichiers (verify this Redis stream instead).")
@click.option("--redis-url", envvar="BRIDGE_STORE_URL", show_envvar=True, help="Redis du flux (Redis of the stream).")
@click.option("--public-key", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="Clé publique d'audit (JWK JSON, `bridge audit key --public`) qui vérifie les points de contrôle "
                   "(audit public key checking the checkpoints); défaut : BRIDGE_AUDIT_KEY_FILE.")
@click.option("--tsa-ca", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="CA de l'autorité d'horodatage (PEM) : vérifie aussi les jetons RFC 3161 des points de contrôle "
                   "(<fichier>.timestamps/, `bridge audit timestamp`).")
@click.option("--lang", type=click.Choice(["fr", "en"]), default="fr", show_default=True)
def verify(files: tuple[Path, ...], head: Path | None, partial: bool, stream: str | None, redis_url: str | None,
           public_key: Path | None, tsa_ca: Path | None, lang: str) -> None:
    text = TEXT[lang]
    if stream:
        url = redis_url or ""
        if urlsplit(url).scheme not in ("redis", "rediss"):
            raise click.UsageError(text["no_redis"])
        result = verify_stream(url, stream, allow_partial_start=partial)
        where = text["entry"]
    else:
        chain, head = _files_and_head(files, head, text)
        result = verify_chain(chain, head=head, allow_partial_start=partial, key=_verify_key(public_key))
        where = text["line"]
    _report(result, where, text, lang)
    if tsa_ca is not None and not stream:
        _report_timestamps(chain, tsa_ca, text)


def _report_timestamps(chain: list[Path], ca: Path, text: dict) -> None:
    from bridge.audit.timestamp import timestamps_dir, verify_timestamps

    directory = timestamps_dir(chain[-1])
    stamps = verify_timestamps(chain, directory, ca)
    if not stamps:
        click.echo(text["stamp_none"].format(dir=directory))
    for stamp in stamps:
        if stamp.ok:
            click.echo(text["stamp_ok"].format(seq=stamp.seq, time=stamp.time))
        elif stamp.error == "no_checkpoint":
            click.echo(text["stamp_orphan"].format(seq=stamp.seq), err=True)
        else:
            click.echo(text["stamp_bad"].format(seq=stamp.seq, error=stamp.error), err=True)
    if any(not s.ok for s in stamps):
        raise SystemExit(1)


@audit.command("timestamp", help="Horodate (RFC 3161) le dernier point de contrôle signé auprès d'une autorité "
                                 "d'horodatage (timestamp the newest checkpoint at a TSA); jeton dans "
                                 "<BRIDGE_AUDIT_PATH>.timestamps/<seq>.tsr. À planifier (ex. toutes les 5 min). "
                                 "Sortie 0 horodaté ou rien de nouveau, 1 échec.")
@click.option("--tsa-url", envvar="BRIDGE_AUDIT_TSA_URL", show_envvar=True, help="URL HTTP(S) de la TSA.")
@click.option("--tsa-ca", envvar="BRIDGE_AUDIT_TSA_CA", show_envvar=True,
              type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="CA de la TSA (PEM) : chaque réponse est vérifiée avant d'être gardée.")
@click.option("--lang", type=click.Choice(["fr", "en"]), default="fr", show_default=True)
def timestamp(tsa_url: str | None, tsa_ca: Path | None, lang: str) -> None:
    from bridge.audit.timestamp import TimestampError, stamp_latest, timestamps_dir

    text = TEXT[lang]
    if not tsa_url or tsa_ca is None:
        raise click.UsageError(text["no_tsa"])
    configured = variable("BRIDGE_AUDIT_PATH")
    if not configured:
        raise click.UsageError(text["no_path"])
    live = Path(configured)
    try:
        stamped = stamp_latest([p for p in chain_files(live) if p.exists()], live, tsa_url, tsa_ca)
    except (TimestampError, OSError) as exc:
        click.echo(f"bridge audit timestamp : {exc}", err=True)
        raise SystemExit(1) from None
    if stamped is None:
        click.echo(text["nothing_new"])
        return
    seq, time = stamped
    click.echo(text["stamped"].format(seq=seq, time=time, file=timestamps_dir(live) / f"{seq}.tsr"))


def _files_and_head(files: tuple[Path, ...], head: Path | None, text: dict) -> tuple[list[Path], Path | None]:
    if files:
        # Explicit files: the last one's head seals the chain when it is there (rotated files have none).
        default_head = head_path(files[-1])
        return list(files), head or (default_head if default_head.exists() else None)
    configured = variable("BRIDGE_AUDIT_PATH")
    if not configured:
        raise click.UsageError(text["no_path"])
    live = Path(configured)
    chain = chain_files(live)
    # The live trail always has a head: a missing one is reported, not skipped.
    return chain, head or (head_path(live) if chain else None)


def _verify_key(public_key: Path | None):
    """The key checking the checkpoints: --public-key, else the local key file when it exists, else None."""
    path = public_key or (Path(configured) if (configured := variable("BRIDGE_AUDIT_KEY_FILE")) else None)
    if path is None or not path.exists():
        return None
    try:
        return load_key(path)
    except AuditKeyError as exc:
        raise click.UsageError(str(exc)) from None


@audit.command("key", help="Affiche la clé publique d'audit (JWK JSON) pour l'auditeur (print the audit public key); "
                           "la crée si absente (created when absent, 0600).")
@click.option("--public", "public", is_flag=True, required=True, help="La moitié publique seulement (public half).")
@click.option("--key-file", type=click.Path(path_type=Path, dir_okay=False), envvar="BRIDGE_AUDIT_KEY_FILE",
              show_envvar=True, help="Fichier de la clé d'audit (audit key file).")
@click.option("--lang", type=click.Choice(["fr", "en"]), default="fr", show_default=True)
def key(public: bool, key_file: Path | None, lang: str) -> None:
    if key_file is None:
        raise click.UsageError(TEXT[lang]["no_key"])
    try:
        audit_key = load_or_create_key(key_file)
    except (AuditKeyError, OSError) as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(json.dumps(public_jwk(audit_key), indent=2))


def _report(result: VerifyResult, where: str, text: dict, lang: str) -> None:
    if result.ok:
        click.echo(result.message(lang))
        if result.lines:
            click.echo(text["last"].format(seq=result.last_seq, hash=result.last_hash))
        _report_signatures(result, text)
        return
    location = ", ".join(part for part in (
        result.file,
        f"{where} {result.line_no}" if result.line_no else "",
        f"id {result.params['entry']}" if "entry" in result.params else "") if part)
    separator = " : " if lang == "fr" else ": "  # French typography
    click.echo(f"{location}{separator}{result.message(lang)}" if location else result.message(lang), err=True)
    raise SystemExit(1)


def _report_signatures(result: VerifyResult, text: dict) -> None:
    if result.checkpoints is None:
        click.echo(text["unsigned"])
        return
    click.echo(text["signed"].format(count=result.checkpoints, seq=result.signed_seq, time=result.signed_time))
    if result.last_seq > result.signed_seq:
        click.echo(text["uncovered"].format(count=result.last_seq - result.signed_seq))
