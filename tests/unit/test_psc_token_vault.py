"""The PSC tokens a session keeps for the token relay are encrypted at rest (AES-GCM, key from BRIDGE_SECRET_KEY,
the store key as associated data): the raw store value holds no token, and it opens for no other key or session."""
from __future__ import annotations

from types import SimpleNamespace

from bridge.clock import Clock
from bridge.sessions import Sessions
from bridge.store.memory import MemoryStore
from bridge.upstream import psc_tokens
from tests.unit.test_policy_support import NOW, login

ACCESS, REFRESH = "eyJhbGciOiJSUzI1NiJ9.PSC-ACCESS-abcdefghijklmnop.sig", "PSC-REFRESH-0123456789abcdefghij"


def parts(secret: str = "a-secret-key-of-the-bridge-32-bytes!"):
    clock = Clock(fixed=NOW)
    store = MemoryStore(clock)
    return SimpleNamespace(clock=clock, store=store, sessions=Sessions(store, clock),
                           settings=SimpleNamespace(secret_key=secret), record=lambda *a, **k: {})


def test_the_raw_store_value_holds_no_token():
    bridge = parts()
    session = bridge.sessions.create(login())
    psc_tokens.keep_psc_tokens(bridge, session.sid, {"access_token": ACCESS, "refresh_token": REFRESH,
                                                     "expires_in": 120, "refresh_expires_in": 1800,
                                                     "session_state": "psc-sid-1"})
    raw = bridge.store.get(f"psct:{{{session.sid}}}")
    assert raw.startswith(psc_tokens.PREFIX)
    for secret in (ACCESS, REFRESH, "PSC-ACCESS", "PSC-REFRESH", "psc-sid-1"):
        assert secret not in raw
    kept = psc_tokens.load(bridge, session.sid)
    assert (kept["at"], kept["rt"], kept["at_exp"], kept["rt_exp"]) == (ACCESS, REFRESH, NOW + 120, NOW + 1800)
    assert psc_tokens.sessions_of(bridge, psc_sid="psc-sid-1") == {session.sid}


def test_the_value_opens_for_no_other_key_and_no_other_session():
    bridge = parts()
    one, two = bridge.sessions.create(login()), bridge.sessions.create(login())
    psc_tokens.keep_psc_tokens(bridge, one.sid, {"access_token": ACCESS, "refresh_token": REFRESH})
    raw = bridge.store.get(f"psct:{{{one.sid}}}")
    assert psc_tokens.unseal("another-secret-key", f"psct:{{{one.sid}}}", raw) is None
    bridge.store.set(f"psct:{{{two.sid}}}", raw, 600)   # copied under another session: refused
    assert psc_tokens.load(bridge, two.sid) is None
    tampered = raw[:-4] + ("AAAA" if raw[-4:] != "AAAA" else "BBBB")
    assert psc_tokens.unseal(bridge.settings.secret_key, f"psct:{{{one.sid}}}", tampered) is None
    assert psc_tokens.unseal(bridge.settings.secret_key, f"psct:{{{one.sid}}}", "v1.!!") is None


def test_odd_lifetimes_from_psc_fall_back_to_its_documented_ones():
    bridge = parts()
    session = bridge.sessions.create(login())
    psc_tokens.keep_psc_tokens(bridge, session.sid, {"access_token": ACCESS, "refresh_token": REFRESH,
                                                     "expires_in": "soon", "refresh_expires_in": 10 ** 9})
    kept = psc_tokens.load(bridge, session.sid)
    assert (kept["at_exp"], kept["rt_exp"]) == (NOW + 120, NOW + 4 * 3600)


def test_the_session_just_opened_is_not_read_back():
    """The login callback hands over the session it opened: keep_psc_tokens does not read it from the store again
    (two round trips per login), and without it the session is looked up as before."""
    bridge = parts()
    session = bridge.sessions.create(login())
    reads = []
    get_json = bridge.store.get_json
    bridge.store.get_json = lambda key: reads.append(key) or get_json(key)
    psc_tokens.keep_psc_tokens(bridge, session.sid, {"access_token": ACCESS}, session)
    assert reads == [] and psc_tokens.load(bridge, session.sid)["at"] == ACCESS
    other = bridge.sessions.create(login())
    psc_tokens.keep_psc_tokens(bridge, other.sid, {"access_token": ACCESS}, session)   # not that session: looked up
    assert len(reads) == 1 and psc_tokens.load(bridge, other.sid)["at"] == ACCESS
