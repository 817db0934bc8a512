"""bridge.upstream.cps without HTTP: challenges, header parsing, means refusal, start-up wiring."""
from __future__ import annotations

import base64
import shutil
from dataclasses import replace
from datetime import UTC
from pathlib import Path
from urllib.parse import quote

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from bridge import cps_proof as proof
from bridge import pki
from bridge.card import errors as card_errors
from bridge.clock import Clock
from bridge.config import ConfigError, load_settings
from bridge.core import build_bridge
from bridge.policy import load_policies
from bridge.store.memory import MemoryStore
from bridge.upstream import cps
from bridge.web.messages import MESSAGES, message

ORIGIN = "https://bridge.example"


@pytest.fixture(scope="module")
def trust(test_pki, tmp_path_factory):
    base = tmp_path_factory.mktemp("cps-trust")
    return pki.TrustStore.from_directory(test_pki.trust_dir(base / "trust"), test_pki.crl_dir(base / "crl"))


@pytest.fixture
def clock():
    return Clock(fixed=noon_today())


def noon_today() -> float:
    from datetime import datetime

    return datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0).timestamp()


@pytest.fixture
def login(trust, clock):
    return cps.CpsLogin(MemoryStore(clock), clock, trust, ORIGIN)


def signed(material, challenge: str, origin: str = ORIGIN) -> tuple[str, str]:
    signature = material.private_key.sign(proof.signed_message(origin, challenge), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(material.cert_der).decode(), base64.b64encode(signature).decode()


def test_challenges_are_long_random_and_single_use(login, test_pki):
    first, second = login.issue("txn-1"), login.issue("txn-1")
    assert first.value != second.value and len(base64.urlsafe_b64decode(first.value + "==")) * 8 >= 128
    assert "|" not in first.value and first.origin == ORIGIN and first.ttl == 120
    authn = login.verify_proof("txn-1", first.value, *signed(test_pki.card(), first.value), "2000000001")
    assert authn.mie == "cps-pin" and authn.upstream == "cps-pin" and authn.acr == "eidas1"
    assert authn.amr == ("sc", "pin", "hwk", "mfa") and authn.card.serial == "2000000001"
    with pytest.raises(cps.CpsError) as refused:
        login.verify_proof("txn-1", first.value, *signed(test_pki.card(), first.value))
    assert refused.value.code == "challenge_invalid"


def test_a_challenge_expires_after_120_seconds(login, clock, test_pki):
    issued = login.issue("txn-1")
    clock.advance(119)
    login.verify_proof("txn-1", issued.value, *signed(test_pki.card(), issued.value))
    late = login.issue("txn-1")
    clock.advance(120)
    with pytest.raises(cps.CpsError) as refused:
        login.verify_proof("txn-1", late.value, *signed(test_pki.card(), late.value))
    assert refused.value.code == "challenge_expired"


def test_a_challenge_is_bound_to_its_transaction_and_consumed_by_a_wrong_one(login, test_pki):
    issued = login.issue("txn-1")
    with pytest.raises(cps.CpsError) as refused:
        login.verify_proof("txn-2", issued.value, *signed(test_pki.card(), issued.value))
    assert refused.value.code == "challenge_invalid"
    with pytest.raises(cps.CpsError):    # burnt by the attempt
        login.verify_proof("txn-1", issued.value, *signed(test_pki.card(), issued.value))


def test_pki_errors_keep_their_code(login, test_pki):
    issued = login.issue("txn-1")
    with pytest.raises(cps.CpsError) as refused:
        login.verify_proof("txn-1", issued.value, *signed(test_pki.card(expired=True), issued.value))
    assert refused.value.code == "certificate_expired"


def test_the_card_type_comes_from_the_certificate_not_the_agent(login, test_pki):
    issued = login.issue("txn-1")
    authn = login.verify_proof("txn-1", issued.value, *signed(test_pki.card(kind="CPE"), issued.value))
    assert authn.card.type == "CPE"


def test_an_odd_serial_from_the_agent_is_dropped(login, test_pki):
    issued = login.issue("txn-1")
    authn = login.verify_proof("txn-1", issued.value, *signed(test_pki.card(), issued.value), "<script>")
    assert authn.card.serial == ""


@pytest.mark.parametrize("url,origin", [("https://Bridge.example/sso/", "https://bridge.example"),
                                        ("https://bridge.example:443", "https://bridge.example"),
                                        ("http://127.0.0.1:8000", "http://127.0.0.1:8000")])
def test_public_origin(url, origin):
    assert cps.public_origin(url) == origin


def test_certificate_header_formats(test_pki):
    material = test_pki.card()
    pem = material.certificate.public_bytes(serialization.Encoding.PEM).decode()
    folded = pem.replace("\n", " ")                                        # Apache / HAProxy style
    bare = base64.b64encode(material.cert_der).decode()
    for value in (quote(pem, safe=""), pem, folded, bare):
        assert cps.certificate_from_header(value) == material.cert_der
    for value, code in (("", "cps_tls_no_certificate"), ("(null)", "bad_certificate")):
        with pytest.raises(cps.CpsError) as refused:
            cps.certificate_from_header(value)
        assert refused.value.code == code


@pytest.mark.parametrize("remote,proxies,trusted", [("10.1.2.3", ("10.0.0.0/8",), True),
                                                    ("127.0.0.1", ("10.0.0.0/8",), False),
                                                    ("::1", ("::1/128",), True),
                                                    (None, ("0.0.0.0/0",), False),
                                                    ("10.1.2.3", (), False)])
def test_proxy_trusted(remote, proxies, trusted):
    assert cps.proxy_trusted(remote, proxies) is trusted


def test_means_refusal():
    policies = load_policies(Path("policies"), dev=True)
    tele, dpi = policies.services["teleservice-historique"], policies.services["dpi"]
    now = noon_today()
    assert cps.means_refusal(tele, "cps-pin", now) == ()
    assert cps.means_refusal(tele, "cps-tls", now) == ("mie_not_allowed",)
    assert cps.means_refusal(dpi, "cps-pin", now) == ("mie_not_allowed",)
    assert cps.means_refusal(replace(tele, historical_teleservice=False), "cps-pin", now) == \
        ("not_historical_teleservice",)
    unattested = replace(tele, attestation=replace(tele.attestation, status="none", signed_on=None, valid_until=None))
    assert cps.means_refusal(unattested, "cps-pin", 1830000000.0) == ("attestation_missing",)   # 2027-12-28


def test_every_card_and_pki_error_has_a_french_and_an_english_sentence():
    from bridge.card.agent import STATUS
    from bridge.web.cps import PAGE_CODES

    codes = set(pki.ERROR_CODES) | {"pki_error"} | set(STATUS) - {"bad_host", "not_found", "method_not_allowed",
                                                                   "unsupported_media_type"}
    codes |= {cls.code for cls in vars(card_errors).values() if isinstance(cls, type)
              and issubclass(cls, card_errors.CardError)}
    codes |= set(PAGE_CODES) | {"challenge_invalid", "challenge_expired", "proof_malformed", "cps_tls_untrusted_proxy",
                                "cps_tls_no_certificate", "cps_unavailable"}
    codes -= {"mie_not_allowed", "not_historical_teleservice"}        # policy reasons: bridge.policy.messages
    missing = sorted(code for code in codes if code not in MESSAGES)
    assert not missing
    assert all(message(c, "fr") and message(c, "en") and message(c, "fr") != message(c, "en") for c in codes)


# --- start-up ---------------------------------------------------------------------------------------------------------
def test_a_service_allowing_cps_pin_needs_a_trust_dir(tmp_path):
    with pytest.raises(ConfigError, match=r"^BRIDGE_TRUST_DIR: .*teleservice-historique \(cps-pin\)"):
        build_bridge(load_settings({"BRIDGE_KEYS_DIR": str(tmp_path / "keys")}), store=MemoryStore())


def test_psc_only_policies_start_without_a_trust_dir(tmp_path):
    policies = tmp_path / "policies"
    policies.mkdir()
    for name in ("demo-portail.yaml", "dpi.yaml"):
        shutil.copy(Path("policies") / name, policies / name)
    bridge = build_bridge(load_settings({"BRIDGE_KEYS_DIR": str(tmp_path / "keys"),
                                         "BRIDGE_POLICIES_DIR": str(policies)}), store=MemoryStore())
    assert bridge.cps is None


def test_an_empty_trust_dir_is_a_start_up_error(tmp_path):
    (tmp_path / "trust").mkdir()
    settings = load_settings({"BRIDGE_KEYS_DIR": str(tmp_path / "keys"), "BRIDGE_TRUST_DIR": str(tmp_path / "trust")})
    with pytest.raises(ConfigError, match=r"^BRIDGE_TRUST_DIR: no IGC-Santé root"):
        build_bridge(settings, store=MemoryStore())


def test_the_trust_store_is_built_from_the_settings(tmp_path, test_pki):
    settings = load_settings({"BRIDGE_KEYS_DIR": str(tmp_path / "keys"), "BRIDGE_PUBLIC_URL": "https://sso.example/x",
                              "BRIDGE_TRUST_DIR": str(test_pki.trust_dir()), "BRIDGE_CRL_DIR": str(test_pki.crl_dir()),
                              "BRIDGE_CPS_ACR": "eidas2"})
    bridge = build_bridge(settings, store=MemoryStore())
    assert bridge.cps.origin == "https://sso.example" and bridge.cps.acr == "eidas2"
    assert len(bridge.cps.trust.roots) == 3


def test_bridge_cps_acr_must_be_one_value():
    with pytest.raises(ConfigError, match="^BRIDGE_CPS_ACR"):
        load_settings({"BRIDGE_CPS_ACR": "eidas1 eidas2"})
