"""What the admin console shows, as plain data (no HTTP): live sessions with their timers, audit search."""
from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bridge.audit.chain import chain_files, head_path, verify_chain
from bridge.policy import paris_date
from bridge.policy.calendar import _paris_offset


def paris_time(epoch: float) -> str:
    """'24/11/2026 09:05:12' in Paris time (the calendar module's rule, no tz database needed)."""
    utc = datetime.fromtimestamp(epoch, UTC)
    return (utc + timedelta(hours=_paris_offset(utc))).strftime("%d/%m/%Y %H:%M:%S")


def paris_stamp(iso: str) -> str:
    """An audit line's UTC time ('2026-12-07T18:58:12.123Z') in Paris time, as the rest of the console shows it."""
    try:
        return paris_time(datetime.fromisoformat(str(iso).replace("Z", "+00:00")).timestamp())
    except ValueError:
        return str(iso)


@dataclass(frozen=True)
class ClientTimer:
    client_id: str
    service: str
    last: float
    idle: float
    idle_left: int        # seconds until this client's inactivity logout
    deadline: float
    deadline_left: int


@dataclass(frozen=True)
class SessionRow:
    sid: str
    national_id: str
    name: str
    mie: str
    upstream: str
    card_type: str
    created: float
    deadline: float
    deadline_left: int
    idle_left: int        # the IdP-level inactivity (30 min at most), whatever the clients do
    clients: tuple[ClientTimer, ...]
    expired_clients: tuple[str, ...]
    ip: str = ""
    browser: str = ""
    card_number: str = ""   # the card's printed number (bridge.cps_number), for a card login


def session_rows(bridge, now: float) -> list[SessionRow]:
    rows = []
    for session in bridge.sessions.list():
        identity = session.authn.identity
        timers = []
        for client_id, (last, idle, deadline) in sorted(session.clients.items()):
            found = bridge.policies.client(client_id)
            timers.append(ClientTimer(client_id, found[0].service if found else "?", last, idle,
                                      max(0, int(last + idle - now)), deadline, max(0, int(deadline - now))))
        rows.append(SessionRow(
            sid=session.sid, national_id=identity.national_id,
            name=" ".join(filter(None, (identity.given_name, identity.family_name))), mie=session.authn.mie,
            upstream=session.authn.upstream, card_type=session.authn.card.type if session.authn.card else "",
            created=session.created, deadline=session.deadline, deadline_left=max(0, int(session.deadline - now)),
            idle_left=max(0, int(session.seen + bridge.sessions.idle_max - now)), clients=tuple(timers),
            expired_clients=tuple(sorted(session.expired_clients)),
            ip=session.device.get("ip", ""), browser=session.device.get("browser", ""),
            card_number=session.authn.card.logical_number if session.authn.card else ""))
    return sorted(rows, key=lambda r: r.created, reverse=True)


@dataclass(frozen=True)
class ChainState:
    configured: bool
    ok: bool
    lines: int
    message_fr: str
    message_en: str
    last_seq: int
    last_hash: str


def chain_state(audit_path: Path | None) -> ChainState:
    if audit_path is None:
        return ChainState(False, False, 0, "", "", 0, "")
    files = [p for p in chain_files(Path(audit_path)) if p.exists()]
    if not files:
        return ChainState(True, True, 0, "aucune ligne pour l'instant", "no line yet", 0, "")
    head = head_path(files[-1])
    result = verify_chain(files, head=head if head.exists() else None)
    where = f"{result.file}:{result.line_no} " if not result.ok and result.file else ""
    return ChainState(True, result.ok, result.lines, where + result.message("fr"), where + result.message("en"),
                      result.last_seq, result.last_hash)


@dataclass(frozen=True)
class AuditQuery:
    event: str = ""
    subject: str = ""
    service: str = ""
    day_from: date | None = None
    day_to: date | None = None
    limit: int = 200


def search_audit(audit_path: Path | None, query: AuditQuery, subject_forms: tuple[str, ...] = ()
                 ) -> tuple[list[dict], int]:
    """(matching lines newest first, up to limit; how many matched in all). `subject_forms`: the subject as
    written in the audit (the raw id and, when pseudonymized, its keyed hash)."""
    matches = [line for line in audit_lines(audit_path) if _matches(line, query, subject_forms)]
    return list(reversed(matches))[: query.limit], len(matches)


def audit_lines(audit_path: Path | None) -> Iterator[dict]:
    """Every readable line of the audit trail (rotated files first), oldest first; unreadable lines are skipped
    (the chain status says what is wrong with them)."""
    if audit_path is None:
        return
    for path in chain_files(Path(audit_path)):
        if not path.exists():
            continue
        for raw in path.read_bytes().splitlines():
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            if isinstance(line, dict):
                yield line


def _matches(line: dict, query: AuditQuery, subject_forms: tuple[str, ...]) -> bool:
    if query.event and line.get("event") != query.event:
        return False
    if query.service and line.get("service") != query.service:
        return False
    if query.subject and line.get("subject") not in subject_forms:
        return False
    if query.day_from or query.day_to:
        try:
            moment = datetime.fromisoformat(str(line.get("time", "")).replace("Z", "+00:00"))
        except ValueError:
            return False
        day = paris_date(moment.timestamp())
        if (query.day_from and day < query.day_from) or (query.day_to and day > query.day_to):
            return False
    return True
