"""Counting repeated bad card certificates (bridge.upstream.card_failures) on the memory store, and its settings."""
from __future__ import annotations

from dataclasses import replace

import pytest

from bridge.clock import Clock
from bridge.config import ConfigError, Settings, load_settings
from bridge.store.memory import MemoryStore
from bridge.upstream.card_failures import CardFailures, fingerprint

SHA = fingerprint(b"certificate")


@pytest.fixture
def failures():
    clock = Clock(fixed=1_800_000_000)
    settings = replace(Settings(), card_failures_per_cert=3, card_failures_per_address=5, card_failures_window=900,
                       card_lockout=600)
    return CardFailures(MemoryStore(clock=clock), clock, settings), clock


def test_a_certificate_is_locked_at_its_threshold_then_released(failures):
    counter, clock = failures
    assert [counter.failed("certificate_expired", SHA, "10.0.0.1") for _ in range(3)] == [[], [], ["certificate"]]
    assert counter.locked(SHA, "10.0.0.1") == ("certificate", 10)
    assert counter.locked(fingerprint(b"another card"), "10.0.0.1") is None   # same address, other card
    clock.advance(9 * 60 + 1)
    assert counter.locked(SHA, None) == ("certificate", 1)
    clock.advance(60)
    assert counter.locked(SHA, None) is None


def test_the_address_has_its_own_higher_threshold_and_non_certificate_codes_do_not_count(failures):
    counter, _ = failures
    for code in ("challenge_expired", "challenge_invalid", "csrf"):
        assert counter.failed(code, SHA, "10.0.0.2") == []
    assert counter.locked(SHA, "10.0.0.2") is None
    scopes = [counter.failed("certificate_revoked", fingerprint(bytes([n])), "10.0.0.2") for n in range(5)]
    assert scopes[-1] == ["address"] and counter.locked(None, "10.0.0.2") == ("address", 10)


def test_settings():
    settings = load_settings({"BRIDGE_CARD_FAILURES_PER_CERT": "4", "BRIDGE_CARD_FAILURES_PER_ADDRESS": "300",
                              "BRIDGE_CARD_FAILURES_WINDOW": "30m", "BRIDGE_CARD_LOCKOUT": "1h"})
    assert (settings.card_failures_per_cert, settings.card_failures_per_address, settings.card_failures_window,
            settings.card_lockout) == (4, 300, 1800, 3600)
    assert load_settings({}).card_failures_per_address == 100
    with pytest.raises(ConfigError, match="BRIDGE_CARD_FAILURES_PER_CERT"):
        load_settings({"BRIDGE_CARD_FAILURES_PER_CERT": "0"})
    with pytest.raises(ConfigError, match="BRIDGE_CARD_LOCKOUT"):
        load_settings({"BRIDGE_CARD_LOCKOUT": "soon"})
