"""Test health professionals served by the PSC emulator (sandbox data, no real person).

`TEST_PROFESSIONALS[SubjectNameID]` is the **exact userinfo body** the emulator answers for that professional
(`sub` included: PSC's 2026-style bare UUID, stable per professional), before any fault injection. Key spellings,
"" for empty values and the VIHF-style top-level attributes follow the real BAS samples (docs/sources.md, PSC).
Treat it as read-only: the emulator serves deep copies.

| SubjectNameID     | who                          | profession | activities |
|-------------------|------------------------------|------------|------------|
| 899700000001      | Dr Camille MARTIN, médecin   | 10         | 3 (libéral SA07, salariée SA01 hôpital, SA43 SIRET) |
| 899700000002      | Hugo BERNARD, pharmacien     | 21         | 1 (officine SA33, section A) |
| 899700000003      | Léa PETIT, sage-femme        | 50         | 1 (maison de santé SA52) |
| 0751234567        | Julien ROUX, infirmier ADELI | 60         | 1 (cabinet SA07) |
| ANS20210107161422 | Paul NOM, médecin (EDIT)     | 10         | 1 (like the 2021 BAS sample) |
| (PSI) 6c0e1b9a-…  | Inès FAURE, secrétaire méd.  | none       | 1 (hôpital SA01, salariée) |

The last one has no RPPS number: enrolled through Pro Santé Identité, her userinfo has SubjectNameID "" and the
UUID in PSISubjectNameID (how PSC fills SubjectNameID then is UNCONFIRMED); she is keyed by that UUID here.
"""
from __future__ import annotations

# OIDs PSC appends to the VIHF-style values.
ROLE_OID = "1.2.250.1.213.1.1.5.5"          # SubjectRole: <codeProfession>^OID (TRE_G15)
SECTOR_OID = "1.2.250.1.71.4.2.4"           # Secteur_Activite: <SAxx>^OID (TRE_R02)
PSI_LOCALE = "1.2.250.1.213.1.3.1.1"
PALIER_AUTHENTIFICATION = "APPPRIP3^1.2.250.1.213.1.5.1.1.1"

PROFESSION_LABELS = {"10": "Médecin", "21": "Pharmacien", "50": "Sage-femme", "60": "Infirmier"}

# Every key of a PSC `activities[]` entry, in PSC's order and spelling.
ACTIVITY_KEYS = (
    "codeModeExercice", "codeSecteurDactivite", "codeSectionPharmacien", "codeRole", "codeGenreActivite",
    "numeroSiretSite", "numeroSirenSite", "numeroFinessSite", "numeroFinessetablissementJuridique",
    "identifiantTechniqueDeLaStructure", "raisonSocialeSite", "enseigneCommercialeSite", "complementDestinataire",
    "complementPointGeographique", "numeroVoie", "indiceRepetitionVoie", "codeTypeDeVoie", "libelleVoie",
    "mentionDistribution", "bureauCedex", "codePostal", "codeCommune", "codePays", "telephone", "telephone2",
    "telecopie", "adresseEMail", "codeDepartement", "ancienIdentifiantDeLaStructure", "autoriteDenregistrement",
)


def _activity(**values: str) -> dict:
    """A complete activity: every PSC key present, "" where not given (as PSC does)."""
    unknown = set(values) - set(ACTIVITY_KEYS)
    if unknown:
        raise KeyError(f"not a PSC activity key: {sorted(unknown)}")
    return {key: values.get(key, "") for key in ACTIVITY_KEYS}


def _exercice(profession: str, civilite: str, family: str, given: str, activities: list[dict], *,
              category: str = "C", savoir_faire_type: str = "", savoir_faire: str = "") -> dict:
    return {
        "codeProfession": profession, "codeCategorieProfessionnelle": category,
        "codeCiviliteDexercice": civilite, "nomDexercice": family, "prenomDexercice": given,
        "codeTypeSavoirFaire": savoir_faire_type, "codeSavoirFaire": savoir_faire,
        "activities": activities,
    }


