"""Direct CPS PIN login over HTTP: app -> bridge -> card proof -> bridge -> app, with a real Redis store.

Certificate and policy cases sign proofs with the test PKI's private keys (no card needed); the card cases go
through the real pcscd + virtual card + card agent, exactly as the login page does.
"""
from __future__ import annotations

import base64
import json
import re
import time
from dataclasses import replace
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, quote, urljoin, urlsplit

import pytest
import requests
import structlog
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from bridge import cps_proof as proof
from bridge.clock import Clock
from bridge.sessions import COOKIE
from bridge.upstream.cps import CHALLENGE_TTL
from tests.support.bridge import AppClient
from tests.support.pcsc import wait_card_state

TELESERVICE = {"client_id": "teleservice-web", "client_secret": "teleservice-secret",
               "redirect_uri": "http://127.0.0.1:8002/teleservice/callback", "scope": "openid profile rpps"}
DPI = {"client_id": "dpi-web", "client_secret": "dpi-secret",
       "redirect_uri": "http://127.0.0.1:8002/dpi/callback", "scope": "openid profile rpps"}
SERVICE = "teleservice-historique"
PIN = "4729"
PIN_ALONE = re.compile(rf"(?<![\w-]){PIN}(?![\w-])")   # the PIN as a value, not inside a random token


# --- helpers ---------------------------------------------------------------------------------------------------------
def sign(material, challenge: str, origin: str) -> bytes:
    return material.private_key.sign(proof.signed_message(origin, challenge), padding.PKCS1v15(), hashes.SHA256())


class CpsBrowser:
    """A browser doing what templates/cps_login.html + cps-login.js do, minus the agent when a test signs itself."""

    def __init__(self, bridge, client: dict = TELESERVICE, http: requests.Session | None = None, **authorize):
        self.bridge, self.url, self.authorize = bridge, bridge.url, authorize
        self.app = AppClient(bridge.url, **client)
        self.http = http or requests.Session()
        self.txn = self.csrf = None

    def start(self) -> requests.Response:
        """/authorize -> the chooser; returns the chooser page."""
        first = self.http.get(self.app.authorize_url(**self.authorize), allow_redirects=False, timeout=10)
        assert first.status_code == 302, first.text
        location = urljoin(self.url, first.headers["Location"])
        self.txn = parse_qs(urlsplit(location).query)["txn"][0]
        return self.http.get(location, allow_redirects=False, timeout=10)

    def page(self) -> requests.Response:
        response = self.http.get(f"{self.url}/login/cps", params={"txn": self.txn}, timeout=10)
        found = re.search(r'name="csrf" value="([^"]+)"', response.text)
        self.csrf = unescape(found.group(1)) if found else self.bridge.bridge.transactions.get(self.txn).csrf
        return response

    def challenge(self, **override) -> requests.Response:
        body = {"txn": self.txn, "csrf": self.csrf, **override}
        return self.http.post(f"{self.url}/login/cps/challenge", json=body, timeout=10)

    def new_challenge(self) -> dict:
        response = self.challenge()
        assert response.status_code == 200, response.text
        return response.json()

    def post_proof(self, challenge_value: str, cert_der: bytes, sig: bytes, card: dict | None = None,
                   **override) -> requests.Response:
        """The form cps-login.js submits; `override` replaces any field (forged or malformed values)."""
        form = {"txn": self.txn, "csrf": self.csrf, "challenge": challenge_value,
                "certificate": base64.b64encode(cert_der).decode(), "signature": base64.b64encode(sig).decode(),
                "card_type": (card or {}).get("type", ""), "card_serial": (card or {}).get("serial", ""), **override}
        self.last_proof_form = form
        return self.http.post(f"{self.url}/login/cps/proof", data=form, allow_redirects=False, timeout=30)

    def login_with(self, material, *, origin: str | None = None, challenge: dict | None = None,
                   signed_challenge: str | None = None) -> requests.Response:
        """Start, open the page, get a challenge and post a proof signed with the card's key."""
        if self.txn is None:
            self.start()
            self.page()
        issued = challenge or self.new_challenge()
        signature = sign(material, signed_challenge or issued["challenge"], origin or issued["origin"])
        return self.post_proof(issued["challenge"], material.cert_der, signature,
                               {"type": material.kind, "serial": material.serial})

    def code(self, response: requests.Response) -> dict:
        location = next_url(response)
        assert location.startswith(self.app.redirect_uri), location
        return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}

    def has_session(self) -> bool:
        return any(c.name == COOKIE for c in self.http.cookies)


