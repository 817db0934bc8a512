"""Human sentences for decision codes, French first: what is required, why, and the referential requirement."""
from __future__ import annotations

from bridge.policy.rules import rule_catalogue

_MESSAGES: dict[str, tuple[str, str]] = {
    "mie_not_allowed": (
        "Ce service n'accepte pas le moyen d'identification utilisé. Identifiez-vous avec l'un des moyens proposés "
        "(Référentiel d'identification électronique v2, exigence RIE-PS 02 : seuls les moyens retenus par le "
        "service sont admis).",
        "This service does not accept the means of identification used. Please log in with one of the means "
        "offered (Electronic identification referential v2, requirement RIE-PS 02: only the means the service "
        "retains are admitted)."),
    "single_factor": (
        "Une authentification à deux facteurs de catégories différentes est exigée (par exemple carte CPS et code "
        "PIN, ou application e-CPS) ; la connexion utilisée n'en comportait qu'un (exigence RIE-PS 09).",
        "Two-factor authentication with factors of different categories is required (for example CPS card and "
        "PIN, or the e-CPS app); the login used had only one (requirement RIE-PS 09)."),
    "not_historical_teleservice": (
        "La connexion directe par carte CPS (hors Pro Santé Connect) n'est admise que pour les téléservices "
        "historiques autorisés par l'ANS ; identifiez-vous avec Pro Santé Connect (exigence RIE-PS 02).",
        "Direct CPS card login (outside Pro Santé Connect) is only admitted for historical teleservices authorized "
        "by ANS; please log in with Pro Santé Connect (requirement RIE-PS 02)."),
    "card_type_not_allowed": (
        "Ce type de carte n'est pas accepté par ce service. Les cartes non adossées au RPPS (CPE, CPA) ne sont pas "
        "des moyens Pro Santé Connect et le service choisit les cartes admises en connexion directe "
        "(exigence RIE-PS 02).",
        "This card type is not accepted by this service. Cards not backed by the RPPS (CPE, CPA) are not Pro Santé "
        "Connect means, and the service chooses which cards it admits for direct login (requirement RIE-PS 02)."),
    "attestation_missing": (
        "Ce moyen d'identification hors Pro Santé Connect n'est plus disponible : le service ne dispose pas "
        "d'attestation de conformité, obligatoire depuis le 31/12/2026 (exigences RIE-PS 02 et RIE-PS 18). "
        "Utilisez Pro Santé Connect.",
        "This means of identification outside Pro Santé Connect is no longer available: the service has no "
        "conformity attestation, required since 2026-12-31 (requirements RIE-PS 02 and RIE-PS 18). Please use "
        "Pro Santé Connect."),
    "attestation_expired": (
        "Ce moyen d'identification hors Pro Santé Connect est suspendu : l'attestation de conformité du service a "
        "expiré et doit être renouvelée (exigences RIE-PS 18 et RIE-PS 19). Utilisez Pro Santé Connect.",
        "This means of identification outside Pro Santé Connect is suspended: the service's conformity "
        "attestation has expired and must be renewed (requirements RIE-PS 18 and RIE-PS 19). Please use Pro Santé "
        "Connect."),
    "reserves_expired": (
        "Les réserves de l'attestation de conformité ne sont plus admises après le 31/12/2028 ; ce moyen "
        "d'identification hors Pro Santé Connect est suspendu jusqu'à une attestation sans réserve "
        "(exigence RIE-PS 17). Utilisez Pro Santé Connect.",
        "Conformity attestation reserves are no longer admitted after 2028-12-31; this means of identification "
        "outside Pro Santé Connect is suspended until an attestation without reserves (requirement RIE-PS 17). "
        "Please use Pro Santé Connect."),
    "session_too_old": (
        "Votre session d'identification a dépassé la durée maximale admise par ce service (4 heures au plus, "
        "jamais au-delà de la session Pro Santé Connect) : identifiez-vous à nouveau (exigence RIE-PS 13).",
        "Your identification session is older than this service admits (4 hours at most, never beyond the Pro "
        "Santé Connect session): please log in again (requirement RIE-PS 13)."),
    "profession_not_allowed": (
        "Ce service est réservé à certaines professions de santé et votre profession n'en fait pas partie. "
        "C'est un choix du responsable du service, non une exigence du référentiel.",
        "This service is restricted to some health professions and yours is not one of them. This is the service "
        "owner's choice, not a referential requirement."),
    "mode_not_allowed": (
        "Ce service est réservé à certains modes d'exercice (par exemple salarié) et la situation d'exercice "
        "choisie n'en fait pas partie. C'est un choix du responsable du service.",
        "This service is restricted to some activity modes (for example salaried) and the chosen practice "
        "situation is not one of them. This is the service owner's choice."),
    "activity_required": (
        "Choisissez la situation d'exercice sous laquelle vous vous connectez : toutes ne donnent pas accès à ce "
        "service.",
        "Please choose the practice situation you log in with: not all of them give access to this service."),
    "reserve_overdue": (
        "Une réserve de l'attestation de conformité a dépassé l'échéance de son plan d'action (exigence "
        "RIE-PS 17) ; l'accès reste ouvert jusqu'au 31/12/2028 au plus tard.",
        "An attestation reserve is past its action plan's due date (requirement RIE-PS 17); access stays open until "
        "2028-12-31 at the latest."),
}

DECISION_CODES = tuple(_MESSAGES)


def reason_message(code: str, lang: str = "fr") -> str:
    """French by default; any 'en*' language gives English. Unknown codes get a generic sentence, never an error,
    because this text ends up on an error page."""
    english = str(lang).lower().startswith("en")
    if code in _MESSAGES:
        return _MESSAGES[code][1 if english else 0]
    for known in rule_catalogue():
        if known.code == code:
            return known.text_en if english else known.text_fr
    if english:
        return f"Access refused by the service's identification policy ({code})."
    return f"Accès refusé par la politique d'identification du service ({code})."