def _userinfo(national_id: str, sub: str, given: str, family: str, civilite: str, origin: str,
              exercices: list[dict]) -> dict:
    """The userinfo body; the VIHF-style attributes describe the first activity, as in the BAS samples."""
    first = exercices[0]["activities"][0]
    return {
        "sub": sub,
        "SubjectNameID": national_id,
        "preferred_username": national_id,
        "given_name": given,
        "family_name": family,
        "email_verified": False,
        "otherIds": [{"identifiant": national_id, "origine": origin, "qualite": 1}],
        "SubjectOrganization": first["raisonSocialeSite"],
        "SubjectOrganizationID": first["identifiantTechniqueDeLaStructure"],
        "SubjectRole": [f"{ex['codeProfession']}^{ROLE_OID}" for ex in exercices],
        "Secteur_Activite": f"{first['codeSecteurDactivite']}^{SECTOR_OID}",
        "PSI_Locale": PSI_LOCALE,
        "Palier_Authentification": PALIER_AUTHENTIFICATION,
        "Acces_Regulation_Medicale": "FAUX",
        "Mode_Acces_Raison": "",
        "UITVersion": "1.0",
        "SubjectRefPro": {"codeCivilite": civilite, "exercices": exercices},
    }


_MEDECIN_MULTI = _userinfo(
    "899700000001", "33f81a3c-bc72-44f4-91d0-eb5ef40818ff", "Camille", "MARTIN", "MME", "RPPS", [
        _exercice("10", "DR", "MARTIN", "Camille", savoir_faire_type="S", savoir_faire="SM54", activities=[
            _activity(codeModeExercice="L", codeSecteurDactivite="SA07", codeGenreActivite="GENR01",
                      identifiantTechniqueDeLaStructure="R10100000001",
                      raisonSocialeSite="CABINET DU DR CAMILLE MARTIN", numeroVoie="12", codeTypeDeVoie="R",
                      libelleVoie="DE LA PAIX", codePostal="75002", codeCommune="75102", codeDepartement="75",
                      telephone="0140000001"),
            _activity(codeModeExercice="S", codeSecteurDactivite="SA01", codeGenreActivite="GENR01",
                      numeroFinessSite="750099991", numeroFinessetablissementJuridique="750099990",
                      identifiantTechniqueDeLaStructure="F750099991",
                      raisonSocialeSite="HOPITAL DE TEST SAINT-EXEMPLE", numeroVoie="47", codeTypeDeVoie="BD",
                      libelleVoie="DE L'HOPITAL", codePostal="75013", codeCommune="75113", codeDepartement="75"),
            _activity(codeModeExercice="S", codeSecteurDactivite="SA43", codeGenreActivite="GENR01",
                      numeroSiretSite="80000000100012", numeroSirenSite="800000001",
                      identifiantTechniqueDeLaStructure="S80000000100012",
                      raisonSocialeSite="TELECONSULT EXEMPLE SAS", numeroVoie="5", codeTypeDeVoie="AV",
                      libelleVoie="DU TEST", codePostal="69003", codeCommune="69383", codeDepartement="69"),
        ]),
    ])

_PHARMACIEN = _userinfo(
    "899700000002", "88f1af93-d108-4c59-99e2-4257b8cdc810", "Hugo", "BERNARD", "M", "RPPS", [
        _exercice("21", "M", "BERNARD", "Hugo", activities=[
            _activity(codeModeExercice="L", codeSecteurDactivite="SA33", codeSectionPharmacien="A",
                      codeGenreActivite="GENR01", numeroFinessSite="750099992",
                      identifiantTechniqueDeLaStructure="F750099992", raisonSocialeSite="PHARMACIE DU TEST",
                      numeroVoie="3", codeTypeDeVoie="PL", libelleVoie="DE LA REPUBLIQUE", codePostal="75011",
                      codeCommune="75111", codeDepartement="75"),
        ]),
    ])

