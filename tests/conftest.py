"""Shared fixtures live in tests/support/<area>.py, one plugin per area (real redis, PSC emulator, pcscd...)."""
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

pytest_plugins = [
    "tests.support.redis",
    "tests.support.sentinel",
    "tests.support.psc",
    "tests.support.bridge",
    "tests.support.browser",
    "tests.support.pcsc",
    "tests.support.serving",
    "tests.support.psc_relay",
]
