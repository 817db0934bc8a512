"""The emulator's test professionals have PSC's exact userinfo shape (docs/sources.md, PSC)."""
from __future__ import annotations

import uuid

import pytest

from bridge.model import id_kind
from bridge.sandbox.professionals import ACTIVITY_KEYS, TEST_PROFESSIONALS, display_name

TOP_LEVEL_KEYS = {
    "sub", "SubjectNameID", "preferred_username", "given_name", "family_name", "email_verified", "otherIds",
    "SubjectOrganization", "SubjectOrganizationID", "SubjectRole", "Secteur_Activite", "PSI_Locale",
    "Palier_Authentification", "Acces_Regulation_Medicale", "Mode_Acces_Raison", "UITVersion", "SubjectRefPro"}
EXERCICE_KEYS = {"codeProfession", "codeCategorieProfessionnelle", "codeCiviliteDexercice", "nomDexercice",
                 "prenomDexercice", "codeTypeSavoirFaire", "codeSavoirFaire", "activities"}


def _values(node):
    if isinstance(node, dict):
        for value in node.values():
            yield from _values(value)
    elif isinstance(node, list):
        for value in node:
            yield from _values(value)
    else:
        yield node


@pytest.mark.parametrize("national_id", sorted(TEST_PROFESSIONALS))
def test_each_professional_has_the_psc_userinfo_shape(national_id):
    pro = TEST_PROFESSIONALS[national_id]
    psi = pro.get("PSISubjectNameID", "")   # Pro Santé Identité staff: no RPPS number, SubjectNameID ""
    assert set(pro) - {"PSISubjectNameID"} == TOP_LEVEL_KEYS
    national = pro["SubjectNameID"] or psi
    assert national == pro["preferred_username"] == pro["otherIds"][0]["identifiant"] == national_id
    assert not (pro["SubjectNameID"] and psi)
    assert str(uuid.UUID(pro["sub"])) == pro["sub"]
    assert None not in set(_values(pro))  # PSC sends "" for empty values, never null
    for exercice in pro["SubjectRefPro"]["exercices"]:
        assert set(exercice) == EXERCICE_KEYS and exercice["activities"]
        assert psi or f"{exercice['codeProfession']}^1.2.250.1.213.1.1.5.5" in pro["SubjectRole"]
        for activity in exercice["activities"]:
            assert tuple(activity) == ACTIVITY_KEYS
            assert activity["codeModeExercice"] in ("L", "S")
    assert display_name(national_id).endswith(f"({national_id})")


def test_the_set_covers_the_cases_a_relying_party_must_handle():
    subs = {pro["sub"] for pro in TEST_PROFESSIONALS.values()}
    assert len(subs) == len(TEST_PROFESSIONALS)
    doctor = TEST_PROFESSIONALS["899700000001"]["SubjectRefPro"]["exercices"][0]
    activities = doctor["activities"]
    assert doctor["codeProfession"] == "10" and doctor["codeSavoirFaire"] == "SM54"
    assert [(a["codeModeExercice"], a["codeSecteurDactivite"]) for a in activities] == [
        ("L", "SA07"), ("S", "SA01"), ("S", "SA43")]
    assert activities[1]["numeroFinessSite"] and activities[1]["numeroFinessetablissementJuridique"]
    assert activities[2]["numeroSiretSite"]
    pharmacist = TEST_PROFESSIONALS["899700000002"]["SubjectRefPro"]["exercices"][0]
    assert pharmacist["codeProfession"] == "21" and pharmacist["activities"][0]["codeSectionPharmacien"]
    assert TEST_PROFESSIONALS["899700000003"]["SubjectRefPro"]["exercices"][0]["codeProfession"] == "50"
    nurse = TEST_PROFESSIONALS["0751234567"]
    assert nurse["otherIds"][0]["origine"] == "ADELI" and id_kind("0751234567") == "adeli"
    sandbox = TEST_PROFESSIONALS["ANS20210107161422"]
    assert sandbox["otherIds"][0]["origine"] == "EDIT" and id_kind("ANS20210107161422") == "other"
    assert id_kind("899700000001") == "rpps"
