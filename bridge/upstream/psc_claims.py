"""PSC claims -> neutral model. PSC key spellings are odd (`nomDexercice`, `numeroSiretSite`): keep them here only."""
from __future__ import annotations

from bridge.errors import BridgeError
from bridge.mie import CATALOGUE
from bridge.model import Activity, Exercice, Identity

ACTIVITY_KEYS = {
    "mode": "codeModeExercice", "sector": "codeSecteurDactivite", "genre": "codeGenreActivite",
    "role": "codeRole", "pharmacist_section": "codeSectionPharmacien", "organization": "raisonSocialeSite",
    "siret": "numeroSiretSite", "siren": "numeroSirenSite", "finess": "numeroFinessSite",
    "finess_legal": "numeroFinessetablissementJuridique", "structure_id": "identifiantTechniqueDeLaStructure",
    "postal_code": "codePostal", "city_code": "codeCommune",
}
EXERCICE_KEYS = {
    "profession": "codeProfession", "category": "codeCategorieProfessionnelle",
    "savoir_faire_type": "codeTypeSavoirFaire", "savoir_faire": "codeSavoirFaire",
    "civilite": "codeCiviliteDexercice", "family_name": "nomDexercice", "given_name": "prenomDexercice",
}


class ClaimsError(BridgeError, ValueError):
    """PSC's claims cannot be mapped to an identity (the login fails as a PSC error)."""
    default_status = 502


def _text(value) -> str:
    return "" if value is None else str(value)


def _mapped(source, keys: dict[str, str]) -> dict[str, str]:
    if not isinstance(source, dict):
        raise ClaimsError("userinfo_invalid", "SubjectRefPro entry is not an object")
    return {name: _text(source.get(key)) for name, key in keys.items()}


def _national_id(userinfo: dict) -> tuple[str, str]:
    """(national id, kind): SubjectNameID (RPPS, ADELI... its shape tells), else PSISubjectNameID, the Pro Santé
    Identité id of staff enrolled without an RPPS number (kind `psi`). PSC sends PSISubjectNameID "" for RPPS
    professionals in 2026; how it fills SubjectNameID for a PSI-only person is UNCONFIRMED, hence this order."""
    for key, kind in (("SubjectNameID", ""), ("PSISubjectNameID", "psi")):
        value = userinfo.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip(), kind
    raise ClaimsError("subject_missing", "SubjectNameID is missing from PSC userinfo")   # PSISubjectNameID too


def identity_from_userinfo(userinfo: dict) -> Identity:
    national_id, kind = _national_id(userinfo)
    ref = userinfo.get("SubjectRefPro") or {}
    if not isinstance(ref, dict) or not isinstance(ref.get("exercices", []), list):
        raise ClaimsError("userinfo_invalid", "SubjectRefPro.exercices is not a list")
    exercices = []
    for raw in ref.get("exercices") or []:
        activities = raw.get("activities") if isinstance(raw, dict) else None
        if activities is not None and not isinstance(activities, list):
            raise ClaimsError("userinfo_invalid", "SubjectRefPro.exercices[].activities is not a list")
        exercices.append(Exercice(**_mapped(raw, EXERCICE_KEYS),
                                  activities=tuple(Activity(**_mapped(a, ACTIVITY_KEYS)) for a in activities or [])))
    return Identity(national_id=national_id, given_name=_text(userinfo.get("given_name")),
                    family_name=_text(userinfo.get("family_name")), exercices=tuple(exercices),
                    email=_text(userinfo.get("email")), kind=kind)


def mie_from_claims(claim_sets: list[dict], authmode_mie: dict[str, str]) -> tuple[str, tuple[str, ...]]:
    """Which PSC means was used. PSC signals it only through the custom `authMode` claim (seen in the access
    token; ID token and userinfo are checked too). Unknown or absent -> `psc` (a PSC means, not stated)."""
    for claims in claim_sets:
        mode = claims.get("authMode")
        if isinstance(mode, str) and mode in authmode_mie:
            mie = CATALOGUE[authmode_mie[mode]]
            return mie.id, mie.amr
    for claims in claim_sets:
        amr = claims.get("amr")
        if isinstance(amr, list) and amr and all(isinstance(v, str) for v in amr):
            forwarded = tuple(dict.fromkeys([*amr, "mfa"])) if "mfa" in amr else tuple(amr)
            return "psc-delegated", forwarded
    return "psc", CATALOGUE["psc"].amr


def upstream_facts(claim_sets: list[dict]) -> tuple[str, str]:
    """PSC's own `authMode` and `auth_level` (first claim set that has each), kept as reported."""
    found = {}
    for name in ("authMode", "auth_level"):
        for claims in claim_sets:
            value = claims.get(name)
            if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value):
                found[name] = str(value)[:64]
                break
    return found.get("authMode", ""), found.get("auth_level", "")