def next_url(response: requests.Response) -> str:
    """Where a successful proof sends the browser: its redirect, or the page that first hands the card's removal
    capability to the agent (bridge/web/removal.py) and then goes to the same place."""
    if response.status_code == 200 and 'id="card-watch"' in response.text:
        return unescape(re.search(r'data-next="([^"]*)"', response.text).group(1))
    assert response.status_code == 302, response.text[:2000]
    return response.headers["Location"]


def assert_refused(browser: CpsBrowser, response: requests.Response, code: str, status: int) -> None:
    """A refusal: the right status and error code, no SSO session cookie, no code for the app."""
    assert response.status_code == status, response.text[:2000]
    assert f'data-error-code="{code}"' in response.text
    assert COOKIE not in response.cookies and not browser.has_session()
    assert "code=" not in response.headers.get("Location", "")


def assert_denied(browser: CpsBrowser, response: requests.Response, reason_text: str) -> None:
    assert response.status_code == 403, response.text[:2000]
    page = unescape(response.text)
    assert "Accès refusé" in page and reason_text in page
    assert COOKIE not in response.cookies and not browser.has_session()
    assert "Location" not in response.headers


def page_messages(page_html: str) -> dict:
    block = re.search(r'<script type="application/json" id="cps-messages">(.*?)</script>', page_html, re.S)
    return json.loads(block.group(1))


def shown(messages: dict, code: str, tries: int | None = None) -> str:
    """What cps-login.js displays for an agent error (same substitution as its text())."""
    if code == "wrong_pin" and tries == 1:
        code = "wrong_pin_last"
    return messages.get(code, messages["default"]).replace("{tries}", str(tries))


def policies_with(tmp_path: Path, allowed: str) -> Path:
    directory = tmp_path / "policies"
    directory.mkdir(exist_ok=True)
    for source in Path("policies").glob("*.yaml"):
        text = source.read_text()
        if source.name == "teleservice-historique.yaml":
            text = re.sub(r"allowed_mie: \[psc, cps-pin[^]]*\]", f"allowed_mie: {allowed}", text)
            assert allowed in text
        (directory / source.name).write_text(text)
    return directory


@pytest.fixture
def trust_env(test_pki):
    return {"BRIDGE_TRUST_DIR": str(test_pki.trust_dir()), "BRIDGE_CRL_DIR": str(test_pki.crl_dir())}


@pytest.fixture
def bridge(bridge_factory, trust_env):
    return bridge_factory(env=trust_env)


# --- the happy path --------------------------------------------------------------------------------------------------
def test_cps_pin_login_gives_the_app_a_code_and_tokens_for_the_card_holder(bridge, test_pki):
    material = test_pki.card("899700000001", family_name="MEDECIN", given_name="PAUL")
    browser = CpsBrowser(bridge)
    chooser = browser.start()
    assert f'href="/login/cps?txn={browser.txn}"' in chooser.text and 'data-mie="cps-pin"' in chooser.text
    page = browser.page()
    assert page.status_code == 200
    # The page may talk to the workstation agent, and only this page.
    csp = page.headers["Content-Security-Policy"]
    assert "connect-src 'self' http://127.0.0.1:47811" in csp and "script-src" not in csp
    assert "<script>" not in page.text          # no inline script: the CSP forbids it
    pin_input = re.search(r'<input id="cps-pin"[^>]*>', page.text).group(0)
    for attribute in ('type="password"', 'inputmode="numeric"', 'autocomplete="off"', 'maxlength="4"'):
        assert attribute in pin_input
    assert "name=" not in pin_input              # never serialised into any form
    assert '<label for="cps-pin">' in page.text
    assert f"bridge card-agent --allow-origin {bridge.url}" in page.text
    messages = page_messages(page.text)    # what the script shows for the challenge endpoint's refusals too
    assert "téléservices historiques autorisés par l'ANS" in messages["not_historical_teleservice"]
    assert messages["store_unavailable"].startswith("Le service d'authentification est momentanément indisponible")

    issued = browser.new_challenge()
    assert issued["origin"] == bridge.url and issued["expires_in"] == CHALLENGE_TTL
    assert len(base64.urlsafe_b64decode(issued["challenge"] + "==")) >= 16     # ≥ 128 bits
    assert browser.new_challenge()["challenge"] != issued["challenge"]

    result = browser.code(browser.login_with(material, challenge=issued))
    assert browser.has_session()
    claims = browser.app.verify_id_token(browser.app.exchange(result["code"])["id_token"])
    assert claims["sub"] == "899700000001" and claims["mie"] == "cps-pin"
    assert claims["acr"] == "eidas1" and set(claims["amr"]) == {"sc", "pin", "hwk", "mfa"}
    session = bridge.bridge.sessions.load(browser.http.cookies[COOKIE])
    authn = session.authn
    assert authn.upstream == "cps-pin" and authn.card.type == "CPS" and authn.card.serial == material.serial
    assert authn.card.cert_sha256 == material.certificate.fingerprint(hashes.SHA256()).hex()
    assert (authn.identity.family_name, authn.identity.exercices[0].profession) == ("MEDECIN", "10")


