"""The bridge as establishment IdP of PSC (« FI local », issue 18 item 4), over HTTP with real parts: a bridge,
Redis, the PSC emulator brokering `kc_idp_hint` to the bridge, and a software FIDO2 key (tests/support/fido.py).

app -> bridge (service with psc_idp_hint) -> PSC emulator (kc_idp_hint) -> bridge as FI (service psc-fi,
establishment_idp, passkey) -> PSC (code exchanged, ID token checked, authMode FI + the FI's amr) -> bridge
(psc-delegated) -> app. Bad input: the FI refuses (access_denied back through PSC), a professional PSC does not
know, PSC registered at the bridge under an unknown client, an alias PSC does not know."""
from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import pytest
import requests

from bridge.sandbox.psc import EstablishmentIdp
from tests.integration.test_cps_login import CpsBrowser, next_url
from tests.support.bridge import AppClient
from tests.support.console import csrf_of, start_stack
from tests.support.fido import SoftKey

PRO = "899700000002"
ALIAS = "bridge-fi"
EXAMPLE = (Path(__file__).resolve().parents[2] / "docs" / "examples" / "policies" / "psc-fi.yaml").read_text()
DEMO_BROKER = "http://127.0.0.1:8001/auth/realms/esante-wallet/broker/bridge-fi/endpoint"
# An app whose logins go straight to the establishment IdP through PSC (SHA-256 of "dpi-secret").
APP_POLICY = """service: dpi-fi
name: DPI (FI local)
clients:
  - client_id: dpi-fi-web
    client_secret_sha256: f7c62450ea45b6b3b790755cb68fb151b6e7b70e4805a863923b66d3f578f2c0
    redirect_uris: [APPS/dpi-fi/callback]
    scopes: [openid, profile, rpps]
allowed_mie: [psc]
psc_idp_hint: HINT
"""
DPI = {"client_id": "dpi-web", "client_secret": "dpi-secret", "scope": "openid profile rpps"}


def start(tmp_path, redis_url, psc_emulator_factory, receiver, *, idp=None, fi_text=EXAMPLE, hint=ALIAS, env=None,
          emulator_options=None):
    def emulator(**kwargs):
        bridge_url = kwargs["clients"][0].redirect_uris[0].removesuffix("/psc/callback")
        psc = psc_emulator_factory(**kwargs, **(emulator_options or {}), establishment_idps=[EstablishmentIdp(**{
            "alias": ALIAS, "issuer": bridge_url, "client_id": "psc-fi", "client_secret": "psc-fi-secret",
            **(idp or {})})])
        policies = tmp_path / "policies"
        (policies / "psc-fi.yaml").write_text(fi_text.replace(DEMO_BROKER, psc.config.broker_endpoint(ALIAS)))
        (policies / "dpi-fi.yaml").write_text(APP_POLICY.replace("APPS", receiver.url).replace("HINT", hint))
        return psc

    server = start_stack(tmp_path, redis_url, emulator, receiver.url, env_extra=env)
    server.receiver = receiver
    return server


@pytest.fixture
def stack_factory(tmp_path, redis_url, psc_emulator_factory, receiver):
    started = []

    def factory(**options):
        started.append(start(tmp_path, redis_url, psc_emulator_factory, receiver, **options))
        return started[-1]

    yield factory
    for server in started:
        server.stop()


def audit(stack) -> list[dict]:
    return [json.loads(line) for line in stack.bridge.settings.audit_path.read_text().splitlines()]


def app(stack) -> AppClient:
    return AppClient(stack.url, "dpi-fi-web", "dpi-secret", f"{stack.receiver.url}/dpi-fi/callback")


def enrolled_key(stack) -> SoftKey:
    """A passkey enrolled at /me/means right after a plain PSC (card) login, in another browser."""
    browser, soft = requests.Session(), SoftKey()
    dpi = AppClient(stack.url, redirect_uri=f"{stack.receiver.url}/dpi/callback", **DPI)
    assert "code" in dpi.login(browser, user=PRO)
    csrf = csrf_of(browser.get(f"{stack.url}/me/means", timeout=10).text)
    options = browser.post(f"{stack.url}/me/means/options", json={"csrf": csrf}, timeout=10).json()
    answer = browser.post(f"{stack.url}/me/means/register", allow_redirects=False, timeout=10, data={
        "csrf": csrf, "credential": soft.register(options, origin=stack.url), "name": "Clé FI"})
    assert answer.status_code == 303, answer.text
    return soft


