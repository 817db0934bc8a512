"""bridge/upstream/psc_claims.py: PSC userinfo -> Identity field by field, and the MIE read from authMode or from a
forwarded amr.

Complements test_psc_claims.py (the real BAS sample): here every PSC spelling is given a distinct value so a key
mapped to the wrong field shows, and each malformed shape is refused with its own code and detail (the detail is
what the login error page and the log show the operator).
"""
from __future__ import annotations

import pytest

from bridge.mie import CATALOGUE
from bridge.model import Activity, Exercice
from bridge.upstream.psc_claims import (
    ACTIVITY_KEYS,
    EXERCICE_KEYS,
    ClaimsError,
    identity_from_userinfo,
    mie_from_claims,
)

# One distinct value per PSC key: "<field>-value", so any swap between two keys is caught.
EXERCICE_PSC = {psc: f"{name}-value" for name, psc in EXERCICE_KEYS.items()}
ACTIVITY_PSC = {psc: f"{name}-value" for name, psc in ACTIVITY_KEYS.items()}


def userinfo(**overrides) -> dict:
    data = {"SubjectNameID": "810001234567", "given_name": "Jeanne", "family_name": "MARTIN",
            "email": "jeanne.martin@example.org",
            "SubjectRefPro": {"exercices": [{**EXERCICE_PSC, "activities": [ACTIVITY_PSC]}]}}
    data.update(overrides)
    return data


def refused(data: dict) -> ClaimsError:
    with pytest.raises(ClaimsError) as info:
        identity_from_userinfo(data)
    return info.value


# --- the identity ---------------------------------------------------------------------------------------------

def test_top_level_names_email_and_national_id():
    ident = identity_from_userinfo(userinfo())
    assert (ident.national_id, ident.given_name, ident.family_name, ident.email) == (
        "810001234567", "Jeanne", "MARTIN", "jeanne.martin@example.org")
    assert ident.id_kind == "rpps"


def test_every_exercice_and_activity_key_lands_in_its_own_field():
    exercice = identity_from_userinfo(userinfo()).exercices[0]
    assert exercice == Exercice(**{name: f"{name}-value" for name in EXERCICE_KEYS},
                                activities=(Activity(**{name: f"{name}-value" for name in ACTIVITY_KEYS}),))


def test_absent_top_level_claims_become_empty_strings():
    ident = identity_from_userinfo({"SubjectNameID": "810001234567"})
    assert (ident.given_name, ident.family_name, ident.email, ident.exercices) == ("", "", "", ())


def test_values_are_text_and_null_is_empty():
    # PSC sends codes as strings, but a number or a null must not leak into the model as such.
    ident = identity_from_userinfo(userinfo(given_name=None, email=None, SubjectRefPro={"exercices": [
        {"codeProfession": 10, "nomDexercice": None, "activities": [{"codePostal": 75009, "codeCommune": None}]}]}))
    assert (ident.given_name, ident.email) == ("", "")
    exercice = ident.exercices[0]
    assert (exercice.profession, exercice.family_name, exercice.given_name) == ("10", "", "")
    assert (exercice.activities[0].postal_code, exercice.activities[0].city_code) == ("75009", "")


def test_the_national_id_is_trimmed():
    assert identity_from_userinfo(userinfo(SubjectNameID="  810001234567\n")).national_id == "810001234567"


def test_every_exercice_and_activity_is_kept_in_order():
    data = userinfo(SubjectRefPro={"exercices": [
        {"codeProfession": "10", "activities": [{"codeModeExercice": "L"}, {"codeModeExercice": "S"}]},
        {"codeProfession": "21", "activities": []},
        {"codeProfession": "40"}]})
    ident = identity_from_userinfo(data)
    assert [ex.profession for ex in ident.exercices] == ["10", "21", "40"]
    assert [act.mode for act in ident.exercices[0].activities] == ["L", "S"]
    assert ident.exercices[1].activities == () and ident.exercices[2].activities == ()
    assert [(e, a) for e, a, _, _ in ident.activities()] == [(0, 0), (0, 1)]


@pytest.mark.parametrize("ref", [None, {}, {"exercices": []}, {"codeCivilite": "M"}])
def test_no_situation_d_exercice_is_an_identity_without_exercices(ref):
    ident = identity_from_userinfo(userinfo(SubjectRefPro=ref))
    assert ident.national_id == "810001234567" and ident.exercices == ()


# --- refusals ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("national_id", [None, "", "   ", 810001234567, ["810001234567"]])
def test_a_missing_blank_or_non_text_subject_is_refused(national_id):
    error = refused(userinfo(SubjectNameID=national_id))
    assert (error.code, error.detail) == ("subject_missing", "SubjectNameID is missing from PSC userinfo")