def test_acr_of_direct_card_logins_is_configurable(bridge_factory, trust_env, test_pki):
    bridge = bridge_factory(env={**trust_env, "BRIDGE_CPS_ACR": "eidas2"})
    browser = CpsBrowser(bridge)
    result = browser.code(browser.login_with(test_pki.card("899700000001")))
    assert browser.app.verify_id_token(browser.app.exchange(result["code"])["id_token"])["acr"] == "eidas2"


def test_the_challenge_needs_the_transaction_its_browser_and_its_csrf_token(bridge):
    browser = CpsBrowser(bridge)
    browser.start()
    browser.page()
    assert browser.challenge(csrf="forged").status_code == 403
    assert browser.challenge(csrf="forged").json()["error"] == "csrf"
    stranger = requests.post(f"{bridge.url}/login/cps/challenge", json={"txn": browser.txn, "csrf": browser.csrf},
                             timeout=10)      # another browser: no binding cookie
    assert stranger.status_code == 400 and stranger.json()["error"] == "txn_invalid"
    assert browser.challenge().status_code == 200


def test_a_proof_with_a_forged_csrf_token_is_refused(bridge, test_pki):
    browser = CpsBrowser(bridge)
    browser.start()
    browser.page()
    issued = browser.new_challenge()
    material = test_pki.card("899700000001")
    response = browser.post_proof(issued["challenge"], material.cert_der,
                                  sign(material, issued["challenge"], issued["origin"]), csrf="forged")
    assert_refused(browser, response, "csrf", 403)


# --- certificates -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("options,code", [
    ({"expired": True}, "certificate_expired"),
    ({"revoked": True}, "certificate_revoked"),
    ({"legacy": True}, "legacy_chain"),
    ({"usage": "sign"}, "bad_key_usage"),
])
def test_unacceptable_certificates_are_refused(bridge_factory, trust_env, test_pki, options, code):
    material = test_pki.card("899700000021", **options)      # before the bridge: the CRLs list it if revoked
    browser = CpsBrowser(bridge_factory(env=trust_env))
    response = browser.login_with(material)
    assert_refused(browser, response, code, 403)
    assert 'id="cps-pin"' in response.text       # back on the page: the user can switch to PSC from there
    assert "/login/psc?txn=" in response.text


def test_a_stale_crl_refuses_every_card(bridge_factory, test_pki, tmp_path):
    stale = test_pki.crl_dir(tmp_path / "stale", stale=True)
    browser = CpsBrowser(bridge_factory(env={"BRIDGE_TRUST_DIR": str(test_pki.trust_dir()),
                                             "BRIDGE_CRL_DIR": str(stale)}))
    response = browser.login_with(test_pki.card("899700000001"))
    assert_refused(browser, response, "crl_stale", 403)
    assert "liste de révocation" in unescape(response.text)


