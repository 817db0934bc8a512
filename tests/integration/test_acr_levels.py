"""Assurance levels end to end over HTTP (app -> bridge -> PSC emulator -> bridge -> app), with the bridge's acr
table (bridge/acr.py): card logins eidas2 and e-CPS eidas1 as PSC now answers, acr_values and the claims parameter
sent to PSC, checked on return, answered with the achieved acr or unmet_authentication_requirements; min_acr;
an acr PSC states that the table does not map; discovery."""
from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import requests

from tests.support.bridge import PORTAIL, AppClient, rewrite_policies

HIGH = {"client_id": "acr-high", "client_secret": "demo-portail-secret",
        "redirect_uri": "http://127.0.0.1:8002/acr-high/callback", "scope": "openid profile"}
HIGH_POLICY = """service: acr-high
name: Service exigeant eidas2
clients:
  - client_id: acr-high
    client_secret_sha256: 07f4acac118140b0f01f34a44264fd3caea382fdf734b0cf2aac4728215e92f7
    redirect_uris: [http://127.0.0.1:8002/acr-high/callback]
allowed_mie: [psc]
min_acr: eidas2
"""
ESSENTIAL_EIDAS2 = json.dumps({"id_token": {"acr": {"essential": True, "values": ["eidas2"]}}})


def set_faults(psc, faults: dict) -> None:
    requests.post(f"{psc.url}/_emulator/faults", json=faults, timeout=10).raise_for_status()


def introspect(server, token: str) -> dict:
    return requests.post(f"{server.url}/introspect", data={"token": token}, timeout=10,
                         auth=(PORTAIL["client_id"], PORTAIL["client_secret"])).json()


def psc_authorize_query(server, app: AppClient, browser, **extra) -> dict:
    """The query the bridge sends to PSC's authorize endpoint for this app request."""
    first = browser.get(app.authorize_url(**extra), allow_redirects=False, timeout=10)
    second = browser.get(server.url + first.headers["Location"], allow_redirects=False, timeout=10)
    return {k: v[0] for k, v in parse_qs(urlsplit(second.headers["Location"]).query).items()}


def test_card_is_eidas2_and_ecps_eidas1_in_the_id_token_and_introspection(bridge_server):
    for auth_mode, expected in (("CARD", "eidas2"), ("MOBILE", "eidas1")):
        app, browser = AppClient(bridge_server.url, **PORTAIL), requests.Session()
        tokens = app.exchange(app.login(browser, user="899700000002", auth_mode=auth_mode)["code"])
        assert app.verify_id_token(tokens["id_token"])["acr"] == expected
        answer = introspect(bridge_server, tokens["access_token"])
        assert answer["active"] is True and answer["acr"] == expected
        # PSC's own facts are kept beside the bridge's acr in the session
        authn = bridge_server.bridge.sessions.load(browser.cookies["bridge_session"]).authn
        assert (authn.upstream_acr, authn.auth_mode, authn.auth_level) == (expected, auth_mode, "1")


def test_acr_values_eidas2_goes_to_psc_and_a_card_login_meets_it(bridge_server):
    app, browser = AppClient(bridge_server.url, **PORTAIL), requests.Session()
    assert psc_authorize_query(bridge_server, app, browser, acr_values="eidas2")["acr_values"] == "eidas2"
    assert psc_authorize_query(bridge_server, app, browser)["acr_values"] == "eidas1"   # nothing asked: default
    result = app.login(browser, user="899700000002", auth_mode="CARD", acr_values="eidas2")
    assert app.verify_id_token(app.exchange(result["code"])["id_token"])["acr"] == "eidas2"


def test_acr_values_eidas2_unmet_by_ecps_is_an_error_at_the_app_and_nothing_is_issued(bridge_server):
    app, browser = AppClient(bridge_server.url, **PORTAIL), requests.Session()
    result = app.login(browser, user="899700000002", auth_mode="MOBILE", acr_values="eidas2")
    assert result["error"] == "unmet_authentication_requirements" and "code" not in result
    assert result["state"] == app.pending["state"] and result["iss"] == bridge_server.url
    assert not any(c.name.endswith("bridge_session") for c in browser.cookies)   # no session was opened
    # asking eidas1 is met by a card login's eidas2 (a higher level), and the answer says what was reached
    again = app.login(requests.Session(), user="899700000002", auth_mode="CARD", acr_values="eidas1")
    assert app.verify_id_token(app.exchange(again["code"])["id_token"])["acr"] == "eidas2"


def test_an_existing_eidas1_session_steps_up_for_eidas2(bridge_server):
    app, browser = AppClient(bridge_server.url, **PORTAIL), requests.Session()
    app.login(browser, user="899700000002", auth_mode="MOBILE")
    result = app.login(browser, user="899700000002", auth_mode="CARD", acr_values="eidas2")
    assert app.verify_id_token(app.exchange(result["code"])["id_token"])["acr"] == "eidas2"


