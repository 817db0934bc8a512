"""Audit export for a SIEM (bridge/audit/export.py): every line of the audit file also reaches a real syslog
receiver (UDP, TCP with octet counting) as RFC 5424, or stdout as JSON; a receiver that is down never blocks or
loses the file write, is counted and logged once."""
from __future__ import annotations

import json
import re
import socket
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
import requests
from prometheus_client import REGISTRY

from bridge.audit import open_audit
from bridge.config import ConfigError, Settings, load_settings
from tests.support.redis import free_port

RFC5424 = re.compile(rb"^<(?P<pri>\d{1,3})>1 (?P<time>\S+) (?P<host>\S+) (?P<app>\S+) (?P<procid>\S+) (?P<msgid>\S+) "
                     rb"(?P<sd>(?:\[[^\]]*\])+|-) \xef\xbb\xbf(?P<msg>.*)$", re.S)


class Receiver:
    """A syslog collector on a free loopback port: UDP datagrams, or TCP frames "LEN SP MSG" (RFC 6587)."""

    def __init__(self, transport: str, port: int | None = None):
        self.messages: list[bytes] = []
        kind = socket.SOCK_DGRAM if transport == "udp" else socket.SOCK_STREAM
        self.sock = socket.socket(socket.AF_INET, kind)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port or 0))
        self.port = self.sock.getsockname()[1]
        if transport == "tcp":
            self.sock.listen()
        self.sock.settimeout(0.2)
        self.stopped = False
        self.thread = threading.Thread(target=self._udp if transport == "udp" else self._tcp, daemon=True)
        self.thread.start()

    def _udp(self):
        while not self.stopped:
            try:
                self.messages.append(self.sock.recv(65535))
            except TimeoutError:
                pass

    def _tcp(self):
        while not self.stopped:
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            buffer = b""
            with conn:
                conn.settimeout(0.2)
                while not self.stopped:
                    try:
                        data = conn.recv(65535)
                    except TimeoutError:
                        continue
                    if not data:
                        break
                    buffer += data
                    while b" " in buffer:
                        length, _, rest = buffer.partition(b" ")
                        if len(rest) < int(length):
                            break
                        self.messages.append(rest[:int(length)])
                        buffer = rest[int(length):]

    def wait_for(self, count: int) -> list[bytes]:
        deadline = time.monotonic() + 10
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.messages)

    def close(self):
        self.stopped = True
        self.thread.join(5)
        self.sock.close()


def parse(message: bytes) -> dict:
    match = RFC5424.match(message)
    assert match, message
    return {k: v.decode() if k != "msg" else v for k, v in match.groupdict().items()}


def file_lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines()


@pytest.fixture
def udp():
    receiver = Receiver("udp")
    yield receiver
    receiver.close()


def test_every_line_reaches_a_udp_collector_as_rfc5424_with_the_file_as_reference(tmp_path, udp):
    settings = Settings(audit_path=tmp_path / "audit.jsonl", audit_key_file=tmp_path / "audit-key.json",
                        audit_checkpoint_lines=2, audit_checkpoint_seconds=0,
                        audit_syslog=f"udp://127.0.0.1:{udp.port}?facility=local3")
    audit = open_audit(settings)
    audit.record("login_succeeded", outcome="success", service="dpi", client="dpi-web", national_id="8", mie="psc")
    audit.record("login_denied", outcome="denied", service="dpi", client="dpi-web", reason="single_factor")
    audit.record("login_failed", outcome="failure", service="dpi", client="dpi-web", reason="psc_timeout")
    lines = file_lines(settings.audit_path)
    assert [json.loads(x)["event"] for x in lines] == ["login_succeeded", "login_denied", "audit_checkpoint",
                                                       "login_failed"]
    received = [parse(m) for m in udp.wait_for(4)]
    assert [r["msg"] for r in received] == lines   # the chained lines, byte for byte, in order
    for header, line in zip(received, lines, strict=True):
        obj = json.loads(line)
        severity = {"success": 6, "info": 6, "denied": 5, "failure": 4}[obj["outcome"]]
        assert int(header["pri"]) == 19 * 8 + severity   # local3
        assert header["time"] == obj["time"] and header["host"] == socket.gethostname()
        assert header["app"] == "psc-bridge" and header["msgid"] == obj["event"] and header["procid"].isdigit()
        assert f'[meta sequenceId="{obj["seq"]}"]' in header["sd"] and '[origin software="psc-bridge"' in header["sd"]


