"""Support by card number in the admin console, as plain data (the HTTP side is bridge/web/admin_cards.py): the
sessions and audit lines of one card, and declaring or lifting its opposition ("carte perdue / opposée",
bridge/pki/opposition.py).

A card is its printed number (bridge.cps_number) AND the certificates seen with that number: in the live sessions
and in the audit trail's card login lines (`card_number`, `cert_sha256`). The number comes from the workstation's
agent and is not authenticated; the certificates are.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bridge import events
from bridge.admin.views import SessionRow, audit_lines, session_rows
from bridge.pki.opposition import Certificate, Opposition, Oppositions

# A declaration reads every live session, not the console page's first thousand: one missed would survive.
EVERY_SESSION = 1_000_000


@dataclass(frozen=True)
class CardAudit:
    lines: list[dict]                     # newest first, up to the limit
    total: int                            # how many lines matched in all
    certificates: dict[str, Certificate]  # sha256 -> what the card login lines say of it


@dataclass(frozen=True)
class CardView:
    number: str
    sessions: list[SessionRow]
    audit: CardAudit
    opposition: Opposition | None


@dataclass(frozen=True)
class Declared:
    opposition: Opposition
    ended: list                           # the SsoSessions ended (their apps got a back-channel logout)


def _card_keys(line: dict) -> tuple[set[str], set[str]]:
    """(numbers, certificate fingerprints) a line names: a card login's, an opposition's or a refusal's."""
    details = line.get("details") if isinstance(line.get("details"), dict) else {}
    numbers = {details.get("card_number"), details.get("reported_number")}
    certificates = details.get("certificates") if isinstance(details.get("certificates"), list) else []
    shas = {details.get("cert_sha256"), *certificates}
    return ({n for n in numbers if isinstance(n, str) and n}, {s for s in shas if isinstance(s, str) and s})


def _epoch(iso) -> float:
    try:
        return datetime.fromisoformat(str(iso).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def card_audit(audit_path: Path | None, number: str, known: set[str] = frozenset(), limit: int = 200) -> CardAudit:
    """The lines of the card: those naming its number, and those naming a certificate seen with it (`known`, or a
    login line with the number), which finds a card's older lines written before the number was recorded."""
    candidates, fingerprints = [], set(known)
    for line in audit_lines(audit_path):
        numbers, shas = _card_keys(line)
        if numbers or shas:
            candidates.append((line, numbers, shas))
            if number in numbers:
                fingerprints |= shas
    matches, certificates = [], {}
    for line, numbers, shas in candidates:
        if number not in numbers and not shas & fingerprints:
            continue
        matches.append(line)
        details = line["details"]
        sha = details.get("cert_sha256")
        if isinstance(sha, str) and sha in fingerprints and sha not in certificates:
            certificates[sha] = Certificate(sha, str(details.get("cert_issuer", "")),
                                            str(details.get("cert_serial", "")), "audit", _epoch(line.get("time")))
    return CardAudit(list(reversed(matches))[:limit], len(matches), certificates)


def card_sessions(bridge, number: str, fingerprints: set[str], limit: int = 1000) -> list:
    """Live SSO sessions opened with the card (its number, or one of its certificates), among the first `limit`."""
    return [s for s in bridge.sessions.list(limit) if s.authn.card is not None and
            (s.authn.card.logical_number == number or s.authn.card.cert_sha256 in fingerprints)]


def _session_certificate(session) -> Certificate:
    card = session.authn.card
    return Certificate(card.cert_sha256, card.cert_issuer, card.cert_serial, "session", session.created)


def oppositions(bridge) -> Oppositions:
    return Oppositions(bridge.store, bridge.clock)


def checked(bridge, opposition: Opposition | None) -> Opposition | None:
    """The opposition after asking the CRLs at hand about its certificates (« listée dans la LCR »)."""
    if opposition is None or bridge.cps is None:
        return opposition
    return oppositions(bridge).check_crl(opposition, bridge.cps.trust)


def card_view(bridge, number: str, now: float) -> CardView:
    opposition = checked(bridge, oppositions(bridge).get(number))
    known = {c.sha256 for c in opposition.certificates} if opposition else set()
    audit = card_audit(bridge.settings.audit_path, number, known)
    sids = {s.sid for s in card_sessions(bridge, number, known | set(audit.certificates))}
    rows = [row for row in session_rows(bridge, now) if row.sid in sids]
    return CardView(number, rows, audit, opposition)


def declare(bridge, number: str, admin: str) -> Declared:
    """Oppose the card: recorded first (from then on every login with it is refused), then each of its sessions
    ends (reason `card_opposed`, back-channel logout to its apps). The audit line comes before any change, so an
    audit that cannot be written stops everything (fail closed), as a store that cannot be read does."""
    certificates = dict(card_audit(bridge.settings.audit_path, number).certificates)
    found = card_sessions(bridge, number, set(certificates), EVERY_SESSION)
    for session in found:
        certificates.setdefault(session.authn.card.cert_sha256, _session_certificate(session))
    events.card_opposition(bridge, "oppose_card", admin=admin, number=number, certificates=sorted(certificates),
                           ended_sids=[s.sid for s in found],
                           target_subjects=sorted({bridge.audit.subject(s.authn.identity.national_id)
                                                   for s in found}))
    store = oppositions(bridge)
    opposition = store.declare(number, admin, certificates.values())
    for session in found:
        bridge.sessions.end(session.sid, "card_opposed", session)
    # A login that slipped in between the listing and the declaration: its session ends too.
    ended = {s.sid for s in found}
    late = [s for s in card_sessions(bridge, number, {c.sha256 for c in opposition.certificates}, EVERY_SESSION)
            if s.sid not in ended]
    if late:
        store.add(number, [_session_certificate(s) for s in late])
    for session in late:
        bridge.sessions.end(session.sid, "card_opposed", session)
    return Declared(store.get(number) or opposition, found + late)


def lift(bridge, number: str, admin: str) -> Opposition | None:
    """End the opposition (audited first); None when the card is not opposed."""
    store = oppositions(bridge)
    opposition = checked(bridge, store.get(number))
    if opposition is None:
        return None
    events.card_opposition(bridge, "lift_card_opposition", admin=admin, number=number,
                           crl_listed=opposition.crl_listed,
                           certificates=[c.sha256 for c in opposition.certificates])
    store.lift(number)
    return opposition
