"""RFC 3161 timestamps of signed audit checkpoints, from a Time-Stamping Authority (TSA): proof, by a third party,
that a checkpoint line (and so, through the chain, every line before it) existed at the TSA's time.

`bridge audit timestamp` (scheduled, e.g. every 5 minutes) asks the TSA (BRIDGE_AUDIT_TSA_URL) for a token over
the SHA-256 of the newest checkpoint line not stamped yet, checks the reply against the request and the TSA's CA
(BRIDGE_AUDIT_TSA_CA) and stores it as `<audit file>.timestamps/<seq>.tsr`. `bridge audit verify --tsa-ca CA.pem`
checks every stored token against the line of that seq. Never on the request path: a TSA outage only delays the
next token. The protocol work (TimeStampReq, TimeStampResp, CMS signature) is OpenSSL's `openssl ts`, the
maintained implementation on every host; requests go over HTTP POST (application/timestamp-query, RFC 3161 §3.4).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import requests

from bridge.audit.chain import line_hash, split_lines
from bridge.audit.checkpoint import is_checkpoint

TIMEOUT = 10.0
_TOKEN = re.compile(r"^(\d+)\.tsr$")


class TimestampError(RuntimeError):
    pass


@dataclass(frozen=True)
class Stamp:
    seq: int
    time: str              # the TSA's genTime, ISO 8601 UTC
    ok: bool
    error: str = ""


def timestamps_dir(audit_path: Path) -> Path:
    return Path(audit_path).with_name(Path(audit_path).name + ".timestamps")


def checkpoint_hashes(files: list[Path]) -> dict[int, str]:
    """seq -> SHA-256 (hex) of each checkpoint line of the files."""
    found = {}
    for path in files:
        for line, complete in split_lines(Path(path).read_bytes()):
            if complete and is_checkpoint(line):
                found[json.loads(line)["seq"]] = line_hash(line)
    return found


def _openssl(*args: str, data: bytes | None = None) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["openssl", "ts", *args], input=data, capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise TimestampError(f"openssl ts: {exc}") from None


def request_token(tsa_url: str, digest: str, ca_file: Path, *, timeout: float = TIMEOUT) -> bytes:
    """A verified TimeStampResp (DER) for the SHA-256 `digest` (hex): it answers our query (same imprint, same
    nonce) and its signer chains to `ca_file`. TimestampError otherwise."""
    query = _openssl("-query", "-digest", digest, "-sha256", "-cert")
    if query.returncode != 0:
        raise TimestampError(f"openssl ts -query: {query.stderr.decode(errors='replace').strip()}")
    try:
        reply = requests.post(tsa_url, data=query.stdout, timeout=timeout,
                              headers={"Content-Type": "application/timestamp-query"})
    except requests.RequestException as exc:
        raise TimestampError(f"TSA {tsa_url}: {exc.__class__.__name__}") from None
    if reply.status_code != 200 or reply.headers.get("Content-Type", "").split(";")[0] != \
            "application/timestamp-reply":
        raise TimestampError(f"TSA {tsa_url}: HTTP {reply.status_code} {reply.headers.get('Content-Type', '')}")
    with tempfile.TemporaryDirectory(prefix="bridge-tsa-") as tmp:
        (Path(tmp) / "q.tsq").write_bytes(query.stdout)
        (Path(tmp) / "r.tsr").write_bytes(reply.content)
        checked = _openssl("-verify", "-queryfile", str(Path(tmp) / "q.tsq"), "-in", str(Path(tmp) / "r.tsr"),
                           "-CAfile", str(ca_file))
    if checked.returncode != 0:
        raise TimestampError(f"TSA {tsa_url}: the reply does not verify: {_reason(checked)}")
    return reply.content


def _reason(result: subprocess.CompletedProcess) -> str:
    text = (result.stdout + result.stderr).decode(errors="replace")
    lines = [x.strip() for x in text.splitlines() if x.strip() and not x.startswith("Using configuration")]
    return "; ".join(lines[:2]) or f"exit {result.returncode}"


def gen_time(token: bytes) -> str:
    """The token's genTime as ISO 8601 UTC ('' when unreadable)."""
    with tempfile.NamedTemporaryFile(suffix=".tsr") as file:
        file.write(token)
        file.flush()
        text = _openssl("-reply", "-in", file.name, "-text").stdout.decode(errors="replace")
    match = re.search(r"^Time stamp: (.+?)\s*$", text, re.M)
    if not match:
        return ""
    raw = re.sub(r"\.\d+", "", match.group(1).replace("  ", " "))
    try:
        return datetime.strptime(raw, "%b %d %H:%M:%S %Y %Z").replace(tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return match.group(1)


def stamp_latest(files: list[Path], audit_path: Path, tsa_url: str, ca_file: Path) -> tuple[int, str] | None:
    """Stamp the newest checkpoint not stamped yet: (seq, genTime), or None when there is nothing new."""
    hashes = checkpoint_hashes(files)
    if not hashes:
        return None
    seq = max(hashes)
    directory = timestamps_dir(audit_path)
    target = directory / f"{seq}.tsr"
    if target.exists():
        return None
    token = request_token(tsa_url, hashes[seq], ca_file)
    directory.mkdir(parents=True, exist_ok=True)
    partial = directory / f".{seq}.tsr.partial"
    partial.write_bytes(token)
    os.replace(partial, target)
    return seq, gen_time(token)


def stored_tokens(directory: Path) -> list[tuple[int, Path]]:
    """(seq, token file) of a timestamps directory, by seq."""
    if not directory.is_dir():
        return []
    return sorted((int(m.group(1)), p) for p in directory.glob("*.tsr") if (m := _TOKEN.match(p.name)))


def verify_timestamps(files: list[Path], directory: Path, ca_file: Path) -> list[Stamp]:
    """Every stored token, oldest first: does it cover the checkpoint line of its seq, signed by a TSA of ca_file?"""
    hashes = checkpoint_hashes(files)
    stamps = []
    for seq, path in stored_tokens(directory):
        token = path.read_bytes()
        if seq not in hashes:
            stamps.append(Stamp(seq, gen_time(token), False, "no_checkpoint"))
            continue
        checked = _openssl("-verify", "-digest", hashes[seq], "-in", str(path), "-CAfile", str(ca_file))
        stamps.append(Stamp(seq, gen_time(token), checked.returncode == 0,
                            "" if checked.returncode == 0 else _reason(checked)))
    return stamps
