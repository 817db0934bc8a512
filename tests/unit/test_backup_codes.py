"""The backup code store (bridge.upstream.backup) on the real Redis and on the memory store: only a digest kept,
single use, ≤ BRIDGE_BACKUP_CODE_TTL, per service, never for the administrator themselves, the R8 lockout."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest

from bridge.clock import Clock
from bridge.config import ConfigError, Settings, load_settings
from bridge.store import open_store
from bridge.store.memory import MemoryStore
from bridge.upstream.backup import (
    ALPHABET,
    CODE_LENGTH,
    FAILURES_PER_PERSON,
    BackupCodes,
    BackupError,
    formatted,
)

ADMIN, PRO, OTHER = "899700000001", "899700000002", "899700000003"


@pytest.fixture(params=["redis", "memory"])
def setup(request):
    clock = Clock(fixed=1_800_000_000)
    if request.param == "redis":
        store = open_store(request.getfixturevalue("redis_url"), clock=clock)
    else:
        store = MemoryStore(clock=clock)
    return BackupCodes(store, clock, replace(Settings(), backup_code_ttl=3600)), store, clock


def activate(codes, national_id=PRO, services=("dpi",), **extra):
    return codes.activate(admin=ADMIN, national_id=national_id, family_name="MARTIN", given_name="Anne",
                          services=services, **extra)


def error_of(call) -> str:
    with pytest.raises(BackupError) as raised:
        call()
    return raised.value.code


def test_the_code_is_kept_only_as_a_digest_and_used_once(setup):
    codes, store, _ = setup
    activation = activate(codes)
    assert len(activation.code) == CODE_LENGTH and set(activation.code) <= set(ALPHABET)
    raw = store.get(f"backup:code:{PRO}")
    assert activation.code not in raw and json.loads(raw)["digest"]
    authn, record = codes.use(PRO, formatted(activation.code).lower(), "dpi")   # typed in groups, lower case
    assert (authn.mie, authn.upstream, authn.amr, authn.acr) == ("backup", "backup", ("pwd",), "eidas1")
    assert (authn.identity.national_id, authn.identity.family_name, authn.identity.given_name) == \
        (PRO, "MARTIN", "Anne")
    assert record["activated_by"] == ADMIN and "digest" not in record
    assert error_of(lambda: codes.use(PRO, activation.code, "dpi")) == "backup_code_used"


def test_expired_after_the_configured_life(setup):
    codes, _, clock = setup
    activation = activate(codes, ttl=10 * 3600)   # asks more than the setting: the setting wins
    assert activation.expires_at == clock.now() + 3600
    clock.advance(3600)
    assert error_of(lambda: codes.use(PRO, activation.code, "dpi")) == "backup_code_expired"


def test_another_person_another_service_a_wrong_code(setup):
    codes, _, _ = setup
    activation = activate(codes)
    assert error_of(lambda: codes.use(OTHER, activation.code, "dpi")) == "backup_code_invalid"
    assert error_of(lambda: codes.use(PRO, activation.code, "demo-portail")) == "backup_code_other_service"
    assert error_of(lambda: codes.use(PRO, "ABCDEFGHJKMN", "dpi")) == "backup_code_invalid"
    assert error_of(lambda: codes.use(PRO, "", "dpi")) == "backup_code_invalid"
    assert codes.use(PRO, activation.code, "dpi")[0].identity.national_id == PRO   # none of these used it up


def test_no_self_activation(setup):
    codes, _, _ = setup
    assert error_of(lambda: activate(codes, national_id=ADMIN)) == "backup_self_activation"
    assert codes.pending() == []


def test_a_new_activation_replaces_the_previous_code_and_revocation(setup):
    codes, _, _ = setup
    first, second = activate(codes), activate(codes)
    assert error_of(lambda: codes.use(PRO, first.code, "dpi")) == "backup_code_invalid"
    assert [r["id"] for r in codes.pending()] == [second.id]
    assert codes.revoke(PRO)["id"] == second.id
    assert codes.pending() == [] and codes.revoke(PRO) is None
    assert error_of(lambda: codes.use(PRO, second.code, "dpi")) == "backup_code_invalid"


def test_a_used_code_cannot_be_revoked_and_leaves_the_pending_list(setup):
    codes, _, _ = setup
    activation = activate(codes)
    codes.use(PRO, activation.code, "dpi")
    assert codes.pending() == [] and codes.revoke(PRO) is None


def test_failures_lock_the_person_then_release(setup):
    codes, _, clock = setup
    assert [codes.failed(PRO, "10.0.0.1") for _ in range(FAILURES_PER_PERSON)][-1] == ["person"]
    assert codes.locked(PRO, "10.0.0.1") == 15 and codes.locked(OTHER, "10.0.0.1") == 0
    clock.advance(15 * 60)
    assert codes.locked(PRO, None) == 0


def test_the_ttl_setting_is_24h_at_most():
    assert Settings().backup_code_ttl == 86400
    assert load_settings({"BRIDGE_BACKUP_CODE_TTL": "30m"}).backup_code_ttl == 1800
    with pytest.raises(ConfigError, match="BRIDGE_BACKUP_CODE_TTL"):
        load_settings({"BRIDGE_BACKUP_CODE_TTL": "25h"})


def test_a_pro_sante_identite_id_gets_its_kind(setup):
    codes, _, _ = setup
    psi = "6c0e1b9a-4f5d-4c31-9d7e-2a8b3c4d5e6f"
    authn, _ = codes.use(psi, activate(codes, national_id=psi).code, "dpi")
    assert (authn.identity.national_id, authn.identity.id_kind) == (psi, "psi")
    assert codes.use(PRO, activate(codes).code, "dpi")[0].identity.id_kind == "rpps"   # 8 + digits
