"""`bridge serve` as the image runs it (gunicorn, several workers, a free port) with a real Redis and its own PSC
emulator: the served_bridge_factory and served_bridge fixtures (tests/integration/test_serving.py and
test_oversized_input.py)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.support.bridge import default_card_trust
from tests.support.child import child_env
from tests.support.redis import free_port

ROOT = Path(__file__).resolve().parents[2]
PSC_SECRET = "served-psc-secret-7f3a9c"
SECRET_KEY = "served-bridge-secret-key-4b1e8d2a9c7f6e5d"


def bridge_command() -> list[str]:
    """What the image runs (`bridge serve`): the console script next to this interpreter, else its module."""
    script = Path(sys.executable).with_name("bridge")
    return [str(script), "serve"] if script.exists() else [sys.executable, "-m", "bridge.cli", "serve"]


@dataclass
class ServedBridge:
    url: str
    process: subprocess.Popen
    log_path: Path
    metrics_dir: Path

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_lines(self) -> list[dict]:
        return [json.loads(line) for line in self.logs().splitlines() if line.strip()]

    def terminate(self, timeout: float = 60) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)



def start_served_bridge(tmp_path: Path, redis_url: str, psc, port: int, **env) -> ServedBridge:
    url = f"http://127.0.0.1:{port}"
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir(exist_ok=True)
    full_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "LANG": "C.UTF-8",
        "PYTHONPATH": str(ROOT),  # this checkout, whatever the virtualenv's editable install points at
        "BRIDGE_BIND": f"127.0.0.1:{port}", "BRIDGE_WORKERS": "2", "BRIDGE_THREADS": "2",
        "BRIDGE_PUBLIC_URL": url, "BRIDGE_SECRET_KEY": SECRET_KEY, "BRIDGE_STORE_URL": redis_url,
        "BRIDGE_KEYS_DIR": str(tmp_path / "keys"), "BRIDGE_POLICIES_DIR": str(ROOT / "policies"),
        "BRIDGE_PSC_DISCOVERY_URL": psc.discovery_url, "BRIDGE_PSC_CLIENT_ID": "bridge-test",
        "BRIDGE_PSC_CLIENT_SECRET": PSC_SECRET, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        **default_card_trust(), **env}  # the shipped teleservice allows cps-pin: trust the test PKI
    log_path = tmp_path / "bridge-serve.log"
    with open(log_path, "wb") as log_file:  # stdout and stderr, as a container runtime collects them
        process = subprocess.Popen(bridge_command(), env=child_env(full_env), cwd=tmp_path, stdout=log_file,
                                   stderr=subprocess.STDOUT)
    served = ServedBridge(url, process, log_path, metrics_dir)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"bridge serve exited with {process.returncode}:\n{served.logs()[-3000:]}")
        try:
            if requests.get(url + "/healthz", timeout=5).status_code == 200:
                return served
        except requests.RequestException:  # not listening yet, or workers still booting on a busy machine
            pass
        time.sleep(0.1)
    served.terminate()
    raise AssertionError(f"bridge serve did not answer on {url}:\n{served.logs()[-3000:]}")


@pytest.fixture
def served_bridge_factory(psc_emulator_factory, redis_url, tmp_path):
    """`bridge serve` (2 workers x 2 threads) + its own PSC emulator; keyword overrides go to the emulator."""
    from bridge.sandbox.psc import EmulatedClient

    started: list[ServedBridge] = []

    def factory(env: dict | None = None, **emulator_overrides) -> ServedBridge:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        client = EmulatedClient("bridge-test", PSC_SECRET, [f"{base}/psc/callback"], [f"{base}/logout/done"])
        psc = psc_emulator_factory(clients=[client], **emulator_overrides)
        served = start_served_bridge(tmp_path, redis_url, psc, port, **(env or {}))
        served.psc = psc
        started.append(served)
        return served

    yield factory
    for served in started:
        if served.process.poll() is None:
            served.process.kill()
            served.process.wait(10)


@pytest.fixture
def served_bridge(served_bridge_factory) -> ServedBridge:
    return served_bridge_factory()
