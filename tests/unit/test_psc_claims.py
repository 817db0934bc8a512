"""PSC userinfo -> neutral Identity, and the MIE PSC signals (authMode)."""
import pytest

from bridge.model import Authentication
from bridge.upstream.psc_claims import ClaimsError, identity_from_userinfo, mie_from_claims

# Shape of the real BAS sample in docs/sources.md, PSC (one activity kept, keys exactly as PSC spells them).
SAMPLE = {
    "sub": "f:550dc1c8-d97b-4b1e-ac8c-8eb4471cf9dd:ANS20210107161422", "SubjectNameID": "ANS20210107161422",
    "given_name": "Paul", "family_name": "NOM", "email_verified": False,
    "SubjectRefPro": {"codeCivilite": "M", "exercices": [{
        "codeProfession": "10", "codeCategorieProfessionnelle": "C", "codeCiviliteDexercice": "M",
        "nomDexercice": "Docteur OIDC", "prenomDexercice": "Paul", "codeTypeSavoirFaire": "S",
        "codeSavoirFaire": "SM54", "activities": [
            {"codeModeExercice": "L", "codeSecteurDactivite": "SA07", "codeSectionPharmacien": "", "codeRole": "",
             "codeGenreActivite": "GENR01", "numeroSiretSite": "", "numeroSirenSite": "", "numeroFinessSite": "",
             "numeroFinessetablissementJuridique": "", "identifiantTechniqueDeLaStructure": "",
             "raisonSocialeSite": "CAB MED BIS TOUBIB0023550", "codePostal": "75009", "codeCommune": "75109"}]}]}}


def test_maps_every_psc_spelling():
    ident = identity_from_userinfo(SAMPLE)
    assert ident.national_id == "ANS20210107161422" and ident.id_kind == "other"
    exercice = ident.exercices[0]
    assert (exercice.profession, exercice.family_name, exercice.savoir_faire) == ("10", "Docteur OIDC", "SM54")
    activity = exercice.activities[0]
    assert (activity.mode, activity.sector, activity.organization) == ("L", "SA07", "CAB MED BIS TOUBIB0023550")
    assert activity.finess == "" and activity.postal_code == "75009"


@pytest.mark.parametrize("national_id, kind", [("810001234567", "rpps"), ("0751234567", "adeli"),
                                               ("3123456789", "other"), ("8ABC", "other")])
def test_id_kind_from_prefix(national_id, kind):
    assert identity_from_userinfo({**SAMPLE, "SubjectNameID": national_id}).id_kind == kind


def test_missing_subject_name_id_is_refused():
    with pytest.raises(ClaimsError) as info:
        identity_from_userinfo({k: v for k, v in SAMPLE.items() if k != "SubjectNameID"})
    assert info.value.code == "subject_missing"


def test_exercice_without_activities_and_null_values():
    data = {**SAMPLE, "SubjectRefPro": {"exercices": [{"codeProfession": "21", "nomDexercice": None}]}}
    ident = identity_from_userinfo(data)
    assert ident.exercices[0].activities == () and ident.exercices[0].family_name == ""


def test_malformed_subject_ref_pro():
    with pytest.raises(ClaimsError) as info:
        identity_from_userinfo({**SAMPLE, "SubjectRefPro": {"exercices": "nope"}})
    assert info.value.code == "userinfo_invalid" and "exercices is not a list" in info.value.detail
    with pytest.raises(ClaimsError) as info:
        identity_from_userinfo({**SAMPLE, "SubjectRefPro": {"exercices": [{"activities": "x"}]}})
    assert info.value.code == "userinfo_invalid" and "activities is not a list" in info.value.detail


MAPPING = {"CARD": "psc-card", "MOBILE": "psc-ecps"}


def test_authmode_card_and_mobile():
    assert mie_from_claims([{"authMode": "CARD"}], MAPPING)[0] == "psc-card"
    assert mie_from_claims([{}, {"authMode": "MOBILE"}], MAPPING) == ("psc-ecps", ("swk", "pin", "mfa"))


def test_forwarded_amr_is_delegated_and_unknown_is_plain_psc():
    assert mie_from_claims([{"amr": ["sc", "pin", "mfa", "hwk"]}], MAPPING) == ("psc-delegated",
                                                                                ("sc", "pin", "mfa", "hwk"))
    assert mie_from_claims([{"authMode": "SOMETHING"}], MAPPING)[0] == "psc"


def test_authentication_round_trips_through_json():
    import json

    authn = Authentication(identity=identity_from_userinfo(SAMPLE), mie="psc-card", amr=("sc", "pin"), acr="eidas1",
                           auth_time=1, upstream="psc", selected_activity=(0, 0))
    again = Authentication.from_dict(json.loads(json.dumps(authn.to_dict())))
    assert again == authn and again.activity.sector == "SA07"


def test_compact_form_leaves_out_empty_values_and_round_trips():
    authn = Authentication(identity=identity_from_userinfo(SAMPLE), mie="psc", amr=(), acr="", auth_time=5,
                           upstream="psc")
    data = authn.to_dict()
    assert "" not in [v for v in data["identity"]["exercices"][0]["activities"][0].values()]
    assert "acr" not in data and "card" not in data
    assert Authentication.from_dict(data) == authn


@pytest.mark.parametrize("mie, acr", [("psc", ""), ("", "eidas1"), ("cps-pin", "eidas2")])
def test_peek_reads_what_from_dict_rebuilds(mie, acr):
    authn = Authentication(identity=identity_from_userinfo(SAMPLE), mie=mie, amr=("sc",), acr=acr, auth_time=7,
                           upstream="psc")
    again = Authentication.from_dict(authn.to_dict())
    assert Authentication.peek(authn.to_dict()) == (again.identity.national_id, again.auth_time, again.acr, again.mie)
    assert Authentication.peek(authn.to_dict()) == (authn.identity.national_id, 7, acr, mie)
