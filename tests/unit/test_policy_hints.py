"""The policy checker's messages: a mistyped code gets a did-you-mean like a mistyped key, and a timeout above the
cap is reported once (an error without a reserve, a warning when the declared reserve is not in force)."""
from __future__ import annotations

import pytest

from bridge.policy import PolicyError, load_policies
from tests.unit.test_policy_support import NOW, VALID_POLICY, at, write

RESERVE = """\
attestation:
  status: reserves
  signed_on: {signed_on}
  valid_until: {valid_until}
  reserves:
    - {{requirement: RIE-PS 13, action_plan: badgeuse, due: 2027-06-30}}
    - {{requirement: RIE-PS 09, action_plan: badgeuse, due: 2027-06-30}}
"""
CARD = "allowed_mie: [psc, cps-pin]\nhistorical_teleservice: true\n"


def findings(tmp_path, extra: str, now: float = NOW) -> tuple[list[str], list[str]]:
    write(tmp_path, "svc.yaml", VALID_POLICY.replace("allowed_mie: [psc]\n", extra))
    try:
        return [], list(load_policies(tmp_path, now=now).warnings)
    except PolicyError as exc:
        return exc.errors, exc.warnings


def about(lines: list[str], key: str) -> list[str]:
    return [line for line in lines if f" {key}: " in line]


def test_a_mistyped_means_gets_a_did_you_mean(tmp_path):
    errors, _ = findings(tmp_path, "allowed_mie: [psc, cps_pin]\nhistorical_teleservice: true\n")
    assert len(errors) == 1
    assert "allowed_mie[1]: 'cps_pin' is not valid: unknown MIE" in errors[0]
    assert "did you mean 'cps-pin'?" in errors[0]


def test_a_code_far_from_any_means_gets_no_guess(tmp_path):
    errors, _ = findings(tmp_path, "allowed_mie: [psc, login-password]\n")
    assert len(errors) == 1 and "did you mean" not in errors[0]


@pytest.mark.parametrize("line,key", [("idle_timeout: 45m", "idle_timeout"), ("require_2fa: false", "require_2fa")])
def test_no_reserve_is_one_error_and_no_warning_on_the_same_line(tmp_path, line, key):
    errors, warnings = findings(tmp_path, CARD + line + "\n")
    assert len(about(errors, key)) == 1 and "reserve on RIE-PS" in about(errors, key)[0]
    assert about(warnings, key) == []


@pytest.mark.parametrize("signed_on,valid_until,now,why", [
    ("2026-10-01", "2027-09-30", at(2027, 10, 1), "the attestation ended on 2027-09-30"),
    ("2027-01-15", "2027-12-31", NOW, "signed on 2027-01-15, not in force yet"),
])
@pytest.mark.parametrize("line,key", [("idle_timeout: 45m", "idle_timeout"), ("require_2fa: false", "require_2fa")])
def test_a_reserve_not_in_force_is_one_warning_that_says_why(tmp_path, signed_on, valid_until, now, why, line, key):
    errors, warnings = findings(tmp_path, CARD + line + "\n" + RESERVE.format(signed_on=signed_on,
                                                                            valid_until=valid_until), now)
    assert about(errors, key) == []
    assert len(about(warnings, key)) == 1
    assert "is not in force on" in about(warnings, key)[0] and why in about(warnings, key)[0]