def drive(stack, browser, url: str, soft: SoftKey | None, *, stop_at: str, give_up_at_fi: bool = False,
          card=None):
    """Follow the browser's way, doing the passkey ceremony (or the CPS PIN login with `card`, a test PKI card)
    on the bridge's chooser, or leaving it with « Retour à l'application » when `give_up_at_fi`. Returns (query
    at stop_at, visited URLs) or (final response, visited)."""
    visited = []
    for _ in range(20):
        if url.startswith(stop_at):
            return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}, visited
        visited.append(url)
        page = browser.get(url, allow_redirects=False, timeout=30)
        if page.is_redirect:
            url = urljoin(url, page.headers["Location"])
            continue
        link = re.search(r'href="([^"]*/login/fido\?txn=[^"]+)"', page.text)
        if page.status_code != 200 or not link:
            return page, visited
        txn = parse_qs(urlsplit(unescape(link.group(1))).query)["txn"][0]
        if give_up_at_fi:
            url = f"{stack.url}/login/back?txn={txn}"
            continue
        if card is not None:   # what templates/cps_login.html and the card agent do (tests/integration/test_cps_login)
            cps = CpsBrowser(stack, http=browser)
            cps.txn = txn
            cps.page()
            url = urljoin(stack.url, next_url(cps.login_with(card)))
            continue
        fido = browser.get(urljoin(stack.url, unescape(link.group(1))), timeout=10)
        csrf = csrf_of(fido.text)
        options = browser.post(f"{stack.url}/login/fido/options", json={"txn": txn, "csrf": csrf}, timeout=10).json()
        answer = browser.post(f"{stack.url}/login/fido/verify", allow_redirects=False, timeout=10, data={
            "txn": txn, "csrf": csrf, "credential": soft.assert_(options, origin=stack.url)})
        assert answer.is_redirect, answer.text
        url = urljoin(stack.url, answer.headers["Location"])
    raise AssertionError(f"too many steps: {visited}")


def test_round_trip_app_bridge_psc_bridge_as_fi_psc_bridge_app(stack_factory):
    stack = stack_factory()
    soft = enrolled_key(stack)
    browser, client = requests.Session(), app(stack)
    query, visited = drive(stack, browser, client.authorize_url(), soft, stop_at=client.redirect_uri)
    assert "code" in query, query
    psc = stack.psc.config
    assert any(u.startswith(psc.authorization_endpoint) and f"kc_idp_hint={ALIAS}" in u for u in visited)
    assert any(u.startswith(f"{stack.url}/authorize") and "client_id=psc-fi" in u for u in visited)   # PSC -> FI
    assert any(u.startswith(psc.broker_endpoint(ALIAS)) for u in visited)                             # FI -> PSC
    claims = client.verify_id_token(client.exchange(query["code"])["id_token"])
    # The passkey's amr went to PSC in the bridge's ID token (no fi_amr line: the login's own), PSC forwarded it.
    assert claims["mie"] == "psc-delegated" and claims["amr"] == ["hwk", "user", "mfa"], claims
    assert claims["acr"] == "eidas1" and claims["national_id"] == PRO
    lines = [(e["event"], e.get("service"), e.get("mie")) for e in audit(stack)]
    assert ("login_succeeded", "psc-fi", "local-fido") in lines      # the bridge as FI, for PSC
    assert ("login_succeeded", "dpi-fi", "psc-delegated") in lines   # the bridge as PSC's RP, for the app
    assert any(e["event"] == "token_issued" and e.get("client") == "psc-fi" for e in audit(stack))


def test_the_fi_amr_table_is_what_psc_receives_and_forwards(stack_factory):
    stack = stack_factory(fi_text=EXAMPLE.replace("fi_amr:\n", "fi_amr:\n  local-fido: [hwk, user, mfa, phr]\n"))
    soft = enrolled_key(stack)
    browser, client = requests.Session(), app(stack)
    query, _ = drive(stack, browser, client.authorize_url(), soft, stop_at=client.redirect_uri)
    claims = client.verify_id_token(client.exchange(query["code"])["id_token"])
    assert claims["mie"] == "psc-delegated" and claims["amr"] == ["hwk", "user", "mfa", "phr"], claims
    # PSC's own tokens said authMode FI with that amr (the emulator's session)
    sessions = stack.psc.emulator.state._sessions.values()
    assert [(s.auth_mode, s.amr) for s in sessions if s.user == PRO and s.auth_mode == "FI"] == \
        [("FI", ("hwk", "user", "mfa", "phr"))]


