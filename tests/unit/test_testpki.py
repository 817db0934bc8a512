"""The sandbox test PKI: deterministic, and shaped like IGC-Santé card certificates."""
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from bridge.card import certificate as certfields
from bridge.sandbox.testpki import TestPki, derive_rsa_key


def private_bytes(key):
    return key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def test_keys_are_derived_from_the_seed():
    a, b, c = derive_rsa_key("s1", "x"), derive_rsa_key("s1", "x"), derive_rsa_key("s2", "x")
    assert private_bytes(a) == private_bytes(b) != private_bytes(c)
    assert a.key_size == 2048


def test_same_seed_and_anchor_give_the_same_certificates(test_pki, tmp_path):
    again = TestPki(test_pki.seed, tmp_path, anchor=test_pki.anchor)
    assert again.card("899700000001").cert_der == test_pki.card("899700000001").cert_der
    assert list((tmp_path / "keys").iterdir())          # keys cached on disk for the next run


def test_card_certificate_layout(test_pki):
    cert = test_pki.card("899700000001", kind="CPS", family_name="SAGECH", given_name="CECILE",
                         profession="50").certificate
    first_rdn = list(cert.subject.rdns)[-1]
    assert {a.oid for a in first_rdn} == {NameOID.COMMON_NAME, NameOID.SURNAME, NameOID.GIVEN_NAME}
    assert cert.subject.get_attributes_for_oid(NameOID.TITLE)[0].value == "Sage-Femme"
    assert cert.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "FR"
    assert cert.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    dp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert dp[0].full_name[0].value.endswith("/ACI-FO-PP-TEST.crl")
    assert (certfields.profession_code(cert), certfields.product_category(cert), certfields.card_type(cert)) == \
        ("50", "80", "CPS")
    assert cert.issuer.rfc4514_string() == "CN=AC IGC-SANTE FORT PERSONNES TEST,OU=IGC-SANTE TEST,O=ASIP-SANTE,C=FR"


def test_card_type_codes_follow_tre_g02(test_pki):
    raw = {kind: test_pki.card("899700000001", kind=kind).certificate.extensions.get_extension_for_oid(
        certfields.OID_CARD_TYPE).value.value for kind in ("CPS", "CPF", "CPE", "CPA")}
    assert raw == {"CPS": b"\x04\x0200", "CPF": b"\x04\x0201", "CPE": b"\x04\x0202", "CPA": b"\x04\x0203"}


def test_revoked_cards_land_in_crl_directories_written_before(test_pki, tmp_path):
    crls = test_pki.crl_dir(tmp_path / "crl")
    revoked = test_pki.card("899700000099", revoked=True)
    crl = x509.load_der_x509_crl((crls / "ACI-FO-PP-TEST.crl").read_bytes())
    assert crl.get_revoked_certificate_by_serial_number(revoked.certificate.serial_number) is not None


def test_stale_crl_is_past_its_next_update(test_pki, tmp_path):
    crl = x509.load_der_x509_crl((test_pki.crl_dir(tmp_path, stale=True) / "ACI-FO-PP-TEST.crl").read_bytes())
    assert crl.next_update_utc < test_pki.anchor


def test_a_card_certificate_maps_to_the_neutral_identity(test_pki):
    from bridge.upstream.cps_claims import identity, title

    cert = test_pki.card("899700000001", kind="CPS", family_name="SAGECH", given_name="CECILE",
                         profession="50").certificate
    person = identity(cert)
    assert (person.national_id, person.family_name, person.given_name) == ("899700000001", "SAGECH", "CECILE")
    assert [e.profession for e in person.exercices] == ["50"] and title(cert) == "Sage-Femme"
