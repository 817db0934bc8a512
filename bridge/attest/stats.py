"""Audit statistics over a period, read from the hash-chained audit files (bridge/audit/__init__.py), per service."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

from bridge.attest.model import AuditStats, ServiceStats
from bridge.audit.chain import chain_files, head_path, verify_chain
from bridge.policy import paris_date

WEEKLY_AFTER_DAYS = 62   # longer periods are bucketed by ISO week so the chart stays readable


def audit_files(audit_path: Path | None) -> list[Path]:
    if audit_path is None:
        return []
    return [p for p in chain_files(Path(audit_path)) if p.exists()]


def chain_status(files: list[Path], lang: str) -> tuple[bool | None, str, int, str]:
    """(ok, message, last seq, last hash) for the report header; None when there is no audit file."""
    if not files:
        return None, "", 0, ""
    head = head_path(files[-1])
    result = verify_chain(files, head=head if head.exists() else None)
    where = ""
    if not result.ok and result.file:
        word = "line" if lang == "en" else "ligne"
        where = f"{result.file}, {word} {result.line_no}: " if result.line_no else f"{result.file}: "
    return result.ok, where + result.message(lang), result.last_seq, result.last_hash


def bucket_of(day: date, bucket: str) -> str:
    if bucket == "week":
        monday = day - timedelta(days=day.weekday())
        return monday.isoformat()
    return day.isoformat()


def buckets(period_from: date, period_to: date, bucket: str) -> list[str]:
    labels, day = [], period_from
    while day <= period_to:
        label = bucket_of(day, bucket)
        if label not in labels:
            labels.append(label)
        day += timedelta(days=1)
    return labels


def _day(line: dict) -> date | None:
    try:
        moment = datetime.fromisoformat(str(line["time"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return None
    return paris_date(moment.timestamp())


def collect(files: list[Path], period_from: date, period_to: date, services: list[str], lang: str = "fr",
            clients: dict[str, str] | None = None) -> AuditStats:
    """`clients`: client id -> service, for lines that name only the client (session ends)."""
    bucket = "week" if (period_to - period_from).days > WEEKLY_AFTER_DAYS else "day"
    stats = AuditStats(files=tuple(str(f) for f in files), period_from=period_from, period_to=period_to,
                       bucket=bucket, services={s: ServiceStats() for s in services})
    labels = buckets(period_from, period_to, bucket)
    for service in stats.services.values():
        service.series = {label: {} for label in labels}
    stats.chain_ok, stats.chain_message, stats.last_seq, stats.last_hash = chain_status(files, lang)
    for path in files:
        for raw in path.read_bytes().splitlines():
            stats.lines_read += 1
            try:
                line = json.loads(raw)
            except ValueError:
                stats.unreadable += 1   # the chain status above says where and why
                continue
            day = _day(line) if isinstance(line, dict) else None
            if day is None or not period_from <= day <= period_to:
                continue
            stats.lines_in_period += 1
            _count(stats, line, bucket_of(day, bucket), clients or {})
    return stats


def _count_backup_activation(stats: AuditStats, line: dict) -> None:
    """An activated backup code counts for each service it was activated for (bridge.admin.backup)."""
    details = line.get("details") if isinstance(line.get("details"), dict) else {}
    if details.get("command") != "activate_backup_code" or line.get("outcome") != "success":
        return
    for service in details.get("services") or []:
        if isinstance(service, str) and service in stats.services:
            stats.services[service].backup_activations += 1


def _count(stats: AuditStats, line: dict, label: str, clients: dict[str, str]) -> None:
    event = line.get("event")
    if event == "admin_action":
        stats.admin_actions += 1
        _count_backup_activation(stats, line)
    elif event in ("fido_enrolled", "fido_revoked") and line.get("outcome") == "success":
        setattr(stats, event, getattr(stats, event) + 1)
    target = stats.services.get(line.get("service") or clients.get(line.get("client", ""), ""))
    if target is None:
        return
    if event == "login_succeeded":
        mie = line.get("mie") or "?"
        target.logins_by_mie[mie] = target.logins_by_mie.get(mie, 0) + 1
        bucket = target.series.setdefault(label, {})
        bucket[mie] = bucket.get(mie, 0) + 1
    elif event == "login_denied":
        for reason in filter(None, str(line.get("reason", "")).split(",")):
            target.denials_by_reason[reason] = target.denials_by_reason.get(reason, 0) + 1
    elif event == "idle_expired":
        target.idle_logouts += 1
    elif event == "absolute_expired":
        target.absolute_logouts += 1
    elif event == "logout":
        target.logouts += 1
