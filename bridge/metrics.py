"""Prometheus metrics (prometheus-client): what operators watch, in one place.

Call sites use the small functions below (``metrics.login("psc-card", "success")``...) rather than the metric
objects, so that label values stay bounded: a value outside the expected set is counted as ``other``.

Multi-process mode: when ``PROMETHEUS_MULTIPROC_DIR`` is set *before this module is imported* (``bridge serve``
sets it in the gunicorn master, before any worker starts), every worker writes its values to files in that
directory and ``/metrics`` adds them up, whichever worker answers the scrape. Without it (development server,
tests in one process) the values live in the process.

Metric names (all prefixed ``bridge_``; counters get ``_total`` on exposition):

======================================== ============================== ==========================================
name                                     labels                         meaning
======================================== ============================== ==========================================
bridge_logins_total                      mie, outcome                   login attempts that reached an outcome:
                                                                        success | denied | error
bridge_login_errors_total                upstream, code                 failed upstream logins by machine code
bridge_login_denials_total               reason                         policy denials, one per reason
bridge_tokens_issued_total               grant_type                     token endpoint successes
bridge_idle_logouts_total                client                         client sessions ended by inactivity
bridge_backchannel_logout_failures_total client, reason                 back-channel logout deliveries that failed
bridge_card_removals_total               outcome                        card removal notices from workstation agents:
                                                                        ended | unknown | session_ended | card_changed
bridge_card_lockouts_total               scope, event                   repeated bad card certificates: a
                                                                        certificate or address locked out
                                                                        (event locked) or refused while locked
                                                                        (event refused); scope certificate|address
bridge_device_authorizations_total      event                          device authorization grant (RFC 8628):
                                                                        requested | approved | denied |
                                                                        wrong_code | locked
bridge_ciba_requests_total               event                          CIBA poll mode relayed to PSC CIBA:
                                                                        requested | approved | denied |
                                                                        expired | refused | failed |
                                                                        unavailable
bridge_psc_relay_total                   event                          PSC token relay (RFC 8693): exchanged |
                                                                        refused | unavailable | refreshed |
                                                                        refresh_failed | session_ended |
                                                                        relay_stopped | backchannel_logout |
                                                                        backchannel_refused
bridge_audit_write_failures_total        sink                           audit lines that could not be made durable
                                                                        (sink file|stream): with the audit required
                                                                        the request failed closed (503)
bridge_audit_export_failures_total       target, reason                 audit lines not sent to the SIEM export
                                                                        (target syslog|stdout; reason send|
                                                                        queue_full); the audit file is unaffected
bridge_upstream_request_duration_seconds upstream, endpoint             calls to PSC (discovery, jwks, token...)
bridge_upstream_errors_total             upstream, endpoint, error      upstream calls that raised
bridge_store_errors_total                operation, error               store (Redis) failures -> HTTP 503
bridge_app_starts_total                  -                              worker (application) boots
bridge_http_requests_total               endpoint, method, status       every HTTP request (endpoint = URL rule)
bridge_http_request_duration_seconds     endpoint, method               time spent in the app per request
bridge_crl_next_update_timestamp_seconds issuer                         when each IGC-Santé CA's latest CRL at hand
                                                                        expires (0: none); direct card logins
                                                                        through that CA fail closed after it.
                                                                        Computed at scrape time (CrlCollector)
bridge_certificate_expiry_seconds        kind, subject                  seconds until each of the bridge's own
                                                                        certificates expires (negative: expired);
                                                                        kind = psc_client | trust_ca. Computed at
                                                                        scrape time (CertExpiryCollector)
======================================== ============================== ==========================================
"""
from __future__ import annotations

import os
import re
import time
from contextlib import contextmanager

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, choose_encoder

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_LABEL = re.compile(r"^[A-Za-z0-9_.:/<>+-]{1,64}$")
OTHER = "other"

