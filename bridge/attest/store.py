"""Stored runs of `bridge attest` in BRIDGE_ATTEST_DIR, one directory per run:

    <BRIDGE_ATTEST_DIR>/20261120T031500Z/report.html
                                         report.pdf      (when the run was asked for a PDF)
                                         bundle.zip      (with --bundle: the signed evidence bundle, bundle.py)
                                         summary.json    (time, services, self-checks, config faults, policy hashes)

`bridge attest` writes them (store_run); the admin console shows and serves the latest one (latest_run,
run_file). A run appears at once or not at all: it is written under a hidden name, then renamed.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bridge.attest.model import Report

SUMMARY = "summary.json"
FILES = {"html": "report.html", "pdf": "report.pdf", "zip": "bundle.zip"}
RUN_ID = re.compile(r"^\d{8}T\d{6}Z(?:-\d{1,3})?$")
SUMMARY_FORMAT = 1


@dataclass(frozen=True)
class StoredRun:
    id: str
    path: Path
    summary: dict

    @property
    def generated_at(self) -> str:
        """UTC ISO 8601 ('2026-11-20T03:15:00Z')."""
        return str(self.summary.get("generated_at", ""))

    @property
    def formats(self) -> tuple[str, ...]:
        return tuple(fmt for fmt, name in FILES.items() if (self.path / name).is_file())

    @property
    def checks(self) -> dict:
        return self.summary.get("self_checks") or {}


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def policy_hashes(directory: Path) -> dict[str, str]:
    """SHA-256 of each policy file of the set the report describes (what was attested, byte for byte)."""
    directory = Path(directory)
    files = sorted(p for pattern in ("*.yaml", "*.yml") for p in directory.glob(pattern) if p.is_file())
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def summary_of(report: Report, policies_dir: Path, formats: list[str], service: str | None = None) -> dict:
    checks = report.all_checks
    failed = [c for c in checks if c.passed is False]
    return {
        "format": SUMMARY_FORMAT,
        "generated_at": _iso(report.generated_at),
        "lang": report.lang,
        "service": service,
        "services": [s.id for s in report.services],
        "period": {"from": report.stats.period_from.isoformat(), "to": report.stats.period_to.isoformat()},
        "self_checks": {"run": report.self_checks_run, "note": report.self_checks_note,
                        "passed": sum(1 for c in checks if c.passed is True), "failed": len(failed),
                        "not_run": sum(1 for c in checks if c.passed is None),
                        "failed_checks": [f"{c.service}:{c.id}" if c.service else c.id for c in failed]},
        "config_faults": list(report.config_faults),
        "audit_chain": {"ok": report.stats.chain_ok, "last_seq": report.stats.last_seq,
                        "last_hash": report.stats.last_hash},
        "policies": {"dir": str(policies_dir), "sha256": policy_hashes(policies_dir)},
        "files": {fmt: FILES[fmt] for fmt in formats},
    }


def store_run(directory: Path, report: Report, html: str, pdf: bytes | None, *, policies_dir: Path,
              service: str | None = None, bundle: bytes | None = None) -> StoredRun:
    """Write the run under `directory` (created if needed); OSError when it cannot be written."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    formats = ["html"] + (["pdf"] if pdf is not None else []) + (["zip"] if bundle is not None else [])
    summary = summary_of(report, policies_dir, formats, service)
    partial = directory / f".partial-{secrets.token_hex(6)}"
    partial.mkdir()
    try:
        (partial / FILES["html"]).write_text(html, encoding="utf-8")
        if pdf is not None:
            (partial / FILES["pdf"]).write_bytes(pdf)
        if bundle is not None:
            (partial / FILES["zip"]).write_bytes(bundle)
        (partial / SUMMARY).write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        base = datetime.fromtimestamp(report.generated_at, UTC).strftime("%Y%m%dT%H%M%SZ")
        for n in range(1, 1000):   # two runs in the same second: 20261120T031500Z-2
            run_id = base if n == 1 else f"{base}-{n}"
            try:
                os.rename(partial, directory / run_id)   # refused onto an existing run (never overwritten)
            except OSError:
                if (directory / run_id).exists():
                    continue
                raise
            return StoredRun(run_id, directory / run_id, summary)
        raise FileExistsError(f"{directory}: too many runs at {base}")
    except BaseException:
        for child in partial.glob("*") if partial.exists() else ():
            child.unlink()
        if partial.exists():
            partial.rmdir()
        raise


def _order(run_id: str) -> tuple[str, int]:
    stamp, _, n = run_id.partition("-")
    return stamp, int(n or 1)


def runs(directory: Path | None) -> list[str]:
    """Ids of the stored runs, newest first."""
    if directory is None or not Path(directory).is_dir():
        return []
    found = [p.name for p in Path(directory).iterdir() if RUN_ID.match(p.name) and (p / SUMMARY).is_file()]
    return sorted(found, key=_order, reverse=True)


def load_run(directory: Path | None, run_id: str) -> StoredRun | None:
    if directory is None or not RUN_ID.match(run_id or ""):
        return None
    path = Path(directory) / run_id
    try:
        summary = json.loads((path / SUMMARY).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return StoredRun(run_id, path, summary) if isinstance(summary, dict) else None


def latest_run(directory: Path | None) -> StoredRun | None:
    """The newest readable run (an unreadable summary is skipped, not shown as the latest)."""
    for run_id in runs(directory):
        run = load_run(directory, run_id)
        if run is not None:
            return run
    return None


def run_file(directory: Path | None, run_id: str, fmt: str) -> Path | None:
    """The stored report file of a run, or None: the run id and the format are checked against their patterns
    (no path from the request ever reaches the file system as is)."""
    run = load_run(directory, run_id)
    if run is None or fmt not in FILES:
        return None
    path = run.path / FILES[fmt]
    return path if path.is_file() else None