_SAGE_FEMME = _userinfo(
    "899700000003", "f7d550bb-3b1f-4e5a-b126-8800902bc62b", "Léa", "PETIT", "MME", "RPPS", [
        _exercice("50", "MME", "PETIT", "Léa", activities=[
            _activity(codeModeExercice="L", codeSecteurDactivite="SA52", codeGenreActivite="GENR01",
                      identifiantTechniqueDeLaStructure="R10100000003",
                      raisonSocialeSite="MAISON DE SANTE DU TEST", numeroVoie="8", codeTypeDeVoie="R",
                      libelleVoie="DES SOURCES", codePostal="33000", codeCommune="33063", codeDepartement="33"),
        ]),
    ])

_INFIRMIER_ADELI = _userinfo(
    "0751234567", "201d6388-08e1-4a36-b051-31faa46385bc", "Julien", "ROUX", "M", "ADELI", [
        _exercice("60", "M", "ROUX", "Julien", activities=[
            _activity(codeModeExercice="L", codeSecteurDactivite="SA07", codeGenreActivite="GENR01",
                      identifiantTechniqueDeLaStructure="R10100000004", raisonSocialeSite="CABINET INFIRMIER ROUX",
                      numeroVoie="21", codeTypeDeVoie="R", libelleVoie="DU MARCHE", codePostal="75018",
                      codeCommune="75118", codeDepartement="75"),
        ]),
    ])

# Modelled on the real 2021 BAS sample (EDIT identity, non-numeric SubjectNameID).
_EDIT_SANDBOX = _userinfo(
    "ANS20210107161422", "5f1cc842-dc45-49d3-9df1-dd216c161c3e", "Paul", "NOM", "M", "EDIT", [
        _exercice("10", "M", "Docteur OIDC", "Paul", savoir_faire_type="S", savoir_faire="SM54", activities=[
            _activity(codeModeExercice="L", codeSecteurDactivite="SA07", codeGenreActivite="GENR01",
                      raisonSocialeSite="CAB MED BIS TOUBIB0023550", codeTypeDeVoie="R", libelleVoie="PARIS",
                      codePostal="75009", codeCommune="75109", codeDepartement="75"),
        ]),
    ])

# Staff without an RPPS number, enrolled through Pro Santé Identité (PSI): no profession code, one activity.
PSI_USER = "6c0e1b9a-4f5d-4c31-9d7e-2a8b3c4d5e6f"
_PSI_SECRETAIRE = {**_userinfo(
    "", "9a3e5d1c-7b2f-4e8a-a6c4-1f0d2e3b4c5a", "Inès", "FAURE", "MME", "PSI", [
        _exercice("", "MME", "FAURE", "Inès", category="", activities=[
            _activity(codeModeExercice="S", codeSecteurDactivite="SA01", numeroFinessSite="750099991",
                      numeroFinessetablissementJuridique="750099990", identifiantTechniqueDeLaStructure="F750099991",
                      raisonSocialeSite="HOPITAL DE TEST SAINT-EXEMPLE", codePostal="75013", codeCommune="75113",
                      codeDepartement="75"),
        ]),
    ]), "PSISubjectNameID": PSI_USER, "preferred_username": PSI_USER,
    "otherIds": [{"identifiant": PSI_USER, "origine": "PSI", "qualite": 1}], "SubjectRole": []}

TEST_PROFESSIONALS: dict[str, dict] = {
    p["SubjectNameID"] or p.get("PSISubjectNameID", ""): p
    for p in (_MEDECIN_MULTI, _PHARMACIEN, _SAGE_FEMME, _INFIRMIER_ADELI, _EDIT_SANDBOX, _PSI_SECRETAIRE)
}

DEFAULT_USER = "899700000001"


def display_name(national_id: str) -> str:
    """'Camille MARTIN — Médecin (899700000001)', for the emulator's login page."""
    pro = TEST_PROFESSIONALS[national_id]
    professions = ", ".join(PROFESSION_LABELS.get(ex["codeProfession"], ex["codeProfession"])
                            for ex in pro["SubjectRefPro"]["exercices"])
    return f"{pro['given_name']} {pro['family_name']} — {professions or 'Pro Santé Identité'} ({national_id})"