def test_a_certificate_from_another_pki_is_refused(bridge, tmp_path):
    from bridge.sandbox.testpki import TestPki

    # Same names as the IGC-Santé TEST hierarchy, other keys: only the trust store can tell.
    foreign = TestPki("foreign", tmp_path / "foreign").card("899700000001")
    browser = CpsBrowser(bridge)
    assert_refused(browser, browser.login_with(foreign), "untrusted_chain", 403)


# --- proofs and challenges --------------------------------------------------------------------------------------------
def test_a_signature_over_another_challenge_is_refused_and_burns_the_challenge(bridge, test_pki):
    material = test_pki.card("899700000001")
    browser = CpsBrowser(bridge)
    browser.start()
    browser.page()
    issued, other = browser.new_challenge(), browser.new_challenge()
    response = browser.login_with(material, challenge=issued, signed_challenge=other["challenge"])
    assert_refused(browser, response, "bad_signature", 403)
    # Single use, whatever the outcome: the right signature for it now comes too late.
    assert_refused(browser, browser.login_with(material, challenge=issued), "challenge_invalid", 400)
    browser.code(browser.login_with(material, challenge=other))


def test_a_signature_for_another_origin_is_refused(bridge, test_pki):
    browser = CpsBrowser(bridge)
    response = browser.login_with(test_pki.card("899700000001"), origin="https://evil.example")
    assert_refused(browser, response, "bad_signature", 403)


def test_a_replayed_proof_is_refused(bridge, test_pki):
    browser = CpsBrowser(bridge)
    browser.code(browser.login_with(test_pki.card("899700000001")))
    replay = dict(browser.last_proof_form)
    # Same transaction: it is over.
    again = browser.http.post(f"{bridge.url}/login/cps/proof", data=replay, allow_redirects=False, timeout=10)
    assert again.status_code == 400 and 'data-error-code="txn_invalid"' in again.text
    # A new login in the same browser: the old challenge is used up (and belonged to another login).
    thief = CpsBrowser(bridge)
    thief.start()
    thief.page()
    stolen = thief.http.post(f"{bridge.url}/login/cps/proof", allow_redirects=False, timeout=10,
                             data={**replay, "txn": thief.txn, "csrf": thief.csrf})
    assert_refused(thief, stolen, "challenge_invalid", 400)


def test_a_challenge_belongs_to_its_login_transaction(bridge, test_pki):
    material = test_pki.card("899700000001")
    first, second = CpsBrowser(bridge), CpsBrowser(bridge)
    for browser in (first, second):
        browser.start()
        browser.page()
    issued = first.new_challenge()
    assert_refused(second, second.login_with(material, challenge=issued), "challenge_invalid", 400)


def test_an_expired_challenge_is_refused(bridge_factory, trust_env, test_pki):
    clock = Clock()
    bridge = bridge_factory(env=trust_env, clock=clock)
    browser = CpsBrowser(bridge)
    browser.start()
    browser.page()
    issued = browser.new_challenge()
    clock.advance(CHALLENGE_TTL + 1)
    response = browser.login_with(test_pki.card("899700000001"), challenge=issued)
    assert_refused(browser, response, "challenge_expired", 400)


@pytest.mark.parametrize("field,value,code,status", [
    ("certificate", "not base64!", "proof_malformed", 400),
    ("signature", "", "proof_malformed", 400),
    ("certificate", base64.b64encode(b"garbage").decode(), "bad_certificate", 403)])
def test_malformed_proofs_are_refused(bridge, test_pki, field, value, code, status):
    browser = CpsBrowser(bridge)
    browser.start()
    browser.page()
    issued = browser.new_challenge()
    material = test_pki.card("899700000001")
    response = browser.post_proof(issued["challenge"], material.cert_der,
                                  sign(material, issued["challenge"], issued["origin"]), **{field: value})
    assert_refused(browser, response, code, status)


# --- policy -----------------------------------------------------------------------------------------------------------
def test_a_cpe_card_is_denied_on_a_service_for_cps_and_cpf(bridge, test_pki):
    browser = CpsBrowser(bridge)
    response = browser.login_with(test_pki.card("899700000031", kind="CPE"))
    assert_denied(browser, response, "Ce type de carte n'est pas accepté par ce service")


def test_a_cpf_card_is_accepted(bridge, test_pki):
    browser = CpsBrowser(bridge)
    result = browser.code(browser.login_with(test_pki.card("899700000032", kind="CPF")))
    claims = browser.app.verify_id_token(browser.app.exchange(result["code"])["id_token"])
    assert claims["sub"] == "899700000032"


