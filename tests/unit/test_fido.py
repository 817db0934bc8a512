"""Passkeys (bridge.upstream.fido) against a software authenticator (tests/support/fido.py): enrolment bound to a
recent strong login, assertions checked for origin, RP ID, user verification, signature counter, revoked and
expired keys, and the failure lockout (R8)."""
from __future__ import annotations

import json

import pytest

from bridge.clock import Clock
from bridge.config import load_settings
from bridge.model import Authentication, Exercice, Identity
from bridge.sessions import Sessions
from bridge.store.memory import MemoryStore
from bridge.upstream.fido import FidoError, FidoFailures, Passkeys, rp_id_problem
from tests.support.fido import SoftKey

ORIGIN = "http://localhost:8000"
NOW = 1_800_000_000.0


def psc_login(mie="psc-card", upstream="psc", at=NOW, national_id="810000000001"):
    identity = Identity(national_id=national_id, given_name="Jeanne", family_name="Martin",
                        exercices=(Exercice(profession="10", family_name="MARTIN", given_name="JEANNE"),))
    return Authentication(identity=identity, mie=mie, amr=("mfa",), acr="eidas2", auth_time=int(at),
                          upstream=upstream)


@pytest.fixture
def world():
    clock = Clock(fixed=NOW)
    store = MemoryStore(clock)
    settings = load_settings({"BRIDGE_PUBLIC_URL": ORIGIN})
    return clock, store, Passkeys(store, clock, settings), Sessions(store, clock)


def enrolled(world, *, synced=False):
    clock, store, keys, sessions = world
    session = sessions.create(psc_login())
    soft = SoftKey(synced=synced)
    key = keys.register(session, soft.register(keys.registration_options(session), origin=ORIGIN), "Clé bleue")
    return session, soft, key


def test_enrolment_after_psc_login_then_login_gives_the_enrolment_identity(world):
    clock, store, keys, sessions = world
    session, soft, key = enrolled(world)
    assert (key.national_id, key.name, key.enrolled_with) == ("810000000001", "Clé bleue", "psc-card")
    assert key.expires == NOW + 3 * 365 * 86400   # default and maximum: 3 years (RIE-PS 08)
    clock.advance(3600)
    options = keys.authentication_options("txn-1")
    assert options["userVerification"] == "required" and options["rpId"] == "localhost"
    assert options.get("allowCredentials", []) == []   # discoverable: nobody types an identifier
    found, authn = keys.verify("txn-1", soft.assert_(options, origin=ORIGIN))
    assert found.id == key.id and found.sign_count == 1 and found.last_used == NOW + 3600
    assert (authn.mie, authn.upstream, authn.acr, authn.amr) == ("local-fido", "local-fido", "eidas1",
                                                                 ("hwk", "user", "mfa"))
    assert authn.identity.family_name == "Martin" and authn.identity.exercices[0].profession == "10"
    assert authn.auth_time == int(NOW + 3600)


def test_registration_options_require_user_verification_and_prefer_resident_keys(world):
    clock, store, keys, sessions = world
    options = keys.registration_options(sessions.create(psc_login()))
    selection = options["authenticatorSelection"]
    assert selection["userVerification"] == "required" and selection["residentKey"] == "preferred"
    assert options["rp"]["id"] == "localhost" and options["attestation"] == "none"
    assert "810000000001" not in json.dumps(options["user"]["id"])   # the user handle holds no national id


def test_a_synced_passkey_is_a_software_key(world):
    clock, store, keys, sessions = world
    _, soft, _ = enrolled(world, synced=True)
    _, authn = keys.verify("t", soft.assert_(keys.authentication_options("t"), origin=ORIGIN))
    assert authn.amr == ("swk", "user", "mfa")


@pytest.mark.parametrize("mie,upstream", [("local-fido", "local-fido"), ("backup", "backup")])
def test_no_enrolment_after_a_login_that_proved_no_identity(world, mie, upstream):
    clock, store, keys, sessions = world
    with pytest.raises(FidoError) as caught:
        keys.registration_options(sessions.create(psc_login(mie=mie, upstream=upstream)))
    assert caught.value.code == "fido_enrol_not_strong"


