"""Server-side verification of card certificates and login proofs against the test PKI."""
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from bridge import cps_proof as proof
from bridge import pki
from bridge.config import load_settings
from bridge.model import Card
from bridge.sandbox.testpki import TestPki

ORIGIN, CHALLENGE = "https://bridge.example", "k3J9b2xQ0f1s8Zq7wXyT4A"


def sign(material, origin=ORIGIN, challenge=CHALLENGE):
    return material.private_key.sign(proof.signed_message(origin, challenge), padding.PKCS1v15(), hashes.SHA256())


@pytest.fixture(scope="module")
def now(test_pki):
    return test_pki.anchor + timedelta(hours=12)


@pytest.fixture(scope="module")
def trust(test_pki, tmp_path_factory):
    base = tmp_path_factory.mktemp("trust")
    test_pki.card("899700000003", revoked=True)     # so the CRLs list it
    return pki.TrustStore.from_directory(test_pki.trust_dir(base / "trust", include_legacy=True),
                                         test_pki.crl_dir(base / "crl"))


def verify(material, trust, now, **kwargs):
    return pki.verify_proof(material.cert_der, sign(material), ORIGIN, CHALLENGE, trust, now, **kwargs)


def test_valid_cps_gives_identity_and_card(test_pki, trust, now):
    material = test_pki.card("899700000001", family_name="MEDECIN", given_name="PAUL")
    verified = verify(material, trust, now, card_serial=material.serial)
    assert verified.identity.national_id == "899700000001"
    assert verified.identity.id_kind == "rpps"
    assert (verified.identity.family_name, verified.identity.given_name) == ("MEDECIN", "PAUL")
    assert verified.identity.exercices[0].profession == "10"
    assert verified.card == Card(type="CPS", serial=material.serial,
                                 cert_sha256=material.certificate.fingerprint(hashes.SHA256()).hex(),
                                 cert_issuer=verified.chain[1].subject.rfc4514_string(),
                                 cert_serial=format(material.certificate.serial_number, "x"))
    assert verified.title == "Médecin" and verified.product_category == "80"
    assert [c.subject.rfc4514_string() for c in verified.chain[1:]] == [
        "CN=AC IGC-SANTE FORT PERSONNES TEST,OU=IGC-SANTE TEST,O=ASIP-SANTE,C=FR",
        "CN=AC RACINE IGC-SANTE FORT TEST,OU=IGC-SANTE TEST,O=ASIP-SANTE,C=FR"]


@pytest.mark.parametrize("kind,profession", [("CPF", "50"), ("CPE", ""), ("CPA", "")])
def test_card_types_come_from_the_certificate(test_pki, trust, now, kind, profession):
    material = test_pki.card("899700000010", kind=kind, profession=profession or None)
    verified = verify(material, trust, now)
    assert verified.card.type == kind
    assert (verified.identity.exercices[0].profession if verified.identity.exercices else "") == profession


def test_certificate_without_card_type_is_refused_unless_a_fallback_is_configured(test_pki, trust, now):
    material = test_pki.card("899700000011", card_type_extension=False)
    with pytest.raises(pki.UnknownCardType):
        verify(material, trust, now)
    lenient = pki.TrustStore(trust.roots, trust.intermediates, trust.crls, card_type_fallback="CPS")
    assert verify(material, lenient, now).card.type == "CPS"


def test_expired_certificate(test_pki, trust, now):
    with pytest.raises(pki.CertificateExpired) as error:
        verify(test_pki.card("899700000001", expired=True), trust, now)
    assert error.value.code == "certificate_expired"


def test_not_yet_valid_certificate(test_pki, trust):
    with pytest.raises(pki.CertificateNotYetValid):
        verify(test_pki.card("899700000001"), trust, test_pki.anchor - timedelta(days=60))


def test_revoked_certificate(test_pki, trust, now):
    with pytest.raises(pki.CertificateRevoked) as error:
        verify(test_pki.card("899700000003", revoked=True), trust, now)
    assert error.value.code == "certificate_revoked"


def test_stale_crl_fails_closed(test_pki, tmp_path, now):
    store = pki.TrustStore.from_directory(test_pki.trust_dir(tmp_path / "trust"),
                                          test_pki.crl_dir(tmp_path / "crl", stale=True))
    with pytest.raises(pki.CrlStale):
        verify(test_pki.card("899700000001"), store, now)