def test_the_fi_refuses_access_denied_goes_back_through_psc_to_the_app(stack_factory):
    stack = stack_factory()
    browser, client = requests.Session(), app(stack)
    query, visited = drive(stack, browser, client.authorize_url(), None, stop_at=client.redirect_uri,
                           give_up_at_fi=True)
    assert query["error"] == "access_denied" and query["state"] == client.pending["state"], query
    assert any(u.startswith(stack.psc.config.broker_endpoint(ALIAS)) and "error=access_denied" in u for u in visited)
    reasons = [(e["event"], e.get("reason"), e.get("service")) for e in audit(stack)]
    assert ("login_failed", "user_went_back", "psc-fi") in reasons
    assert ("login_failed", "psc_access_denied", "dpi-fi") in reasons
    assert not any(e["event"] == "login_succeeded" for e in audit(stack))


def test_a_professional_psc_does_not_know_is_refused(stack_factory):
    # The FI names the professional by a pairwise `sub`: no SubjectNameID of PSC's realm.
    stack = stack_factory(idp={"subject_claim": "sub"},
                          fi_text=EXAMPLE.replace("require_2fa: true", "require_2fa: true\nsubject_type: pairwise"))
    soft = enrolled_key(stack)
    browser, client = requests.Session(), app(stack)
    query, _ = drive(stack, browser, client.authorize_url(), soft, stop_at=client.redirect_uri)
    assert query["error"] == "access_denied", query
    failed = [e for e in audit(stack) if e["event"] == "login_failed" and e.get("service") == "dpi-fi"]
    assert failed and "Professionnel inconnu" in failed[0]["details"]["detail"], failed
    assert not any(e["event"] == "login_succeeded" and e.get("service") == "dpi-fi" for e in audit(stack))


def test_psc_delegating_for_an_unknown_client_gets_a_clear_page_no_session(stack_factory):
    stack = stack_factory(idp={"client_id": "psc-pas-enregistre"})
    browser, client = requests.Session(), app(stack)
    page, visited = drive(stack, browser, client.authorize_url(), None, stop_at=client.redirect_uri)
    assert visited[-1].startswith(f"{stack.url}/authorize") and "client_id=psc-pas-enregistre" in visited[-1]
    assert page.status_code == 400 and "Application inconnue" in page.text
    assert not [c for c in browser.cookies if c.name.endswith("bridge_session")]
    assert any(e["event"] == "login_failed" and e["reason"] == "invalid_client"
               and e["client"] == "psc-pas-enregistre" for e in audit(stack))
    assert not any(e["event"] == "login_succeeded" for e in audit(stack))


def test_an_alias_psc_does_not_know(stack_factory):
    stack = stack_factory(hint="fi-inconnu")
    browser, client = requests.Session(), app(stack)
    page, _ = drive(stack, browser, client.authorize_url(), None, stop_at=client.redirect_uri)
    # PSC answers invalid_request: not a refusal the app handles, the bridge's page (502: PSC's problem)
    assert page.status_code == 502 and page.url.startswith(f"{stack.url}/psc/callback"), page.url
    failed = [e for e in audit(stack) if e["event"] == "login_failed" and e.get("service") == "dpi-fi"]
    assert failed and "Fournisseur d'identité inconnu" in failed[0]["details"]["detail"], failed


def test_a_session_opened_through_psc_never_answers_psc_as_fi(stack_factory):
    """Loop prevention at run time: after the round trip the browser's bridge session is psc-delegated; PSC
    delegating again gets the passkey asked again, never a code from that session."""
    stack = stack_factory()
    soft = enrolled_key(stack)
    browser, client = requests.Session(), app(stack)
    query, _ = drive(stack, browser, client.authorize_url(), soft, stop_at=client.redirect_uri)
    assert "code" in query
    as_psc = AppClient(stack.url, "psc-fi", "psc-fi-secret", stack.psc.config.broker_endpoint(ALIAS))
    again = browser.get(as_psc.authorize_url(), allow_redirects=False, timeout=10)
    assert again.is_redirect and "/login?txn=" in again.headers["Location"], again.headers.get("Location")
    chooser = browser.get(urljoin(stack.url, again.headers["Location"]), timeout=10)
    assert 'data-mie="local-fido"' in chooser.text and 'data-mie="psc"' not in chooser.text


