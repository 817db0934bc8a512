"""French sentences for policy reasons, until the policy engine provides its own catalogue."""
from __future__ import annotations


def reason_texts(reasons) -> list[str]:
    try:
        from bridge.policy import reason_message
    except ImportError:
        reason_message = None
    fallback = {
        "mie_not_allowed": "Ce moyen d'identification n'est pas autorisé pour ce service.",
        "single_factor": "Ce service exige une authentification à deux facteurs.",
        "card_type_not_allowed": "Ce type de carte n'est pas accepté par ce service.",
        "profession_not_allowed": "Votre profession n'est pas autorisée à accéder à ce service.",
        "session_too_old": "Votre session est trop ancienne pour ce service : reconnectez-vous.",
    }
    return [reason_message(r, "fr") if reason_message else fallback.get(r, r) for r in reasons]