def test_missing_crl_fails_closed(test_pki, tmp_path, now):
    crls = test_pki.crl_dir(tmp_path / "crl")
    (crls / "ACI-FO-PP-TEST.crl").unlink()
    store = pki.TrustStore.from_directory(test_pki.trust_dir(tmp_path / "trust"), crls)
    with pytest.raises(pki.CrlMissing):
        verify(test_pki.card("899700000001"), store, now)


def test_a_crl_signed_by_another_key_does_not_count(test_pki, tmp_path, now):
    crls = test_pki.crl_dir(tmp_path / "crl")
    impostor = TestPki("impostor", test_pki.directory / "impostor-keys", anchor=test_pki.anchor)
    (crls / "ACI-FO-PP-TEST.crl").write_bytes(
        impostor.crl("fort-personnes").public_bytes(serialization.Encoding.DER))
    store = pki.TrustStore.from_directory(test_pki.trust_dir(tmp_path / "trust"), crls)
    with pytest.raises(pki.CrlMissing):
        verify(test_pki.card("899700000001"), store, now)


def test_legacy_gip_cps_chain_is_refused_even_if_its_root_is_in_the_trust_dir(test_pki, trust, now):
    material = test_pki.card("899700000001", legacy=True)
    assert material.chain[0].subject.rfc4514_string() == "CN=GIP-CPS CLASSE-1,O=GIP-CPS,C=FR"
    with pytest.raises(pki.LegacyChain) as error:
        verify(material, trust, now)
    assert error.value.code == "legacy_chain"
    assert not any(pki.is_legacy(c.subject) for c in trust.roots + trust.intermediates)


def test_a_stray_file_in_the_trust_directory_is_named_and_skipped(test_pki, tmp_path, now, caplog):
    trust_dir = test_pki.trust_dir(tmp_path / "trust")
    (trust_dir / "README.txt").write_text("copied from the ANS site\n")
    (trust_dir / "truncated.pem").write_text("-----BEGIN CERTIFICATE-----\nMIIB\n")
    store = pki.TrustStore.from_directory(trust_dir, test_pki.crl_dir(tmp_path / "crl"))
    assert verify(test_pki.card("899700000001"), store, now).identity.national_id == "899700000001"
    skipped = [r.getMessage() for r in caplog.records if r.name == "bridge.pki" and "ignoring" in r.getMessage()]
    assert any("README.txt" in m for m in skipped) and any("truncated.pem" in m for m in skipped)
    for path in trust_dir.iterdir():
        if path.suffix != ".txt" and path.name != "truncated.pem":
            path.unlink()
    with pytest.raises(ValueError, match="no IGC-Santé root"):
        pki.TrustStore.from_directory(trust_dir)


def test_certificate_from_another_pki_is_untrusted(test_pki, trust, now):
    other = TestPki("someone-else", test_pki.directory / "other-keys", anchor=test_pki.anchor)
    material = other.card("899700000001")      # same CA names, different keys
    with pytest.raises(pki.UntrustedChain) as error:
        verify(material, trust, now)
    assert error.value.code == "untrusted_chain"


def test_signature_certificate_is_not_an_authentication_certificate(test_pki, trust, now):
    with pytest.raises(pki.BadKeyUsage):
        verify(test_pki.card("899700000001", usage="sign"), trust, now)


@pytest.mark.parametrize("origin,challenge", [(ORIGIN, "another-challenge-123"),
                                              ("https://evil.example", CHALLENGE)])
def test_signature_over_another_challenge_or_origin_is_refused(test_pki, trust, now, origin, challenge):
    material = test_pki.card("899700000001")
    signature = sign(material, origin, challenge)
    with pytest.raises(pki.BadSignature) as error:
        pki.verify_proof(material.cert_der, signature, ORIGIN, CHALLENGE, trust, now)
    assert error.value.code == "bad_signature"


def test_signature_by_another_key_is_refused(test_pki, trust, now):
    material, other = test_pki.card("899700000001"), test_pki.card("899700000002")
    with pytest.raises(pki.BadSignature):
        pki.verify_proof(material.cert_der, sign(other), ORIGIN, CHALLENGE, trust, now)


def test_garbage_certificate(trust, now):
    with pytest.raises(pki.BadCertificate):
        pki.verify_proof(b"not a certificate", b"x", ORIGIN, CHALLENGE, trust, now)


def test_epoch_seconds_are_accepted_as_now(test_pki, trust, now):
    assert verify(test_pki.card("899700000001"), trust, now.timestamp()).card.type == "CPS"


