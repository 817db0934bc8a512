"""Human sentences (French first) for every error code a user can meet on the bridge's pages."""
from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    # Pro Santé Connect relying party
    "state_invalid": ("La réponse de Pro Santé Connect ne correspond à aucune connexion en cours (lien déjà utilisé "
                      "ou expiré). Recommencez la connexion depuis votre application.",
                      "The Pro Santé Connect response matches no pending login (already used or expired)."),
    "psc_error": ("Pro Santé Connect a refusé ou interrompu la connexion.", "Pro Santé Connect refused the login."),
    "psc_timeout": ("Pro Santé Connect ne répond pas dans le délai prévu. Réessayez dans quelques instants.",
                    "Pro Santé Connect did not answer in time."),
    "psc_unreachable": ("Pro Santé Connect est injoignable. Réessayez dans quelques instants ; si le problème "
                        "persiste, contactez le support informatique.", "Pro Santé Connect cannot be reached."),
    "psc_discovery": ("La configuration de Pro Santé Connect est illisible.", "PSC discovery document is unreadable."),
    "psc_jwks": ("Les clés de signature de Pro Santé Connect sont illisibles.", "PSC signing keys are unreadable."),
    "issuer_mismatch": ("La réponse ne vient pas du fournisseur d'identité attendu.",
                        "The response does not come from the expected issuer."),
    "sub_mismatch": ("Les informations d'identité reçues sont incohérentes (changement de carte ou de compte ?). "
                     "Fermez le navigateur et reconnectez-vous.", "Inconsistent identity data (card swap?)."),
    "subject_missing": ("Pro Santé Connect n'a pas transmis votre identifiant national (RPPS/ADELI).",
                        "PSC did not send the national identifier."),
    "userinfo_invalid": ("Les informations d'identité reçues de Pro Santé Connect sont invalides.",
                         "PSC userinfo is invalid."),
    "txn_invalid": ("Cette connexion a expiré ou a été ouverte dans un autre navigateur. Recommencez depuis votre "
                    "application.", "This login expired or was started in another browser."),
    "audit_unavailable": ("Le journal de sécurité ne peut pas être écrit : par sécurité, aucune connexion n'est "
                          "ouverte. Prévenez le support informatique.", "The audit trail cannot be written."),
    "csrf": ("Le formulaire a expiré. Rechargez la page et recommencez.", "The form expired; reload and retry."),
    "store_unavailable": ("Le service d'authentification est momentanément indisponible. Aucune connexion n'a été "
                          "ouverte. Réessayez dans quelques instants.", "The service is temporarily unavailable."),
    # provider errors shown as pages (no redirect possible)
    "invalid_client": ("Application inconnue : elle n'est déclarée dans aucune politique de service.",
                       "Unknown application."),
    "invalid_request": ("Demande d'authentification invalide.", "Invalid authentication request."),
    "invalid_redirect_uri": ("L'adresse de retour de l'application n'est pas enregistrée : par sécurité, la "
                             "connexion est interrompue.", "The redirect URI is not registered."),
    "unauthorized_client": ("Cette application n'est pas autorisée à utiliser ce type de demande.",
                            "The client is not allowed to use this request."),
    "unsupported_response_type": ("Type de réponse non pris en charge (seul « code » est accepté).",
                                  "Unsupported response type."),
    "invalid_logout": ("Demande de déconnexion invalide (jeton d'identité inconnu ou application non reconnue).",
                       "Invalid logout request."),
    "not_found": ("Page introuvable.", "Page not found."),
    # admin console
    "admin_disabled": ("La console d'administration n'est pas activée : aucune politique de service « admin » "
                       "n'est chargée.", "The admin console is disabled: no 'admin' service policy is loaded."),
    "admin_misconfigured": ("La console d'administration est mal configurée (client bridge-admin ou adresse de "
                            "retour absente de la politique « admin »).",
                            "The admin console is misconfigured (bridge-admin client or redirect URI missing from "
                            "the 'admin' policy)."),
    "admin_forbidden": ("Accès refusé : votre identification est valide, mais vous ne figurez pas parmi les "
                        "administrateurs du pont (liste « admins » de la politique « admin »). Contactez le "
                        "responsable du service si vous pensez que c'est une erreur.",
                        "Access refused: your identification is valid, but you are not one of the bridge's "
                        "administrators (the 'admins' list of the 'admin' policy)."),
    "admin_login_failed": ("La connexion à la console d'administration a échoué. Recommencez depuis /admin.",
                           "The admin console login failed. Start again from /admin."),
    "report_pdf_unavailable": ("Le PDF ne peut pas être produit sur ce serveur (bibliothèque pango absente) : "
                               "téléchargez le rapport en HTML et imprimez-le.",
                               "The PDF cannot be produced on this server (pango missing): download the HTML "
                               "report and print it."),
    "admin_login_required": ("Votre session d'administration a expiré : reconnectez-vous avant d'agir.",
                             "Your admin session has expired: log in again before acting."),
    "server_error": ("Erreur interne. Aucune connexion n'a été ouverte.", "Internal error."),
}
ID_TOKEN_PREFIXES = ("id_token_", "userinfo_")
DEFAULT = ("La connexion a échoué.", "The login failed.")


def message(code: str, lang: str = "fr") -> str:
    text = MESSAGES.get(code)
    if text is None and code.startswith(ID_TOKEN_PREFIXES):
        text = ("Le jeton d'identité reçu de Pro Santé Connect est invalide ; la connexion est refusée par sécurité.",
                "The identity token from Pro Santé Connect is invalid.")
    text = text or DEFAULT
    return text[0] if lang == "fr" else text[1]