def test_a_refused_card_opens_no_session_and_ends_the_previous_persons(bridge, test_pki):
    """The login pipeline's one rule (bridge.login.complete): a refused login opens no session; another person
    at the workstation means the previous person's session ends all the same (their apps are logged out)."""
    browser = CpsBrowser(bridge)
    browser.code(browser.login_with(test_pki.card("899700000001")))
    cookie = browser.http.cookies[COOKIE]
    other = CpsBrowser(bridge, http=browser.http, prompt="login")
    response = other.login_with(test_pki.card("899700000033", kind="CPE"))
    assert response.status_code == 403
    assert response.cookies.get(COOKIE) in (None, "")                        # no session for the refused card
    assert bridge.bridge.sessions.load(cookie) is None                       # the previous person's ended
    assert [s.authn.identity.national_id for s in bridge.bridge.sessions.list()] == []


def test_a_refused_card_of_the_same_person_keeps_their_session(bridge, test_pki):
    browser = CpsBrowser(bridge)
    browser.code(browser.login_with(test_pki.card("899700000001")))
    cookie = browser.http.cookies[COOKIE]
    again = CpsBrowser(bridge, http=browser.http, prompt="login")
    response = again.login_with(test_pki.card("899700000001", kind="CPE"))   # same person, a card type refused
    assert response.status_code == 403 and COOKIE not in response.cookies
    assert bridge.bridge.sessions.load(cookie).authn.identity.national_id == "899700000001"


def test_a_service_without_cps_pin_offers_and_accepts_no_direct_card(bridge, test_pki):
    browser = CpsBrowser(bridge, client=DPI)
    first = browser.http.get(browser.app.authorize_url(), allow_redirects=False, timeout=10)
    assert first.headers["Location"].startswith("/login/psc")   # PSC only: no chooser at all
    browser.txn = parse_qs(urlsplit(first.headers["Location"]).query)["txn"][0]
    chooser = browser.http.get(f"{bridge.url}/login", params={"txn": browser.txn}, timeout=10)
    assert "cps-pin" not in chooser.text and "/login/cps" not in chooser.text
    page = browser.page()
    assert_denied(browser, page, "n'accepte pas le moyen d'identification utilisé")
    assert browser.challenge().status_code == 403 and browser.challenge().json()["error"] == "mie_not_allowed"
    material = test_pki.card("899700000001")
    response = browser.post_proof("x" * 43, material.cert_der, sign(material, "x" * 43, bridge.url))
    assert_denied(browser, response, "n'accepte pas le moyen d'identification utilisé")


def test_cps_pin_on_a_service_not_marked_historical_teleservice_is_refused(bridge, test_pki):
    """The loader refuses such a file; a service built otherwise must still be refused at every step."""
    browser = CpsBrowser(bridge)
    browser.start()
    browser.page()
    issued = browser.new_challenge()              # obtained while the service was still authorized
    services = bridge.bridge.policies.services
    services[SERVICE] = replace(services[SERVICE], historical_teleservice=False)
    chooser = browser.http.get(f"{bridge.url}/login", params={"txn": browser.txn}, timeout=10)
    assert chooser.status_code == 200 and 'data-mie="cps-pin"' not in chooser.text
    assert_denied(browser, browser.page(), "téléservices historiques autorisés par l'ANS")
    assert browser.challenge().json()["error"] == "not_historical_teleservice"
    response = browser.login_with(test_pki.card("899700000001"), challenge=issued)
    assert_denied(browser, response, "téléservices historiques autorisés par l'ANS")


