"""Key rotation without breaking clients (issue 12, defect 7): a new key is published for the JWKS cache lifetime
before it signs, and retired keys keep verifying for the longest session. The clock is injected: no sleeping."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError
from joserfc.jwk import KeySet

from bridge.cli import main
from bridge.clock import Clock
from bridge.provider.keys import (
    JWKS_MAX_AGE,
    LONGEST_SESSION,
    PUBLISH_BEFORE_SIGNING,
    RETIRED_KEEP,
    KeyRing,
    RotationPending,
    retired_keep,
)

T0 = 1_800_000_000.0


def kids(ring) -> set[str]:
    return {key["kid"] for key in ring.jwks()["keys"]}


def sign(ring, alg="RS256") -> str:
    return jwt.encode({"alg": alg, "kid": ring.signing_key(alg).kid}, {"iss": "x", "sub": "s"}, ring.signing_key(alg))


def verifies(ring, token) -> bool:
    try:
        jwt.decode(token, KeySet.import_key_set(ring.jwks()), algorithms=["RS256", "ES256"])
        return True
    except Exception:
        return False


@pytest.fixture
def ring(tmp_path):
    return KeyRing(tmp_path / "keys", clock=Clock(fixed=T0))


def test_a_new_key_is_published_before_it_signs(ring):
    old = ring.signing_key("RS256").kid
    new_kids = ring.rotate()
    assert set(new_kids) <= kids(ring)                       # published at once
    assert ring.signing_key("RS256").kid == old              # …but the old key still signs
    assert PUBLISH_BEFORE_SIGNING >= JWKS_MAX_AGE
    ring.clock.advance(PUBLISH_BEFORE_SIGNING - 1)
    assert ring.signing_key("RS256").kid == old
    ring.clock.advance(1)
    assert ring.signing_key("RS256").kid in new_kids and ring.signing_key("ES256").kid in new_kids
    assert old in kids(ring)                                  # retired, still published


def test_a_client_that_fetched_jwks_before_the_switch_knows_the_signing_key(ring):
    ring.rotate()
    cached = KeySet.import_key_set(ring.jwks())              # a client caches the JWKS right after the rotation
    ring.clock.advance(JWKS_MAX_AGE)                         # …until max-age: the new key has not signed yet
    jwt.decode(sign(ring), cached)
    ring.clock.advance(PUBLISH_BEFORE_SIGNING - JWKS_MAX_AGE)
    jwt.decode(sign(ring), cached)                            # signed by the new key: already in that cache


def test_retired_keys_verify_hints_for_the_longest_session(ring):
    old_token = sign(ring)
    ring.rotate()
    ring.clock.advance(PUBLISH_BEFORE_SIGNING)                # the switch
    assert RETIRED_KEEP >= LONGEST_SESSION == 4 * 3600
    ring.clock.advance(LONGEST_SESSION)                       # a session started just before the switch ends
    assert verifies(ring, old_token)                          # its id_token_hint is still ours at logout
    ring.clock.advance(RETIRED_KEEP - LONGEST_SESSION)
    assert not verifies(ring, old_token)                      # and then the retired key goes
    assert len(ring.jwks()["keys"]) == 2


def test_every_process_reaches_the_switch_without_writing(tmp_path, ring):
    other = KeyRing(tmp_path / "keys", create=False, clock=ring.clock)   # another worker, same directory
    ring.rotate()
    before = {p.name: p.read_bytes() for p in (tmp_path / "keys").iterdir()}
    other._load(create=False)                                 # what the 1-second reload does
    assert kids(other) == kids(ring)
    ring.clock.advance(PUBLISH_BEFORE_SIGNING)
    assert other.signing_key("ES256").kid == ring.signing_key("ES256").kid
    assert {p.name: p.read_bytes() for p in (tmp_path / "keys").iterdir()} == before


def test_now_switches_at_once_and_keeps_the_old_key_published(ring):
    old_token, old = sign(ring), ring.signing_key("RS256").kid
    new_kids = ring.rotate(now=True)
    assert ring.signing_key("RS256").kid in new_kids
    assert verifies(ring, old_token) and old in kids(ring)
    ring.clock.advance(RETIRED_KEEP)
    assert not verifies(ring, old_token)


def test_now_with_keep_zero_drops_a_compromised_key(ring):
    old_token = sign(ring)
    ring.rotate(0, now=True)
    assert not verifies(ring, old_token)


def test_a_second_rotation_waits_for_the_first_unless_now(ring):
    first = ring.rotate()
    with pytest.raises(RotationPending):
        ring.rotate()
    second = ring.rotate(now=True)                            # the pending keys never signed: dropped
    assert not set(first) & kids(ring) and set(second) <= kids(ring)
    ring.clock.advance(1)
    third = ring.rotate()                                     # nothing pending any more
    ring.clock.advance(PUBLISH_BEFORE_SIGNING)
    assert ring.signing_key("RS256").kid in third
    fourth = ring.rotate()                                    # settles the finished rotation into the files
    assert ring.signing_key("RS256").kid in third and set(fourth) <= kids(ring)
    assert set(second) <= kids(ring)                          # retired by the third rotation, still kept
    reloaded = KeyRing(ring.directory, create=False, clock=ring.clock)
    assert reloaded.jwks() == ring.jwks()


def test_key_files_written_before_next_keys_existed_still_load(tmp_path):
    clock = Clock(fixed=T0)
    legacy = KeyRing(tmp_path / "keys", clock=clock)
    old_token = sign(legacy)
    # The former format: *-current files plus retired.json, no next.json
    retired = [{"key": legacy.current["RS256"].as_dict(private=False), "until": T0 + 600}]
    (tmp_path / "keys" / "retired.json").write_text(json.dumps(retired))
    assert not (tmp_path / "keys" / "next.json").exists()
    ring = KeyRing(tmp_path / "keys", create=False, clock=clock)
    assert ring.signing_key("RS256").kid == legacy.current["RS256"].kid and verifies(ring, old_token)
    ring.rotate()
    ring.clock.advance(PUBLISH_BEFORE_SIGNING)
    assert verifies(ring, old_token)


def test_retired_keep_follows_the_longest_policy_session():
    from types import SimpleNamespace

    policies = SimpleNamespace(services={"a": SimpleNamespace(max_session=3600),
                                         "b": SimpleNamespace(max_session=8 * 3600)})
    assert retired_keep(policies) == 8 * 3600 + retired_keep() - LONGEST_SESSION
    assert retired_keep() == RETIRED_KEEP


def test_cli_rotate_publishes_first_and_now_switches(tmp_path):
    env = {"BRIDGE_POLICIES_DIR": "policies", "BRIDGE_KEYS_DIR": str(tmp_path / "keys"), "BRIDGE_ENV": "development",
           "BRIDGE_AUDIT_PATH": str(tmp_path / "audit.log")}
    ring = KeyRing(tmp_path / "keys")
    old = ring.signing_key("RS256").kid
    result = CliRunner().invoke(main, ["keys", "rotate"], env=env)
    assert result.exit_code == 0, result.output
    assert "signent à partir de" in result.output
    ring._load(create=False)
    assert ring.signing_key("RS256").kid == old and len(ring.pending()) == 2
    again = CliRunner().invoke(main, ["keys", "rotate"], env=env)
    assert again.exit_code != 0 and "--now" in again.output
    result = CliRunner().invoke(main, ["keys", "rotate", "--now"], env=env)
    assert result.exit_code == 0, result.output
    ring._load(create=False)
    assert ring.signing_key("RS256").kid != old and not ring.pending() and old in kids(ring)


def test_jwks_cache_lifetime_is_the_shared_constant(tmp_path):
    import shutil

    from app import create_app
    from bridge.config import load_settings
    from bridge.store.memory import MemoryStore

    (tmp_path / "policies").mkdir()
    shutil.copy("policies/demo-portail.yaml", tmp_path / "policies")    # PSC only: no trust store needed
    settings = load_settings({"BRIDGE_KEYS_DIR": str(tmp_path / "keys"),
                              "BRIDGE_POLICIES_DIR": str(tmp_path / "policies")})
    response = create_app(settings, store=MemoryStore(Clock())).test_client().get("/jwks")
    assert response.headers["Cache-Control"] == f"public, max-age={JWKS_MAX_AGE}"


def test_a_running_bridge_publishes_before_signing_and_keeps_old_tokens_verifiable(bridge_factory):
    """Through HTTP: an app that cached /jwks right after the rotation verifies every later ID token."""
    import requests

    from tests.support.bridge import PORTAIL, AppClient

    clock = Clock()
    server = bridge_factory(clock=clock)

    def id_token(user):
        app = AppClient(server.url, **PORTAIL)
        return app.exchange(app.login(requests.Session(), user=user)["code"])["id_token"]

    def published():
        return KeySet.import_key_set(requests.get(f"{server.url}/jwks", timeout=10).json())

    before = id_token("899700000002")
    old_kid = jwt.decode(before, published()).header["kid"]
    new_kids = server.bridge.keys.rotate()                    # what `bridge keys rotate` does, in this process
    cached = published()                                      # an app refreshes its JWKS cache now…
    during = id_token("899700000003")
    assert jwt.decode(during, cached).header["kid"] == old_kid   # …the old key still signs
    clock.advance(PUBLISH_BEFORE_SIGNING)
    server.psc.advance_clock(PUBLISH_BEFORE_SIGNING)          # PSC's tokens must not look 6 minutes old
    after = id_token("899700000002")
    assert jwt.decode(after, cached).header["kid"] in new_kids   # the new key signs: already in that cache
    clock.advance(LONGEST_SESSION)
    assert jwt.decode(before, published()).claims["sub"]      # id_token_hint from before the switch still ours
    clock.advance(RETIRED_KEEP - LONGEST_SESSION)
    with pytest.raises(InvalidKeyIdError):  # the retired key has left the JWKS
        jwt.decode(before, published())


def test_verify_reads_what_the_ring_signed_and_refuses_the_rest(ring, tmp_path):
    assert ring.verify(sign(ring)) == {"iss": "x", "sub": "s"}
    assert ring.verify(sign(ring, "ES256"))["sub"] == "s"
    stranger = KeyRing(tmp_path / "other", clock=Clock(fixed=T0))
    for token in (sign(stranger), "not.a.jwt", "", sign(ring)[:-4] + "AAAA"):
        with pytest.raises(ValueError):
            ring.verify(token)


def test_an_own_id_token_is_not_a_logout_token_nor_another_issuers():
    from bridge.provider.grants import is_own_id_token

    assert is_own_id_token({"iss": "https://sso", "sub": "899700000001", "sid": "s"}, "https://sso")
    assert not is_own_id_token({"iss": "https://sso", "sub": "x", "events": {}}, "https://sso")   # logout token
    assert not is_own_id_token({"iss": "https://other", "sub": "x"}, "https://sso")
    assert not is_own_id_token({"iss": "https://sso"}, "https://sso")
