"""The evidence bundle of `bridge attest --bundle FILE.zip`: one zip an auditor can check offline.

    report.html, report.pdf          the attestation report
    policies/<file>.yaml             every policy file of the attested set, byte for byte
    self-checks/transcript.json      each live self-check: what was tried, expected, observed, steps, audit lines
    self-checks/transcript.txt       the same, as `bridge attest --demonstrate` prints it
    audit/excerpt.jsonl              the audit lines of the period, contiguous, up to the next signed checkpoint
    audit/timestamps/<seq>.tsr       RFC 3161 tokens of its checkpoints, when `bridge audit timestamp` made some
    config/summary.json              bridge version and settings, secrets replaced by « (défini) »
    audit-key.jwk.json               the audit key's public half (compare its kid with `bridge audit key --public`)
    README.txt                       what this is and how to verify it
    manifest.json                    SHA-256 of every file above, the period, the key's thumbprint
    manifest.jws                     JWS (ES256, compact) of manifest.json's bytes by the audit key

Verification: bridge/attest/verify_bundle.py (`bridge attest verify FILE.zip`). docs/attestation.md.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from joserfc import jws

from bridge.attest.demonstrate import transcript_text
from bridge.attest.model import Report
from bridge.audit.checkpoint import ALG, is_checkpoint, public_jwk
from bridge.policy import paris_date

FORMAT = "psc-bridge-evidence/1"
TIMESTAMPS = "audit/timestamps/"   # RFC 3161 tokens of the excerpt's checkpoints (bridge audit timestamp)
MANIFEST, SIGNATURE, KEY_FILE, EXCERPT = "manifest.json", "manifest.jws", "audit-key.jwk.json", "audit/excerpt.jsonl"
JWS_TYPE = "evidence-manifest"
# Settings whose value is a secret: the summary says whether they are set, never what they are (and any later
# setting named *_secret or *_password). The URLs lose their credentials; write_bundle checks the result.
SECRET_SETTINGS = {"secret_key", "psc_client_secret", "metrics_token"}


class BundleError(RuntimeError):
    """The bundle cannot be written (no audit key, a secret would leak...)."""


def bridge_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("psc-bridge")
    except PackageNotFoundError:
        return "unknown"


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- configuration summary --------------------------------------------------------------------------------

def _plain(value):
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, str) and "://" in value:
        parts = urlsplit(value)   # credentials and query strings out of every URL
        return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1], query="", fragment="")) \
            if parts.netloc else value
    return value


def config_summary(settings) -> tuple[dict, list[str]]:
    """(summary, the secret values it left out): every setting by its BRIDGE_* name."""
    summary, secrets = {}, []
    for item in dataclasses.fields(settings):
        value = getattr(settings, item.name)
        name = "BRIDGE_" + item.name.upper()
        if item.name in SECRET_SETTINGS or item.name.endswith(("_secret", "_password")):
            summary[name] = "(défini / set)" if value else "(vide / empty)"
            if isinstance(value, str) and value:
                secrets.append(value)
        else:
            summary[name] = _plain(value)
    for url in (settings.store_url, settings.psc_discovery_url):   # passwords inside URLs are secrets too
        password = urlsplit(url).password
        if password:
            secrets.append(password)
    return summary, secrets


# --- audit excerpt ----------------------------------------------------------------------------------------

def _lines(files: list[Path]):
    for path in files:
        with open(path, "rb") as file:
            for line in file:
                if line.endswith(b"\n"):
                    yield line


def _day(line: bytes):
    try:
        moment = datetime.fromisoformat(json.loads(line)["time"])
        return paris_date(moment.timestamp())
    except (ValueError, KeyError, TypeError):
        return None


def excerpt_range(files: list[Path], period_from, period_to) -> tuple[int, int]:
    """[start, end) line indexes, contiguous: from the first line of the period to its last, then on to the next
    signed checkpoint if there is one (so that a signature covers the period's last lines). (0, 0): no line."""
    start = end = None
    for index, line in enumerate(_lines(files)):
        day = _day(line)
        if start is None:
            if day is not None and period_from <= day <= period_to:
                start, end = index, index + 1
        elif day is not None and day <= period_to:
            end = index + 1
        elif is_checkpoint(line):   # the first checkpoint after the period closes the excerpt
            end = index + 1
            break
    return (start, end) if start is not None else (0, 0)


def _timestamps(files: list[Path], first: int, last: int) -> list[tuple[int, Path]]:
    """The RFC 3161 tokens `bridge audit timestamp` kept for checkpoints inside the excerpt."""
    from bridge.audit.timestamp import stored_tokens, timestamps_dir

    if not files or not first:
        return []
    return [(seq, path) for seq, path in stored_tokens(timestamps_dir(files[-1])) if first <= seq <= last]


# --- writing ----------------------------------------------------------------------------------------------

class _Writer:
    def __init__(self, archive: zipfile.ZipFile):
        self.archive, self.hashes = archive, {}

    def add(self, name: str, data: bytes) -> None:
        self.archive.writestr(_info(name), data)
        self.hashes[name] = hashlib.sha256(data).hexdigest()

    def add_lines(self, name: str, lines, secrets: list[str]) -> tuple[int, int, int, int]:
        """Streamed (an excerpt may be large): (lines, first seq, last seq, checkpoints)."""
        digest, count, first, last, checkpoints = hashlib.sha256(), 0, 0, 0, 0
        with self.archive.open(_info(name), "w") as out:
            for line in lines:
                _refuse_secrets(name, line, secrets)
                out.write(line)
                digest.update(line)
                count += 1
                seq = json.loads(line).get("seq", 0)
                first, last = first or seq, seq
                checkpoints += is_checkpoint(line)
        self.hashes[name] = digest.hexdigest()
        return count, first, last, checkpoints


def _info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))   # fixed: the hash is the content's, not the time's
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def checks_transcript(report: Report) -> list[dict]:
    return [{"service": c.service, "id": c.id, "title": c.title, "expected": c.expected, "observed": c.observed,
             "passed": c.passed, "steps": list(c.steps), "audit_lines": [dict(x) for x in c.audit_lines]}
            for c in report.all_checks]