def test_decisions_go_to_the_audit_trail_with_the_national_id_only_there(bridge, test_pki):
    recorded = []
    bridge.bridge.record = lambda event, outcome, **fields: recorded.append({"event": event, "outcome": outcome,
                                                                               **fields})
    browser = CpsBrowser(bridge)
    with structlog.testing.capture_logs() as logs:
        assert_refused(browser, browser.login_with(test_pki.card("899700000021", expired=True)),
                       "certificate_expired", 403)
        browser.code(browser.login_with(test_pki.card("899700000001")))
    failed, succeeded = [r for r in recorded if r["event"] in ("login_failed", "login_succeeded")]
    assert failed["event"] == "login_failed" and failed["outcome"] == "failure"
    assert failed["reason"] == "certificate_expired" and failed["service"] == SERVICE
    assert failed["client"] == "teleservice-web" and failed["upstream"] == "cps-pin"
    assert succeeded["event"] == "login_succeeded" and succeeded["national_id"] == "899700000001"
    assert succeeded["mie"] == "cps-pin" and succeeded["card_type"] == "CPS" and len(succeeded["cert_sha256"]) == 64
    assert "899700000001" not in repr([e for e in logs if e["event"].startswith("login_")])


# --- cps-tls: the certificate from a trusted TLS proxy ----------------------------------------------------------------
@pytest.fixture
def tls_bridge(bridge_factory, trust_env, tmp_path):
    def start(proxies: str):
        return bridge_factory(env={**trust_env, "BRIDGE_POLICIES_DIR": str(policies_with(tmp_path, "[psc, cps-tls]")),
                                   "BRIDGE_TRUSTED_PROXIES": proxies, "BRIDGE_CLIENT_CERT_HEADER": "X-Client-Cert"})
    return start


def pem_header(material) -> str:
    return quote(material.certificate.public_bytes(serialization.Encoding.PEM).decode(), safe="")


def test_cps_tls_from_the_trusted_proxy_logs_in(tls_bridge, test_pki):
    bridge = tls_bridge("127.0.0.1/32")
    browser = CpsBrowser(bridge)
    chooser = browser.start()
    assert f'href="/login/cps-tls?txn={browser.txn}"' in chooser.text
    response = browser.http.get(f"{bridge.url}/login/cps-tls", params={"txn": browser.txn}, allow_redirects=False,
                                headers={"X-Client-Cert": pem_header(test_pki.card("899700000001"))}, timeout=10)
    claims = browser.app.verify_id_token(browser.app.exchange(browser.code(response)["code"])["id_token"])
    assert claims["sub"] == "899700000001" and claims["mie"] == "cps-tls"


def test_cps_tls_applies_the_same_certificate_checks(tls_bridge, test_pki):
    material = test_pki.card("899700000041", revoked=True)
    browser = CpsBrowser(tls_bridge("127.0.0.1/32"))
    browser.start()
    response = browser.http.get(f"{browser.url}/login/cps-tls", params={"txn": browser.txn}, timeout=10,
                                headers={"X-Client-Cert": pem_header(material)}, allow_redirects=False)
    assert_refused(browser, response, "certificate_revoked", 403)
    missing = browser.http.get(f"{browser.url}/login/cps-tls", params={"txn": browser.txn}, timeout=10)
    assert_refused(browser, missing, "cps_tls_no_certificate", 400)


def test_a_forged_cps_tls_header_from_an_untrusted_address_is_refused_and_logged(tls_bridge, test_pki):
    bridge = tls_bridge("10.0.0.0/8")       # the proxy is elsewhere: this test talks to the bridge directly
    browser = CpsBrowser(bridge)
    browser.start()
    with structlog.testing.capture_logs() as logs:
        response = browser.http.get(f"{bridge.url}/login/cps-tls", params={"txn": browser.txn}, timeout=10,
                                    headers={"X-Client-Cert": pem_header(test_pki.card("899700000001"))},
                                    allow_redirects=False)
    assert_refused(browser, response, "cps_tls_untrusted_proxy", 403)
    assert "serveur frontal autorisé" in unescape(response.text)
    entry = next(e for e in logs if e.get("reason") == "cps_tls_untrusted_proxy")
    assert entry["event"] == "login_failed" and entry["outcome"] == "failure" and entry["log_level"] == "warning"
    assert entry["upstream"] == "cps-tls" and entry["detail"] == "X-Client-Cert present"
    assert entry["remote_addr"] == "127.0.0.1" and entry["service"] == SERVICE and entry["request_id"]


# --- through the real agent, pcscd and the virtual card ---------------------------------------------------------------
def agent_sign(agent, bridge_url: str, challenge: str, pin: str) -> requests.Response:
    """What the page's script sends to the agent (and only there)."""
    return requests.post(f"{agent.url}/v1/sign", json={"challenge": challenge, "origin": bridge_url, "pin": pin},
                         headers={"Origin": bridge_url}, timeout=30)