def test_no_enrolment_without_a_recent_strong_login(world):
    clock, store, keys, sessions = world
    session = sessions.create(psc_login(mie="cps-pin", upstream="cps-pin"))
    assert keys.enrol_refusal(session) is None
    clock.advance(301)   # BRIDGE_FIDO_ENROL_WINDOW: 5 minutes
    assert keys.enrol_refusal(session) == ("fido_enrol_too_old", 5)
    with pytest.raises(FidoError) as caught:
        keys.registration_options(session)
    assert caught.value.code == "fido_enrol_too_old"


def test_a_registration_started_in_time_but_finished_too_late_is_refused(world):
    clock, store, keys, sessions = world
    session = sessions.create(psc_login())
    options = keys.registration_options(session)
    clock.advance(300 + 121)
    with pytest.raises(FidoError) as caught:
        keys.register(session, SoftKey().register(options, origin=ORIGIN), "x")
    assert caught.value.code in ("fido_enrol_too_old", "fido_challenge_invalid")


@pytest.mark.parametrize("change,code", [
    ({"origin": "http://evil.example:8000"}, "fido_wrong_origin"),
    ({"rp_id": "evil.example"}, "fido_wrong_rp"),
    ({"uv": False}, "fido_no_user_verification"),
    ({"challenge": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}, "fido_challenge_invalid"),
])
def test_bad_registrations(world, change, code):
    clock, store, keys, sessions = world
    session = sessions.create(psc_login())
    options = keys.registration_options(session)
    with pytest.raises(FidoError) as caught:
        keys.register(session, SoftKey().register(options, **{"origin": ORIGIN, **change}), "x")
    assert caught.value.code == code
    assert keys.keys("810000000001") == []


def test_a_registration_challenge_belongs_to_its_session_and_is_single_use(world):
    clock, store, keys, sessions = world
    session, other = sessions.create(psc_login()), sessions.create(psc_login(national_id="810000000002"))
    options = keys.registration_options(session)
    soft = SoftKey()
    with pytest.raises(FidoError) as caught:
        keys.register(other, soft.register(options, origin=ORIGIN), "x")
    assert caught.value.code == "fido_challenge_invalid"
    with pytest.raises(FidoError):   # consumed by the failed attempt: single use
        keys.register(session, soft.register(options, origin=ORIGIN), "x")


@pytest.mark.parametrize("change,code", [
    ({"origin": "https://evil.example"}, "fido_wrong_origin"),
    ({"rp_id": "evil.example"}, "fido_wrong_rp"),
    ({"uv": False}, "fido_no_user_verification"),
])
def test_bad_assertions(world, change, code):
    clock, store, keys, sessions = world
    _, soft, _ = enrolled(world)
    with pytest.raises(FidoError) as caught:
        keys.verify("t", soft.assert_(keys.authentication_options("t"), **{"origin": ORIGIN, **change}))
    assert caught.value.code == code


def test_an_assertion_challenge_is_single_use_and_bound_to_its_login(world):
    clock, store, keys, sessions = world
    _, soft, _ = enrolled(world)
    options = keys.authentication_options("t1")
    with pytest.raises(FidoError) as caught:
        keys.verify("t2", soft.assert_(options, origin=ORIGIN))
    assert caught.value.code == "fido_challenge_invalid"
    with pytest.raises(FidoError):
        keys.verify("t1", soft.assert_(options, origin=ORIGIN))


def test_a_signature_counter_going_backwards_is_a_cloned_authenticator(world):
    clock, store, keys, sessions = world
    _, soft, key = enrolled(world)
    keys.verify("a", soft.assert_(keys.authentication_options("a"), origin=ORIGIN))
    keys.verify("b", soft.assert_(keys.authentication_options("b"), origin=ORIGIN))
    with pytest.raises(FidoError) as caught:
        keys.verify("c", soft.assert_(keys.authentication_options("c"), origin=ORIGIN, counter=1))
    assert caught.value.code == "fido_cloned" and caught.value.key.id == key.id
    assert keys.get(key.national_id, key.id).sign_count == 2


def test_a_forged_signature_is_refused(world):
    clock, store, keys, sessions = world
    _, soft, _ = enrolled(world)
    impostor = SoftKey()
    impostor.credential_id, impostor.user_handle = soft.credential_id, soft.user_handle
    with pytest.raises(FidoError) as caught:
        keys.verify("t", impostor.assert_(keys.authentication_options("t"), origin=ORIGIN))
    assert caught.value.code == "fido_invalid"


