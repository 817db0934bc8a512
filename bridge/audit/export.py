"""Audit export for a SIEM: every audit line also to syslog (RFC 5424 over UDP, TCP or a unix socket,
BRIDGE_AUDIT_SYSLOG) and/or to stdout as one JSON object per line (BRIDGE_AUDIT_STDOUT).

The file (BRIDGE_AUDIT_PATH) stays the reference: `send` only puts the line in a bounded queue that a daemon
thread of this process drains, so an export that is slow, down or full never delays, fails or loses the file write.
A failed or dropped line is counted (bridge_audit_export_failures_total{target,reason}) and logged once until the
target works again. Lines still queued when the process dies are lost for the SIEM, never for the file.

RFC 5424 message:  <PRI>1 TIMESTAMP HOSTNAME psc-bridge PROCID MSGID [origin ...][meta sequenceId="seq"] BOM JSON
  PRI = facility * 8 + severity (success/info 6, denied 5 notice, failure 4 warning); TIMESTAMP = the line's time;
  MSGID = the event; MSG = the audit line itself, byte for byte (its hash chains, so a SIEM can re-verify it).
Over TCP, octet-counting framing (RFC 6587 3.4.1: "LEN SP MSG"). docs/audit.md "## Export to a SIEM".
"""
from __future__ import annotations

import json
import os
import queue
import socket
import sys
import threading
from urllib.parse import parse_qs, urlsplit

from bridge.logs import log

APP_NAME = "psc-bridge"
FACILITIES = {"kern": 0, "user": 1, "auth": 4, "authpriv": 10, **{f"local{n}": 16 + n for n in range(8)}}
SEVERITY = {"success": 6, "info": 6, "denied": 5, "failure": 4}
BOM = b"\xef\xbb\xbf"
QUEUE_SIZE = 10_000
TIMEOUT = 2.0   # connect/send on TCP: the sending thread waits, never the request


class ExportConfigError(ValueError):
    pass


def _count_failure(target: str, reason: str) -> None:
    # Imported here: bridge.config reads parse_syslog_url before `bridge serve` sets PROMETHEUS_MULTIPROC_DIR, which
    # must come before any prometheus metric is created.
    from bridge import metrics

    metrics.audit_export_failure(target, reason)


