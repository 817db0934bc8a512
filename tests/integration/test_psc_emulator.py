"""The PSC emulator driven over real HTTP(S) with requests, as a relying party and a browser would."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.oidc.core.util import create_half_hash
from joserfc import jws, jwt
from joserfc.errors import BadSignatureError, JoseError
from joserfc.jwk import KeySet, OctKey

from bridge.sandbox.professionals import TEST_PROFESSIONALS
from bridge.sandbox.psc import EmulatedClient, EmulatorConfig, create_emulator, serve
from bridge.sandbox.tls import server_ssl_context
from tests.support.psc import (
    PSC_TEST_CLIENT_ID,
    PSC_TEST_CLIENT_SECRET,
    PSC_TEST_POST_LOGOUT_URI,
    PSC_TEST_REDIRECT_URI,
    pkce_pair,
    psc_authorize_url,
    psc_login,
)

AUTH = (PSC_TEST_CLIENT_ID, PSC_TEST_CLIENT_SECRET)


# -- helpers --------------------------------------------------------------------------------------------------
def discovery(emulator, verify=True) -> dict:
    return requests.get(emulator.discovery_url, timeout=5, verify=verify).json()


def endpoint(emulator, name: str, verify=True) -> str:
    return discovery(emulator, verify)[name]


def jwks(emulator) -> KeySet:
    return KeySet.import_key_set(requests.get(endpoint(emulator, "jwks_uri"), timeout=5).json())


def query(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def unverified(token: str) -> tuple[dict, dict]:
    """(header, claims) of a compact JWS without verifying it (to inspect injected faults)."""
    obj = jws.extract_compact(token.encode())
    return obj.headers(), json.loads(obj.payload)


def login(emulator, session=None, *, user="899700000001", auth_mode="CARD", **params) -> tuple[dict, str]:
    """Browser login with PKCE S256; returns (callback query, code_verifier)."""
    verifier, challenge = pkce_pair()
    params = {"state": "st-123", "nonce": "no-456", "code_challenge": challenge, "code_challenge_method": "S256",
              **params}
    callback = psc_login(session or requests.Session(), psc_authorize_url(emulator, **params), user, auth_mode)
    return query(callback), verifier


def exchange(emulator, code: str, verifier: str | None, *, auth=AUTH, data=None, **kwargs) -> requests.Response:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": PSC_TEST_REDIRECT_URI}
    if verifier is not None:
        form["code_verifier"] = verifier
    token_url = endpoint(emulator, "token_endpoint", kwargs.get("verify", True))
    return requests.post(token_url, data={**form, **(data or {})}, auth=auth, timeout=10, **kwargs)


def tokens(emulator, session=None, **login_kwargs) -> dict:
    callback, verifier = login(emulator, session, **login_kwargs)
    answer = exchange(emulator, callback["code"], verifier)
    assert answer.status_code == 200, answer.text
    return answer.json()


def refresh(emulator, refresh_token: str, auth=AUTH) -> requests.Response:
    return requests.post(endpoint(emulator, "token_endpoint"), auth=auth, timeout=10,
                         data={"grant_type": "refresh_token", "refresh_token": refresh_token})


def userinfo(emulator, access_token: str) -> requests.Response:
    return requests.get(endpoint(emulator, "userinfo_endpoint"), timeout=10,
                        headers={"Authorization": f"Bearer {access_token}"})


def set_faults(emulator, faults: dict) -> None:
    answer = requests.post(f"{emulator.url}/_emulator/faults", json=faults, timeout=5)
    assert answer.status_code == 200, answer.text


# -- discovery and keys ---------------------------------------------------------------------------------------
def test_discovery_is_psc_shaped_with_authorize_on_the_wallet_base(psc_emulator):
    meta = discovery(psc_emulator)
    issuer = f"{psc_emulator.url}/auth/realms/esante-wallet"
    oidc = f"{issuer}/protocol/openid-connect"
    assert psc_emulator.discovery_url == f"{issuer}/.well-known/wallet-openid-configuration"
    assert meta["issuer"] == psc_emulator.issuer == issuer
    assert meta["authorization_endpoint"] == f"{psc_emulator.url}/wallet/auth"
    assert not meta["authorization_endpoint"].startswith(issuer)
    assert {name: meta[name] for name in ("token_endpoint", "userinfo_endpoint", "jwks_uri", "end_session_endpoint",
                                          "introspection_endpoint", "revocation_endpoint")} == {
        "token_endpoint": f"{oidc}/token", "userinfo_endpoint": f"{oidc}/userinfo", "jwks_uri": f"{oidc}/certs",
        "end_session_endpoint": f"{oidc}/logout", "introspection_endpoint": f"{oidc}/token/introspect",
        "revocation_endpoint": f"{oidc}/revoke"}
    assert meta["code_challenge_methods_supported"] == ["plain", "S256"]
    assert {"client_secret_basic", "client_secret_post", "tls_client_auth"} <= set(
        meta["token_endpoint_auth_methods_supported"])
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert "scope_all" in meta["scopes_supported"]
    assert {"RS256", "HS256"} <= set(meta["id_token_signing_alg_values_supported"])
    assert "acr_values_supported" in meta
    standard = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=5).json()
    assert standard == meta


def test_wallet_can_live_on_another_host(psc_emulator_factory):
    emulator = psc_emulator_factory(wallet_url="http://localhost:{port}")
    assert urlsplit(emulator.authorization_endpoint).hostname == "localhost"
    assert urlsplit(emulator.issuer).hostname == "127.0.0.1"
    assert discovery(emulator)["authorization_endpoint"] == emulator.authorization_endpoint
    answer = tokens(emulator)
    assert unverified(answer["id_token"])[1]["iss"] == emulator.issuer


def test_key_rotation_publishes_a_new_kid_and_drops_the_old_one(psc_emulator):
    first = tokens(psc_emulator)
    old_kid = unverified(first["id_token"])[0]["kid"]
    assert old_kid in [key.kid for key in jwks(psc_emulator).keys]

    rotated = requests.post(f"{psc_emulator.url}/_emulator/rotate-keys", timeout=5).json()["kid"]

    kids = [key.kid for key in jwks(psc_emulator).keys]
    assert kids == [rotated] and rotated != old_kid
    second = tokens(psc_emulator)
    assert unverified(second["id_token"])[0]["kid"] == rotated
    jwt.decode(second["id_token"], jwks(psc_emulator), algorithms=["RS256"])
    assert userinfo(psc_emulator, first["access_token"]).status_code == 401  # signed with the retired key
    assert userinfo(psc_emulator, second["access_token"]).status_code == 200


# -- authorization code flow ----------------------------------------------------------------------------------
def test_code_flow_with_pkce_s256_gives_tokens_that_verify_against_the_jwks(psc_emulator):
    callback, verifier = login(psc_emulator)
    assert set(callback) == {"code", "state", "session_state", "iss"}
    assert callback["state"] == "st-123" and callback["iss"] == psc_emulator.issuer

    answer = exchange(psc_emulator, callback["code"], verifier)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Cache-Control"] == "no-store"
    body = answer.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 120 and body["refresh_expires_in"] == 1800
    assert body["session_state"] == callback["session_state"] and body["scope"] == "openid scope_all"

    id_token = jwt.decode(body["id_token"], jwks(psc_emulator), algorithms=["RS256"])
    claims = id_token.claims
    assert id_token.header["alg"] == "RS256" and id_token.header["kid"]
    assert claims["iss"] == psc_emulator.issuer and claims["aud"] == claims["azp"] == PSC_TEST_CLIENT_ID
    assert claims["nonce"] == "no-456" and claims["acr"] == "eidas2" and claims["typ"] == "ID"  # CARD login
    assert claims["sid"] == callback["session_state"] and claims["SubjectNameID"] == "899700000001"
    assert claims["sub"] == TEST_PROFESSIONALS["899700000001"]["sub"]
    assert claims["exp"] - claims["iat"] == 120 and claims["auth_time"] <= claims["iat"]
    assert claims["at_hash"] == create_half_hash(body["access_token"], "RS256").decode()

    access = jwt.decode(body["access_token"], jwks(psc_emulator), algorithms=["RS256"]).claims
    assert access["SubjectNameID"] == access["preferred_username"] == "899700000001"
    assert access["sub"] == claims["sub"] and access["sid"] == claims["sid"] and access["azp"] == PSC_TEST_CLIENT_ID
    assert access["PSISubjectNameID"] == "" and access["acr"] == "eidas2" and access["typ"] == "Bearer"
    assert access["authMode"] == "CARD" and access["auth_level"] == "1" and access["nonce"] == "no-456"
    assert access["jti"].startswith("onrtac:") and access["exp"] - access["iat"] == 120
    assert access["otherIds"] == [{"identifiant": "899700000001", "origine": "RPPS", "qualite": 1}]


def test_client_secret_post_is_accepted_and_bad_credentials_are_invalid_client(psc_emulator):
    callback, verifier = login(psc_emulator)
    wrong = exchange(psc_emulator, callback["code"], verifier, auth=(PSC_TEST_CLIENT_ID, "wrong"))
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    unknown = exchange(psc_emulator, callback["code"], verifier, auth=("nobody", "x"))
    assert unknown.status_code == 401 and unknown.json()["error"] == "invalid_client"

    posted = exchange(psc_emulator, callback["code"], verifier, auth=None,
                      data={"client_id": PSC_TEST_CLIENT_ID, "client_secret": PSC_TEST_CLIENT_SECRET})
    assert posted.status_code == 200, posted.text


def test_a_code_is_single_use(psc_emulator):
    callback, verifier = login(psc_emulator)
    assert exchange(psc_emulator, callback["code"], verifier).status_code == 200
    again = exchange(psc_emulator, callback["code"], verifier)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_a_wrong_pkce_verifier_is_invalid_grant_and_burns_the_code(psc_emulator):
    callback, verifier = login(psc_emulator)
    wrong = exchange(psc_emulator, callback["code"], pkce_pair()[0])
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    assert exchange(psc_emulator, callback["code"], verifier).json()["error"] == "invalid_grant"

    callback, _ = login(psc_emulator)
    missing = exchange(psc_emulator, callback["code"], None)
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_grant"


def test_plain_pkce_is_supported(psc_emulator):
    verifier = pkce_pair()[0]
    callback, _ = login(psc_emulator, code_challenge=verifier, code_challenge_method="plain")
    assert exchange(psc_emulator, callback["code"], verifier).status_code == 200


def test_the_token_request_must_repeat_the_redirect_uri(psc_emulator):
    callback, verifier = login(psc_emulator)
    answer = exchange(psc_emulator, callback["code"], verifier, data={"redirect_uri": "http://127.0.0.1:8000/x"})
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


def test_token_endpoint_errors_are_rfc6749_json(psc_emulator):
    token_url = endpoint(psc_emulator, "token_endpoint")
    unsupported = requests.post(token_url, auth=AUTH, data={"grant_type": "password"}, timeout=5)
    assert unsupported.status_code == 400 and unsupported.json()["error"] == "unsupported_grant_type"
    missing = requests.post(token_url, auth=AUTH, data={}, timeout=5)
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"


def test_an_unregistered_redirect_uri_gets_an_error_page_never_a_redirect(psc_emulator):
    page = requests.get(psc_authorize_url(psc_emulator, redirect_uri="http://evil.example/cb", state="s"),
                        allow_redirects=False, timeout=5)
    assert page.status_code == 400 and "Location" not in page.headers
    assert "redirect_uri" in page.text and "evil.example" not in page.text
    unknown_client = requests.get(psc_authorize_url(psc_emulator, client_id="nobody"), allow_redirects=False,
                                  timeout=5)
    assert unknown_client.status_code == 400 and "Location" not in unknown_client.headers


def test_request_errors_go_back_to_the_client_with_state(psc_emulator):
    answer = requests.get(psc_authorize_url(psc_emulator, scope="scope_all", state="s9"), allow_redirects=False,
                          timeout=5)
    assert answer.status_code == 302
    params = query(answer.headers["Location"])
    assert params["error"] == "invalid_scope" and params["state"] == "s9" and params["iss"] == psc_emulator.issuer


def test_the_login_page_is_french_and_accessible(psc_emulator):
    page = requests.get(psc_authorize_url(psc_emulator, login_hint="899700000003"), timeout=5)
    assert page.status_code == 200 and '<html lang="fr">' in page.text
    assert 'name="txn"' in page.text and "Carte CPS" in page.text and "Application e-CPS" in page.text
    for national_id in TEST_PROFESSIONALS:
        assert f'value="{national_id}"' in page.text
    assert page.text.count("<label for=") == len(TEST_PROFESSIONALS) + 2
    assert re.search(r'value="899700000003"\s+checked', page.text)  # login_hint preselects the professional


def test_cancelling_the_login_returns_access_denied(psc_emulator):
    session = requests.Session()
    page = session.get(psc_authorize_url(psc_emulator, state="s1"), timeout=5)
    txn = page.text.split('name="txn" value="')[1].split('"')[0]
    answer = session.post(psc_emulator.authorization_endpoint, data={"txn": txn, "action": "cancel"},
                          allow_redirects=False, timeout=5)
    assert query(answer.headers["Location"])["error"] == "access_denied"
    assert query(answer.headers["Location"])["state"] == "s1"


def test_an_unknown_transaction_or_user_is_refused(psc_emulator):
    unknown = requests.post(psc_emulator.authorization_endpoint, allow_redirects=False, timeout=5,
                            data={"txn": "forged", "user": "899700000001", "auth_mode": "CARD"})
    assert unknown.status_code == 400 and "Location" not in unknown.headers
    session = requests.Session()
    page = session.get(psc_authorize_url(psc_emulator), timeout=5)
    txn = page.text.split('name="txn" value="')[1].split('"')[0]
    bad_user = session.post(psc_emulator.authorization_endpoint, allow_redirects=False, timeout=5,
                            data={"txn": txn, "user": "800000000000", "auth_mode": "CARD"})
    assert bad_user.status_code == 400 and 'role="alert"' in bad_user.text


def test_no_iss_in_the_authorization_response_when_disabled(psc_emulator_factory):
    emulator = psc_emulator_factory(send_iss=False)
    callback, _ = login(emulator)
    assert "code" in callback and "iss" not in callback


# -- userinfo -------------------------------------------------------------------------------------------------
def test_userinfo_json_is_the_test_professional_with_psc_spellings(psc_emulator):
    body = tokens(psc_emulator, user="899700000002", auth_mode="MOBILE")
    answer = userinfo(psc_emulator, body["access_token"])
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("application/json")
    info = answer.json()
    assert info == TEST_PROFESSIONALS["899700000002"]
    assert info["sub"] == unverified(body["id_token"])[1]["sub"]
    exercice = info["SubjectRefPro"]["exercices"][0]
    assert exercice["codeProfession"] == "21" and info["SubjectRole"] == ["21^1.2.250.1.213.1.1.5.5"]
    assert exercice["activities"][0]["codeSectionPharmacien"] == "A"
    assert exercice["activities"][0]["numeroSiretSite"] == ""
    assert unverified(body["access_token"])[1]["authMode"] == "MOBILE"
    by_post = requests.post(endpoint(psc_emulator, "userinfo_endpoint"), timeout=5,
                            headers={"Authorization": f"Bearer {body['access_token']}"})
    assert by_post.json() == info


def test_userinfo_as_signed_jwt(psc_emulator_factory):
    emulator = psc_emulator_factory(userinfo_format="jwt")
    body = tokens(emulator, user="ANS20210107161422")
    answer = userinfo(emulator, body["access_token"])
    assert answer.headers["Content-Type"] == "application/jwt"
    signed = jwt.decode(answer.text, jwks(emulator), algorithms=["RS256"])
    assert signed.claims["iss"] == emulator.issuer and signed.claims["aud"] == PSC_TEST_CLIENT_ID
    assert signed.claims["SubjectNameID"] == "ANS20210107161422"
    assert signed.claims["otherIds"][0]["origine"] == "EDIT"


def test_userinfo_refuses_missing_forged_and_expired_tokens(psc_emulator):
    body = tokens(psc_emulator)
    missing = requests.get(endpoint(psc_emulator, "userinfo_endpoint"), timeout=5)
    assert missing.status_code == 401 and missing.json()["error"] == "invalid_token"
    header, payload, signature = body["access_token"].split(".")
    forged = userinfo(psc_emulator, f"{header}.{payload}.{signature[:-4]}AAAA")
    assert forged.status_code == 401 and 'error="invalid_token"' in forged.headers["WWW-Authenticate"]

    requests.post(f"{psc_emulator.url}/_emulator/clock", json={"advance": 121}, timeout=5)
    assert userinfo(psc_emulator, body["access_token"]).status_code == 401


# -- HS256 ----------------------------------------------------------------------------------------------------
def test_hs256_id_token_is_signed_with_the_client_secret(psc_emulator_factory):
    emulator = psc_emulator_factory(id_token_alg="HS256")
    body = tokens(emulator)
    header, _ = unverified(body["id_token"])
    assert header["alg"] == "HS256" and "kid" not in header
    claims = jwt.decode(body["id_token"], OctKey.import_key(PSC_TEST_CLIENT_SECRET), algorithms=["HS256"]).claims
    assert claims["aud"] == PSC_TEST_CLIENT_ID and claims["nonce"] == "no-456"
    with pytest.raises(JoseError):
        jwt.decode(body["id_token"], OctKey.import_key("another-secret-value"), algorithms=["HS256"])
    assert unverified(body["access_token"])[0]["alg"] == "RS256"  # access tokens stay RS256


# -- refresh, introspection, revocation -----------------------------------------------------------------------
def test_refresh_tokens_rotate_and_a_used_one_is_dead(psc_emulator):
    first = tokens(psc_emulator)
    first_auth_time = unverified(first["id_token"])[1]["auth_time"]
    psc_emulator.advance_clock(60)

    second = refresh(psc_emulator, first["refresh_token"])
    assert second.status_code == 200, second.text
    second = second.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    renewed = jwt.decode(second["id_token"], jwks(psc_emulator), algorithms=["RS256"]).claims
    assert renewed["auth_time"] == first_auth_time and renewed["iat"] >= first_auth_time + 60

    reused = refresh(psc_emulator, first["refresh_token"])
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    assert refresh(psc_emulator, second["refresh_token"]).status_code == 200


def test_refresh_tokens_expire_after_30_minutes_and_with_the_sso_session(psc_emulator_factory):
    emulator = psc_emulator_factory(sso_ttl=2000)
    body = tokens(emulator)
    emulator.advance_clock(1801)  # the SSO session (2000 s) is still alive, the refresh token is not
    assert refresh(emulator, body["refresh_token"]).json()["error"] == "invalid_grant"

    body = tokens(emulator)  # another browser: a new 2000 s session
    assert body["refresh_expires_in"] == 1800
    emulator.advance_clock(1700)
    body = refresh(emulator, body["refresh_token"]).json()
    assert body["refresh_expires_in"] == 300  # capped by the end of the SSO session
    emulator.advance_clock(301)
    assert refresh(emulator, body["refresh_token"]).json()["error"] == "invalid_grant"


def test_introspection_of_access_and_refresh_tokens(psc_emulator):
    body = tokens(psc_emulator)
    url = endpoint(psc_emulator, "introspection_endpoint")
    access = requests.post(url, auth=AUTH, data={"token": body["access_token"]}, timeout=5).json()
    assert access["active"] is True and access["SubjectNameID"] == "899700000001"
    for claim in ("exp", "iat", "auth_time", "jti", "iss", "sub", "azp", "nonce", "typ"):
        assert claim in access
    refresh_info = requests.post(url, auth=AUTH, data={"token": body["refresh_token"]}, timeout=5).json()
    assert refresh_info["active"] is True and "SubjectNameID" not in refresh_info
    assert refresh_info["typ"] == "Refresh"
    garbage = requests.post(url, auth=AUTH, data={"token": "nope"}, timeout=5).json()
    assert garbage == {"active": False}
    anonymous = requests.post(url, data={"token": body["access_token"]}, timeout=5)
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "invalid_client"


def test_revocation_kills_refresh_and_access_tokens(psc_emulator):
    body = tokens(psc_emulator)
    url = endpoint(psc_emulator, "revocation_endpoint")
    assert requests.post(url, auth=AUTH, data={"token": body["refresh_token"]}, timeout=5).status_code == 200
    assert refresh(psc_emulator, body["refresh_token"]).json()["error"] == "invalid_grant"
    assert userinfo(psc_emulator, body["access_token"]).status_code == 200
    assert requests.post(url, auth=AUTH, data={"token": body["access_token"]}, timeout=5).status_code == 200
    assert userinfo(psc_emulator, body["access_token"]).status_code == 401


# -- SSO session ----------------------------------------------------------------------------------------------
def test_sso_session_returns_a_code_at_once_with_the_original_auth_time(psc_emulator):
    browser = requests.Session()
    first = tokens(psc_emulator, browser)
    psc_emulator.advance_clock(600)

    verifier, challenge = pkce_pair()
    answer = browser.get(psc_authorize_url(psc_emulator, state="again", nonce="n2", code_challenge=challenge,
                                           code_challenge_method="S256"), allow_redirects=False, timeout=5)
    assert answer.status_code == 302  # no login page
    callback = query(answer.headers["Location"])
    assert callback["state"] == "again"
    second = exchange(psc_emulator, callback["code"], verifier).json()
    first_claims, second_claims = unverified(first["id_token"])[1], unverified(second["id_token"])[1]
    assert second_claims["auth_time"] == first_claims["auth_time"]
    assert second_claims["iat"] - first_claims["iat"] >= 600
    assert second_claims["sid"] == first_claims["sid"] and second_claims["nonce"] == "n2"


def test_prompt_none_without_session_is_login_required(psc_emulator):
    answer = requests.get(psc_authorize_url(psc_emulator, prompt="none", state="s"), allow_redirects=False,
                          timeout=5)
    assert answer.status_code == 302
    assert query(answer.headers["Location"])["error"] == "login_required"
    assert query(answer.headers["Location"])["state"] == "s"


def test_prompt_none_with_session_and_prompt_login_despite_it(psc_emulator):
    browser = requests.Session()
    first = tokens(psc_emulator, browser)
    silent = browser.get(psc_authorize_url(psc_emulator, prompt="none"), allow_redirects=False, timeout=5)
    assert "code" in query(silent.headers["Location"])
    forced = browser.get(psc_authorize_url(psc_emulator, prompt="login"), allow_redirects=False, timeout=5)
    assert forced.status_code == 200 and 'name="txn"' in forced.text

    psc_emulator.advance_clock(100)
    again = tokens(psc_emulator, browser, prompt="login", auth_mode="MOBILE")
    before, after = unverified(first["id_token"])[1], unverified(again["id_token"])[1]
    assert after["auth_time"] >= before["auth_time"] + 100  # a real new authentication
    assert after["sid"] == before["sid"]  # same user, same SSO session (Keycloak)
    assert unverified(again["access_token"])[1]["authMode"] == "MOBILE"


def test_max_age_forces_a_new_login_when_the_authentication_is_older(psc_emulator):
    browser = requests.Session()
    login(psc_emulator, browser)
    psc_emulator.advance_clock(300)
    recent_enough = browser.get(psc_authorize_url(psc_emulator, max_age="1000"), allow_redirects=False, timeout=5)
    assert recent_enough.status_code == 302 and "code" in query(recent_enough.headers["Location"])
    too_old = browser.get(psc_authorize_url(psc_emulator, max_age="60"), allow_redirects=False, timeout=5)
    assert too_old.status_code == 200 and 'name="txn"' in too_old.text


def test_sso_session_ends_after_sso_ttl(psc_emulator_factory):
    emulator = psc_emulator_factory(sso_ttl=600)
    browser = requests.Session()
    login(emulator, browser)
    emulator.advance_clock(601)
    answer = browser.get(psc_authorize_url(emulator, prompt="none"), allow_redirects=False, timeout=5)
    assert query(answer.headers["Location"])["error"] == "login_required"


def test_another_professional_in_the_same_browser_ends_the_previous_session(psc_emulator):
    browser = requests.Session()
    doctor = tokens(psc_emulator, browser, user="899700000001")
    nurse = tokens(psc_emulator, browser, user="0751234567", prompt="login")
    assert unverified(nurse["id_token"])[1]["SubjectNameID"] == "0751234567"
    assert unverified(nurse["id_token"])[1]["sid"] != unverified(doctor["id_token"])[1]["sid"]
    assert refresh(psc_emulator, doctor["refresh_token"]).json()["error"] == "invalid_grant"
    assert userinfo(psc_emulator, doctor["access_token"]).status_code == 401
    assert userinfo(psc_emulator, nurse["access_token"]).json()["otherIds"][0]["origine"] == "ADELI"


# -- logout ---------------------------------------------------------------------------------------------------
def test_end_session_redirects_with_state_and_ends_the_sso_session(psc_emulator):
    browser = requests.Session()
    body = tokens(psc_emulator, browser)
    answer = browser.get(endpoint(psc_emulator, "end_session_endpoint"), allow_redirects=False, timeout=5,
                         params={"id_token_hint": body["id_token"],
                                 "post_logout_redirect_uri": PSC_TEST_POST_LOGOUT_URI, "state": "bye"})
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith(PSC_TEST_POST_LOGOUT_URI)
    assert query(answer.headers["Location"]) == {"state": "bye"}
    assert refresh(psc_emulator, body["refresh_token"]).json()["error"] == "invalid_grant"
    assert userinfo(psc_emulator, body["access_token"]).status_code == 401
    silent = browser.get(psc_authorize_url(psc_emulator, prompt="none"), allow_redirects=False, timeout=5)
    assert query(silent.headers["Location"])["error"] == "login_required"


def test_server_side_logout_with_only_the_id_token_hint_ends_the_session(psc_emulator):
    body = tokens(psc_emulator)
    answer = requests.get(endpoint(psc_emulator, "end_session_endpoint"), params={"id_token_hint": body["id_token"]},
                          allow_redirects=False, timeout=5)
    assert answer.status_code == 200 and "déconnecté" in answer.text
    assert refresh(psc_emulator, body["refresh_token"]).json()["error"] == "invalid_grant"


def test_end_session_can_omit_state_like_psc_sometimes_does(psc_emulator_factory):
    emulator = psc_emulator_factory(omit_logout_state=True)
    body = tokens(emulator)
    answer = requests.get(endpoint(emulator, "end_session_endpoint"), allow_redirects=False, timeout=5,
                          params={"id_token_hint": body["id_token"],
                                  "post_logout_redirect_uri": PSC_TEST_POST_LOGOUT_URI, "state": "bye"})
    assert answer.status_code == 302 and "state" not in query(answer.headers["Location"])


def test_end_session_refuses_an_unregistered_post_logout_uri_or_a_forged_hint(psc_emulator):
    body = tokens(psc_emulator)
    url = endpoint(psc_emulator, "end_session_endpoint")
    unregistered = requests.get(url, allow_redirects=False, timeout=5, params={
        "id_token_hint": body["id_token"], "post_logout_redirect_uri": "http://evil.example/", "state": "x"})
    assert unregistered.status_code == 400 and "Location" not in unregistered.headers
    forged = requests.get(url, allow_redirects=False, timeout=5, params={
        "id_token_hint": body["id_token"][:-4] + "AAAA", "post_logout_redirect_uri": PSC_TEST_POST_LOGOUT_URI})
    assert forged.status_code == 400 and "Location" not in forged.headers
    assert refresh(psc_emulator, body["refresh_token"]).status_code == 200  # nothing was logged out


# -- fault injection ------------------------------------------------------------------------------------------
def test_faults_are_validated_listed_and_cleared(psc_emulator):
    faults_url = f"{psc_emulator.url}/_emulator/faults"
    typo = requests.post(faults_url, json={"id_token_claim": {}}, timeout=5)
    assert typo.status_code == 400 and "id_token_claims" in typo.json()["error_description"]
    wrong_type = requests.post(faults_url, json={"token_delay": "slow"}, timeout=5)
    assert wrong_type.status_code == 400
    set_faults(psc_emulator, {"authorize_error": "access_denied"})
    assert requests.get(faults_url, timeout=5).json() == {"authorize_error": "access_denied"}
    set_faults(psc_emulator, {})
    assert requests.get(faults_url, timeout=5).json() == {}
    assert "code" in login(psc_emulator)[0]


def test_fault_id_token_claims_merges_and_deletes(psc_emulator):
    set_faults(psc_emulator, {"id_token_claims": {"acr": "eidas2", "nonce": None, "aud": "someone-else"}})
    body = tokens(psc_emulator)
    claims = jwt.decode(body["id_token"], jwks(psc_emulator), algorithms=["RS256"]).claims  # still validly signed
    assert claims["acr"] == "eidas2" and claims["aud"] == "someone-else" and "nonce" not in claims
    assert claims["SubjectNameID"] == "899700000001"


def test_fault_id_token_alg_none(psc_emulator):
    set_faults(psc_emulator, {"id_token_alg": "none"})
    token = tokens(psc_emulator)["id_token"]
    header, claims = unverified(token)
    assert header["alg"] == "none" and token.endswith(".") and claims["nonce"] == "no-456"


def test_fault_id_token_bad_signature(psc_emulator):
    set_faults(psc_emulator, {"id_token_bad_signature": True})
    token = tokens(psc_emulator)["id_token"]
    header, claims = unverified(token)
    assert header["kid"] in [key.kid for key in jwks(psc_emulator).keys] and claims["acr"] == "eidas2"
    with pytest.raises(BadSignatureError):
        jwt.decode(token, jwks(psc_emulator), algorithms=["RS256"])


def test_fault_id_token_kid_unknown(psc_emulator):
    set_faults(psc_emulator, {"id_token_kid_unknown": True})
    token = tokens(psc_emulator)["id_token"]
    header, _ = unverified(token)
    assert header["alg"] == "RS256" and header["kid"] not in [key.kid for key in jwks(psc_emulator).keys]
    with pytest.raises(JoseError):
        jwt.decode(token, jwks(psc_emulator), algorithms=["RS256"])


def test_fault_access_token_claims(psc_emulator):
    set_faults(psc_emulator, {"access_token_claims": {"authMode": "MOBILE", "auth_level": None}})
    body = tokens(psc_emulator, auth_mode="CARD")
    access = jwt.decode(body["access_token"], jwks(psc_emulator), algorithms=["RS256"]).claims
    assert access["authMode"] == "MOBILE" and "auth_level" not in access
    assert userinfo(psc_emulator, body["access_token"]).status_code == 200


def test_fault_userinfo_claims(psc_emulator):
    body = tokens(psc_emulator)
    set_faults(psc_emulator, {"userinfo_claims": {"sub": "other", "SubjectNameID": None}})
    info = userinfo(psc_emulator, body["access_token"]).json()
    assert info["sub"] == "other" and "SubjectNameID" not in info
    assert info["family_name"] == "MARTIN"


def test_fault_userinfo_format_status_and_delay(psc_emulator):
    body = tokens(psc_emulator)
    set_faults(psc_emulator, {"userinfo_format": "jwt"})
    answer = userinfo(psc_emulator, body["access_token"])
    assert answer.headers["Content-Type"] == "application/jwt"
    assert jwt.decode(answer.text, jwks(psc_emulator), algorithms=["RS256"]).claims["aud"] == PSC_TEST_CLIENT_ID
    set_faults(psc_emulator, {"userinfo_status": 503})
    assert userinfo(psc_emulator, body["access_token"]).status_code == 503
    set_faults(psc_emulator, {"userinfo_delay": 3})
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(endpoint(psc_emulator, "userinfo_endpoint"), timeout=(3, 0.5),
                     headers={"Authorization": f"Bearer {body['access_token']}"})


def test_fault_token_delay_makes_the_client_time_out(psc_emulator):
    callback, verifier = login(psc_emulator)
    token_url = endpoint(psc_emulator, "token_endpoint")
    set_faults(psc_emulator, {"token_delay": 3})
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.post(token_url, auth=AUTH, timeout=(3, 0.5), data={
            "grant_type": "authorization_code", "code": callback["code"], "redirect_uri": PSC_TEST_REDIRECT_URI,
            "code_verifier": verifier})


def test_fault_token_error_answers_before_processing(psc_emulator):
    callback, verifier = login(psc_emulator)
    set_faults(psc_emulator, {"token_error": "invalid_grant"})
    answer = exchange(psc_emulator, callback["code"], verifier)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"
    set_faults(psc_emulator, {"token_error": "invalid_client"})
    assert exchange(psc_emulator, callback["code"], verifier).status_code == 401
    set_faults(psc_emulator, {"token_error": "temporarily_unavailable", "token_status": 503})
    assert exchange(psc_emulator, callback["code"], verifier).status_code == 503
    set_faults(psc_emulator, {})
    assert exchange(psc_emulator, callback["code"], verifier).status_code == 200  # the code was not consumed


def test_fault_authorize_error_redirects_back_with_state(psc_emulator):
    set_faults(psc_emulator, {"authorize_error": "access_denied"})
    answer = requests.get(psc_authorize_url(psc_emulator, state="s7"), allow_redirects=False, timeout=5)
    assert answer.status_code == 302 and answer.headers["Location"].startswith(PSC_TEST_REDIRECT_URI)
    params = query(answer.headers["Location"])
    assert params["error"] == "access_denied" and params["state"] == "s7" and params["error_description"]
    assert "code" not in params


# -- mTLS (tls_client_auth) -----------------------------------------------------------------------------------
@pytest.fixture
def mtls_emulator(psc_emulator_factory, psc_tls):
    return psc_emulator_factory(auth_method="tls_client_auth", tls_client_cert_sha256=psc_tls.client_cert_sha256,
                                ssl_context=server_ssl_context(psc_tls, require_client_cert=False))


def _https_login(emulator, tls_files) -> tuple[dict, str]:
    browser = requests.Session()
    browser.verify = str(tls_files.ca_cert)
    return login(emulator, browser)


def test_tls_client_auth_accepts_the_registered_certificate(mtls_emulator, psc_tls):
    assert mtls_emulator.url.startswith("https://")
    callback, verifier = _https_login(mtls_emulator, psc_tls)
    answer = exchange(mtls_emulator, callback["code"], verifier, auth=None, data={"client_id": PSC_TEST_CLIENT_ID},
                      cert=psc_tls.client_pair, verify=str(psc_tls.ca_cert))
    assert answer.status_code == 200, answer.text
    access = unverified(answer.json()["access_token"])[1]
    assert access["cnf"]["x5t#S256"]  # certificate-bound access token
    info = requests.get(endpoint(mtls_emulator, "userinfo_endpoint", str(psc_tls.ca_cert)), verify=str(psc_tls.ca_cert),
                        cert=psc_tls.client_pair, timeout=5,
                        headers={"Authorization": f"Bearer {answer.json()['access_token']}"})
    assert info.json()["SubjectNameID"] == "899700000001"


def test_tls_client_auth_refuses_no_certificate_or_another_one(mtls_emulator, psc_tls):
    callback, verifier = _https_login(mtls_emulator, psc_tls)
    without = exchange(mtls_emulator, callback["code"], verifier, auth=None, data={"client_id": PSC_TEST_CLIENT_ID},
                       verify=str(psc_tls.ca_cert))
    assert without.status_code == 401 and without.json()["error"] == "invalid_client"
    callback, verifier = _https_login(mtls_emulator, psc_tls)
    other = exchange(mtls_emulator, callback["code"], verifier, auth=None, data={"client_id": PSC_TEST_CLIENT_ID},
                     cert=psc_tls.other_client_pair, verify=str(psc_tls.ca_cert))
    assert other.status_code == 401 and other.json()["error"] == "invalid_client"
    with_secret = exchange(mtls_emulator, callback["code"], verifier, auth=(PSC_TEST_CLIENT_ID, "anything"),
                           verify=str(psc_tls.ca_cert))
    assert with_secret.status_code == 401


def test_a_server_requiring_client_certificates_refuses_the_handshake_without_one(psc_emulator_factory, psc_tls):
    emulator = psc_emulator_factory(auth_method="tls_client_auth", tls_client_cert_sha256=psc_tls.client_cert_sha256,
                                    ssl_context=server_ssl_context(psc_tls, require_client_cert=True))
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(emulator.discovery_url, verify=str(psc_tls.ca_cert), timeout=5)
    assert requests.get(emulator.discovery_url, verify=str(psc_tls.ca_cert), cert=psc_tls.client_pair,
                        timeout=5).status_code == 200


# -- start-up -------------------------------------------------------------------------------------------------
def test_the_emulator_refuses_production(monkeypatch):
    monkeypatch.setenv("BRIDGE_ENV", "production")
    with pytest.raises(RuntimeError, match="production"):
        create_emulator(EmulatorConfig())
    with pytest.raises(RuntimeError, match="production"):
        serve(EmulatorConfig(), port=0)


def test_config_is_checked():
    with pytest.raises(ValueError, match="tls_client_cert_sha256"):
        EmulatedClient("c", "", ["http://127.0.0.1/cb"], auth_method="tls_client_auth")
    with pytest.raises(ValueError, match="secret"):
        EmulatorConfig(id_token_alg="HS256", clients=[EmulatedClient(
            "c", "", ["http://127.0.0.1/cb"], auth_method="tls_client_auth", tls_client_cert_sha256="ab" * 32)])


def test_command_line_serves_the_given_client(tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("BRIDGE_ENV", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "bridge.sandbox.psc", "--port", "0", "--id-token-alg", "HS256",
         "--client", "cli-app:cli-secret-value:http://127.0.0.1:9000/cb:http://127.0.0.1:9000/bye"],
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        lines = [process.stdout.readline() for _ in range(3)]
        discovery_url = next(line.split()[-1] for line in lines if "discovery" in line)
        meta = requests.get(discovery_url, timeout=5).json()
        page = requests.get(meta["authorization_endpoint"], timeout=5, params={
            "response_type": "code", "client_id": "cli-app", "redirect_uri": "http://127.0.0.1:9000/cb",
            "scope": "openid scope_all"})
        assert page.status_code == 200 and 'name="txn"' in page.text
    finally:
        process.terminate()
        process.wait(timeout=10)