def proof_from(agent_answer: dict) -> tuple[bytes, bytes, dict]:
    return (base64.b64decode(agent_answer["certificate"]), base64.b64decode(agent_answer["signature"]),
            agent_answer["card"])


def test_login_through_the_agent_and_the_card_never_sends_the_pin_to_the_bridge(bridge, card_agent, insert_card,
                                                                                  test_pki, caplog):
    caplog.set_level("DEBUG")
    material = test_pki.card("899700000001")
    insert_card(material, pin=PIN)
    agent = card_agent([bridge.url])
    browser = CpsBrowser(bridge)
    with structlog.testing.capture_logs() as logs:
        browser.start()
        page = browser.page()
        status = requests.get(f"{agent.url}/v1/status", headers={"Origin": bridge.url}, timeout=10).json()
        assert status["card_type"] == "CPS" and status["pin_tries_left"] == 3
        issued = browser.new_challenge()
        answer = agent_sign(agent, issued["origin"], issued["challenge"], PIN)
        assert answer.status_code == 200, answer.text
        response = browser.post_proof(issued["challenge"], *proof_from(answer.json()))
        result = browser.code(response)
    assert set(browser.last_proof_form) == {"txn", "csrf", "challenge", "certificate", "signature", "card_type",
                                            "card_serial"}
    assert not PIN_ALONE.search(json.dumps(browser.last_proof_form))
    assert not PIN_ALONE.search(repr(logs)) and not PIN_ALONE.search(caplog.text)
    assert any(e["event"] == "login_succeeded" and e["mie"] == "cps-pin" for e in logs)
    assert 'name="pin"' not in page.text
    authn = bridge.bridge.sessions.load(browser.http.cookies[COOKIE]).authn
    assert authn.card.serial == material.serial and authn.identity.national_id == "899700000001"
    assert browser.app.exchange(result["code"])["id_token"]


def test_wrong_pin_tells_tries_left_then_the_card_blocks(bridge, card_agent, insert_card):
    insert_card(pin=PIN)
    agent = card_agent([bridge.url])
    browser = CpsBrowser(bridge)
    browser.start()
    messages = page_messages(browser.page().text)
    issued = browser.new_challenge()
    answers = [agent_sign(agent, bridge.url, issued["challenge"], pin).json() for pin in ("0000", "0001", "0002")]
    assert answers[0] == {"error": "wrong_pin", "tries_left": 2}
    assert answers[1] == {"error": "wrong_pin", "tries_left": 1}
    assert answers[2]["error"] == "card_blocked"
    assert shown(messages, "wrong_pin", 2) == "Code erroné : il vous reste 2 essais."
    assert shown(messages, "wrong_pin", 1).startswith("Code erroné : il vous reste 1 essai.")
    # Blocked: even the right PIN is refused now, and nothing reached the bridge.
    assert agent_sign(agent, bridge.url, issued["challenge"], PIN).json()["error"] == "card_blocked"
    assert "code de déblocage (8 chiffres)" in shown(messages, "card_blocked")
    assert not browser.has_session()


def test_a_blocked_card_is_reported_before_any_pin(bridge, card_agent, insert_card):
    insert_card(pin=PIN, blocked=True)
    agent = card_agent([bridge.url])
    browser = CpsBrowser(bridge)
    browser.start()
    messages = page_messages(browser.page().text)
    status = requests.get(f"{agent.url}/v1/status", headers={"Origin": bridge.url}, timeout=10).json()
    assert status["pin_tries_left"] == 0            # the page shows the blocked message without asking the PIN
    answer = agent_sign(agent, bridge.url, browser.new_challenge()["challenge"], PIN).json()
    assert answer["error"] == "card_blocked"
    assert shown(messages, "card_blocked").startswith("Carte bloquée : utilisez votre code de déblocage (8 chiffres)")