def test_trust_store_from_settings_and_p7b_bundle(test_pki, tmp_path, now):
    from cryptography.hazmat.primitives.serialization import pkcs7

    trust_dir = tmp_path / "trust"
    trust_dir.mkdir()
    bundle = pkcs7.serialize_certificates([test_pki.ca("root-fort"), test_pki.ca("fort-personnes")],
                                          serialization.Encoding.DER)
    (trust_dir / "Chaine_de_certification-IGC-Sante-TEST.p7b").write_bytes(bundle)
    settings = load_settings({"BRIDGE_TRUST_DIR": str(trust_dir),
                              "BRIDGE_CRL_DIR": str(test_pki.crl_dir(tmp_path / "crl"))})
    store = pki.TrustStore.from_settings(settings)
    assert not store.crls.fetch
    assert verify(test_pki.card("899700000001"), store, now).identity.national_id == "899700000001"


def test_error_codes_are_the_documented_ones():
    assert set(pki.ERROR_CODES) >= {"bad_signature", "untrusted_chain", "legacy_chain", "certificate_expired",
                                    "certificate_revoked", "crl_stale", "crl_missing", "bad_key_usage"}


# --- CRL distribution point download ---------------------------------------------------------------------------------
class CrlServer:
    def __init__(self):
        self.files, self.requests = {}, []
        files, requests = self.files, self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                requests.append(self.path)
                body = files.get(self.path)
                self.send_response(200 if body else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}/CRL"


@pytest.fixture
def crl_server():
    server = CrlServer()
    yield server
    server.server.shutdown()
    server.server.server_close()


def test_crl_distribution_points_are_fetched_and_cached_until_next_update(test_pki, crl_server, tmp_path, now):
    dp_pki = TestPki("pytest", test_pki.directory, anchor=test_pki.anchor, crl_base_url=crl_server.base)
    for name in ("root-fort", "fort-personnes"):
        crl_server.files[f"/CRL/{dp_pki.crl_url(name).rsplit('/', 1)[1]}"] = dp_pki.crl(name).public_bytes(
            serialization.Encoding.DER)
    store = pki.TrustStore.from_directory(dp_pki.trust_dir(tmp_path / "trust"), None, fetch_crls=True)
    material = dp_pki.card("899700000001")
    verify(material, store, now)
    assert sorted(crl_server.requests) == ["/CRL/ACI-FO-PP-TEST.crl", "/CRL/ACR-FO-TEST.crl"]
    verify(material, store, now + timedelta(days=1))
    assert len(crl_server.requests) == 2                       # still fresh: served from the cache
    later = TestPki("pytest", test_pki.directory, anchor=test_pki.anchor + timedelta(days=8),
                    crl_base_url=crl_server.base)              # same keys, CRLs issued a week later
    for name in ("root-fort", "fort-personnes"):
        crl_server.files[f"/CRL/{later.crl_url(name).rsplit('/', 1)[1]}"] = later.crl(name).public_bytes(
            serialization.Encoding.DER)
    verify(material, store, now + timedelta(days=8))           # past nextUpdate: both downloaded again
    assert len(crl_server.requests) == 4
    crl_server.files.clear()                                   # the CRL server goes away...
    with pytest.raises(pki.CrlStale):                          # ...and after the next nextUpdate we fail closed
        verify(material, store, now + timedelta(days=16))
    assert len(crl_server.requests) == 5


def test_without_crl_source_verification_fails_closed(test_pki, tmp_path, now):
    store = pki.TrustStore.from_directory(test_pki.trust_dir(tmp_path / "trust"), None, fetch_crls=False)
    with pytest.raises(pki.CrlMissing):
        verify(test_pki.card("899700000001"), store, now)


def test_the_crl_at_hand_says_whether_it_lists_a_certificate(test_pki, tmp_path):
    revoked, valid = test_pki.card("899700000061", revoked=True), test_pki.card("899700000062")
    trust = pki.TrustStore.from_directory(test_pki.trust_dir(tmp_path / "t"), test_pki.crl_dir(tmp_path / "c"))
    issuer = revoked.certificate.issuer.rfc4514_string()
    assert trust.listed(issuer, revoked.certificate.serial_number) is True
    assert trust.listed(issuer, valid.certificate.serial_number) is False
    assert trust.listed("CN=Unknown CA", valid.certificate.serial_number) is None
