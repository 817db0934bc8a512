"""The login events, each written once here: the audit line (first, so an audit trail that must be written and
cannot be fails the login closed), the structured log line and the metric, with the same fields every time
whichever upstream or page raised it. The national id goes to the audit trail only (it pseudonymises on request)."""
from __future__ import annotations

from bridge import metrics
from bridge.logs import current_request_id, log
from bridge.model import Authentication


def login_started(bridge, *, service: str, client: str) -> None:
    bridge.record("login_started", "info", service=service, client=client)


def card_fields(card) -> dict:
    """What the audit keeps of a login's card: its printed number (bridge.cps_number, written out so a search by
    number still finds the line once no session remembers the card) and the certificate a CRL would list."""
    if card is None:
        return {}
    fields = {"card_number": card.logical_number, "cert_sha256": card.cert_sha256, "cert_issuer": card.cert_issuer,
              "cert_serial": card.cert_serial}
    return {name: value for name, value in fields.items() if value}


def login_succeeded(bridge, authn: Authentication, *, service: str, client: str, **extra) -> None:
    # The card's number goes to the audit trail only, like the national id: it names a person.
    bridge.record("login_succeeded", "success", service=service, client=client, national_id=authn.identity.national_id,
                  mie=authn.mie, upstream=authn.upstream, **{**card_fields(authn.card), **extra})
    log.info("login_succeeded", outcome="success", upstream=authn.upstream, mie=authn.mie, service=service,
             client=client, request_id=current_request_id(), **extra)
    metrics.login(authn.mie, "success")


def login_failed(bridge, *, upstream: str, reason: str, service: str = "", client: str = "", detail: str = "",
                 national_id: str = "", **extra) -> None:
    """An upstream or the login's own checks failed (a wrong card, PSC down, a forged transaction, the user went
    back): `reason` is the machine code the page shows. `national_id` (e.g. typed with a backup code) goes to the
    audit trail only, never to the log line."""
    fields = {"detail": detail} if detail else {}
    bridge.record("login_failed", "failure", reason=reason, upstream=upstream, service=service, client=client,
                  **({"national_id": national_id} if national_id else {}), **fields, **extra)
    log.warning("login_failed", outcome="failure", upstream=upstream, reason=reason, service=service, client=client,
                request_id=current_request_id(), **fields, **extra)
    metrics.login_error(upstream or "none", reason)


def login_denied(bridge, reasons, *, service: str, client: str = "", national_id: str = "", mie: str = "",
                 **extra) -> None:
    """The policy (or the admin list) refused an authenticated or would-be login."""
    bridge.record("login_denied", "denied", service=service, client=client, reason=",".join(reasons),
                  national_id=national_id, mie=mie, **extra)
    log.info("login_denied", service=service, client=client, reasons=list(reasons), **extra)
    metrics.denied(reasons, mie=mie or None)


def card_opposed(bridge, found, authn: Authentication) -> None:
    """A card declared lost or opposed in the console was presented at login and refused (`found`: a
    bridge.pki.opposition.Match). The login_failed line the page writes next carries the same request id."""
    opposition = found.opposition
    bridge.record("card_opposed", "denied", national_id=authn.identity.national_id, mie=authn.mie,
                  upstream=authn.upstream, reason="card_opposed", matched=found.by,
                  **{**card_fields(authn.card), "card_number": opposition.number},
                  reported_number=authn.card.logical_number if authn.card else "",
                  declared_by=bridge.audit.subject(opposition.declared_by), declared_at=opposition.declared_at)
    # No metric here: the login_failed that follows counts the refusal once.
    log.warning("card_opposed", upstream=authn.upstream, matched=found.by, request_id=current_request_id())


def card_opposition(bridge, command: str, *, admin: str, number: str, **details) -> None:
    """An administrator declared (`oppose_card`) or lifted (`lift_card_opposition`) a card opposition in the
    console: an admin_action line whose subject is the administrator, with the card's number."""
    bridge.record("admin_action", "info", service="admin", national_id=admin, command=command, card_number=number,
                  **details)
    log.info("admin_action", command=command, request_id=current_request_id())


def card_watch_issued(bridge, session, *, service: str, client: str, cert_sha256: str) -> None:
    """A cps-pin login's session got a removal capability (bridge.sessions.removal): its card is to be watched."""
    bridge.record("card_watch_issued", "info", service=service, client=client,
                  national_id=session.authn.identity.national_id, mie=session.authn.mie, sid=session.sid,
                  cert_sha256=cert_sha256)


REMOVAL_OUTCOMES = {"ended": "success", "unknown": "failure", "session_ended": "info", "card_changed": "info"}


def card_removed(bridge, use, *, remote_addr: str | None) -> None:
    """A removal notice from a workstation's card agent (POST /cps/removed), whatever it did (`use`: a
    bridge.sessions.removal.Use); `reason` is its outcome. A forged or replayed one is a failure."""
    session = use.session
    extra = {"ended_by": use.ended_by} if use.ended_by else {}
    bridge.record("card_removed", REMOVAL_OUTCOMES.get(use.outcome, "failure"), reason=use.outcome,
                  national_id=session.authn.identity.national_id if session else "",
                  mie=session.authn.mie if session else "", sid=use.sid, cert_sha256=use.cert_sha256,
                  remote_addr=remote_addr or "", **extra)
    (log.info if use.outcome != "unknown" else log.warning)("card_removed", reason=use.outcome,
                                                           request_id=current_request_id())
    metrics.card_removal(use.outcome)


def consent(bridge, what: str, authn: Authentication, *, service: str, client: str, scope: str) -> None:
    """A third-party client's consent (bridge.login.consent): `what` is asked, given, refused or revoked. Audited
    first: a consent whose trail cannot be written is not recorded (the page fails with 503)."""
    outcome = {"refused": "denied", "asked": "info"}.get(what, "success")
    bridge.record(f"consent_{what}", outcome, service=service, client=client, scope=scope,
                  national_id=authn.identity.national_id, mie=authn.mie)
    log.info(f"consent_{what}", service=service, client=client, scope=scope, request_id=current_request_id())
