"""The referential rules the engine knows: codes, sources, texts and how each one is applied.

Sources are the draft Référentiel d'identification électronique v2 ("RIE v2", annex v2b.0.k notified to the EU
on 2026-09, not yet adopted) and v1 (in force). R1..R22 are the rows of docs/sources.md, referential.
One catalogue feeds the loader's error texts, the user messages, `bridge policy rules`, docs and attest reports.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

# --- Dates and limits (draft v2 calendar; see docs/policies.md) -------------------------------------------------
ATTESTATION_DEADLINE = date(2026, 12, 31)  # from this day a non-PSC means without attestation is blocked
RESERVES_LAST_DAY = date(2028, 12, 31)     # reserves accepted up to and including this day
IDLE_LIMIT = 30 * 60                       # RIE-PS 13: IdP inactivity ≤ 30 min
SESSION_LIMIT = 4 * 3600                   # RIE-PS 13: IdP session ≤ 4 h
IDLE_HARD_LIMIT = 4 * 3600                 # beyond this there is no real inactivity logout (RIE-PS 17)
SESSION_HARD_LIMIT = 24 * 3600             # sanity bound, even with a reserve
DURATION_FLOOR = 60                        # below one minute nobody can work: surely a typo
ATTESTATION_MAX_YEARS = 3                  # RIE-PS 18: attested for at most 3 years...
ATTESTATION_MAX_YEARS_WITH_RESERVES = 1    # ...and renewed yearly while reserves remain
FUTURE_AUTH_SKEW = 300                     # an auth_time further in the future than this is not trusted

ENFORCED, LOAD_CHECK, ORGANISATIONAL = "enforced", "load-check", "organisational"
KINDS = (ENFORCED, LOAD_CHECK, ORGANISATIONAL)


@dataclass(frozen=True)
class Rule:
    code: str
    kind: str                  # enforced (at each login) | load-check (policy refused/warned) | organisational
    source: str                # the referential requirement, e.g. "RIE v2 RIE-PS 02"
    research: tuple[str, ...]  # rows R1..R22 of the research table
    summary: str               # short English clause for load errors: "(<source>: <summary>)"
    text_fr: str
    text_en: str
    where: str = ""            # which code applies it, when not the policy engine
    confidence: str = "M"      # as in the research: H, M, L or UNCONFIRMED (v2 is a draft: M at best)
    note: str = ""


def _r(*args, **kwargs) -> Rule:
    return Rule(*args, **kwargs)


_RULES: tuple[Rule, ...] = (
    # --- enforced at every login by evaluate() / login_means() -------------------------------------------------
    _r("mie_not_allowed", ENFORCED, "RIE v2 RIE-PS 02", ("R1",),
       "only the means listed in allowed_mie are offered and accepted",
       "Seuls les moyens d'identification électronique (MIE) listés par le service sont proposés et acceptés.",
       "Only the means of electronic identification (MIE) the service lists are offered and accepted."),
    _r("single_factor", ENFORCED, "RIE v2 RIE-PS 09", ("R5", "R10"),
       "two authentication factors of different categories",
       "L'authentification doit combiner deux facteurs de catégories différentes (connaissance, possession, "
       "inhérence). La passerelle ne fait jamais de ré-authentification à un seul facteur.",
       "Authentication must combine two factors of different categories (knowledge, possession, inherence). "
       "The bridge never re-authenticates with a single factor.",
       note="Factors come from the amr the upstream states; a bare 'mfa' or no amr falls back to the MIE "
            "catalogue (bridge/mie.py)."),
    _r("not_historical_teleservice", ENFORCED, "RIE v2 RIE-PS 02", ("R17",),
       "direct CPS only for ANS-authorized historical teleservices",
       "La carte CPx utilisée directement (hors Pro Santé Connect) n'est admise que pour les téléservices "
       "historiques autorisés par l'ANS.",
       "A CPx card used directly (outside Pro Santé Connect) is only allowed for historical teleservices "
       "authorized by ANS.",
       note="Also refused at load. The official list of authorized services was not found (UNCONFIRMED)."),
    _r("card_type_not_allowed", ENFORCED, "RIE v2 RIE-PS 02", ("R17",),
       "CPE/CPA are not RPPS-backed; direct login only with the card types the service lists",
       "Les cartes sans enregistrement RPPS (CPE, CPA) ne passent jamais par Pro Santé Connect ; en connexion "
       "directe, seuls les types de carte listés par le service sont acceptés.",
       "Cards without an RPPS registration (CPE, CPA) never come through Pro Santé Connect; for direct login only "
       "the card types the service lists are accepted.",
       note="That CPE/CPA are not PSC-compatible is UNCONFIRMED officially; CPE/CPA holders may have an e-CPS."),
    _r("attestation_missing", ENFORCED, "RIE v2 RIE-PS 02 (3), RIE-PS 18", ("R15",),
       "a non-PSC means needs a conformity attestation signed by 2026-12-31",
       "Un moyen d'identification hors Pro Santé Connect exige une attestation de conformité signée par le "
       "représentant légal au plus tard le 31/12/2026 ; avant cette date son absence est signalée, à partir "
       "de cette date le moyen est bloqué (Pro Santé Connect reste disponible).",
       "A means outside Pro Santé Connect needs a conformity attestation signed by the legal representative by "
       "2026-12-31; before that date a missing one is a warning, from that date the means is blocked (Pro Santé "
       "Connect keeps working).",
       note="Calendar from the draft v2 and secondary notes; the ANS attestation guide was not found."),
    _r("attestation_expired", ENFORCED, "RIE v2 RIE-PS 18/19", ("R15",),
       "an attestation past its valid_until no longer covers non-PSC means",
       "Une attestation de conformité dont la date de fin de validité est passée ne couvre plus les moyens hors "
       "Pro Santé Connect : elle doit être renouvelée (au plus tous les 3 ans, chaque année s'il reste des "
       "réserves).",
       "A conformity attestation past its end of validity no longer covers means outside Pro Santé Connect: it must "
       "be renewed (at least every 3 years, yearly while reserves remain)."),
    _r("reserves_expired", ENFORCED, "RIE v2 RIE-PS 17", ("R15",),
       "reserves are accepted until 2028-12-31",
       "Les réserves d'une attestation sont admises jusqu'au 31/12/2028 ; ensuite la conformité doit être "
       "totale : les moyens hors Pro Santé Connect attestés avec réserves sont bloqués et les délais de session "
       "reviennent aux plafonds du référentiel.",
       "Attestation reserves are accepted until 2028-12-31; then compliance must be complete: means outside Pro "
       "Santé Connect attested with reserves are blocked and session timeouts fall back to the referential caps."),
    _r("session_too_old", ENFORCED, "RIE v2 RIE-PS 13", ("R9",),
       "a session lasts at most max_session (≤ 4 h) and never beyond the upstream session",
       "La session d'identification dure au plus 4 heures (ou moins selon le service) et jamais au-delà de la "
       "session Pro Santé Connect ; au-delà, il faut s'identifier à nouveau.",
       "The identification session lasts at most 4 hours (or less, per service) and never beyond the Pro Santé "
       "Connect session; after that the user must identify again.",
       note="Idle timeouts (≤ 30 min) are applied per client by bridge/sessions/ with effective_limits()."),
    _r("profession_not_allowed", ENFORCED, "service policy (docs/policies.md), TRE_G15 codes", (),
       "the service admits only the listed professions",
       "Ce service est réservé à certaines professions (nomenclature TRE_G15) ; c'est un choix du service, "
       "pas une exigence du référentiel.",
       "This service is restricted to some professions (TRE_G15 codes); this is the service's choice, not a "
       "referential requirement.", confidence="H"),
    _r("mode_not_allowed", ENFORCED, "service policy (docs/policies.md), mode d'exercice", (),
       "the service admits only the listed activity modes",
       "Ce service est réservé à certains modes d'exercice (L libéral, S salarié, B bénévole) ; c'est un choix "
       "du service.",
       "This service is restricted to some activity modes (L self-employed, S salaried, B volunteer); this is the "
       "service's choice.", confidence="H"),
    _r("activity_required", ENFORCED, "service policy (docs/policies.md)", (),
       "the situation d'exercice must be chosen before the filters can be applied",
       "Plusieurs situations d'exercice sont possibles et elles ne donnent pas toutes accès au service : il faut "
       "choisir celle sous laquelle on se connecte.",
       "Several practice situations are possible and not all of them give access to the service: the user must "
       "choose the one to log in with.", confidence="H"),
    _r("acr_below_minimum", ENFORCED, "service policy (docs/policies.md), min_acr", (),
       "the login's acr must reach the service's min_acr (eidas1 < eidas2 < eidas3)",
       "Ce service exige un niveau d'authentification (acr) minimal (min_acr, niveaux ordonnés eidas1 < eidas2 < "
       "eidas3) ; c'est un choix du service.",
       "This service requires a minimum authentication level (acr; min_acr, ordered eidas1 < eidas2 < eidas3); "
       "this is the service's choice.", where="bridge/acr.py, bridge/policy/evaluate.py", confidence="H"),
    # --- refused (or warned) when the policy files are loaded ---------------------------------------------------
    _r("psc_not_offered", LOAD_CHECK, "RIE v2 RIE-PS 03", ("R3",),
       "every service must offer Pro Santé Connect",
       "Tout service doit proposer Pro Santé Connect, même s'il offre d'autres moyens.",
       "Every service must offer Pro Santé Connect, even when it offers other means."),
    _r("unknown_mie", LOAD_CHECK, "RIE v2 RIE-PS 02, RIE-PS 17", ("R1", "R2", "R6"),
       "only the means of the MIE catalogue can be configured",
       "Seuls les moyens du catalogue (Pro Santé Connect, carte CPx) peuvent être configurés : aucun moyen "
       "« de transition » (identifiant/mot de passe, OTP) n'est possible, ils ne sont plus admis depuis le "
       "31/12/2025.",
       "Only catalogue means (Pro Santé Connect, CPx card) can be configured: no 'transition' means (login/password, "
       "OTP) is possible; they are no longer admitted since 2025-12-31.", confidence="H"),
    _r("idle_timeout_too_long", LOAD_CHECK, "RIE v2 RIE-PS 13", ("R9",),
       "IdP inactivity timeout ≤ 30 min unless a reserve is declared",
       "La déconnexion après inactivité intervient au plus après 30 minutes, sauf réserve déclarée "
       "(RIE-PS 13) ; après le 31/12/2028 le plafond s'applique de nouveau.",
       "Logout after inactivity happens after at most 30 minutes, unless a reserve is declared (RIE-PS 13); after "
       "2028-12-31 the cap applies again.", where="bridge/policy/calendar.py effective_limits() for bridge/sessions/"),
    _r("max_session_too_long", LOAD_CHECK, "RIE v2 RIE-PS 13", ("R9",),
       "IdP session ≤ 4 h unless a reserve is declared",
       "La session d'identification dure au plus 4 heures, sauf réserve déclarée (RIE-PS 13).",
       "The identification session lasts at most 4 hours, unless a reserve is declared (RIE-PS 13).",
       where="bridge/policy/calendar.py effective_limits()"),
    _r("significant_reserve", LOAD_CHECK, "RIE v2 RIE-PS 17", ("R9",),
       "no automatic inactivity logout is a significant-impact reserve, never allowed",
       "L'absence de déconnexion automatique après inactivité est une réserve à impact significatif, interdite : "
       "le délai d'inactivité ne dépasse jamais 4 heures, même avec une réserve.",
       "Having no automatic logout after inactivity is a significant-impact reserve, never allowed: the idle "
       "timeout never exceeds 4 hours, even with a reserve.",
       note="The 4 h threshold is our reading; the referential gives no number."),
    _r("require_2fa_reserve", LOAD_CHECK, "RIE v2 RIE-PS 09, RIE-PS 17", ("R5", "R6"),
       "require_2fa: false needs a declared reserve on RIE-PS 09",
       "Désactiver l'exigence de deux facteurs demande une réserve déclarée sur RIE-PS 09 ; elle tombe après le "
       "31/12/2028.",
       "Turning off the two-factor requirement needs a reserve declared on RIE-PS 09; it lapses after 2028-12-31."),
    _r("reserve_due_too_late", LOAD_CHECK, "RIE v2 RIE-PS 17", ("R15",),
       "a reserve's action plan must be due by 2028-12-31",
       "Chaque réserve a un plan d'action dont l'échéance ne dépasse pas le 31/12/2028.",
       "Each reserve has an action plan due no later than 2028-12-31."),
    _r("attestation_validity", LOAD_CHECK, "RIE v2 RIE-PS 18/19", ("R15",),
       "an attestation lasts ≤ 3 years, ≤ 1 year while reserves remain",
       "Une attestation de conformité vaut au plus 3 ans, et au plus un an tant que des réserves subsistent.",
       "A conformity attestation lasts at most 3 years, and at most one year while reserves remain."),
    _r("non_rpps_card", LOAD_CHECK, "RIE v2 RIE-PS 02", ("R17",),
       "CPx cards not backed by the RPPS (CPE, CPA) should not be used",
       "Les cartes CPx non adossées au RPPS (CPE, CPA) ne devraient pas être utilisées (avertissement).",
       "CPx cards not backed by the RPPS (CPE, CPA) should not be used (warning)."),
    _r("mode_unverifiable", LOAD_CHECK, "service policy (docs/policies.md)", (),
       "a direct card login carries no activity mode, so a modes filter refuses it",
       "Une connexion directe par carte ne fournit pas de mode d'exercice : avec un filtre `modes`, elle sera "
       "refusée (avertissement).",
       "A direct card login provides no activity mode: with a `modes` filter it will be refused (warning).",
       confidence="H"),
    _r("duration_bounds", LOAD_CHECK, "PSC Bridge sanity bound", (),
       "durations between 1 min and 24 h, idle_timeout ≤ max_session",
       "Les durées vont de 1 minute à 24 heures et le délai d'inactivité ne dépasse pas la durée de session.",
       "Durations range from 1 minute to 24 hours and the idle timeout does not exceed the session length.",
       confidence="H"),
    # --- applied elsewhere, or organisational (shown in reports, not enforceable here) --------------------------
    _r("backup_mie", ENFORCED, "RIE v2 RIE-PS 16/17", ("R11",),
       "backup means: admin-activated, ≤ 24 h, single use, logged, never self-activated",
       "Moyen de secours (code à usage unique) : activé par un administrateur dans la console pour un "
       "professionnel et les services qui l'admettent, 24 heures au plus, un seul usage, chaque activation et "
       "chaque usage journalisés ; un administrateur ne peut pas l'activer pour lui-même ; essais répétés bloqués.",
       "Backup means (one-time code): activated by an administrator in the console for one professional and the "
       "services that admit it, at most 24 hours, single use, every activation and use logged; an administrator "
       "cannot activate one for themselves; repeated failures are blocked.",
       where="bridge/upstream/backup.py, console /admin/backup/ (docs/backup.md)",
       note="One factor (a code the professional is told): R11 admits ≥ 1 factor, so require_2fa does not refuse "
            "it; the policy must list `backup` in allowed_mie."),
    _r("psc_acr", ENFORCED, "RIE v1 EXI 05; PSC documentation", ("R4", "R22"),
       "PSC is called with acr_values (the app's, else eidas1) and the returned acr is mapped by the acr table",
       "Pro Santé Connect est appelé avec acr_values (celui de l'application, sinon eidas1) et le niveau (acr) "
       "retourné passe par la table acr de la passerelle (eidas1 ou eidas2 acceptés ; autre valeur : refus).",
       "Pro Santé Connect is called with acr_values (the app's, else eidas1) and the returned acr goes through "
       "the bridge's acr table (eidas1 or eidas2 accepted; any other value: refused).",
       where="bridge/upstream/psc.py, bridge/acr.py (docs/provider.md, acr)", confidence="L",
       note="eidas2 for CPS-card logins is reported by one issue only (L)."),
    _r("national_identifier", ENFORCED, "RIE v1 EXI 01/11/12", ("R14",),
       "users are identified by their national id (RPPS, ADELI tolerated) with nom/prénom d'exercice",
       "Les utilisateurs sont identifiés par leur identifiant national (RPPS, ADELI toléré) avec nom et prénom "
       "d'exercice.",
       "Users are identified by their national id (RPPS, ADELI tolerated) with their practice names.",
       where="bridge/model.py and upstream modules (docs/architecture.md)"),
    _r("identity_kind_not_allowed", ENFORCED, "RIE v1 EXI 01/11/12; service policy", ("R14",),
       "only the national id kinds listed in identity_kinds are admitted (RPPS; ADELI tolerated; PSI on request)",
       "Seuls les types d'identifiant national listés par le service (identity_kinds) sont admis : RPPS, ADELI "
       "toléré, identité Pro Santé Identité (PSI, personnels sans RPPS) si le service l'accepte.",
       "Only the national id kinds the service lists (identity_kinds) are admitted: RPPS, ADELI tolerated, a Pro "
       "Santé Identité identity (PSI, staff without an RPPS number) when the service accepts it."),
    _r("sso", ENFORCED, "RIE v2 RIE-PS 11/12", ("R19",),
       "an IdP serving several services to >5,000 professionals offers OIDC SSO",
       "Un fournisseur d'identité servant plusieurs services à plus de 5 000 professionnels offre une "
       "authentification unique (SSO) compatible OIDC : c'est le rôle de la passerelle.",
       "An identity provider serving several services to more than 5,000 professionals offers OIDC single "
       "sign-on: that is what the bridge does.", where="the bridge itself (docs/provider.md)"),
    _r("psc_fallback", ORGANISATIONAL, "RIE v2 RIE-PS 03", ("R3",),
       "plan a fallback for Pro Santé Connect outages",
       "Prévoir un moyen de repli en cas d'indisponibilité de Pro Santé Connect (procédure du service).",
       "Plan a fallback for Pro Santé Connect outages (the service's procedure)."),
    _r("password_rules", ORGANISATIONAL, "RIE v1 EXI 25", ("R6", "R7", "R8"),
       "password strength and anti-brute-force apply to password means, which the bridge does not offer",
       "Robustesse des mots de passe (≥ 50 bits) et protection contre les essais répétés : sans objet, la passerelle "
       "n'offre aucun moyen à mot de passe ; le code PIN de la carte est bloqué par la carte après 3 essais.",
       "Password strength (≥ 50 bits) and brute-force protection: not applicable, the bridge offers no password "
       "means; the card PIN is blocked by the card after 3 tries."),
    _r("enrollment", ORGANISATIONAL, "RIE v2 RIE-PS 07", ("R12",),
       "identity proofing at enrolment (PSC, eIDAS substantial+, or face to face)",
       "Enrôlement : preuve d'identité par Pro Santé Connect, un MIE eIDAS substantiel ou en face à face ; "
       "assuré par l'ANS pour la carte CPx et l'e-CPS.",
       "Enrolment: identity proof through Pro Santé Connect, an eIDAS substantial MIE or face to face; done by ANS "
       "for CPx cards and e-CPS."),
    _r("mie_lifecycle", ORGANISATIONAL, "RIE v2 RIE-PS 08/09", ("R13",),
       "re-enrolment ≤ 3 years, revocation at any time, notifications",
       "Cycle de vie des moyens : ré-enrôlement au moins tous les 3 ans, révocation à tout moment, "
       "notifications ; la révocation des cartes est vérifiée par les listes de révocation (CRL).",
       "Means lifecycle: re-enrolment at least every 3 years, revocation at any time, notifications; card "
       "revocation is checked through CRLs.", where="CRL checks in bridge/pki/__init__.py (docs/card.md)"),
    _r("homologation", ORGANISATIONAL, "RIE v1 EXI 08–10", ("R16",),
       "v1 homologation by the service owner (not needed for CPS/e-CPS)",
       "Homologation (régime v1) par le responsable du service ; non requise pour la carte CPS et l'e-CPS.",
       "Homologation (v1 regime) by the service owner; not required for CPS cards and e-CPS.", confidence="H"),
    _r("contactless", ORGANISATIONAL, "RIE v1 EXI 07", ("R18",),
       "the contactless CPx chip is never a means on its own",
       "La puce sans contact de la carte CPx n'est jamais un moyen à elle seule.",
       "The contactless chip of the CPx card is never a means on its own."),
    _r("local_directory", ORGANISATIONAL, "RIE v1 EXI 27", ("R20",),
       "HR joiner/leaver process; RPPS ids re-checked ≥ every 2 years",
       "Annuaire local : processus arrivées/départs et contrôle de l'identifiant RPPS au moins tous les 2 ans.",
       "Local directory: joiner/leaver process and RPPS id re-checked at least every 2 years."),
    _r("security_commitment", ORGANISATIONAL, "RIE v1 EXI 30–32", ("R21",),
       "security commitment signed by the legal representative, renewed yearly",
       "Engagement de sécurisation sur le modèle ANS, signé par le représentant légal, renouvelé au moins "
       "chaque année.",
       "Security commitment on the ANS model, signed by the legal representative, renewed at least yearly."),
)

_BY_CODE = {rule.code: rule for rule in _RULES}
if len(_BY_CODE) != len(_RULES):   # a catalogue edit gone wrong: fail at import, even under `python -O`
    raise RuntimeError("duplicate rule code in bridge/policy/rules.py")


def rule_catalogue() -> tuple[Rule, ...]:
    """Every rule, in a stable order: enforced, load checks, then organisational."""
    return _RULES


def rule(code: str) -> Rule:
    return _BY_CODE[code]


def broken(code: str) -> str:
    """The '(source: summary)' clause appended to a load error."""
    r = _BY_CODE[code]
    return f"({r.source}: {r.summary})"
