"""Issue 17 item 1: native apps (RFC 8252 §7.3): portless loopback redirect URIs for public clients only."""
from __future__ import annotations

import pytest

from bridge.policy import load_policies
from bridge.policy.values import is_native_loopback, loopback_matches
from tests.unit.test_policy_loader import SECRET_HASH, one_error, policy, replaced
from tests.unit.test_policy_support import NOW

PUBLIC = f"    client_secret_sha256: {SECRET_HASH}\n", "    token_endpoint_auth_method: none\n"


def native(uri: str) -> str:
    old, new = PUBLIC
    return replaced(old, new).replace("[https://svc.example/cb]", f"['{uri}']")


@pytest.mark.parametrize("uri", ["http://127.0.0.1/callback", "http://[::1]/callback", "http://127.0.0.1/cb?app=dpi"])
@pytest.mark.parametrize("dev", [True, False])
def test_a_public_client_registers_a_portless_loopback_uri_in_production_too(tmp_path, uri, dev):
    client = load_policies(policy(tmp_path, native(uri)), dev=dev, now=NOW).services["svc"].clients[0]
    assert client.redirect_uris == (uri,) and client.public


@pytest.mark.parametrize("dev", [True, False])
def test_a_confidential_client_may_not_register_a_portless_loopback_uri(tmp_path, dev):
    text = replaced("[https://svc.example/cb]", "['http://127.0.0.1/cb']")
    assert ("redirect_uris[0]: 'http://127.0.0.1/cb' a loopback redirect URI without a port is for native apps"
            in one_error(policy(tmp_path, text), dev=dev))


@pytest.mark.parametrize("uri", ["http://localhost/cb", "http://127.0.0.1:8000/cb", "http://127.0.0.2/cb"])
def test_in_production_a_native_app_is_told_the_accepted_form(tmp_path, uri):
    error = one_error(policy(tmp_path, native(uri)), dev=False)
    assert "a native app registers http://127.0.0.1/… or http://[::1]/… without a port" in error
    assert "not localhost" in error


@pytest.mark.parametrize("presented", ["http://127.0.0.1:1/cb", "http://127.0.0.1:51234/cb",
                                       "http://127.0.0.1:65535/cb"])
def test_any_port_matches(presented):
    assert loopback_matches("http://127.0.0.1/cb", presented)


@pytest.mark.parametrize("registered, presented", [
    ("http://127.0.0.1/cb", "http://127.0.0.1:5000/cb/"),          # path exact
    ("http://127.0.0.1/cb", "http://127.0.0.1:5000/cb?x=1"),       # query exact
    ("http://127.0.0.1/cb?a=1", "http://127.0.0.1:5000/cb?a=2"),
    ("http://127.0.0.1/cb", "http://[::1]:5000/cb"),               # host exact
    ("http://127.0.0.1/cb", "http://localhost:5000/cb"),
    ("http://127.0.0.1/cb", "http://127.0.0.2:5000/cb"),
    ("http://127.0.0.1/cb", "https://127.0.0.1:5000/cb"),          # scheme exact
    ("http://127.0.0.1/cb", "http://127.0.0.1:0/cb"),              # a real port
    ("http://127.0.0.1/cb", "http://127.0.0.1:65536/cb"),
    ("http://127.0.0.1/cb", "http://127.0.0.1:05000/cb"),          # one spelling per port
    ("http://127.0.0.1/cb", "http://127.0.0.1:5000/cb#x"),
    ("http://127.0.0.1/cb", "http://127.0.0.1:5000/cb\n"),
    ("http://127.0.0.1/cb", "http://user@127.0.0.1:5000/cb"),
    ("http://127.0.0.1:8000/cb", "http://127.0.0.1:5000/cb"),      # a registered port is exact
    ("https://app.example/cb", "https://app.example:5000/cb"),
])
def test_everything_but_the_port_is_exact(registered, presented):
    assert not loopback_matches(registered, presented)


def test_localhost_is_not_the_native_form():
    assert not is_native_loopback("http://localhost/cb") and is_native_loopback("http://[::1]/cb")
