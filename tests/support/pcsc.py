"""pytest plugin: a real pcscd with the vsmartcard vpcd reader, and virtual CPS cards inserted into it.

pcscd runs privately when we can (root + `unshare`): its own mount namespace gets a temporary /run/pcscd, its
reader.conf.d declares the "Virtual PCD" on free ports, and PCSCLITE_CSOCK_NAME points pyscard (and any child
process, e.g. the agent CLI) at its socket. So a pcscd already running on the machine is left alone and parallel
runs do not collide. Without root we reuse a running pcscd that has the Virtual PCD reader (ports 35963/35964), or
start `pcscd --foreground` ourselves. A missing pcscd or vpcd driver fails the run in CI (CI=true), skips locally.

PCSCD_ARGS (e.g. "-d" or "-a") is appended to the private pcscd's command line; its log is pcscd.log in the
session's temporary directory.

The Virtual PCD is a two-slot ("bifente") reader: slot 0 "Virtual PCD 00 00" on vpcd port P, slot 1
"Virtual PCD 00 01" on port P + 1.

Fixtures: `pcscd` (session), `test_pki` (session TestPki), `insert_card(material=None, slot=0, **VirtualCard
options)`, `insert_vitale(slot=0, **VirtualVitale options)`, `card_agent(allow_origins=[...])` -> an in-process
agent server (`.url`).
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
SYSTEM_SOCKET = Path("/run/pcscd/pcscd.comm")
READER_NAME = "Virtual PCD 00 00"
SLOT_READERS = ("Virtual PCD 00 00", "Virtual PCD 00 01")
DEFAULT_VPCD_PORT = 35963


@dataclass
class PcscDaemon:
    reader: str
    port: int                         # vpcd port of slot 0 ("Virtual PCD 00 00"); slot 1 is port + 1
    socket_path: Path
    process: subprocess.Popen | None  # None when we reuse a running pcscd
    log_path: Path | None

    def slot(self, index: int) -> tuple[str, int]:
        """(PC/SC reader name, vpcd port) of slot `index` of the virtual reader."""
        return SLOT_READERS[index], self.port + index


def _missing(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (install with `make test-deps`)", pytrace=False)
    pytest.skip(reason)


def _free_port_pair() -> int:
    for _ in range(50):
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            if port >= 65535:
                continue
            with socket.socket() as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
            return port
    raise RuntimeError("no two consecutive free ports")


def _system_pcscd_alive() -> bool:
    if not SYSTEM_SOCKET.exists():
        return False
    with socket.socket(socket.AF_UNIX) as sock:
        try:
            sock.connect(str(SYSTEM_SOCKET))
            return True
        except OSError:
            return False


def _wait_for_reader(name: str, process: subprocess.Popen | None, log_path: Path | None, timeout: float = 20):
    from smartcard.System import readers

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            break
        try:
            if name in [str(r) for r in readers()]:
                return
        except Exception:   # pcscd not ready yet
            pass
        time.sleep(0.1)
    log = log_path.read_text(errors="replace")[-3000:] if log_path and log_path.exists() else ""
    pytest.fail(f"pcscd did not offer the reader {name!r}\n{log}", pytrace=False)


def start_pcscd(workdir: Path) -> PcscDaemon:
    pcscd = shutil.which("pcscd") or ("/usr/sbin/pcscd" if Path("/usr/sbin/pcscd").exists() else None)
    if not pcscd:
        _missing("pcscd is not installed (apt-get install pcscd)")
    if not VPCD_DRIVER.exists():
        _missing("the vpcd reader driver is not installed (apt-get install vsmartcard-vpcd)")
    log_path = workdir / "pcscd.log"
    if os.geteuid() == 0 and shutil.which("unshare"):
        run_dir, conf_dir = workdir / "run", workdir / "reader.conf.d"
        run_dir.mkdir()
        conf_dir.mkdir()
        port = _free_port_pair()
        (conf_dir / "vpcd").write_text(
            f'FRIENDLYNAME "Virtual PCD"\nDEVICENAME /dev/null:0x{port:X}\n'
            f"LIBPATH {VPCD_DRIVER}\nCHANNELID 0x{port:X}\n")
        script = (f"mkdir -p /run/pcscd && mount --bind '{run_dir}' /run/pcscd && "
                  f"exec '{pcscd}' --foreground --config '{conf_dir}' {os.environ.get('PCSCD_ARGS', '')}")
        process = subprocess.Popen(["unshare", "--mount", "sh", "-c", script], stdout=log_path.open("wb"),
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        socket_path = run_dir / "pcscd.comm"
        os.environ["PCSCLITE_CSOCK_NAME"] = str(socket_path)   # before pyscard's first call in this process
    elif _system_pcscd_alive():
        process, port, socket_path = None, DEFAULT_VPCD_PORT, SYSTEM_SOCKET
    else:
        process = subprocess.Popen([pcscd, "--foreground"], stdout=log_path.open("wb"), stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL)
        port, socket_path = DEFAULT_VPCD_PORT, SYSTEM_SOCKET
    _wait_for_reader(READER_NAME, process, log_path)
    return PcscDaemon(READER_NAME, port, socket_path, process, log_path)


def stop_pcscd(daemon: PcscDaemon) -> None:
    if daemon.process is not None and daemon.process.poll() is None:
        daemon.process.terminate()
        try:
            daemon.process.wait(10)
        except subprocess.TimeoutExpired:
            daemon.process.kill()
            daemon.process.wait()


def wait_card_state(reader: str, present: bool, timeout: float = 15) -> None:
    """Block until pcscd reports the card `present` (or absent) in `reader`, and a connection agrees."""
    from bridge.card import pcsc

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = next(iter(pcsc.reader_states([reader])), None)
        except pcsc.CardError:
            state = None
        if state is not None and state.present == present and pcsc.card_present(reader) == present:
            return
        time.sleep(0.05)
    raise AssertionError(f"card never became {'present' if present else 'absent'} in {reader}")


@pytest.fixture(scope="session")
def pcscd(tmp_path_factory):
    daemon = start_pcscd(tmp_path_factory.mktemp("pcscd"))
    yield daemon
    stop_pcscd(daemon)


@pytest.fixture(scope="session")
def test_pki(tmp_path_factory):
    from bridge.sandbox.testpki import TestPki

    return TestPki("pytest", tmp_path_factory.mktemp("testpki"))


@pytest.fixture
def inserted_cards(pcscd):
    """Every virtual card a test inserted, removed after the test (and the slots seen empty)."""
    cards: list[tuple[object, str]] = []
    yield cards
    for card, _reader in cards:
        if card.inserted:
            card.remove()
    for reader in sorted({reader for _card, reader in cards}):
        wait_card_state(reader, False)


@pytest.fixture
def insert_card(pcscd, test_pki, inserted_cards):
    """insert_card(material=None, slot=0, **VirtualCard options) -> an inserted VirtualCard; removed after the test."""
    from bridge.sandbox.card import VirtualCard

    def insert(material=None, slot: int = 0, **options):
        card = VirtualCard(material or test_pki.card("899700000001"), **options)
        reader, port = pcscd.slot(slot)
        card.insert(port)
        inserted_cards.append((card, reader))
        wait_card_state(reader, True)
        return card

    return insert


@pytest.fixture
def insert_vitale(pcscd, inserted_cards):
    """insert_vitale(slot=0, **VirtualVitale options) -> an inserted carte Vitale-like card; removed after the test."""
    from bridge.sandbox.vitale import VirtualVitale

    def insert(slot: int = 0, **options):
        card = VirtualVitale(**options)
        reader, port = pcscd.slot(slot)
        card.insert(port)
        inserted_cards.append((card, reader))
        wait_card_state(reader, True)
        return card

    return insert


@pytest.fixture
def card_agent(pcscd):
    """card_agent(allow_origins, reader=None) -> an AgentServer running in this process; `.url` is its base URL."""
    from bridge.card.agent import make_server

    servers = []

    def start(allow_origins=("https://bridge.example",), reader=None, busy_timeout=None):
        server = make_server(list(allow_origins), port=0, reader=reader)
        if busy_timeout is not None:
            server.service.busy_timeout = busy_timeout
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        server.url = f"http://127.0.0.1:{server.server_address[1]}"
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