def parse_syslog_url(url: str) -> tuple[str, object, int]:
    """(transport, address, facility) of udp://host:514, tcp://host:601, unix:///dev/log; ?facility=local0."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    facility_name = (query.get("facility") or ["authpriv"])[0]
    if facility_name not in FACILITIES:
        raise ExportConfigError(f"facility {facility_name!r} is not one of {', '.join(FACILITIES)}")
    if parts.scheme in ("udp", "tcp"):
        try:
            port = parts.port or (514 if parts.scheme == "udp" else 601)
        except ValueError:
            raise ExportConfigError(f"{url!r}: bad port") from None
        if not parts.hostname:
            raise ExportConfigError(f"{url!r}: no host")
        return parts.scheme, (parts.hostname, port), FACILITIES[facility_name]
    if parts.scheme == "unix" and parts.path:
        return "unix", parts.path, FACILITIES[facility_name]
    raise ExportConfigError(f"{url!r} must be udp://host:port, tcp://host:port or unix:///path")


def _sd_value(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def _printable(value: str, limit: int) -> str:
    """RFC 5424 header fields: printable US-ASCII without spaces, or the NILVALUE."""
    cleaned = "".join(c for c in value if 33 <= ord(c) <= 126)[:limit]
    return cleaned or "-"


def rfc5424(line: bytes, *, facility: int, hostname: str, procid: int, version: str) -> bytes:
    obj = json.loads(line)
    pri = facility * 8 + SEVERITY.get(obj.get("outcome"), 6)
    structured = (f'[origin software="{APP_NAME}" swVersion="{_sd_value(version)}"]'
                  f'[meta sequenceId="{int(obj.get("seq") or 0) % 2147483647 or 1}"]')
    header = (f"<{pri}>1 {_printable(str(obj.get('time', '')), 64)} {_printable(hostname, 255)} {APP_NAME} "
              f"{procid} {_printable(str(obj.get('event', '')), 32)} {structured} ")
    return header.encode("ascii") + BOM + line


class _Syslog:
    name = "syslog"

    def __init__(self, url: str):
        from importlib.metadata import PackageNotFoundError, version

        self.transport, self.address, self.facility = parse_syslog_url(url)
        self.hostname = socket.gethostname()
        try:
            self.version = version("psc-bridge")
        except PackageNotFoundError:
            self.version = "unknown"
        self.sock: socket.socket | None = None

    def _connect(self) -> socket.socket:
        if self.transport == "udp":
            family = socket.AF_INET6 if ":" in self.address[0] else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_DGRAM)
            sock.connect(self.address)
        elif self.transport == "tcp":
            sock = socket.create_connection(self.address, timeout=TIMEOUT)
        else:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.connect(self.address)
        sock.settimeout(TIMEOUT)
        return sock

    def write(self, line: bytes) -> None:
        message = rfc5424(line, facility=self.facility, hostname=self.hostname, procid=os.getpid(),
                          version=self.version)
        if self.transport == "tcp":
            message = str(len(message)).encode() + b" " + message
        try:
            if self.sock is None:
                self.sock = self._connect()
            if self.transport == "tcp":
                self.sock.sendall(message)
            else:
                self.sock.send(message)
        except OSError:
            self.close()   # reconnect on the next line
            raise

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


class _Stdout:
    name = "stdout"

    def write(self, line: bytes) -> None:
        stream = sys.stdout   # looked up each time: a server or a test runner may replace it
        stream.write(line.decode("utf-8") + "\n")
        stream.flush()

    def close(self) -> None:
        pass


class Exporter:
    """Copies audit lines to its targets from a background thread of this process (started on first use, and again
    in a forked worker: threads do not survive fork)."""

    def __init__(self, targets: list, queue_size: int = QUEUE_SIZE):
        self.targets = targets
        self.queue_size = queue_size
        self._pid = None
        self._queue: queue.Queue | None = None
        self._lock = threading.Lock()
        self._failing: set[str] = set()

    def send(self, line: bytes) -> None:
        """Never raises, never blocks."""
        try:
            self._ensure_thread().put_nowait(line)
        except queue.Full:
            for target in self.targets:
                _count_failure(target.name, "queue_full")
        except Exception:  # the file is the reference: nothing here may reach the caller
            pass

    def _ensure_thread(self) -> queue.Queue:
        if self._pid != os.getpid():
            with self._lock:
                if self._pid != os.getpid():
                    self._queue = queue.Queue(self.queue_size)
                    threading.Thread(target=self._run, args=(self._queue,), name="audit-export",
                                     daemon=True).start()
                    self._pid = os.getpid()
        return self._queue

    def _run(self, lines: queue.Queue) -> None:
        while True:
            line = lines.get()
            for target in self.targets:
                try:
                    target.write(line)
                except Exception as exc:
                    _count_failure(target.name, "send")
                    if target.name not in self._failing:   # once, until it works again
                        self._failing.add(target.name)
                        log.warning("audit_export_failed", target=target.name, error=str(exc)[:200])
                else:
                    if target.name in self._failing:
                        self._failing.discard(target.name)
                        log.info("audit_export_recovered", target=target.name)
            lines.task_done()

    def flush(self) -> None:
        """Wait until every queued line was handed to the targets (tests, orderly shutdown)."""
        if self._queue is not None and self._pid == os.getpid():
            self._queue.join()


def exporter_for(settings) -> Exporter | None:
    targets = ([_Syslog(settings.audit_syslog)] if settings.audit_syslog else []) + \
              ([_Stdout()] if settings.audit_stdout else [])
    return Exporter(targets) if targets else None