def write_bundle(target: Path, *, report: Report, html: str, pdf: bytes, settings, policies_dir: Path,
                 audit_files: list[Path], key) -> dict:
    """Write the zip to `target` (atomically: a temporary name, then renamed); the manifest. BundleError when a
    secret of the configuration would appear in a text file of the bundle."""
    summary, secrets = config_summary(settings)
    policies = sorted(p for pattern in ("*.yaml", "*.yml") for p in Path(policies_dir).glob(pattern) if p.is_file())
    checks = checks_transcript(report)
    texts = {
        "report.html": html.encode("utf-8"),
        "self-checks/transcript.json": _json(checks),
        "self-checks/transcript.txt": transcript_text(report.all_checks, report.lang).encode("utf-8"),
        "config/summary.json": _json({"bridge_version": bridge_version(), "generated_at": _iso(report.generated_at),
                                      "settings": summary}),
        KEY_FILE: _json(public_jwk(key)),
        "README.txt": README.encode("utf-8"),
    }
    for name, data in texts.items():
        _refuse_secrets(name, data, secrets)
    start, end = excerpt_range(audit_files, report.stats.period_from, report.stats.period_to)
    target = Path(target)
    partial = target.with_name(f".{target.name}.partial")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        writer = _Writer(archive)
        writer.add("report.pdf", pdf)
        for name, data in texts.items():
            writer.add(name, data)
        for path in policies:
            writer.add(f"policies/{path.name}", path.read_bytes())
        lines = (line for i, line in enumerate(_lines(audit_files)) if start <= i < end)
        count, first, last, checkpoints = writer.add_lines(EXCERPT, lines, secrets)
        stamps = _timestamps(audit_files, first, last)
        for seq, path in stamps:
            writer.add(f"{TIMESTAMPS}{seq}.tsr", path.read_bytes())
        failed = [c for c in report.all_checks if c.passed is False]
        manifest = {
            "format": FORMAT, "generated_at": _iso(report.generated_at), "bridge_version": bridge_version(),
            "lang": report.lang, "services": [s.id for s in report.services],
            "period": {"from": report.stats.period_from.isoformat(), "to": report.stats.period_to.isoformat()},
            "audit_key": {"kid": key.thumbprint(), "alg": ALG, "file": KEY_FILE},
            "audit_excerpt": {"file": EXCERPT, "lines": count, "first_seq": first, "last_seq": last,
                              "checkpoints": checkpoints, "timestamps": [seq for seq, _ in stamps]},
            "self_checks": {"run": report.self_checks_run, "total": len(checks), "failed": len(failed),
                            "passed": sum(1 for c in report.all_checks if c.passed)},
            "policies": {f"policies/{p.name}": writer.hashes[f"policies/{p.name}"] for p in policies},
            "files": dict(sorted(writer.hashes.items())),
        }
        data = _json(manifest)
        archive.writestr(_info(MANIFEST), data)
        header = {"alg": ALG, "kid": key.thumbprint(), "typ": JWS_TYPE}
        archive.writestr(_info(SIGNATURE), jws.serialize_compact(header, data, key, algorithms=[ALG]).encode())
    partial.write_bytes(buffer.getvalue())
    os.replace(partial, target)
    return manifest


def _json(value) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _refuse_secrets(name: str, data: bytes, secrets: list[str]) -> None:
    for secret in secrets:
        if len(secret) >= 4 and secret.encode("utf-8") in data:
            raise BundleError(f"{name} would carry a secret of the configuration: bundle not written")


README = """\
Dossier de preuves PSC Bridge / PSC Bridge evidence bundle

Vérification hors ligne / offline verification:
    bridge attest verify CE_FICHIER.zip --public-key cle-publique-audit.json

manifest.json liste l'empreinte SHA-256 de chaque fichier ; manifest.jws est sa signature (JWS ES256) par la clé
d'audit de la passerelle, dont la moitié publique est audit-key.jwk.json. Comparez son « kid » avec celui que publie
`bridge audit key --public` sur le serveur, ou donnez cette clé publique par --public-key.

manifest.json lists every file's SHA-256; manifest.jws is its signature (JWS ES256) by the bridge's audit key, whose
public half is audit-key.jwk.json. Compare its "kid" with the one `bridge audit key --public` prints on the server,
or give that public key with --public-key.
"""
