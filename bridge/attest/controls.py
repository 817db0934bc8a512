"""The security controls an auditor checks, in the report's language (pure): per service the assurance level
(`min_acr` beside what the allowed means can give), the card-removal rule and the shared-workstation flag; per
client consent, sender-constrained tokens, PAR and the logout channels (docs/provider.md, "Security profile")."""
from __future__ import annotations

from bridge.acr import at_least, reachable
from bridge.i18n import N_, translated

MTLS_METHODS = ("tls_client_auth", "self_signed_tls_client_auth")
_WORDS = {   # key -> French msgid; English in the gettext catalogue (bridge.i18n.translated)
    "no_minimum": N_("aucun minimum"), "means_give": N_("les moyens admis donnent"), "nothing": N_("rien"),
    "unreachable": N_("inatteignable : toute connexion serait refusée"),
    "logout": N_("déconnexion : la session SSO prend fin"), "ignore": N_("sans effet sur la session"),
    "no_card": N_("sans objet : seule une connexion cps-pin a une carte que la passerelle surveille, et ce "
                  "service ne l'admet pas"),
    "yes": N_("oui"), "no": N_("non"),
    "consent_required": N_("demandé au professionnel (application d'un tiers)"),
    "consent_none": N_("non demandé (application de l'établissement)"),
    "bearer": N_("aucune (jeton au porteur)"), "mtls": N_("mTLS : certificat du client (RFC 8705)"),
    "dpop": N_("DPoP : clé du client (RFC 9449)"),
}


def _words(lang: str) -> dict[str, str]:
    return {key: translated(text, lang) for key, text in _WORDS.items()}


def min_acr(service, settings, lang: str) -> tuple[str, bool]:
    """('eidas2 (the allowed means give eidas1, eidas2)', reachable?)."""
    w = _words(lang)
    gives = reachable(service.allowed_mie, settings)
    ok = not service.min_acr or any(at_least(a, service.min_acr) for a in gives)
    text = f"{service.min_acr or w['no_minimum']} ({w['means_give']} {', '.join(gives) or w['nothing']})"
    return (text if ok else f"{text}: {w['unreachable']}"), ok


def service_controls(service, settings, lang: str) -> tuple[tuple[str, str, bool], ...]:
    """(policy field, value in words, fine?) rows for the service's identification."""
    w = _words(lang)
    acr_text, acr_ok = min_acr(service, settings, lang)
    removal = w[service.card_removal] if "cps-pin" in service.allowed_mie else w["no_card"]
    return (("min_acr", acr_text, acr_ok), ("on_card_removal", removal, True),
            ("shared_workstation", w["yes" if service.shared_workstation else "no"], True))


def sender_constraint(client, lang: str) -> str:
    w = _words(lang)
    found = [w["mtls"]] if client.token_endpoint_auth_method in MTLS_METHODS else []
    if client.dpop_bound_access_tokens:
        found.append(w["dpop"])
    return " + ".join(found) or w["bearer"]


def client_controls(client, lang: str) -> dict:
    """The ClientInfo fields for consent, sender constraint, PAR and logout channels."""
    w = _words(lang)
    channels = tuple((name, uri) for name, uri in (("back-channel", client.backchannel_logout_uri),
                                                   ("front-channel", client.frontchannel_logout_uri)) if uri)
    return {"consent": w["consent_required" if client.consent == "required" else "consent_none"],
            "sender_constraint": sender_constraint(client, lang),
            "par_required": w["yes" if client.require_pushed_authorization_requests else "no"],
            "logout_channels": channels}
