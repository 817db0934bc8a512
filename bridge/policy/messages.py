"""Human sentences for decision codes, French first: what is required, why, and the referential requirement."""
from __future__ import annotations

from bridge.i18n import N_, translated
from bridge.policy.rules import rule_catalogue

_MESSAGES: dict[str, str] = {   # code -> French text (msgid); English in the gettext catalogue
    "mie_not_allowed": N_(
        "Ce service n'accepte pas le moyen d'identification utilisé. Identifiez-vous avec l'un des moyens proposés "
        "(Référentiel d'identification électronique v2, exigence RIE-PS 02 : seuls les moyens retenus par le service "
        "sont admis)."),
    "single_factor": N_(
        "Une authentification à deux facteurs de catégories différentes est exigée (par exemple carte CPS et code "
        "PIN, ou application e-CPS) ; la connexion utilisée n'en comportait qu'un (exigence RIE-PS 09)."),
    "not_historical_teleservice": N_(
        "La connexion directe par carte CPS (hors Pro Santé Connect) n'est admise que pour les téléservices "
        "historiques autorisés par l'ANS ; identifiez-vous avec Pro Santé Connect (exigence RIE-PS 02)."),
    "card_type_not_allowed": N_(
        "Ce type de carte n'est pas accepté par ce service. Les cartes non adossées au RPPS (CPE, CPA) ne sont pas "
        "des moyens Pro Santé Connect et le service choisit les cartes admises en connexion directe (exigence RIE-PS "
        "02)."),
    "attestation_missing": N_(
        "Ce moyen d'identification hors Pro Santé Connect n'est plus disponible : le service ne dispose pas "
        "d'attestation de conformité, obligatoire depuis le 31/12/2026 (exigences RIE-PS 02 et RIE-PS 18). Utilisez "
        "Pro Santé Connect."),
    "attestation_expired": N_(
        "Ce moyen d'identification hors Pro Santé Connect est suspendu : l'attestation de conformité du service a "
        "expiré et doit être renouvelée (exigences RIE-PS 18 et RIE-PS 19). Utilisez Pro Santé Connect."),
    "reserves_expired": N_(
        "Les réserves de l'attestation de conformité ne sont plus admises après le 31/12/2028 ; ce moyen "
        "d'identification hors Pro Santé Connect est suspendu jusqu'à une attestation sans réserve (exigence RIE-PS "
        "17). Utilisez Pro Santé Connect."),
    "session_too_old": N_(
        "Votre session d'identification a dépassé la durée maximale admise par ce service (4 heures au plus, jamais "
        "au-delà de la session Pro Santé Connect) : identifiez-vous à nouveau (exigence RIE-PS 13)."),
    "profession_not_allowed": N_(
        "Ce service est réservé à certaines professions de santé et votre profession n'en fait pas partie. C'est un "
        "choix du responsable du service, non une exigence du référentiel."),
    "mode_not_allowed": N_(
        "Ce service est réservé à certains modes d'exercice (par exemple salarié) et la situation d'exercice choisie "
        "n'en fait pas partie. C'est un choix du responsable du service."),
    "activity_required": N_(
        "Choisissez la situation d'exercice sous laquelle vous vous connectez : toutes ne donnent pas accès à ce "
        "service."),
    "acr_below_minimum": N_(
        "Ce service exige un niveau d'authentification (acr) plus élevé que celui de votre connexion, par exemple "
        "la carte CPS via Pro Santé Connect (eidas2) plutôt que l'application e-CPS (eidas1). Identifiez-vous avec "
        "un moyen qui atteint ce niveau."),
    "identity_kind_not_allowed": N_(
        "Ce service n'admet pas votre type d'identifiant national (par exemple une identité Pro Santé Identité, "
        "sans numéro RPPS) : c'est un choix du responsable du service. Le référentiel identifie les "
        "professionnels par leur numéro RPPS, ADELI toléré (exigence EXI 01)."),
    "reserve_overdue": N_(
        "Une réserve de l'attestation de conformité a dépassé l'échéance de son plan d'action (exigence RIE-PS 17) ; "
        "l'accès reste ouvert jusqu'au 31/12/2028 au plus tard."),
}

DECISION_CODES = tuple(_MESSAGES)


def reason_message(code: str, lang: str = "fr") -> str:
    """French by default; any 'en*' language gives English. Unknown codes get a generic sentence, never an error,
    because this text ends up on an error page."""
    english = str(lang).lower().startswith("en")
    if code in _MESSAGES:
        return translated(_MESSAGES[code], "en" if english else "fr")
    for known in rule_catalogue():
        if known.code == code:
            return known.text_en if english else known.text_fr
    if english:
        return f"Access refused by the service's identification policy ({code})."
    return f"Accès refusé par la politique d'identification du service ({code})."
