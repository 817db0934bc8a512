"""How each means of identification is implemented, stated from the code and the live settings (report §2)."""
from __future__ import annotations

from bridge.attest.model import MeansInfo
from bridge.mie import CATALOGUE
from bridge.policy import Service, login_means


def _t(lang: str, fr: str, en: str) -> str:
    return en if lang == "en" else fr


def _psc_facts(settings, lang: str) -> tuple[tuple[str, str], ...]:
    mtls = settings.psc_token_auth_method == "tls_client_auth"
    auth = (_t(lang, "tls_client_auth (mTLS, certificat IGC-Santé de la passerelle)",
               "tls_client_auth (mTLS, the bridge's IGC-Santé certificate)") if mtls
            else settings.psc_token_auth_method)
    return (
        (_t(lang, "Rôle", "Role"), _t(lang, "client OpenID Connect (relying party) de Pro Santé Connect "
                                            "(bridge/upstream/psc.py)",
                                      "OpenID Connect relying party of Pro Santé Connect (bridge/upstream/psc.py)")),
        (_t(lang, "Découverte", "Discovery"), settings.psc_discovery_url),
        (_t(lang, "Flux", "Flow"), _t(lang, "code d'autorisation, PKCE S256, state et nonce à usage unique conservés "
                                            "côté serveur", "authorization code, PKCE S256, single-use state and nonce "
                                            "kept server-side")),
        ("acr", _t(lang, f"demandé acr_values={settings.psc_acr_values} ; accepté : "
                         f"{', '.join(settings.psc_accepted_acr)}",
                   f"requested acr_values={settings.psc_acr_values}; accepted: "
                   f"{', '.join(settings.psc_accepted_acr)}")),
        (_t(lang, "Authentification de la passerelle", "Bridge client authentication"), auth),
        (_t(lang, "Jeton d'identité", "ID token"), _t(
            lang, "iss, aud, exp/iat (±30 s), nonce, acr, signature RS256/ES256 (JWKS) ou HS256",
            "iss, aud, exp/iat (±30 s), nonce, acr, signature RS256/ES256 (JWKS) or HS256")),
        (_t(lang, "Identité", "Identity"), _t(
            lang, "identifiant national SubjectNameID (jamais sub), cohérence ID token / userinfo / session vérifiée",
            "national id SubjectNameID (never sub), ID token / userinfo / session consistency checked")),
        (_t(lang, "Délais", "Timeouts"), _t(
            lang, f"connexion {settings.psc_connect_timeout:g} s, lecture {settings.psc_read_timeout:g} s",
            f"connect {settings.psc_connect_timeout:g} s, read {settings.psc_read_timeout:g} s")),
    )


def _card_facts(settings, service: Service, mie: str, lang: str) -> tuple[tuple[str, str], ...]:
    unset = _t(lang, "non configuré", "not set")
    trust_unset = _t(lang, "NON CONFIGURÉ : obligatoire pour ce moyen, la passerelle refuserait de démarrer",
                     "NOT SET: required for this means, the bridge would refuse to start")
    facts = []
    if mie == "cps-pin":
        facts.append((_t(lang, "Preuve", "Proof"), _t(
            lang, "défi serveur ≥ 128 bits, à usage unique, ≤ 120 s, signé par la clé d'authentification de la carte "
                  "via l'agent local ; le code PIN ne quitte jamais le poste",
            "server challenge ≥ 128 bits, single use, ≤ 120 s, signed by the card's authentication key through the "
            "local agent; the PIN never leaves the workstation")))
        facts.append((_t(lang, "Agent", "Agent"), settings.agent_url))
    else:
        facts.append((_t(lang, "Certificat", "Certificate"), _t(
            lang, f"en-tête {settings.client_cert_header}, accepté seulement des mandataires "
                  f"{', '.join(settings.trusted_proxies) or unset}",
            f"header {settings.client_cert_header}, accepted only from proxies "
            f"{', '.join(settings.trusted_proxies) or unset}")))
    facts += [
        (_t(lang, "Chaîne de confiance", "Trust chain"), _t(
            lang, f"racines IGC-Santé (BRIDGE_TRUST_DIR = {settings.trust_dir or trust_unset}) ; toute chaîne "
                  "passant par O=GIP-CPS (IGC 2bis/2ter, fermée le 31/12/2020) est refusée",
            f"IGC-Santé roots (BRIDGE_TRUST_DIR = {settings.trust_dir or trust_unset}); any chain through O=GIP-CPS "
            "(IGC 2bis/2ter, closed 2020-12-31) is refused")),
        (_t(lang, "Révocation", "Revocation"), _t(
            lang, f"CRL (BRIDGE_CRL_DIR = {settings.crl_dir or unset}, sinon points de distribution), refus si "
                  "la CRL est absente ou périmée",
            f"CRLs (BRIDGE_CRL_DIR = {settings.crl_dir or unset}, else distribution points), refused when the CRL "
            "is missing or stale")),
        (_t(lang, "Cartes admises", "Card types"), ", ".join(service.card_types)),
    ]
    return tuple(facts)


def means_info(service: Service, settings, now: float, lang: str) -> tuple[MeansInfo, ...]:
    offered = {m.id for m in login_means(service, now)}
    psc_offered = bool(offered & {m.id for m in CATALOGUE.values() if m.via_psc})
    result = []
    for mie_id in service.allowed_mie:
        mie = CATALOGUE[mie_id]
        facts = _psc_facts(settings, lang) if mie.via_psc else _card_facts(settings, service, mie_id, lang)
        result.append(MeansInfo(
            id=mie_id, label=mie.label_en if lang == "en" else mie.label_fr, via_psc=mie.via_psc,
            offered_now=(psc_offered if mie.via_psc else mie_id in offered), available=True, facts=facts))
    return tuple(result)
