"""The login events, each written once here: the audit line (first, so an audit trail that must be written and
cannot be fails the login closed), the structured log line and the metric, with the same fields every time
whichever upstream or page raised it. The national id goes to the audit trail only (it pseudonymises on request)."""
from __future__ import annotations

from bridge import metrics
from bridge.logs import current_request_id, log
from bridge.model import Authentication


def login_started(bridge, *, service: str, client: str) -> None:
    bridge.record("login_started", "info", service=service, client=client)


def login_succeeded(bridge, authn: Authentication, *, service: str, client: str, **extra) -> None:
    bridge.record("login_succeeded", "success", service=service, client=client, national_id=authn.identity.national_id,
                  mie=authn.mie, upstream=authn.upstream, **extra)
    log.info("login_succeeded", outcome="success", upstream=authn.upstream, mie=authn.mie, service=service,
             client=client, request_id=current_request_id(), **extra)
    metrics.login(authn.mie, "success")


def login_failed(bridge, *, upstream: str, reason: str, service: str = "", client: str = "", detail: str = "",
                 **extra) -> None:
    """An upstream or the login's own checks failed (a wrong card, PSC down, a forged transaction, the user went
    back): `reason` is the machine code the page shows."""
    fields = {"detail": detail} if detail else {}
    bridge.record("login_failed", "failure", reason=reason, upstream=upstream, service=service, client=client,
                  **fields, **extra)
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
