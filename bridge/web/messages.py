"""Human sentences (French first) for every error code a user can meet on the bridge's pages."""
from __future__ import annotations

from bridge.i18n import N_, translated

MESSAGES: dict[str, str] = {   # code -> French text (msgid); English in the gettext catalogue
    # Pro Santé Connect relying party
    "state_invalid": N_("La réponse de Pro Santé Connect ne correspond à aucune connexion en cours (lien déjà utilisé "
                        "ou expiré). Recommencez la connexion depuis votre application."),
    "psc_error": N_("Pro Santé Connect a refusé ou interrompu la connexion."),
    # PSC refusals relayed to the app (bridge.upstream.psc.RELAYED_ERRORS); a page only when no login is pending
    "psc_access_denied": N_("La connexion a été annulée ou refusée sur Pro Santé Connect. Recommencez depuis votre "
                            "application."),
    "psc_login_required": N_("Pro Santé Connect demande de vous identifier de nouveau. Recommencez depuis votre "
                             "application."),
    "psc_consent_required": N_("Pro Santé Connect demande votre consentement. Recommencez depuis votre application."),
    "psc_interaction_required": N_("Pro Santé Connect demande une action de votre part. Recommencez depuis votre "
                                   "application."),
    "psc_account_selection_required": N_("Pro Santé Connect demande de choisir un compte. Recommencez depuis votre "
                                         "application."),
    "psc_temporarily_unavailable": N_("Pro Santé Connect est momentanément indisponible. Réessayez dans quelques "
                                      "instants."),
    "psc_timeout": N_("Pro Santé Connect ne répond pas dans le délai prévu. Réessayez dans quelques instants."),
    "psc_unreachable": N_("Pro Santé Connect est injoignable. Réessayez dans quelques instants ; si le problème "
                          "persiste, contactez le support informatique."),
    "psc_discovery": N_("La configuration de Pro Santé Connect est illisible."),
    "psc_jwks": N_("Les clés de signature de Pro Santé Connect sont illisibles."),
    "issuer_mismatch": N_("La réponse ne vient pas du fournisseur d'identité attendu."),
    "acr_unknown": N_("Pro Santé Connect a indiqué un niveau d'authentification (acr) que la passerelle ne connaît "
                      "pas (il est cité ci-dessous) : la connexion est refusée par sécurité. Signalez-le au "
                      "responsable du service."),
    "sub_mismatch": N_("Les informations d'identité reçues sont incohérentes (changement de carte ou de compte ?). "
                       "Fermez le navigateur et reconnectez-vous."),
    "subject_missing": N_("Pro Santé Connect n'a pas transmis votre identifiant national (RPPS/ADELI)."),
    "userinfo_invalid": N_("Les informations d'identité reçues de Pro Santé Connect sont invalides."),
    "txn_invalid": N_("Cette connexion a expiré ou a été ouverte dans un autre navigateur. Recommencez depuis votre "
                      "application."),
    "audit_unavailable": N_("Le journal de sécurité ne peut pas être écrit : par sécurité, aucune connexion n'est "
                            "ouverte. Prévenez le support informatique."),
    "too_many_requests": N_("Trop de demandes de connexion depuis ce poste : patientez quelques secondes puis "
                            "réessayez."),
    "request_too_large": N_("La requête envoyée est trop volumineuse."),
    "csrf": N_("Le formulaire a expiré. Rechargez la page et recommencez."),
    "store_unavailable": N_("Le service d'authentification est momentanément indisponible. Aucune connexion n'a été "
                            "ouverte. Réessayez dans quelques instants."),
    # provider errors shown as pages (no redirect possible)
    "invalid_client": N_("Application inconnue : elle n'est déclarée dans aucune politique de service."),
    "invalid_request": N_("Demande d'authentification invalide."),
    "invalid_request_uri": N_("Cette demande d'authentification a expiré ou a déjà servi (elles ne valent qu'une "
                              "fois, une minute). Recommencez depuis votre application."),
    "invalid_request_object": N_("La demande d'authentification signée de l'application est invalide (signature, "
                                 "destinataire ou date) : par sécurité, la connexion est interrompue."),
    "invalid_redirect_uri": N_("L'adresse de retour de l'application n'est pas enregistrée : par sécurité, la "
                               "connexion est interrompue."),
    "unauthorized_client": N_("Cette application n'est pas autorisée à utiliser ce type de demande."),
    "unsupported_response_type": N_("Type de réponse non pris en charge (seul « code » est accepté)."),
    "invalid_logout": N_("Demande de déconnexion invalide (jeton d'identité inconnu ou application non reconnue)."),
    # direct CPS card login: certificate checks (bridge.pki.ERROR_CODES)
    "pki_error": N_("Le certificat de votre carte n'a pas pu être vérifié ; la connexion est refusée."),
    "bad_certificate": N_("Le certificat transmis n'est pas un certificat de carte CPS lisible."),
    "bad_signature": N_("La signature de la carte ne correspond pas à cette demande de connexion (autre page, autre "
                        "service ou demande déjà utilisée). Recommencez la connexion."),
    "untrusted_chain": N_("Ce certificat n'a pas été émis par une autorité de l'IGC-Santé reconnue par ce service. "
                          "Utilisez votre carte CPS ou Pro Santé Connect."),
    "legacy_chain": N_("Cette carte a été émise par l'ancienne infrastructure GIP-CPS, arrêtée fin 2020 : elle "
                       "n'est plus acceptée. Demandez une nouvelle carte CPS à l'ANS."),
    "certificate_expired": N_("Le certificat de votre carte a expiré : la carte doit être renouvelée (ANS). En "
                              "attendant, utilisez Pro Santé Connect avec l'application e-CPS."),
    "certificate_not_yet_valid": N_("Le certificat de votre carte n'est pas encore valide. Vérifiez la date et "
                                    "l'heure de votre poste ou réessayez plus tard."),
    "certificate_revoked": N_("Le certificat de cette carte a été révoqué (carte perdue, volée ou remplacée) : elle "
                              "ne peut plus servir à se connecter. Contactez l'ANS."),
    "crl_stale": N_("La liste de révocation des cartes CPS détenue par le service n'est plus à jour : par sécurité, "
                    "aucune connexion par carte n'est acceptée pour l'instant. Utilisez Pro Santé Connect et "
                    "prévenez le support informatique."),
    "crl_missing": N_("Le service ne dispose pas de la liste de révocation des cartes CPS : par sécurité, aucune "
                      "connexion par carte n'est acceptée. Utilisez Pro Santé Connect et prévenez le support "
                      "informatique."),
    "bad_key_usage": N_("Ce certificat n'est pas un certificat d'authentification de carte CPS."),
    "card_opposed": N_("Cette carte a été déclarée perdue ou opposée auprès de cet établissement : elle ne peut plus "
                       "servir à se connecter ici. Contactez le support informatique de l'établissement."),
    "unknown_card_type": N_("Le certificat ne précise pas le type de carte (CPS, CPF, CPE, CPA) : il ne peut pas "
                            "servir à se connecter à ce service."),
    # direct CPS card login: the login page, the challenge, the cps-tls proxy
    "challenge_invalid": N_("Cette demande de signature est inconnue ou a déjà été utilisée (une signature ne sert "
                            "qu'une fois). Recommencez la connexion."),
    "challenge_expired": N_("Le délai de 2 minutes pour signer avec la carte est dépassé. Saisissez de nouveau votre "
                            "code."),
    "proof_malformed": N_("La réponse de l'agent carte est incomplète ou illisible. Recommencez."),
    "cps_unavailable": N_("La connexion directe par carte CPS n'est pas configurée sur ce service. Utilisez Pro "
                          "Santé Connect."),
    "cps_tls_untrusted_proxy": N_("Connexion refusée : le certificat de carte n'a pas été transmis par le "
                                  "serveur frontal autorisé. Cette tentative a été journalisée."),
    "cps_tls_no_certificate": N_("Aucun certificat de carte CPS n'a été présenté. Vérifiez que la carte est "
                                 "insérée et que le navigateur vous a demandé de choisir un certificat."),
    # direct CPS card login: card agent answers shown by the login page ({tries} = tries left)
    "wrong_pin": N_("Code erroné : il vous reste {tries} essais."),
    "wrong_pin_last": N_("Code erroné : il vous reste 1 essai. Attention, un nouveau code erroné bloquera la carte."),
    "card_blocked": N_("Carte bloquée : utilisez votre code de déblocage (8 chiffres) avec l'outil CPS de votre "
                       "poste, ou contactez l'ANS pour débloquer la carte. En attendant, vous pouvez utiliser Pro "
                       "Santé Connect avec l'application e-CPS."),
    "no_card": N_("Aucune carte dans le lecteur : insérez votre carte CPS."),
    "card_removed": N_("La carte a été retirée pendant l'opération. Réinsérez-la et recommencez."),
    "no_reader": N_("Aucun lecteur de carte n'est détecté : branchez le lecteur, puis réessayez."),
    "unsupported_card": N_("Cette carte n'est pas une carte CPS reconnue (CPS3 ou CPS4)."),
    "card_error": N_("La carte a répondu de façon inattendue. Retirez-la, réinsérez-la et recommencez."),
    "busy": N_("Le lecteur est occupé par une autre opération. Patientez quelques secondes et recommencez."),
    "origin_mismatch": N_("L'agent carte refuse de signer pour cette adresse : ouvrez le service à son adresse "
                          "officielle."),
    "origin_not_allowed": N_("L'agent carte de ce poste n'est pas autorisé pour ce service : relancez-le avec "
                             "l'option --allow-origin indiquée ci-dessous."),
    "bad_request": N_("L'agent carte a refusé la demande."),
    "agent_unreachable": N_("L'agent carte ne répond pas sur ce poste : suivez les instructions ci-dessous."),
    "pin_format": N_("Le code porteur comporte 4 chiffres."),
    "no_cps_card": N_("Aucune carte CPS n'est insérée : le lecteur ne contient qu'une autre carte (la carte Vitale "
                      "du patient, par exemple). Insérez votre carte CPS."),
    "several_cards": N_("Plusieurs cartes CPS sont insérées : choisissez la vôtre (titulaire et numéro de carte)."),
    "card_reset": N_("La carte a été réinitialisée par un autre logiciel ; saisissez à nouveau votre code."),
    "not_found": N_("Cette adresse ne correspond à aucune page du service d'identification. Vérifiez le lien, ou "
                    "revenez à votre application."),
    # admin console
    "admin_disabled": N_("La console d'administration n'est pas activée : aucune politique de service « admin » "
                         "n'est chargée."),
    "admin_misconfigured": N_("La console d'administration est mal configurée (client bridge-admin ou adresse de "
                              "retour absente de la politique « admin »)."),
    "admin_forbidden": N_("Accès refusé : votre identification est valide, mais vous ne figurez pas parmi les "
                          "administrateurs de la passerelle (liste « admins » de la politique « admin »). Contactez le "
                          "responsable du service si vous pensez que c'est une erreur."),
    "admin_login_failed": N_("La connexion à la console d'administration a échoué. Recommencez depuis /admin."),
    "report_pdf_unavailable": N_("Le PDF ne peut pas être produit sur ce serveur (bibliothèque pango absente) : "
                                 "téléchargez le rapport en HTML et imprimez-le."),
    "admin_login_required": N_("Votre session d'administration a expiré : reconnectez-vous avant d'agir."),
    "server_error": N_("Erreur interne. Aucune connexion n'a été ouverte."),
}
ID_TOKEN_PREFIXES = ("id_token_", "userinfo_")
ID_TOKEN_INVALID = N_("Le jeton d'identité reçu de Pro Santé Connect est invalide ; la connexion est refusée par "
                      "sécurité.")
DEFAULT = N_("La connexion a échoué.")


def message(code: str, lang: str = "fr") -> str:
    text = MESSAGES.get(code)
    if text is None and code.startswith(ID_TOKEN_PREFIXES):
        text = ID_TOKEN_INVALID
    return translated(text or DEFAULT, lang)