def test_tcp_collector_with_octet_counting_and_a_restart(tmp_path):
    receiver = Receiver("tcp")
    try:
        settings = Settings(audit_path=tmp_path / "audit.jsonl", audit_syslog=f"tcp://127.0.0.1:{receiver.port}")
        audit = open_audit(settings)
        for n in range(3):
            audit.record("token_issued", outcome="success", client="dpi-web", grant_type="authorization_code", n=n)
        got = receiver.wait_for(3)
        assert [parse(m)["msg"] for m in got] == file_lines(settings.audit_path)
        assert all(int(parse(m)["pri"]) == 10 * 8 + 6 for m in got)   # authpriv by default
    finally:
        receiver.close()


def failures() -> float:
    return REGISTRY.get_sample_value("bridge_audit_export_failures_total",
                                     {"target": "syslog", "reason": "send"}) or 0.0


def test_a_collector_down_never_blocks_the_file_is_counted_and_logged_once(tmp_path, capsys):
    from bridge.logs import configure

    configure("INFO")
    port = free_port()   # nobody listens: every TCP connect is refused
    settings = Settings(audit_path=tmp_path / "audit.jsonl", audit_syslog=f"tcp://127.0.0.1:{port}",
                        audit_required=True)
    audit = open_audit(settings)
    before = failures()
    for n in range(3):
        audit.record("logout", outcome="info", client="dpi-web", n=n)
    audit.export.flush()
    assert len(file_lines(settings.audit_path)) == 3   # the reference is complete
    assert failures() - before == 3
    logged = [json.loads(x) for x in capsys.readouterr().err.splitlines() if x.startswith("{")]
    assert [x["event"] for x in logged if x["event"].startswith("audit_export")] == ["audit_export_failed"]
    # The collector comes back: the next line goes through, and the recovery is logged.
    receiver = Receiver("tcp", port)
    try:
        audit.record("logout", outcome="info", client="dpi-web", n=3)
        assert [parse(m)["msg"] for m in receiver.wait_for(1)] == file_lines(settings.audit_path)[-1:]
        audit.export.flush()
        logged = [json.loads(x) for x in capsys.readouterr().err.splitlines() if x.startswith("{")]
        assert [x["event"] for x in logged if x["event"].startswith("audit_export")] == ["audit_export_recovered"]
    finally:
        receiver.close()


def test_stdout_gets_each_line_as_json(tmp_path, capsys):
    settings = Settings(audit_path=tmp_path / "audit.jsonl", audit_stdout=True)
    audit = open_audit(settings)
    audit.record("logout", outcome="info", client="dpi-web")
    audit.record("token_revoked", outcome="info", client="dpi-web")
    audit.export.flush()
    out = [x for x in capsys.readouterr().out.splitlines() if x]
    assert [x.encode() for x in out] == file_lines(settings.audit_path)
    assert [json.loads(x)["event"] for x in out] == ["logout", "token_revoked"]


def test_settings_refuse_a_bad_syslog_url(tmp_path):
    assert load_settings({"BRIDGE_AUDIT_SYSLOG": "unix:///dev/log", "BRIDGE_AUDIT_STDOUT": "1"}).audit_stdout
    for wrong in ("http://siem:514", "udp://:514", "udp://siem:514?facility=mail2", "tcp://siem:99999"):
        with pytest.raises(ConfigError, match="BRIDGE_AUDIT_SYSLOG"):
            load_settings({"BRIDGE_AUDIT_SYSLOG": wrong})


def test_a_bridge_login_sends_every_audit_line_of_the_file(tmp_path, redis_url, psc_emulator_factory, receiver, udp):
    from tests.support.bridge import DPI, AppClient, at
    from tests.support.console import start_stack

    stack = start_stack(tmp_path, redis_url, psc_emulator_factory, receiver.url,
                        env_extra={"BRIDGE_AUDIT_SYSLOG": f"udp://127.0.0.1:{udp.port}"})
    app = AppClient(stack.url, **at(receiver.url, DPI))
    assert "code" in app.login(requests.Session(), user="899700000002")
    lines = file_lines(stack.bridge.settings.audit_path)
    assert {"login_started", "login_succeeded"} <= {json.loads(x)["event"] for x in lines}
    received = udp.wait_for(len(lines))
    assert [parse(m)["msg"] for m in received] == lines
    assert replace(stack.bridge.settings).audit_syslog.startswith("udp://")
