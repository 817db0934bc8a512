"""bridge.login.device on both stores (the POLL script in Lua on Redis and its Python twin on memory://): user code
normalization, one decision collected by one poll, slow_down and its growing interval, expiry, wrong codes."""
from __future__ import annotations

import pytest

from bridge.clock import Clock
from bridge.login.device import ALPHABET, Devices, display, normalize
from bridge.store import open_store
from bridge.store.memory import MemoryStore

GRANT = {"authn": {}, "sid": "s", "service": "dpi", "deadline": 0, "family": "f"}


@pytest.fixture(params=["redis", "memory"])
def devices(request):
    clock = Clock(fixed=1_800_000_000)
    store = open_store(request.getfixturevalue("redis_url"), clock=clock) if request.param == "redis" else \
        MemoryStore(clock=clock)
    return Devices(store, clock)


@pytest.mark.parametrize("typed", ["BCDF-GHJK", "bcdfghjk", " bcdf ghjk ", "Bcdf-Ghjk", "BCDF\u00a0GHJK"])
def test_typed_forms_of_one_code(typed):
    assert normalize(typed) == "BCDFGHJK" and display("BCDFGHJK") == "BCDF-GHJK"


@pytest.mark.parametrize("typed", ["", None, "BCDF-GHJ", "BCDF-GHJKL", "ABCD-EFGH", "BCDF-GHJ0", "BCDF_GHJK", "é" * 8])
def test_what_cannot_be_a_code(typed):
    assert normalize(typed) is None


def test_codes_use_the_alphabet_and_name_their_request(devices):
    device_code, request = devices.create("kiosk", "dpi", "openid")
    assert len(request.user_code) == 8 and set(request.user_code) <= set(ALPHABET)
    assert devices.by_user_code(request.user_code) == request
    assert len(device_code) >= 43 and devices.get(request.hash) == request


def test_one_decision_collected_once(devices):
    device_code, request = devices.create("kiosk", "dpi", "openid")
    assert devices.poll(device_code, "kiosk").status == "pending"
    assert devices.poll(device_code, "other").status == "wrong_client"
    assert devices.approve(request, GRANT) and not devices.deny(request, "late")   # decided once
    assert devices.by_user_code(request.user_code) is None                         # cannot be typed again
    first = devices.poll(device_code, "kiosk")
    assert first.status == "approved" and first.grant["sid"] == "s"
    assert devices.poll(device_code, "kiosk").status == "used"
    assert devices.poll("unknown-" + device_code, "kiosk").status == "unknown"


def test_slow_down_grows_the_interval_and_expiry_ends_it(devices):
    device_code, request = devices.create("kiosk", "dpi", "openid")
    assert devices.poll(device_code, "kiosk").interval == 5
    assert [devices.poll(device_code, "kiosk").interval for _ in range(2)] == [10, 15]
    devices.clock.advance(14)
    assert devices.poll(device_code, "kiosk").status == "slow_down"   # 14 s < 15 s: now 20 s
    devices.clock.advance(20)
    pending = devices.poll(device_code, "kiosk")
    assert (pending.status, pending.interval) == ("pending", 20)
    devices.clock.advance(600)
    assert devices.poll(device_code, "kiosk").status == "expired"
    assert not devices.approve(request, GRANT)


def test_denial_is_told_once(devices):
    device_code, request = devices.create("kiosk", "dpi", "openid")
    assert devices.deny(request, "cancelled")
    assert devices.poll(device_code, "kiosk").status == "denied"
    assert devices.poll(device_code, "kiosk").status == "used"


def test_wrong_codes_lock_a_browser_for_the_window(devices):
    for n in range(1, 6):
        assert devices.locked("browser-1", "10.0.0.1") is None
        assert devices.failed("browser-1", "10.0.0.1") == {"browser": n, "address": n}
    assert devices.locked("browser-1", "10.0.0.1") == ("browser", 15)
    assert devices.locked("browser-2", "10.0.0.1") is None
    devices.clock.advance(900)
    assert devices.locked("browser-1", "10.0.0.1") is None
    assert devices.failed("browser-1", "10.0.0.1") == {"browser": 1, "address": 1}   # a new window
