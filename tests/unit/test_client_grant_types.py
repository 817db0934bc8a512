"""Per-client grant_types and psc_audiences (DESIGN §14): what /token accepts from each client."""
from __future__ import annotations

import pytest

from bridge.policy import Service
from bridge.policy.clients import CIBA, DEVICE_CODE, TOKEN_EXCHANGE, read_client
from bridge.policy.report import Report
from bridge.provider.clients import OAuthClient

SECRET = {"client_secret_sha256": "a" * 64}
BASE = {"client_id": "dpi", "redirect_uris": ["https://dpi.example/cb"], **SECRET}


def _read(fields):
    report = Report("p.yaml")
    return read_client(report, fields, 0, dev=False), report.errors


def _oauth(client):
    return OAuthClient(Service(service="s", name="S", clients=(client,), allowed_mie=("psc",)), client)


def test_default_is_the_browser_grant_and_refresh():
    client, errors = _read(BASE)
    assert not errors and client.grant_types == ("authorization_code", "refresh_token")
    oauth = _oauth(client)
    assert oauth.check_grant_type("authorization_code") and oauth.check_grant_type("refresh_token")
    assert not oauth.check_grant_type(DEVICE_CODE) and not oauth.check_grant_type(TOKEN_EXCHANGE)
    assert oauth.check_response_type("code")


def test_a_kiosk_on_device_code_needs_no_redirect_uri_and_cannot_use_authorize():
    client, errors = _read({"client_id": "kiosque", "token_endpoint_auth_method": "none",
                            "grant_types": [DEVICE_CODE]})
    assert not errors and client.redirect_uris == ()
    oauth = _oauth(client)
    assert oauth.check_grant_type(DEVICE_CODE)
    assert not oauth.check_grant_type("refresh_token") and not oauth.check_response_type("code")


def test_token_exchange_client_lists_its_psc_audiences():
    client, errors = _read({**BASE, "grant_types": ["authorization_code", TOKEN_EXCHANGE],
                            "psc_audiences": ["dmp-api", "https://insi.example/api"]})
    assert not errors and client.psc_audiences == ("dmp-api", "https://insi.example/api")


@pytest.mark.parametrize("fields, complaint", [
    ({"grant_types": ["password"]}, "is not valid: one of authorization_code"),
    ({"grant_types": ["authorization_cod"]}, "did you mean 'authorization_code'"),
    ({"grant_types": [CIBA, CIBA]}, "is listed twice"),
    ({"grant_types": "authorization_code"}, "must be a list"),
    ({"psc_audiences": ["dmp"]}, "only with urn:ietf:params:oauth:grant-type:token-exchange"),
    ({"grant_types": [TOKEN_EXCHANGE, "authorization_code"], "psc_audiences": ["with space"]}, "PSC audience"),
    ({"grant_types": ["authorization_code"], "redirect_uris": []}, "at least one redirect URI")])
def test_bad_grant_fields_name_the_field_and_why(fields, complaint):
    _, errors = _read({**BASE, **fields})
    assert any(complaint in str(error) for error in errors), errors


def test_no_refresh_token_for_a_client_without_the_refresh_grant():
    client, _ = _read({**BASE, "grant_types": ["authorization_code"]})
    assert not _oauth(client).check_grant_type("refresh_token")
