"""`bridge client add --grant-type`: a kiosk on the device authorization grant (RFC 8628) needs no redirect URI, and
the code flow still does."""
from __future__ import annotations

import shutil

from click.testing import CliRunner

from bridge.cli import main
from bridge.policy.loader import load_policies

ENV = {"BRIDGE_ENV": None, "BRIDGE_POLICIES_DIR": None}
DEVICE = "urn:ietf:params:oauth:grant-type:device_code"


def run(*args: str):
    return CliRunner().invoke(main, ["client", *args], env=ENV)


def test_a_kiosk_client_on_the_device_grant(tmp_path):
    policies = tmp_path / "policies"
    shutil.copytree("policies", policies)
    result = run("add", "dpi", "chariot-3b", "--grant-type", DEVICE, "--dir", str(policies))
    assert result.exit_code == 0, result.output
    client = next(c for c in load_policies(policies).services["dpi"].clients if c.client_id == "chariot-3b")
    assert client.grant_types == (DEVICE,) and client.redirect_uris == ()


def test_the_code_flow_still_needs_a_redirect_uri(tmp_path):
    policies = tmp_path / "policies"
    shutil.copytree("policies", policies)
    before = (policies / "dpi.yaml").read_bytes()
    for args in ((), ("--grant-type", "authorization_code", "--grant-type", DEVICE)):
        result = run("add", "dpi", "chariot-3b", *args, "--dir", str(policies))
        assert result.exit_code == 1 and "--redirect-uri is required" in result.output
    assert run("add", "dpi", "x", "--grant-type", "password", "--dir", str(policies)).exit_code == 2
    assert (policies / "dpi.yaml").read_bytes() == before
