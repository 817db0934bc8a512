"""Policies of the bridge as establishment IdP of PSC (issue 18 item 4): `establishment_idp`, `fi_amr`,
`psc_idp_hint`. The shipped example loads; the loop (an FI service offering PSC), a means that is not a local
phishing-resistant one, and the fields out of place are refused naming file, line, field and why."""
from __future__ import annotations

from pathlib import Path

import pytest

from bridge.model import Authentication, Identity
from bridge.policy import PolicyError, load_policies
from bridge.policy.establishment import fi_amr
from tests.unit.test_policy_support import NOW

EXAMPLE = (Path(__file__).resolve().parents[2] / "docs" / "examples" / "policies" / "psc-fi.yaml").read_text()


def load(tmp_path: Path, text: str):
    (tmp_path / "psc-fi.yaml").write_text(text)
    return load_policies(tmp_path, now=NOW)


def errors(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        load(tmp_path, text)
    return caught.value.errors


def test_the_example_loads_without_psc_nor_historical_teleservice(tmp_path):
    policies = load(tmp_path, EXAMPLE)
    service = policies.services["psc-fi"]
    assert service.establishment_idp and service.allowed_mie == ("local-fido", "cps-pin")
    assert not service.historical_teleservice and policies.warnings == ()


def test_without_the_flag_the_same_means_need_psc(tmp_path):
    found = errors(tmp_path, EXAMPLE.replace("establishment_idp: true", "establishment_idp: false")
                   .replace("fi_amr:\n  cps-pin: [sc, pin, mfa, hwk]\n", ""))
    assert any("allowed_mie" in e and "must include a Pro Santé Connect means" in e for e in found), found
    assert any("requires historical_teleservice: true" in e for e in found), found


@pytest.mark.parametrize("means", ["psc", "psc-delegated", "psc-card"])
def test_an_establishment_idp_offering_psc_is_a_loop(tmp_path, means):
    found = errors(tmp_path, EXAMPLE.replace("allowed_mie: [local-fido, cps-pin]",
                                             f"allowed_mie: [local-fido, {means}]"))
    assert len(found) == 1, found
    assert "psc-fi.yaml:" in found[0] and "allowed_mie[1]" in found[0] and means in found[0]
    assert "loop" in found[0]


def test_an_establishment_idp_allows_no_backup_code(tmp_path):
    found = errors(tmp_path, EXAMPLE.replace("allowed_mie: [local-fido, cps-pin]", "allowed_mie: [local-fido, backup]"))
    assert any("allowed_mie[1]" in e and "not a phishing-resistant local means" in e for e in found), found


def test_fields_out_of_place_are_refused(tmp_path):
    hint = errors(tmp_path, EXAMPLE.replace("require_2fa: true", "require_2fa: true\npsc_idp_hint: bridge-fi"))
    assert len(hint) == 1 and "psc_idp_hint" in hint[0] and "makes no sense with establishment_idp" in hint[0]
    bad_amr = errors(tmp_path, EXAMPLE.replace("cps-pin: [sc, pin, mfa, hwk]", "cps-pin: [sc, 'p i n']"))
    assert len(bad_amr) == 1 and "fi_amr.cps-pin" in bad_amr[0] and "not an amr value" in bad_amr[0], bad_amr
    psc_amr = errors(tmp_path, EXAMPLE.replace("cps-pin: [sc, pin, mfa, hwk]", "psc: [mfa]"))
    assert len(psc_amr) == 1 and "not a local means" in psc_amr[0], psc_amr
    dpi = Path(__file__).resolve().parents[2] / "policies" / "dpi.yaml"
    (tmp_path / "psc-fi.yaml").unlink(missing_ok=True)
    (tmp_path / "dpi.yaml").write_text(dpi.read_text() + "fi_amr:\n  local-fido: [hwk]\n")
    with pytest.raises(PolicyError) as caught:
        load_policies(tmp_path, now=NOW)
    assert any("fi_amr" in e and "only makes sense with establishment_idp: true" in e for e in caught.value.errors)


def test_psc_idp_hint_on_a_psc_service(tmp_path):
    dpi = Path(__file__).resolve().parents[2] / "policies" / "dpi.yaml"
    (tmp_path / "dpi.yaml").write_text(dpi.read_text() + "psc_idp_hint: bridge-fi\n")
    assert load_policies(tmp_path, now=NOW).services["dpi"].psc_idp_hint == "bridge-fi"
    (tmp_path / "dpi.yaml").write_text(dpi.read_text() + "psc_idp_hint: 'bad alias/x'\n")
    with pytest.raises(PolicyError) as caught:
        load_policies(tmp_path, now=NOW)
    assert any("psc_idp_hint" in e and "identity provider alias" in e for e in caught.value.errors)


def test_the_amr_stated_to_psc(tmp_path):
    service = load(tmp_path, EXAMPLE.replace("cps-pin: [sc, pin, mfa, hwk]", "cps-pin: [sc, pin, mfa, hwk, x1]"))\
        .services["psc-fi"]
    identity = Identity(national_id="899700000002")
    passkey = Authentication(identity=identity, upstream="local-fido", mie="local-fido", acr="eidas1",
                             amr=("swk", "user", "mfa"), auth_time=0)
    card = Authentication(identity=identity, upstream="cps-pin", mie="cps-pin", acr="eidas1",
                          amr=("sc", "pin", "hwk", "mfa"), auth_time=0)
    assert fi_amr(service, passkey) == ["swk", "user", "mfa"]          # not in the table: the login's own
    assert fi_amr(service, card) == ["sc", "pin", "mfa", "hwk", "x1"]   # the policy's line
    default = load(tmp_path, EXAMPLE.replace("fi_amr:\n  cps-pin: [sc, pin, mfa, hwk]\n", "")).services["psc-fi"]
    assert fi_amr(default, card) == ["sc", "pin", "mfa", "hwk"]         # the default table (PSC's example order)


def test_the_attestation_report_says_why_an_establishment_idp_offers_no_psc(tmp_path):
    from bridge.attest.services import rule_status
    from bridge.policy.rules import rule

    service = load(tmp_path, EXAMPLE).services["psc-fi"]
    assert rule_status(rule("psc_not_offered"), service, NOW, "fr").detail == \
        "establishment_idp = oui; allowed_mie = local-fido, cps-pin"
    assert rule_status(rule("not_historical_teleservice"), service, NOW, "en").detail == \
        "historical_teleservice = no; establishment_idp = yes"
