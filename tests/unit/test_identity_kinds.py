"""identity_kinds (PSI opt-in) and the backup means in the policy engine: loading, evaluation, PSC claims."""
from __future__ import annotations

from pathlib import Path

import pytest

from bridge.model import Authentication, Identity
from bridge.policy import PolicyError, evaluate, load_policies, step_up_means
from bridge.upstream.psc_claims import ClaimsError, identity_from_userinfo
from tests.unit.test_policy_support import NOW, VALID_POLICY, login, person, service, teleservice, write

PSI = "6c0e1b9a-4f5d-4c31-9d7e-2a8b3c4d5e6f"


def psi_login(mie: str = "psc-card") -> Authentication:
    identity = Identity(national_id=PSI, given_name="Inès", family_name="FAURE", kind="psi")
    return login(mie, identity=identity)


def test_psi_is_refused_by_default_and_admitted_when_listed():
    assert evaluate(service(), psi_login(), NOW).reasons == ("identity_kind_not_allowed",)
    assert step_up_means(service(), psi_login(), NOW) == []   # logging in again would not change who they are
    assert evaluate(service(identity_kinds=("rpps", "psi")), psi_login(), NOW).allowed
    assert evaluate(service(identity_kinds=("psi",)), login(), NOW).reasons == ("identity_kind_not_allowed",)
    assert evaluate(service(), login(identity=person(national_id="0751234567")), NOW).allowed   # adeli


def test_the_loader_reads_identity_kinds_and_refuses_bad_values(tmp_path: Path):
    write(tmp_path / "ok", "svc.yaml", VALID_POLICY + "identity_kinds: [rpps, psi]\n")
    assert load_policies(tmp_path / "ok", now=NOW).services["svc"].identity_kinds == ("rpps", "psi")
    write(tmp_path / "default", "svc.yaml", VALID_POLICY)
    assert load_policies(tmp_path / "default", now=NOW).services["svc"].identity_kinds == ("rpps", "adeli", "other")
    for bad, why in (("[rpps, psy]", "did you mean 'psi'"), ("[]", "at least one kind"), ("psi", "list")):
        write(tmp_path / "bad", "svc.yaml", VALID_POLICY + f"identity_kinds: {bad}\n")
        with pytest.raises(PolicyError) as caught:
            load_policies(tmp_path / "bad", now=NOW)
        error = " ".join(caught.value.errors)
        assert "svc.yaml" in error and "identity_kinds" in error and why in error, error


def test_psc_claims_map_psisubjectnameid_when_subjectnameid_is_empty():
    psi = identity_from_userinfo({"SubjectNameID": "", "PSISubjectNameID": PSI, "given_name": "Inès"})
    assert (psi.national_id, psi.id_kind) == (PSI, "psi")
    rpps = identity_from_userinfo({"SubjectNameID": "899700000002", "PSISubjectNameID": PSI})
    assert (rpps.national_id, rpps.id_kind) == ("899700000002", "rpps")
    with pytest.raises(ClaimsError):
        identity_from_userinfo({"SubjectNameID": "", "PSISubjectNameID": ""})
    restored = Authentication.from_dict(psi_login().to_dict())
    assert restored.identity.id_kind == "psi"   # kept through the session store's JSON


def test_backup_is_one_factor_admitted_despite_require_2fa_only_where_listed():
    backup = login("backup", card=None)
    with_backup = teleservice(allowed_mie=("psc", "backup"))
    assert with_backup.require_2fa and evaluate(with_backup, backup, NOW).allowed
    assert evaluate(teleservice(), backup, NOW).reasons == ("mie_not_allowed",)
    assert "mie_not_allowed" in evaluate(service(allowed_mie=("psc",)), backup, NOW).reasons   # psc ≠ backup
    assert evaluate(with_backup, login("cps-pin", amr=("pin",)), NOW).reasons == ("mie_not_allowed",)