@pytest.mark.parametrize("ref", [["exercices"], "SubjectRefPro", 42])
def test_a_subject_ref_pro_that_is_not_an_object_is_refused(ref):
    error = refused(userinfo(SubjectRefPro=ref))
    assert (error.code, error.detail) == ("userinfo_invalid", "SubjectRefPro.exercices is not a list")


@pytest.mark.parametrize("exercices", ["nope", {"codeProfession": "10"}, 3, None])
def test_exercices_that_are_not_a_list_are_refused(exercices):
    error = refused(userinfo(SubjectRefPro={"exercices": exercices}))
    assert (error.code, error.detail) == ("userinfo_invalid", "SubjectRefPro.exercices is not a list")


@pytest.mark.parametrize("activities", ["x", {"codeModeExercice": "L"}, 1])
def test_activities_that_are_not_a_list_are_refused(activities):
    error = refused(userinfo(SubjectRefPro={"exercices": [{"codeProfession": "10", "activities": activities}]}))
    assert (error.code, error.detail) == ("userinfo_invalid", "SubjectRefPro.exercices[].activities is not a list")


@pytest.mark.parametrize("ref", [{"exercices": ["10"]}, {"exercices": [None]},
                                 {"exercices": [{"codeProfession": "10", "activities": ["L"]}]},
                                 {"exercices": [{"codeProfession": "10", "activities": [None]}]}])
def test_an_entry_that_is_not_an_object_is_refused(ref):
    error = refused(userinfo(SubjectRefPro=ref))
    assert (error.code, error.detail) == ("userinfo_invalid", "SubjectRefPro entry is not an object")


def test_claims_error_carries_code_and_detail():
    error = ClaimsError("userinfo_invalid", "SubjectRefPro entry is not an object")
    assert isinstance(error, ValueError)
    assert str(error) == "userinfo_invalid: SubjectRefPro entry is not an object"
    bare = ClaimsError("subject_missing")
    assert (bare.code, bare.detail, str(bare)) == ("subject_missing", "", "subject_missing")


# --- which means: authMode, then a forwarded amr ---------------------------------------------------------------

MAPPING = {"CARD": "psc-card", "MOBILE": "psc-ecps"}


@pytest.mark.parametrize("mode, mie", [("CARD", "psc-card"), ("MOBILE", "psc-ecps")])
def test_auth_mode_names_the_means_and_its_catalogue_amr(mode, mie):
    assert mie_from_claims([{"authMode": mode}], MAPPING) == (mie, CATALOGUE[mie].amr)


def test_the_first_claim_set_stating_a_known_auth_mode_wins():
    assert mie_from_claims([{"authMode": "OTHER"}, {"authMode": "MOBILE"}, {"authMode": "CARD"}], MAPPING)[0] \
        == "psc-ecps"


def test_auth_mode_wins_over_an_amr_seen_earlier():
    claims = [{"amr": ["pwd", "otp"]}, {"authMode": "CARD"}]
    assert mie_from_claims(claims, MAPPING) == ("psc-card", CATALOGUE["psc-card"].amr)


@pytest.mark.parametrize("mode", [["CARD"], {"CARD": 1}, 1, None, "card"])
def test_an_auth_mode_that_is_not_a_known_string_is_ignored(mode):
    assert mie_from_claims([{"authMode": mode}], MAPPING) == ("psc", CATALOGUE["psc"].amr)


def test_an_amr_without_mfa_is_forwarded_as_is():
    assert mie_from_claims([{"amr": ["pwd", "otp"]}], MAPPING) == ("psc-delegated", ("pwd", "otp"))
    assert mie_from_claims([{"amr": ["pwd", "pwd"]}], MAPPING) == ("psc-delegated", ("pwd", "pwd"))


def test_an_amr_with_mfa_is_forwarded_without_duplicates():
    assert mie_from_claims([{"amr": ["otp", "mfa", "pwd", "otp", "mfa"]}], MAPPING) == (
        "psc-delegated", ("otp", "mfa", "pwd"))
    assert mie_from_claims([{"amr": ["mfa"]}], MAPPING) == ("psc-delegated", ("mfa",))


@pytest.mark.parametrize("amr", [[], ["pwd", 1], [None], "pwd", ("pwd", "otp"), {"pwd": 1}, None])
def test_an_amr_that_is_not_a_non_empty_list_of_strings_is_not_forwarded(amr):
    assert mie_from_claims([{"amr": amr}], MAPPING) == ("psc", CATALOGUE["psc"].amr)


def test_the_first_usable_amr_is_the_one_forwarded():
    claims = [{"amr": []}, {"amr": ["pwd", 2]}, {"amr": ["hwk", "pin"]}, {"amr": ["face"]}]
    assert mie_from_claims(claims, MAPPING) == ("psc-delegated", ("hwk", "pin"))


def test_nothing_stated_is_plain_psc():
    assert mie_from_claims([], MAPPING) == ("psc", CATALOGUE["psc"].amr)
    assert mie_from_claims([{}, {"sub": "x"}], {}) == ("psc", ("mfa",))
