"""Policy fields of OIDC Front-Channel Logout 1.0: frontchannel_logout_uri and frontchannel_logout_session_required."""
from __future__ import annotations

import pytest

from bridge.policy import load_policies
from tests.unit.test_policy_loader import errors_of, one_error, policy, replaced
from tests.unit.test_policy_support import NOW


def with_fields(fields: str) -> str:
    return replaced("    redirect_uris:", fields + "    redirect_uris:")


def test_front_channel_fields_load_with_session_required_by_default(tmp_path):
    text = with_fields("    frontchannel_logout_uri: https://svc.example/fc?app=1\n")
    client = load_policies(policy(tmp_path, text), now=NOW).services["svc"].clients[0]
    assert client.frontchannel_logout_uri == "https://svc.example/fc?app=1"
    assert client.frontchannel_logout_session_required is True
    text = with_fields("    frontchannel_logout_uri: https://svc.example/fc\n"
                       "    frontchannel_logout_session_required: false\n")
    assert load_policies(policy(tmp_path, text), now=NOW).services["svc"].clients[0] \
        .frontchannel_logout_session_required is False


def test_no_front_channel_by_default(tmp_path):
    client = load_policies(policy(tmp_path, with_fields("")), now=NOW).services["svc"].clients[0]
    assert client.frontchannel_logout_uri == "" and client.frontchannel_logout_session_required is True


@pytest.mark.parametrize("uri, expected", [
    ("http://evil.example/fc", "must be https"),
    ("/fc", "must be an absolute URL"),
    ("https://svc.example/fc#x", "must not contain a fragment"),
    ("https://*.example/fc", "must be an exact URL"),
    ("https://u:p@svc.example/fc", "must not contain credentials"),
])
def test_a_bad_front_channel_uri_names_file_field_and_why(tmp_path, uri, expected):
    error = one_error(policy(tmp_path, with_fields(f"    frontchannel_logout_uri: '{uri}'\n")))
    assert error.startswith(f"{tmp_path.name}/svc.yaml:") or "svc.yaml:" in error
    assert f"clients[0].frontchannel_logout_uri: '{uri}' {expected}" in error


def test_http_loopback_front_channel_only_in_development(tmp_path):
    text = with_fields("    frontchannel_logout_uri: http://127.0.0.1:8002/dpi/frontchannel-logout\n")
    client = load_policies(policy(tmp_path, text), dev=True, now=NOW).services["svc"].clients[0]
    assert client.frontchannel_logout_uri == "http://127.0.0.1:8002/dpi/frontchannel-logout"
    assert any("frontchannel_logout_uri" in e and "must be https in production" in e
               for e in errors_of(tmp_path, dev=False))


@pytest.mark.parametrize("value", ["'yes'", "1", "[true]"])
def test_session_required_must_be_a_boolean(tmp_path, value):
    text = with_fields("    frontchannel_logout_uri: https://svc.example/fc\n"
                       f"    frontchannel_logout_session_required: {value}\n")
    assert "clients[0].frontchannel_logout_session_required:" in one_error(policy(tmp_path, text))
    assert "must be true or false" in one_error(policy(tmp_path, text))
