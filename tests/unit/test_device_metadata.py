"""Discovery advertises the device authorization grant (RFC 8628) only when a client's policy allows it."""
from __future__ import annotations

from pathlib import Path

from bridge.policy.loader import load_policies
from bridge.provider.metadata import DEVICE_CODE, optional_grants, provider_metadata


def test_advertised_only_with_a_client_allowing_it(tmp_path):
    plain = provider_metadata("https://sso.example", ("eidas1",))
    assert "device_authorization_endpoint" not in plain and DEVICE_CODE not in plain["grant_types_supported"]
    device = provider_metadata("https://sso.example", ("eidas1",), (DEVICE_CODE,))   # validated by Authlib inside
    assert device["device_authorization_endpoint"] == "https://sso.example/device_authorization"
    assert device["grant_types_supported"] == ["authorization_code", "refresh_token", DEVICE_CODE]


def test_the_grants_come_from_the_policies(tmp_path):
    assert DEVICE_CODE in optional_grants(load_policies("policies").services.values())   # the demo kiosk
    policies = tmp_path / "policies"
    policies.mkdir()
    for source in Path("policies").glob("*.yaml"):
        text = source.read_text()
        if source.name == "dpi.yaml":   # without the kiosk
            start = text.index("  # The care unit's shared kiosk")
            scopes = "    scopes: [openid, profile, rpps]\n"
            end = text.index(scopes, start) + len(scopes)
            text = text[:start] + text[end:]
        (policies / source.name).write_text(text)
    assert DEVICE_CODE not in optional_grants(load_policies(policies).services.values())