def test_card_removed_between_pin_and_signature_then_a_retry_succeeds(bridge, card_agent, insert_card, pcscd):
    virtual = insert_card(pin=PIN)
    virtual.remove_on.add(0x88)            # pulled out when the card is asked to sign, after VERIFY
    agent = card_agent([bridge.url])
    browser = CpsBrowser(bridge)
    browser.start()
    messages = page_messages(browser.page().text)
    issued = browser.new_challenge()
    answer = agent_sign(agent, bridge.url, issued["challenge"], PIN)
    assert answer.json() == {"error": "card_removed"}
    assert "retirée" in shown(messages, "card_removed")
    assert not browser.has_session()
    wait_card_state(pcscd.reader, False)
    virtual.insert(pcscd.port)
    wait_card_state(pcscd.reader, True)
    # The challenge never reached the bridge, so it is still good for the retry.
    retry = agent_sign(agent, bridge.url, issued["challenge"], PIN)
    assert retry.status_code == 200, retry.text
    browser.code(browser.post_proof(issued["challenge"], *proof_from(retry.json())))


def test_no_reader(bridge, card_agent):
    agent = card_agent([bridge.url], reader="No Such Reader")
    browser = CpsBrowser(bridge)
    browser.start()
    messages = page_messages(browser.page().text)
    status = requests.get(f"{agent.url}/v1/status", headers={"Origin": bridge.url}, timeout=10).json()
    assert status["error"] == "no_reader"
    assert agent_sign(agent, bridge.url, browser.new_challenge()["challenge"], PIN).json() == {"error": "no_reader"}
    assert "Aucun lecteur de carte" in shown(messages, "no_reader")


def test_a_card_that_is_not_a_cps_is_unsupported(bridge, card_agent, insert_card):
    insert_card(atr=bytes.fromhex("3B021450"))
    agent = card_agent([bridge.url])
    browser = CpsBrowser(bridge)
    browser.start()
    messages = page_messages(browser.page().text)
    answer = agent_sign(agent, bridge.url, browser.new_challenge()["challenge"], PIN)
    assert answer.json() == {"error": "unsupported_card"}
    assert "n'est pas une carte CPS" in shown(messages, "unsupported_card")


def test_an_agent_for_another_bridge_refuses_this_page(bridge, card_agent, insert_card):
    insert_card(pin=PIN)
    agent = card_agent(["https://other-bridge.example"])
    answer = requests.get(f"{agent.url}/v1/status", headers={"Origin": bridge.url}, timeout=10)
    assert answer.status_code == 403 and answer.json()["error"] == "origin_not_allowed"


# --- make demo --------------------------------------------------------------------------------------------------------
def test_the_demo_serves_a_virtual_card_and_the_agent_when_pcscd_is_there(pcscd, test_pki):
    from bridge import demo
    from bridge.pki import TrustStore, verify_proof

    env = demo.trust_env(test_pki)
    card = demo.start_card("http://127.0.0.1:8000", "http://127.0.0.1:0", test_pki, vpcd_port=pcscd.port)
    try:
        assert card.available and card.pin == "1234" and "code PIN 1234" in card.note
        origin = {"Origin": "http://127.0.0.1:8000"}
        status = requests.get(f"{card.agent_url}/v1/status", headers=origin, timeout=10).json()
        assert status["card"]["serial"] == card.serial and status["pin_tries_left"] == 3
        answer = requests.post(f"{card.agent_url}/v1/sign", headers=origin, timeout=30, json={
            "challenge": "c" * 43, "origin": "http://127.0.0.1:8000", "pin": demo.DEMO_PIN}).json()
        trust = TrustStore.from_directory(env["BRIDGE_TRUST_DIR"], env["BRIDGE_CRL_DIR"])
        verified = verify_proof(base64.b64decode(answer["certificate"]), base64.b64decode(answer["signature"]),
                                "http://127.0.0.1:8000", "c" * 43, trust, time.time())
        assert verified.identity.national_id == demo.DEMO_HOLDER
    finally:
        card.stop()
    wait_card_state(pcscd.reader, False)


def test_the_demo_without_pcscd_says_so(monkeypatch, test_pki):
    from bridge import demo

    monkeypatch.setattr(demo, "find_pcscd", lambda: None)
    card = demo.start_card("http://127.0.0.1:8000", "http://127.0.0.1:47811", test_pki)
    assert not card.available and card.pin is None
    assert "pcscd absent" in card.note and "Pro Santé Connect seulement" in card.note
