"""`make demo` start-up: one identity for the virtual card, an audit trail, one line for a wrong setting or a
busy port (as `bridge serve`), ports that follow the settings."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest
from cryptography.x509.oid import NameOID
from werkzeug.serving import make_server

from bridge import demo
from bridge.config import ConfigError, load_settings
from bridge.sandbox.professionals import TEST_PROFESSIONALS

ROOT = Path(__file__).resolve().parents[2]


# --- helpers -------------------------------------------------------------------------------------------------------


def free_ports(count: int) -> list[int]:
    """Ports nobody listens on now (other demos may run on this machine: never the default ones)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@contextmanager
def held_port():
    """A real socket listening on a free port, as another program would."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@contextmanager
def answering(app, port: int = 0):
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()


def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    """The working directory of the demo subprocesses, its test PKI generated once (seconds of key search)."""
    from bridge.sandbox.testpki import TestPki

    directory = tmp_path_factory.mktemp("demo")
    demo.trust_env(TestPki(demo.PKI_SEED, directory / "var/testpki"))
    return directory


def run(command: list[str], cwd: Path, **variables: str) -> subprocess.CompletedProcess:
    """`command` with only these BRIDGE_* variables. The timeout kills a demo that would start serving."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(cwd),
        "PYTHONPATH": str(ROOT),
        **variables,
    }
    return subprocess.run(
        [sys.executable, *command],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def run_demo(cwd: Path, **variables: str) -> subprocess.CompletedProcess:
    bridge, psc, apps, agent = free_ports(4)
    ports = {
        "BRIDGE_PUBLIC_URL": f"http://127.0.0.1:{bridge}",
        "BRIDGE_DEMO_PSC_PORT": str(psc),
        "BRIDGE_DEMO_APPS_PORT": str(apps),
        "BRIDGE_AGENT_URL": f"http://127.0.0.1:{agent}",
        "BRIDGE_POLICIES_DIR": str(ROOT / "policies"),
    }
    return run(["-m", "bridge.demo"], cwd, **{**ports, **variables})


# --- one identity ----------------------------------------------------------------------------------------------------


def test_the_virtual_card_bears_the_name_the_emulator_gives_its_holder(test_pki):
    professional = TEST_PROFESSIONALS[demo.DEMO_HOLDER]
    material = demo.demo_card(test_pki)
    assert (material.given_name, material.family_name) == (
        professional["given_name"],
        professional["family_name"],
    )
    subject = material.certificate.subject
    assert (
        subject.get_attributes_for_oid(NameOID.GIVEN_NAME)[0].value
        == professional["given_name"]
    )
    assert (
        subject.get_attributes_for_oid(NameOID.SURNAME)[0].value
        == professional["family_name"]
    )
    assert (
        subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == demo.DEMO_HOLDER
    )


# --- audit trail ---------------------------------------------------------------------------------------------------


def test_the_demo_writes_an_audit_trail_unless_told_otherwise():
    environ: dict[str, str] = {}
    demo._demo_defaults(environ, "http://127.0.0.1:8001")
    assert environ["BRIDGE_AUDIT_PATH"] == "var/audit.jsonl" == demo.AUDIT_PATH
    assert load_settings(environ).audit_path == Path("var/audit.jsonl")
    mine = {"BRIDGE_AUDIT_PATH": "/srv/audit/mine.jsonl"}
    demo._demo_defaults(mine, "http://127.0.0.1:8001")
    assert mine["BRIDGE_AUDIT_PATH"] == "/srv/audit/mine.jsonl"


def test_the_demo_audit_settings_open_a_working_trail(tmp_path):
    from bridge.audit import open_audit

    environ = {"BRIDGE_AUDIT_PATH": str(tmp_path / "var/audit.jsonl")}
    demo._demo_defaults(environ, "http://127.0.0.1:8001")
    line = open_audit(load_settings(environ)).record("policy_loaded", outcome="info")
    assert (
        line["seq"] >= 1 and (tmp_path / "var/audit.jsonl").read_text().count("\n") == 1
    )


def test_the_banner_says_where_the_audit_trail_is():
    settings = load_settings({"BRIDGE_AUDIT_PATH": "var/audit.jsonl"})
    prepared = demo.Prepared(settings, demo.Ports(8000, 8001, 8002), pki=None, app=None)
    psc = SimpleNamespace(discovery_url="http://127.0.0.1:8001/x")
    card = demo.CardDemo(False, "carte indisponible")
    banner = demo._banner(prepared, psc, card, "/tmp/report.html")
    audit_line = next(line for line in banner.splitlines() if "Journal d'audit" in line)
    assert (
        str(Path("var/audit.jsonl").resolve()) in audit_line
        and "/admin/audit" in audit_line
    )
    given, family = demo.holder_name()
    assert f"{given} {family} {demo.DEMO_HOLDER}" in banner


# --- one line for a wrong setting, as `bridge serve` -----------------------------------------------------------------

BAD_SETTINGS = [
    {"BRIDGE_ENV": "prod"},
    {"BRIDGE_PSC_CONNECT_TIMEOUT": "abc"},
    {"BRIDGE_PUBLIC_URL": "127.0.0.1:8000"},
    {"BRIDGE_STORE_URL": "redis//x"},
    {"BRIDGE_STORE": "redis://localhost"},
]


@pytest.mark.parametrize(
    "bad", BAD_SETTINGS, ids=lambda bad: "=".join(next(iter(bad.items())))
)
def test_a_wrong_setting_prints_the_line_bridge_serve_prints(bad, demo_dir):
    shown = run_demo(demo_dir, **bad)
    assert shown.returncode == 2, shown.stderr
    assert shown.stderr.count("\n") == 1, shown.stderr
    name = next(iter(bad))
    assert shown.stderr.startswith(f"bridge: configuration error: {name}:"), (
        shown.stderr
    )
    serve = run(
        ["-m", "bridge.cli", "serve"],
        demo_dir,
        BRIDGE_WORKERS="1",
        BRIDGE_BIND="127.0.0.1:1",
        BRIDGE_POLICIES_DIR=str(ROOT / "policies"),
        **bad,
    )
    assert (serve.returncode, serve.stderr) == (2, shown.stderr)


def test_a_policy_typo_prints_the_line_bridge_serve_prints(demo_dir, tmp_path):
    policies = tmp_path / "policies"
    policies.mkdir()
    for path in (ROOT / "policies").glob("*.yaml"):
        (policies / path.name).write_text(
            path.read_text().replace("idle_timeout:", "idle_timout:", 1)
        )
    shown = run_demo(demo_dir, BRIDGE_POLICIES_DIR=str(policies))
    assert shown.returncode == 2, shown.stderr
    assert (
        shown.stderr.startswith("bridge: configuration error: ")
        and "did you mean 'idle_timeout'" in shown.stderr
    )
    trust = str(demo_dir / "var/testpki/trust")
    serve = run(
        ["-m", "bridge.cli", "serve"],
        demo_dir,
        BRIDGE_WORKERS="1",
        BRIDGE_BIND="127.0.0.1:1",
        BRIDGE_POLICIES_DIR=str(policies),
        BRIDGE_TRUST_DIR=trust,
        BRIDGE_KEYS_DIR=str(tmp_path / "keys"),
    )
    assert (serve.returncode, serve.stderr) == (2, shown.stderr)


def test_production_is_refused_in_one_line(demo_dir):
    shown = run_demo(demo_dir, BRIDGE_ENV="production")
    assert shown.returncode == 2 and shown.stderr.count("\n") == 1
    assert shown.stderr.startswith(
        "bridge: configuration error: BRIDGE_ENV: make demo runs in development only"
    )


# --- ports ---------------------------------------------------------------------------------------------------------


def test_the_ports_follow_the_settings():
    settings = load_settings(
        {
            "BRIDGE_PUBLIC_URL": "http://127.0.0.1:9000",
            "BRIDGE_AGENT_URL": "http://127.0.0.1:9003",
        }
    )
    environ = {"BRIDGE_DEMO_PSC_PORT": "9001", "BRIDGE_DEMO_APPS_PORT": "9002"}
    assert demo.demo_ports(settings, environ, with_card=True) == demo.Ports(
        9000, 9001, 9002, 9003
    )
    assert demo.demo_ports(load_settings({}), {}, with_card=False) == demo.Ports(
        8000, 8001, 8002, None
    )


@pytest.mark.parametrize(
    "public_url, environ, variable",
    [
        (
            "http://127.0.0.1:8000",
            {"BRIDGE_DEMO_PSC_PORT": "80o1"},
            "BRIDGE_DEMO_PSC_PORT",
        ),
        (
            "http://127.0.0.1:8000",
            {"BRIDGE_DEMO_APPS_PORT": "70000"},
            "BRIDGE_DEMO_APPS_PORT",
        ),
        (
            "http://127.0.0.1:8000",
            {"BRIDGE_DEMO_APPS_PORT": "8000"},
            "BRIDGE_DEMO_APPS_PORT",
        ),
        ("https://sso.example.org", {}, "BRIDGE_PUBLIC_URL"),
        ("http://127.0.0.1:8000/sso", {}, "BRIDGE_PUBLIC_URL"),
    ],
)
def test_a_port_setting_the_demo_cannot_use_names_itself(public_url, environ, variable):
    with pytest.raises(ConfigError, match=f"^{variable}: "):
        demo.demo_ports(
            load_settings({"BRIDGE_PUBLIC_URL": public_url}), environ, with_card=False
        )


def test_a_busy_port_names_the_port_and_the_setting_that_moves_it():
    bridge, apps = free_ports(2)
    with held_port() as psc:
        message = demo.busy_port_message(demo.Ports(bridge, psc, apps))
    assert message is not None and "\n" not in message
    assert (
        f"le port {psc} (BRIDGE_DEMO_PSC_PORT) est déjà utilisé par un autre programme"
        in message
    )
    assert f"BRIDGE_DEMO_PSC_PORT={psc + 1000} make demo" in message
    assert demo.busy_port_message(demo.Ports(bridge, psc, apps)) is None  # free again


def test_a_busy_agent_port_counts_only_with_the_card():
    bridge, psc, apps = free_ports(3)
    with held_port() as agent:
        assert demo.busy_port_message(demo.Ports(bridge, psc, apps, None)) is None
        assert "(BRIDGE_AGENT_URL)" in demo.busy_port_message(
            demo.Ports(bridge, psc, apps, agent)
        )


def test_a_running_demo_is_recognised_by_what_answers_on_its_ports():
    psc, other = free_ports(2)
    with answering(demo._announce(hello, "http://127.0.0.1:8002/")) as bridge:
        message = demo.busy_port_message(demo.Ports(bridge, psc, other))
    expected = f"le port {bridge} (BRIDGE_PUBLIC_URL) est déjà utilisé, une démo tourne déjà : http://127.0.0.1:8002/"
    assert expected in message
    with (
        answering(demo._announce(hello, "http://127.0.0.1:8002/")) as bridge,
        held_port() as held_psc,
    ):
        message = demo.busy_port_message(demo.Ports(bridge, held_psc, other))
    moves = f"BRIDGE_PUBLIC_URL=http://127.0.0.1:{bridge + 1000} BRIDGE_DEMO_PSC_PORT={held_psc + 1000} make demo"
    assert message.endswith(
        moves
    )  # a running demo holds its other ports too: move them all
    with answering(hello) as stranger:
        assert "autre programme" in demo.busy_port_message(
            demo.Ports(stranger, psc, other)
        )


def test_make_demo_on_a_busy_port_says_so_in_one_line_before_serving(demo_dir):
    with held_port() as apps:
        shown = run_demo(demo_dir, BRIDGE_DEMO_APPS_PORT=str(apps))
    assert shown.returncode == 2, shown.stderr
    assert shown.stderr.count("\n") == 1, shown.stderr
    assert shown.stderr.startswith(
        f"make demo : le port {apps} (BRIDGE_DEMO_APPS_PORT) est déjà utilisé"
    )


def test_other_ports_get_policies_whose_redirect_uris_follow_them(tmp_path):
    from bridge.policy import load_policies

    target = demo.localize_policies(
        ROOT / "policies", tmp_path, "http://127.0.0.1:9000", "http://127.0.0.1:9002"
    )
    policies = load_policies(target)
    _, portail = policies.client("demo-portail")
    assert portail.redirect_uris == ("http://127.0.0.1:9002/portail/callback",)
    _, admin = policies.client("bridge-admin")
    assert admin.redirect_uris == ("http://127.0.0.1:9000/admin/callback",)


def test_the_emulator_knows_the_bridge_at_its_public_url():
    config = demo._emulator_config("http://127.0.0.1:9001", "http://127.0.0.1:9000")
    assert config.discovery_url.startswith("http://127.0.0.1:9001/")
    assert config.clients[0].redirect_uris == ("http://127.0.0.1:9000/psc/callback",)
    environ: dict[str, str] = {}
    demo._demo_defaults(environ, "http://127.0.0.1:9001")
    assert environ["BRIDGE_PSC_DISCOVERY_URL"] == config.discovery_url


def test_the_demo_serves_the_bridge_on_a_host_name_for_passkeys():
    """Browsers refuse WebAuthn on an IP address: the demo's bridge is http://localhost:8000 unless told otherwise,
    and the admin console's redirect URI follows it (a local copy of the policies)."""
    environ: dict[str, str] = {}
    demo._demo_defaults(environ, "http://127.0.0.1:8001")
    assert environ["BRIDGE_PUBLIC_URL"] == "http://localhost:8000"
    mine = {"BRIDGE_PUBLIC_URL": "http://127.0.0.1:9000"}
    demo._demo_defaults(mine, "http://127.0.0.1:8001")
    assert mine["BRIDGE_PUBLIC_URL"] == "http://127.0.0.1:9000"


# --- log noise -------------------------------------------------------------------------------------------------------


def test_the_demo_servers_write_no_werkzeug_access_line():
    werkzeug = logging.getLogger("werkzeug")
    before = werkzeug.level
    try:
        demo.quiet_access_logs()
        assert not werkzeug.isEnabledFor(logging.INFO)
        assert werkzeug.isEnabledFor(logging.WARNING)
    finally:
        werkzeug.setLevel(
            before
        )  # setLevel, not an attribute: it also clears the logging module's cache


def test_the_demo_report_runs_bridge_attest_in_its_own_process(monkeypatch, tmp_path):
    """The report's self-checks build a lab bridge whose create_app configures the process-wide logs: they run in
    `bridge attest`, a child process (which also stores the run for the console), so the demo's logs are never
    touched and need no restoring."""
    calls = []
    monkeypatch.setattr(demo.subprocess, "run", lambda args, **options: calls.append((args, options)))
    monkeypatch.chdir(tmp_path)
    path = demo._report_in_background(SimpleNamespace(extensions={}))
    for thread in threading.enumerate():  # it may be done already
        if thread.name == "attest-report":
            thread.join(timeout=10)
    assert path == str((tmp_path / "var" / "attestation-report.html").resolve())
    (args, options), = calls
    assert args[0] == sys.executable
    assert args[1:] == ["-m", "bridge.cli", "attest", "--out", "var/attestation-report.html"]
    assert options["stdin"] == subprocess.DEVNULL and options["stderr"] == subprocess.STDOUT