def test_claims_parameter_essential_acr(bridge_server):
    app = AppClient(bridge_server.url, **PORTAIL)
    assert app.metadata["claims_parameter_supported"] is True
    unmet = app.follow(requests.Session(), app.authorize_url(claims=ESSENTIAL_EIDAS2), user="899700000002",
                       auth_mode="MOBILE")
    assert unmet["error"] == "unmet_authentication_requirements" and unmet["state"] == app.pending["state"]
    met = app.follow(requests.Session(), app.authorize_url(claims=ESSENTIAL_EIDAS2), user="899700000002")
    assert app.verify_id_token(app.exchange(met["code"])["id_token"])["acr"] == "eidas2"
    bad = app.follow(requests.Session(), app.authorize_url(claims="{not json"))
    assert bad["error"] == "invalid_request" and bad["state"] == app.pending["state"]


def test_acr_values_no_allowed_means_can_reach_is_unmet_at_once(bridge_server):
    app, browser = AppClient(bridge_server.url, **PORTAIL), requests.Session()
    response = browser.get(app.authorize_url(acr_values="eidas3"), allow_redirects=False, timeout=10)
    location = response.headers["Location"]
    assert response.status_code == 302 and location.startswith(PORTAIL["redirect_uri"])   # no login page
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert query["error"] == "unmet_authentication_requirements" and "code" not in query
    assert query["state"] == app.pending["state"] and query["iss"] == bridge_server.url


def test_psc_answering_unmet_is_relayed_to_the_app(bridge_factory):
    server = bridge_factory(unmet_acr="error")
    app = AppClient(server.url, **PORTAIL)
    result = app.login(requests.Session(), user="899700000002", auth_mode="MOBILE", acr_values="eidas2")
    assert result["error"] == "unmet_authentication_requirements" and result["state"] == app.pending["state"]


def test_an_unknown_acr_from_psc_is_a_clear_denial_naming_it(bridge_factory, tmp_path):
    audit = tmp_path / "audit.jsonl"
    server = bridge_factory(env={"BRIDGE_AUDIT_PATH": str(audit)})
    set_faults(server.psc, {"id_token_claims": {"acr": "eidas9"}})
    app, browser = AppClient(server.url, **PORTAIL), requests.Session()
    page = app.login(browser, user="899700000002", auth_mode="CARD")
    assert page.status_code == 400 and 'data-error-code="acr_unknown"' in page.text
    assert "eidas9" in page.text and "niveau d&#39;authentification (acr)" in page.text
    lines = [json.loads(line) for line in audit.read_text().splitlines()]
    failed = [line for line in lines if line["event"] == "login_failed"]
    assert failed and failed[-1]["reason"] == "acr_unknown" and "eidas9" in json.dumps(failed[-1])


def test_min_acr_refuses_a_lower_login_with_its_reason(bridge_factory, tmp_path):
    policies = rewrite_policies(tmp_path / "policies", "http://127.0.0.1:8002", {"acr-high.yaml": HIGH_POLICY})
    server = bridge_factory(env={"BRIDGE_POLICIES_DIR": str(policies)})
    app = AppClient(server.url, **HIGH)
    assert psc_authorize_query(server, app, requests.Session())["acr_values"] == "eidas2"   # min_acr asked of PSC
    page = app.login(requests.Session(), user="899700000002", auth_mode="MOBILE")
    assert page.status_code == 403 and "niveau d&#39;authentification (acr) plus élevé" in page.text
    result = app.login(requests.Session(), user="899700000002", auth_mode="CARD")
    assert app.verify_id_token(app.exchange(result["code"])["id_token"])["acr"] == "eidas2"


def test_discovery_lists_exactly_the_acr_values_the_bridge_can_issue(bridge_factory):
    default = requests.get(bridge_factory().url + "/.well-known/openid-configuration", timeout=10).json()
    assert default["acr_values_supported"] == ["eidas1", "eidas2"]
    narrowed = bridge_factory(env={"BRIDGE_PSC_ACCEPTED_ACR": "eidas1", "BRIDGE_CPS_ACR": "eidas3"})
    meta = requests.get(narrowed.url + "/.well-known/openid-configuration", timeout=10).json()
    assert meta["acr_values_supported"] == ["eidas1", "eidas3"]   # teleservice-historique allows cps-pin


def test_an_eidas1_session_is_stepped_up_for_a_min_acr_service(bridge_factory, tmp_path):
    policies = rewrite_policies(tmp_path / "policies", "http://127.0.0.1:8002", {"acr-high.yaml": HIGH_POLICY})
    server = bridge_factory(env={"BRIDGE_POLICIES_DIR": str(policies)})
    browser = requests.Session()
    AppClient(server.url, **PORTAIL).login(browser, user="899700000002", auth_mode="MOBILE")   # eidas1 session
    high = AppClient(server.url, **HIGH)
    first = browser.get(high.authorize_url(), allow_redirects=False, timeout=10)
    assert first.headers["Location"].startswith("/login/psc")   # not reused, not refused: a new login
    result = high.follow(browser, server.url + first.headers["Location"], user="899700000002", auth_mode="CARD")
    assert high.verify_id_token(high.exchange(result["code"])["id_token"])["acr"] == "eidas2"
