"""Repeated bad card certificates (issue 19, item 3) over HTTP: counted per certificate and per source address;
beyond the threshold the certificate (or the address) is refused for the lockout with a clear message, an audit
line and a metric; a good card from the same address still logs in; the card endpoints are rate limited like
/authorize; a store outage fails closed."""
from __future__ import annotations

import json
import re
from html import unescape

import pytest
import requests

from bridge import metrics
from bridge.clock import Clock
from bridge.store import StoreUnavailable
from tests.integration.test_cps_login import CpsBrowser, next_url, pem_header, policies_with

LOCK = {"BRIDGE_CARD_FAILURES_PER_CERT": "3", "BRIDGE_CARD_FAILURES_PER_ADDRESS": "8",
        "BRIDGE_CARD_FAILURES_WINDOW": "15m", "BRIDGE_CARD_LOCKOUT": "10m"}


@pytest.fixture
def trust_env(test_pki, tmp_path):
    return {"BRIDGE_TRUST_DIR": str(test_pki.trust_dir()), "BRIDGE_CRL_DIR": str(test_pki.crl_dir()),
            "BRIDGE_AUDIT_PATH": str(tmp_path / "audit" / "audit.jsonl"), **LOCK}


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def bridge(bridge_factory, trust_env, clock):
    return bridge_factory(env=trust_env, clock=clock)


def attempt(bridge, material) -> requests.Response:
    """One whole card login (its own transaction) with `material`."""
    return CpsBrowser(bridge).login_with(material)


def locked_count(scope: str, event: str) -> float:
    return metrics.CARD_LOCKOUTS.labels(scope, event)._value.get()


def audit_lines(bridge) -> list[dict]:
    return [json.loads(line) for line in bridge.bridge.settings.audit_path.read_text().splitlines()]


def test_an_expired_card_is_locked_out_after_the_threshold_and_a_good_card_still_logs_in(bridge, test_pki, clock):
    expired = test_pki.card("899700000051", expired=True)
    locked_before, refused_before = locked_count("certificate", "locked"), locked_count("certificate", "refused")
    for _ in range(3):
        assert 'data-error-code="certificate_expired"' in attempt(bridge, expired).text
    assert locked_count("certificate", "locked") == locked_before + 1
    refused = attempt(bridge, expired)
    assert refused.status_code == 429 and 'data-error-code="card_locked"' in refused.text
    page = unescape(refused.text)
    assert "Trop de tentatives avec cette carte" in page and "Réessayez dans 10 minutes" in page
    assert locked_count("certificate", "refused") == refused_before + 1
    lockout = [line for line in audit_lines(bridge) if line.get("reason") == "card_lockout"]
    assert len(lockout) == 1 and lockout[0]["event"] == "login_failed"
    assert re.fullmatch(r"[0-9a-f]{64}", json.dumps(lockout[0]).split('"cert_sha256": "')[1][:64])
    # another card from the same address (the same hospital NAT) is not affected
    good = attempt(bridge, test_pki.card("899700000001"))
    assert "code=" in next_url(good)
    # after the lockout, the card is checked again (and refused for what it is)
    clock.advance(11 * 60)
    assert 'data-error-code="certificate_expired"' in attempt(bridge, expired).text


def test_the_message_is_in_english_too(bridge, test_pki):
    revoked = test_pki.card("899700000052", revoked=True)
    for _ in range(3):
        attempt(bridge, revoked)
    browser = CpsBrowser(bridge)
    browser.http.headers["Accept-Language"] = "en"
    response = browser.login_with(revoked)
    assert response.status_code == 429 and "Too many attempts with this card" in unescape(response.text)


def test_many_bad_cards_from_one_address_lock_the_address_at_its_own_higher_threshold(bridge, test_pki):
    before = locked_count("address", "locked")
    for n in range(8):
        attempt(bridge, test_pki.card(f"8997000001{n:02d}", expired=True))
    assert locked_count("address", "locked") == before + 1
    response = attempt(bridge, test_pki.card("899700000001"))
    assert response.status_code == 429 and 'data-error-code="address_locked"' in response.text


def test_cps_tls_failures_count_too(bridge_factory, trust_env, test_pki, tmp_path):
    policies = str(policies_with(tmp_path, "[psc, cps-tls]"))
    bridge = bridge_factory(env={**trust_env, "BRIDGE_POLICIES_DIR": policies, "BRIDGE_TRUSTED_PROXIES": "127.0.0.1/32",
                                 "BRIDGE_CLIENT_CERT_HEADER": "X-Client-Cert"})
    revoked = test_pki.card("899700000053", revoked=True)

    def tls(material):
        browser = CpsBrowser(bridge)
        browser.start()
        return browser.http.get(f"{bridge.url}/login/cps-tls", params={"txn": browser.txn}, timeout=10,
                                headers={"X-Client-Cert": pem_header(material)}, allow_redirects=False)
    for _ in range(3):
        assert tls(revoked).status_code == 403
    refused = tls(revoked)
    assert refused.status_code == 429 and "Trop de tentatives avec cette carte" in unescape(refused.text)


def test_a_store_outage_fails_closed(bridge, test_pki, monkeypatch):
    browser = CpsBrowser(bridge)
    browser.start()
    browser.page()
    issued = browser.new_challenge()

    def down(*args, **kwargs):
        raise StoreUnavailable("down")
    monkeypatch.setattr(type(bridge.bridge.store), "count", down)
    monkeypatch.setattr(type(bridge.bridge.store), "get", down)
    response = browser.login_with(test_pki.card("899700000054", expired=True), challenge=issued)
    assert response.status_code == 503 and "code=" not in response.headers.get("Location", "")


def test_the_card_endpoints_are_rate_limited_per_address(bridge_factory, trust_env, test_pki):
    bridge = bridge_factory(env={**trust_env, "BRIDGE_RATE_LIMIT_AUTHORIZE": "2/minute"})
    browser = CpsBrowser(bridge)
    browser.start()
    browser.page()
    answers = [browser.challenge().status_code for _ in range(3)]
    assert answers[:2] == [200, 200] and answers[2] == 429