def test_a_revoked_key_is_refused_and_says_so(world):
    clock, store, keys, sessions = world
    _, soft, key = enrolled(world)
    assert keys.revoke(key.national_id, key.id).id == key.id
    assert keys.keys(key.national_id) == []
    with pytest.raises(FidoError) as caught:
        keys.verify("t", soft.assert_(keys.authentication_options("t"), origin=ORIGIN))
    assert caught.value.code == "fido_key_revoked"


def test_an_expired_key_is_refused(world):
    clock, store, keys, sessions = world
    _, soft, key = enrolled(world)
    clock.advance(3 * 365 * 86400)
    with pytest.raises(FidoError) as caught:
        keys.verify("t", soft.assert_(keys.authentication_options("t"), origin=ORIGIN))
    assert caught.value.code == "fido_key_expired"
    assert keys.keys(key.national_id)[0].expired(clock.now())   # still listed, as expired


def test_rename_keeps_printable_text_only(world):
    clock, store, keys, sessions = world
    _, _, key = enrolled(world)
    assert keys.rename(key.national_id, key.id, "  Clé\x07   du   bureau ").name == "Clé du bureau"
    assert keys.rename(key.national_id, key.id, "   ") is None
    assert keys.rename("810000000009", key.id, "x") is None   # someone else's key: not found


def test_failures_lock_the_key_then_the_lock_ends(world):
    clock, store, keys, sessions = world
    failures = FidoFailures(store, clock, keys.settings)
    for _ in range(4):
        assert failures.failed("fido_invalid", "K", "10.0.0.1") == []
    assert failures.locked("K", "10.0.0.1") is None
    assert failures.failed("fido_invalid", "K", "10.0.0.1") == ["key"]
    assert failures.locked("K", "10.0.0.2") == ("key", 5)
    assert failures.locked("other", "10.0.0.1") is None   # the address allows 50
    assert failures.failed("fido_challenge_invalid", "L", "10.0.0.1") == []   # says nothing about the key
    clock.advance(301)
    assert failures.locked("K", "10.0.0.1") is None


def test_an_ip_address_is_no_rp_id():
    assert rp_id_problem("127.0.0.1") and rp_id_problem("::1")
    assert rp_id_problem("localhost") is None and rp_id_problem("bridge.example") is None


def test_a_key_failing_25_times_in_a_day_is_refused_for_a_day(world):
    clock, store, keys, sessions = world
    failures = FidoFailures(store, clock, keys.settings)
    for n in range(1, 25):
        failures.failed("fido_invalid", "K", None)
        if n % 5 == 0:   # each burst of 5 locks for 5 minutes; wait it out and leave the 15-minute window
            assert failures.locked("K", None) == ("key", 5)
            clock.advance(16 * 60)
    assert failures.locked("K", None) is None
    assert failures.failed("fido_invalid", "K", None) == ["key"]   # the 25th of the day (R8: at most 25 per 24 h)
    assert failures.locked("K", None) == ("key", 24 * 60)
    clock.advance(24 * 3600)
    assert failures.locked("K", None) is None


def test_after_a_lockout_one_more_failure_in_the_window_locks_again(world):
    clock, store, keys, sessions = world
    failures = FidoFailures(store, clock, keys.settings)
    for _ in range(5):
        failures.failed("fido_invalid", "K", None)
    clock.advance(301)
    assert failures.locked("K", None) is None
    assert failures.failed("fido_invalid", "K", None) == ["key"]
    assert failures.locked("K", None) == ("key", 5)


def test_re_enrolment_after_expiry_needs_a_new_strong_login_then_works(world):
    clock, store, keys, sessions = world
    _, soft, old = enrolled(world)
    clock.advance(3 * 365 * 86400 + 1)
    stale = sessions.create(psc_login(at=NOW))
    assert keys.enrol_refusal(stale)[0] == "fido_enrol_too_old"   # the old login proves nothing today
    session = sessions.create(psc_login(at=clock.now()))
    options = keys.registration_options(session)
    assert options.get("excludeCredentials", []) == []   # the expired key does not stop its authenticator
    again = SoftKey()
    new = keys.register(session, again.register(options, origin=ORIGIN), "Clé renouvelée")
    assert new.expires == clock.now() + 3 * 365 * 86400
    assert keys.verify("t", again.assert_(keys.authentication_options("t"), origin=ORIGIN))[0].id == new.id
    assert [k.id for k in keys.keys(old.national_id)] == [old.id, new.id]   # the expired one still listed, as such
