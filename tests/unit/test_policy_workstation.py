"""The policy fields of shared workstations: `on_card_removal` (logout | ignore, logout by default where cps-pin is
allowed) and `shared_workstation` (true | false); bad values are refused naming file, line, field and why."""
from __future__ import annotations

from pathlib import Path

import pytest

from bridge.policy import PolicyError, Service, load_policies
from tests.unit.test_policy_support import NOW, VALID_POLICY, write

REPO_POLICIES = Path(__file__).resolve().parents[2] / "policies"


def loaded(tmp_path: Path, extra: str) -> tuple[Service, tuple[str, ...]]:
    write(tmp_path, "svc.yaml", VALID_POLICY + extra)
    policies = load_policies(tmp_path, now=NOW)
    return policies.services["svc"], policies.warnings


def refused(tmp_path: Path, extra: str) -> list[str]:
    write(tmp_path, "svc.yaml", VALID_POLICY + extra)
    with pytest.raises(PolicyError) as caught:
        load_policies(tmp_path, now=NOW)
    return caught.value.errors


def test_card_removal_ends_the_session_by_default_only_where_cps_pin_is_allowed():
    services = load_policies(REPO_POLICIES, now=NOW).services
    assert services["teleservice-historique"].card_removal == "logout"
    assert services["dpi"].card_removal == "ignore" and services["demo-portail"].card_removal == "ignore"
    assert not any(service.shared_workstation for service in services.values())


def test_a_service_built_in_code_gets_the_same_default():
    assert Service("s", "s", (), ("psc", "cps-pin")).card_removal == "logout"
    assert Service("s", "s", (), ("psc",)).card_removal == "ignore"
    assert Service("s", "s", (), ("psc", "cps-pin"), on_card_removal="ignore").card_removal == "ignore"


def test_explicit_values_are_kept(tmp_path):
    service, warnings = loaded(tmp_path, "on_card_removal: ignore\nshared_workstation: true\n")
    assert (service.card_removal, service.shared_workstation) == ("ignore", True) and warnings == ()


@pytest.mark.parametrize("value", ["logoff", "true", "[logout]", "1"])
def test_other_card_removal_values_are_refused_naming_file_line_field_and_why(tmp_path, value):
    errors = refused(tmp_path, f"on_card_removal: {value}\n")
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"{tmp_path}/svc.yaml:7 on_card_removal: ")
    assert "must be logout or ignore" in errors[0]


def test_shared_workstation_must_be_a_boolean(tmp_path):
    errors = refused(tmp_path, "shared_workstation: sometimes\n")
    assert len(errors) == 1 and "svc.yaml:7 shared_workstation: 'sometimes' must be true or false" in errors[0]


def test_logout_on_a_service_without_cps_pin_is_a_warning(tmp_path):
    service, warnings = loaded(tmp_path, "on_card_removal: logout\n")
    assert service.card_removal == "logout"
    assert len(warnings) == 1 and "on_card_removal" in warnings[0] and "has no effect" in warnings[0]
