"""The client field `consent: required | none` (third-party clients ask the professional first)."""
from __future__ import annotations

import pytest

from bridge.policy import load_policies
from tests.unit.test_policy_loader import REPO_POLICIES, one_error, policy, replaced
from tests.unit.test_policy_support import NOW


def with_fields(fields: str) -> str:
    return replaced("    redirect_uris:", fields + "    redirect_uris:")


def client_of(tmp_path, fields: str):
    return load_policies(policy(tmp_path, with_fields(fields)), now=NOW).services["svc"].clients[0]


def test_first_party_by_default_and_required_when_said(tmp_path):
    assert client_of(tmp_path, "").consent == "none"
    assert client_of(tmp_path, "    consent: none\n").consent == "none"
    assert client_of(tmp_path, "    consent: required\n").consent == "required"


@pytest.mark.parametrize("value", ["yes", "true", "'Required'", "[required]"])
def test_another_value_names_file_field_and_why(tmp_path, value):
    error = one_error(policy(tmp_path, with_fields(f"    consent: {value}\n")))
    assert "svc.yaml:" in error and "clients[0].consent:" in error
    assert "must be required (a third party: the professional is asked) or none (a first-party client)" in error


def test_the_demo_vendor_client_asks_and_the_portal_does_not():
    policies = load_policies(REPO_POLICIES, now=NOW)
    assert policies.client("demo-editeur")[1].consent == "required"
    assert policies.client("demo-portail")[1].consent == "none"