def test_psc_registered_with_a_wrong_secret_the_fi_answer_is_refused(stack_factory):
    stack = stack_factory(idp={"client_secret": "pas-le-bon"})
    soft = enrolled_key(stack)
    browser, client = requests.Session(), app(stack)
    query, _ = drive(stack, browser, client.authorize_url(), soft, stop_at=client.redirect_uri)
    assert query["error"] == "access_denied", query
    failed = [e for e in audit(stack) if e["event"] == "login_failed" and e.get("service") == "dpi-fi"]
    assert failed and "invalid_client" in failed[0]["details"]["detail"], failed


def test_the_broker_answer_works_once_and_in_the_browser_that_asked(stack_factory):
    stack = stack_factory()
    soft = enrolled_key(stack)
    browser, client = requests.Session(), app(stack)
    broker = stack.psc.config.broker_endpoint(ALIAS)
    answer, _ = drive(stack, browser, client.authorize_url(), soft, stop_at=broker)
    url = f"{broker}?{urlencode(answer)}"
    other = requests.Session().get(url, allow_redirects=False, timeout=10)   # another browser: not its request
    assert other.status_code == 400 and "Demande expirée" in other.text
    # the state was consumed by that attempt: the right browser cannot use it any more either (single use)
    assert browser.get(url, allow_redirects=False, timeout=10).status_code == 400


def test_round_trip_with_the_cps_card_psc_reads_the_smart_card_amr(stack_factory, test_pki):
    """The CPS PIN path at the bridge as FI: the default table's ["sc","pin","mfa","hwk"] goes to PSC."""
    trust = {"BRIDGE_TRUST_DIR": str(test_pki.trust_dir()), "BRIDGE_CRL_DIR": str(test_pki.crl_dir())}
    stack = stack_factory(env=trust,
                          fi_text=EXAMPLE.replace("fi_amr:\n  cps-pin: [sc, pin, mfa, hwk]\n", ""))
    card = test_pki.card(PRO, family_name="PHARMACIEN", given_name="ANNE")
    browser, client = requests.Session(), app(stack)
    query, _ = drive(stack, browser, client.authorize_url(), None, stop_at=client.redirect_uri, card=card)
    claims = client.verify_id_token(client.exchange(query["code"])["id_token"])
    assert claims["mie"] == "psc-delegated" and claims["amr"] == ["sc", "pin", "mfa", "hwk"], claims
    sessions = [s for s in stack.psc.emulator.state._sessions.values() if s.auth_mode == "FI"]
    assert [s.amr for s in sessions] == [("sc", "pin", "mfa", "hwk")]
    lines = [(e["event"], e.get("service"), e.get("mie")) for e in audit(stack)]
    assert ("login_succeeded", "psc-fi", "cps-pin") in lines and ("login_succeeded", "dpi-fi", "psc-delegated") in lines


@pytest.mark.parametrize(("fi_acr", "expected"), [("psc", "eidas1"), ("idp", "eidas2")])
def test_psc_acr_after_a_delegated_login_is_an_emulator_choice(stack_factory, fi_acr, expected):
    """The bridge as FI states BRIDGE_FIDO_ACR (eidas2 here); PSC answers with its own label for FI logins
    (acr_by_auth_mode, eidas1) or, with fi_acr="idp", the IdP's: which one production PSC does is UNCONFIRMED."""
    stack = stack_factory(env={"BRIDGE_FIDO_ACR": "eidas2"}, emulator_options={"fi_acr": fi_acr})
    soft = enrolled_key(stack)
    browser, client = requests.Session(), app(stack)
    query, _ = drive(stack, browser, client.authorize_url(), soft, stop_at=client.redirect_uri)
    claims = client.verify_id_token(client.exchange(query["code"])["id_token"])
    assert claims["mie"] == "psc-delegated" and claims["acr"] == expected, claims
