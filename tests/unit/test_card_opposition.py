"""Card oppositions (bridge/pki/opposition.py) on the memory twin of the store: what a typed number may be, matching by
certificate or by the unauthenticated number, lifting, and « listée dans la LCR »."""
from __future__ import annotations

import pytest

from bridge.clock import Clock
from bridge.pki.opposition import OPPOSITION_TTL, Certificate, NumberError, Oppositions, typed_number
from bridge.store.memory import MemoryStore

A, B = "a" * 64, "b" * 64


@pytest.fixture
def oppositions():
    return Oppositions(MemoryStore(Clock()), Clock(1_800_000_000))


@pytest.mark.parametrize("typed", ["2400140649", "*2400140649*", " 24 0014 0649 ", "2400-140-649", "2400.140.649"])
def test_what_people_and_barcode_scanners_type_is_the_number(typed):
    assert typed_number(typed) == "2400140649"


@pytest.mark.parametrize("typed,code", [("", "card_number_empty"), ("  ", "card_number_empty"),
                                        ("24001A0649", "card_number_characters"),
                                        ("２４００１４０６４９", "card_number_characters"),   # full-width digits
                                        ("240014064", "card_number_length"), ("24001406490", "card_number_length")])
def test_anything_else_is_refused_with_its_reason(typed, code):
    with pytest.raises(NumberError) as refused:
        typed_number(typed)
    assert refused.value.code == code


def test_a_certificate_or_the_number_matches_and_a_lift_ends_both(oppositions):
    oppositions.declare("2400140649", by="899700000001", certificates=[Certificate(A, source="audit")])
    assert oppositions.match(A).by == "certificate"
    assert oppositions.match(A, "2999999999").by == "certificate"        # a lie about the number changes nothing
    assert oppositions.match(B, "2400140649").by == "number"
    assert oppositions.match(B, "2999999999") is None
    assert [o.number for o in oppositions.list()] == ["2400140649"]
    assert oppositions.lift("2400140649").number == "2400140649"
    assert oppositions.match(A, "2400140649") is None and oppositions.list() == []
    assert oppositions.lift("2400140649") is None


def test_a_second_declaration_keeps_the_first_and_adds_certificates(oppositions):
    first = oppositions.declare("2400140649", by="899700000001")
    oppositions.clock.advance(60)
    again = oppositions.declare("2400140649", by="899700000009", certificates=[Certificate(A, "CN=CA", "1f")])
    assert (again.declared_at, again.declared_by) == (first.declared_at, "899700000001")
    assert [c.sha256 for c in again.certificates] == [A]


def test_a_certificate_taken_over_by_another_opposition_keeps_its_pointer(oppositions):
    oppositions.declare("2400140649", by="x", certificates=[Certificate(A)])
    oppositions.declare("2400140650", by="x", certificates=[Certificate(A)])
    oppositions.lift("2400140649")
    assert oppositions.match(A).opposition.number == "2400140650"


def test_listed_in_the_crl_once_every_certificate_is(oppositions):
    class Crls:
        revoked = {int("1f", 16)}

        def listed(self, issuer, serial):
            return serial in self.revoked if issuer == "CN=CA" else None

    number_only = oppositions.declare("2400140649", by="x")
    assert not number_only.crl_listed                                     # a number alone: nothing a CRL lists
    opposition = oppositions.declare("2400140649", by="x", certificates=[Certificate(A, "CN=CA", "1f"),
                                                                          Certificate(B, "CN=CA", "2a")])
    assert not oppositions.check_crl(opposition, Crls()).crl_listed
    Crls.revoked.add(int("2a", 16))
    listed = oppositions.check_crl(opposition, Crls())
    assert listed.crl_listed and all(c.listed_at == oppositions.clock.now() for c in listed.certificates)


def test_every_key_expires(oppositions):
    oppositions.declare("2400140649", by="x", certificates=[Certificate(A)])
    store = oppositions.store
    for key in ("{opposition}:card:2400140649", "{opposition}:certs:2400140649", f"{{opposition}}:cert:{A}",
                "{opposition}:all"):
        assert 0 < store.ttl(key) <= OPPOSITION_TTL


def test_the_login_check_fails_closed_when_the_store_is_down(test_pki):
    """No answer from the store is no answer about the card: StoreUnavailable (HTTP 503), never a login."""
    from bridge.model import Authentication, Card, Identity
    from bridge.store import StoreUnavailable
    from bridge.upstream.cps import CpsLogin

    class Down(MemoryStore):
        def get_many(self, keys):
            raise StoreUnavailable("store unavailable: ConnectionError")

        def get(self, key):
            raise StoreUnavailable("store unavailable: ConnectionError")

    login = CpsLogin(Down(Clock()), Clock(), trust=None, origin="https://bridge.example")
    authn = Authentication(Identity("899700000001"), "cps-pin", ("sc", "pin"), "eidas1", 0, "cps-pin",
                           card=Card("CPS", serial="2400140649", cert_sha256=A))
    with pytest.raises(StoreUnavailable):
        login._not_opposed(authn)
    for certificate in (b"not a certificate", test_pki.card("899700000001").cert_der):
        login._revoked_noticed(certificate)   # informative only: a revoked card stays `certificate_revoked`
