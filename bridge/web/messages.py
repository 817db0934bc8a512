"""Human sentences (French first) for every error code a user can meet on the bridge's pages."""
from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    # Pro Santé Connect relying party
    "state_invalid": ("La réponse de Pro Santé Connect ne correspond à aucune connexion en cours (lien déjà utilisé "
                      "ou expiré). Recommencez la connexion depuis votre application.",
                      "The Pro Santé Connect response matches no pending login (already used or expired)."),
    "psc_error": ("Pro Santé Connect a refusé ou interrompu la connexion.", "Pro Santé Connect refused the login."),
    # PSC refusals relayed to the app (bridge.upstream.psc.RELAYED_ERRORS); a page only when no login is pending
    "psc_access_denied": ("La connexion a été annulée ou refusée sur Pro Santé Connect. Recommencez depuis votre "
                          "application.", "The login was cancelled or refused at Pro Santé Connect."),
    "psc_login_required": ("Pro Santé Connect demande de vous identifier de nouveau. Recommencez depuis votre "
                           "application.", "Pro Santé Connect asks you to log in again."),
    "psc_consent_required": ("Pro Santé Connect demande votre consentement. Recommencez depuis votre application.",
                             "Pro Santé Connect asks for your consent."),
    "psc_interaction_required": ("Pro Santé Connect demande une action de votre part. Recommencez depuis votre "
                                 "application.", "Pro Santé Connect asks for an action on your part."),
    "psc_account_selection_required": ("Pro Santé Connect demande de choisir un compte. Recommencez depuis votre "
                                       "application.", "Pro Santé Connect asks you to choose an account."),
    "psc_temporarily_unavailable": ("Pro Santé Connect est momentanément indisponible. Réessayez dans quelques "
                                    "instants.", "Pro Santé Connect is temporarily unavailable."),
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
    "too_many_requests": ("Trop de demandes de connexion depuis ce poste : patientez quelques secondes puis "
                          "réessayez.", "Too many login requests from this workstation; wait a few seconds."),
    "request_too_large": ("La requête envoyée est trop volumineuse.", "The request is too large."),
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
    # direct CPS card login: certificate checks (bridge.pki.ERROR_CODES)
    "pki_error": ("Le certificat de votre carte n'a pas pu être vérifié ; la connexion est refusée.",
                  "The card certificate could not be verified."),
    "bad_certificate": ("Le certificat transmis n'est pas un certificat de carte CPS lisible.",
                        "The certificate sent is not a readable CPS card certificate."),
    "bad_signature": ("La signature de la carte ne correspond pas à cette demande de connexion (autre page, autre "
                      "service ou demande déjà utilisée). Recommencez la connexion.",
                      "The card signature does not match this login request (other page, service or request)."),
    "untrusted_chain": ("Ce certificat n'a pas été émis par une autorité de l'IGC-Santé reconnue par ce service. "
                        "Utilisez votre carte CPS ou Pro Santé Connect.",
                        "This certificate was not issued by an IGC-Santé authority this service trusts."),
    "legacy_chain": ("Cette carte a été émise par l'ancienne infrastructure GIP-CPS, arrêtée fin 2020 : elle "
                     "n'est plus acceptée. Demandez une nouvelle carte CPS à l'ANS.",
                     "This card was issued under the legacy GIP-CPS infrastructure, ended in 2020."),
    "certificate_expired": ("Le certificat de votre carte a expiré : la carte doit être renouvelée (ANS). En "
                            "attendant, utilisez Pro Santé Connect avec l'application e-CPS.",
                            "Your card certificate has expired: the card must be renewed."),
    "certificate_not_yet_valid": ("Le certificat de votre carte n'est pas encore valide. Vérifiez la date et "
                                  "l'heure de votre poste ou réessayez plus tard.",
                                  "Your card certificate is not valid yet."),
    "certificate_revoked": ("Le certificat de cette carte a été révoqué (carte perdue, volée ou remplacée) : elle "
                            "ne peut plus servir à se connecter. Contactez l'ANS.",
                            "This card's certificate has been revoked."),
    "crl_stale": ("La liste de révocation des cartes CPS détenue par le service n'est plus à jour : par sécurité, "
                  "aucune connexion par carte n'est acceptée pour l'instant. Utilisez Pro Santé Connect et "
                  "prévenez le support informatique.",
                  "The service's card revocation list is out of date: card logins are refused for now."),
    "crl_missing": ("Le service ne dispose pas de la liste de révocation des cartes CPS : par sécurité, aucune "
                    "connexion par carte n'est acceptée. Utilisez Pro Santé Connect et prévenez le support "
                    "informatique.", "The service has no card revocation list: card logins are refused."),
    "bad_key_usage": ("Ce certificat n'est pas un certificat d'authentification de carte CPS.",
                      "This certificate is not a CPS authentication certificate."),
    "unknown_card_type": ("Le certificat ne précise pas le type de carte (CPS, CPF, CPE, CPA) : il ne peut pas "
                          "servir à se connecter à ce service.", "The certificate does not state the card type."),
    # direct CPS card login: the login page, the challenge, the cps-tls proxy
    "challenge_invalid": ("Cette demande de signature est inconnue ou a déjà été utilisée (une signature ne sert "
                          "qu'une fois). Recommencez la connexion.",
                          "This signature request is unknown or was already used."),
    "challenge_expired": ("Le délai de 2 minutes pour signer avec la carte est dépassé. Saisissez de nouveau votre "
                          "code.", "The 2-minute delay to sign with the card has passed."),
    "proof_malformed": ("La réponse de l'agent carte est incomplète ou illisible. Recommencez.",
                        "The card agent's answer is incomplete or unreadable."),
    "cps_unavailable": ("La connexion directe par carte CPS n'est pas configurée sur ce service. Utilisez Pro "
                        "Santé Connect.", "Direct CPS card login is not configured."),
    "cps_tls_untrusted_proxy": ("Connexion refusée : le certificat de carte n'a pas été transmis par le "
                                "serveur frontal autorisé. Cette tentative a été journalisée.",
                                "Refused: the card certificate did not come through the trusted proxy."),
    "cps_tls_no_certificate": ("Aucun certificat de carte CPS n'a été présenté. Vérifiez que la carte est "
                               "insérée et que le navigateur vous a demandé de choisir un certificat.",
                               "No CPS card certificate was presented."),
    # direct CPS card login: card agent answers shown by the login page ({tries} = tries left)
    "wrong_pin": ("Code erroné : il vous reste {tries} essais.", "Wrong PIN: {tries} tries left."),
    "wrong_pin_last": ("Code erroné : il vous reste 1 essai. Attention, un nouveau code erroné bloquera la carte.",
                       "Wrong PIN: 1 try left. Another wrong PIN will block the card."),
    "card_blocked": ("Carte bloquée : utilisez votre code de déblocage (8 chiffres) avec l'outil CPS de votre "
                     "poste, ou contactez l'ANS pour débloquer la carte. En attendant, vous pouvez utiliser Pro "
                     "Santé Connect avec l'application e-CPS.",
                     "Card blocked: use your 8-digit unblocking code with the CPS tool of your workstation, or "
                     "contact ANS."),
    "no_card": ("Aucune carte dans le lecteur : insérez votre carte CPS.", "No card in the reader: insert your card."),
    "card_removed": ("La carte a été retirée pendant l'opération. Réinsérez-la et recommencez.",
                     "The card was removed during the operation."),
    "no_reader": ("Aucun lecteur de carte n'est détecté : branchez le lecteur, puis réessayez.",
                  "No card reader detected."),
    "unsupported_card": ("Cette carte n'est pas une carte CPS reconnue (CPS3 ou CPS4).",
                         "This card is not a supported CPS card."),
    "card_error": ("La carte a répondu de façon inattendue. Retirez-la, réinsérez-la et recommencez.",
                   "The card answered unexpectedly."),
    "busy": ("Le lecteur est occupé par une autre opération. Patientez quelques secondes et recommencez.",
             "The reader is busy."),
    "origin_mismatch": ("L'agent carte refuse de signer pour cette adresse : ouvrez le service à son adresse "
                        "officielle.", "The card agent refuses to sign for this address."),
    "origin_not_allowed": ("L'agent carte de ce poste n'est pas autorisé pour ce service : relancez-le avec "
                           "l'option --allow-origin indiquée ci-dessous.",
                           "The card agent is not allowed for this service (--allow-origin)."),
    "bad_request": ("L'agent carte a refusé la demande.", "The card agent refused the request."),
    "agent_unreachable": ("L'agent carte ne répond pas sur ce poste : suivez les instructions ci-dessous.",
                          "The card agent does not answer on this workstation: see the instructions below."),
    "pin_format": ("Le code porteur comporte 4 chiffres.", "The PIN has 4 digits."),
    "not_found": ("Cette adresse ne correspond à aucune page du service d'identification. Vérifiez le lien, ou "
                  "revenez à votre application.", "This address matches no page of the identification service. "
                  "Check the link, or go back to your application."),
    # admin console
    "admin_disabled": ("La console d'administration n'est pas activée : aucune politique de service « admin » "
                       "n'est chargée.", "The admin console is disabled: no 'admin' service policy is loaded."),
    "admin_misconfigured": ("La console d'administration est mal configurée (client bridge-admin ou adresse de "
                            "retour absente de la politique « admin »).",
                            "The admin console is misconfigured (bridge-admin client or redirect URI missing from "
                            "the 'admin' policy)."),
    "admin_forbidden": ("Accès refusé : votre identification est valide, mais vous ne figurez pas parmi les "
                        "administrateurs de la passerelle (liste « admins » de la politique « admin »). Contactez le "
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