LOGIN_OUTCOMES = ("success", "denied", "error")
HTTP_METHODS = ("GET", "POST", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH")
# Latency buckets: the bridge answers in milliseconds; PSC calls take tens to hundreds of milliseconds and time
# out after BRIDGE_PSC_READ_TIMEOUT (10 s by default).
HTTP_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
UPSTREAM_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

LOGINS = Counter("bridge_logins", "Login attempts that reached an outcome, by means (MIE) and outcome.",
                 ["mie", "outcome"])
LOGIN_ERRORS = Counter("bridge_login_errors", "Failed upstream logins, by upstream and machine code.",
                       ["upstream", "code"])
DENIALS = Counter("bridge_login_denials", "Logins denied by a service policy, one count per reason.", ["reason"])
TOKENS = Counter("bridge_tokens_issued", "Tokens issued by the token endpoint, by grant type.", ["grant_type"])
IDLE_LOGOUTS = Counter("bridge_idle_logouts", "Client sessions ended because the client was idle too long.",
                       ["client"])
BACKCHANNEL_FAILURES = Counter("bridge_backchannel_logout_failures",
                               "Back-channel logout deliveries that failed, by client and reason.",
                               ["client", "reason"])
CARD_REMOVALS = Counter("bridge_card_removals", "Card removal notices from workstation card agents, by outcome.",
                        ["outcome"])
REMOVAL_OUTCOMES = ("ended", "unknown", "session_ended", "card_changed")
CARD_LOCKOUTS = Counter("bridge_card_lockouts", "Repeated bad card certificates: lockouts (locked) and logins "
                        "refused during one (refused), per certificate or per source address.", ["scope", "event"])
AUDIT_WRITE_FAILURES = Counter("bridge_audit_write_failures", "Audit lines that could not be made durable (disk "
                               "full, unwritable file, Redis down), by sink.", ["sink"])
AUDIT_EXPORT_FAILURES = Counter("bridge_audit_export_failures", "Audit lines the SIEM export could not send (send) "
                                "or dropped (queue_full); the audit file is not affected.", ["target", "reason"])
DEVICE = Counter("bridge_device_authorizations", "Device authorization grant (RFC 8628) events.", ["event"])
DEVICE_EVENTS = ("requested", "approved", "denied", "wrong_code", "locked")
PSC_RELAY = Counter("bridge_psc_relay", "PSC token relay (token exchange) and PSC-side session end events.", ["event"])
PSC_RELAY_EVENTS = ("exchanged", "refused", "unavailable", "refreshed", "refresh_failed", "session_ended",
                    "relay_stopped", "backchannel_logout", "backchannel_refused")
CIBA = Counter("bridge_ciba_requests", "CIBA (poll mode, relayed to PSC CIBA) events.", ["event"])
CIBA_EVENTS = ("requested", "approved", "denied", "expired", "refused", "failed", "unavailable")
UPSTREAM_LATENCY = Histogram("bridge_upstream_request_duration_seconds",
                             "Duration of calls to the upstream identity provider, by endpoint.",
                             ["upstream", "endpoint"], buckets=UPSTREAM_BUCKETS)
UPSTREAM_ERRORS = Counter("bridge_upstream_errors", "Upstream calls that failed (network, timeout), by endpoint.",
                          ["upstream", "endpoint", "error"])
STORE_ERRORS = Counter("bridge_store_errors", "Store (Redis) operations that failed, by operation and error.",
                       ["operation", "error"])
APP_STARTS = Counter("bridge_app_starts", "Applications started (one per gunicorn worker boot): a rising rate "
                     "means workers crash or are killed.")
HTTP_REQUESTS = Counter("bridge_http_requests", "HTTP requests, by endpoint (URL rule), method and status.",
                        ["endpoint", "method", "status"])
HTTP_LATENCY = Histogram("bridge_http_request_duration_seconds", "Time spent handling HTTP requests.",
                         ["endpoint", "method"], buckets=HTTP_BUCKETS)


def label(value: object, allowed: tuple[str, ...] | None = None) -> str:
    """A bounded label value: one of `allowed` (when given) or a short machine code, else 'other'."""
    text = str(value) if value is not None else ""
    if allowed is not None:
        return text if text in allowed else OTHER
    return text if _LABEL.match(text) else OTHER


def _mie(mie: str | None) -> str:
    from bridge.mie import CATALOGUE

    return mie if mie in CATALOGUE else ("unknown" if not mie else OTHER)


# -- what the login, provider and session code calls ------------------------------------------------------------
def login(mie: str | None, outcome: str) -> None:
    """A login reached an outcome: success (session created), denied (policy), error (upstream or transaction)."""
    LOGINS.labels(_mie(mie), label(outcome, LOGIN_OUTCOMES)).inc()


def login_error(upstream: str, code: str, mie: str | None = None) -> None:
    """An upstream login failed with a machine code (PscError.code, 'txn_invalid'...)."""
    LOGIN_ERRORS.labels(label(upstream), label(code)).inc()
    login(mie, "error")


def denied(reasons, mie: str | None = None) -> None:
    """A policy refused the login: one `denied` outcome, one count per machine reason."""
    for reason in reasons or ("unspecified",):
        DENIALS.labels(label(reason)).inc()
    login(mie, "denied")


def token_issued(grant_type: str) -> None:
    TOKENS.labels(label(grant_type)).inc()


def idle_logout(client_id: str) -> None:
    IDLE_LOGOUTS.labels(label(client_id)).inc()


def backchannel_failed(client_id: str, reason: str) -> None:
    """reason: timeout | connection | http_<status> | ... (a short code, never the URL or the token)."""
    BACKCHANNEL_FAILURES.labels(label(client_id), label(reason)).inc()


def card_removal(outcome: str) -> None:
    CARD_REMOVALS.labels(label(outcome, REMOVAL_OUTCOMES)).inc()


def card_lockout(scope: str, event: str) -> None:
    """scope: certificate | address; event: locked | refused."""
    CARD_LOCKOUTS.labels(label(scope, ("certificate", "address")), label(event, ("locked", "refused"))).inc()


def audit_write_failure(sink: str) -> None:
    """sink: file | stream."""
    AUDIT_WRITE_FAILURES.labels(label(sink, ("file", "stream"))).inc()


def audit_export_failure(target: str, reason: str) -> None:
    """target: syslog | stdout; reason: send | queue_full."""
    AUDIT_EXPORT_FAILURES.labels(label(target, ("syslog", "stdout")), label(reason, ("send", "queue_full"))).inc()


def device_authorization(event: str) -> None:
    DEVICE.labels(label(event, DEVICE_EVENTS)).inc()


def psc_relay(event: str) -> None:
    """Token exchange answered (exchanged, refused, unavailable: PSC down), kept PSC tokens refreshed or not
    (refreshed, refresh_failed), PSC's session over (session_ended), relay given up (relay_stopped), PSC's
    back-channel logout accepted or refused."""
    PSC_RELAY.labels(label(event, PSC_RELAY_EVENTS)).inc()


def ciba(event: str) -> None:
    """requested (PSC accepted), approved (tokens issued), denied (at PSC), expired, refused (policy), failed
    (PSC's tokens refused by the checks), unavailable (PSC could not be asked)."""
    CIBA.labels(label(event, CIBA_EVENTS)).inc()


def store_error(operation: str, exc: BaseException) -> None:
    STORE_ERRORS.labels(label(operation), label(type(exc).__name__)).inc()


@contextmanager
def upstream_call(endpoint: str, upstream: str = "psc"):
    """Time one upstream HTTP call; an exception is counted by type and re-raised."""
    endpoint, upstream = label(endpoint), label(upstream)
    start = time.perf_counter()
    try:
        yield
    except BaseException as exc:
        UPSTREAM_ERRORS.labels(upstream, endpoint, label(type(exc).__name__)).inc()
        raise
    finally:
        UPSTREAM_LATENCY.labels(upstream, endpoint).observe(time.perf_counter() - start)


def http_request(endpoint: str, method: str, status: int, seconds: float) -> None:
    method = label(method, HTTP_METHODS)
    HTTP_REQUESTS.labels(endpoint, method, str(status)).inc()
    HTTP_LATENCY.labels(endpoint, method).observe(seconds)


# -- exposition -----------------------------------------------------------------------------------------------
def multiprocess_dir() -> str | None:
    path = os.environ.get(MULTIPROC_ENV)
    return path if path and os.path.isdir(path) else None


class CrlCollector:
    """Values read when scraped: each CA's CRL expiry from a bridge.pki.TrustStore (files re-read when changed)."""

    def __init__(self, trust, now):
        self.trust, self.now = trust, now

    def collect(self):
        family = GaugeMetricFamily("bridge_crl_next_update_timestamp_seconds",
                                   "When the latest CRL at hand of each IGC-Santé CA expires (0: no CRL).",
                                   labels=["issuer"])
        for status in self.trust.crl_status(self.now()):
            family.add_metric([status.issuer], status.next_update.timestamp() if status.next_update else 0.0)
        yield family


class CertExpiryCollector:
    """Values read when scraped: seconds until each of the bridge's own certificates expires (bridge.pki.expiry)."""

    def __init__(self, settings, now):
        self.settings, self.now = settings, now

    def collect(self):
        from bridge.pki.expiry import certificate_expiry

        family = GaugeMetricFamily("bridge_certificate_expiry_seconds",
                                   "Seconds until each of the bridge's own certificates expires (PSC mTLS client "
                                   "certificate, trust store CAs); negative once expired.",
                                   labels=["kind", "subject"])
        for entry in certificate_expiry(self.settings, self.now()):
            if entry.seconds_left is not None:
                family.add_metric([entry.kind, entry.subject], entry.seconds_left)
        yield family


class _Delegate:
    def __init__(self, registry):
        self.registry = registry

    def collect(self):
        return self.registry.collect()


def exposition(accept: str | None, extra: tuple = ()) -> tuple[bytes, str]:
    """(body, content type) for a scrape, with the `extra` collectors (computed now). In multi-process mode the
    values of every worker are added up. A malformed Accept header falls back to the classic text format instead
    of failing the scrape."""
    registry = CollectorRegistry()
    path = multiprocess_dir()
    if path:
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry, path=path)
    else:
        registry.register(_Delegate(REGISTRY))
    for collector in extra:
        registry.register(collector)
    try:
        encoder, content_type = choose_encoder(accept or "")
        return encoder(registry), content_type
    except Exception:  # prometheus-client raises on e.g. "version=abc": never fail a scrape on a header
        return generate_latest(registry), CONTENT_TYPE_PLAIN_0_0_4
