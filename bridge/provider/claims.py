"""Claims the provider gives local apps, from the neutral Authentication, filtered by scope."""
from __future__ import annotations

import base64
import hashlib
import hmac

from bridge.model import Authentication
from bridge.policy import Service


def subject(service: Service, national_id: str, secret: str) -> str:
    """`sub` = national id, or a per-service pairwise value when the policy asks for it."""
    if service.subject_type != "pairwise":
        return national_id
    mac = hmac.new(secret.encode(), f"{service.service}|{national_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def user_claims(authn: Authentication, scopes: set[str], sub: str) -> dict:
    ident = authn.identity
    claims: dict = {"sub": sub, "mie": authn.mie}
    exercice, activity = authn.exercice, authn.activity
    if "profile" in scopes:
        given = (exercice.given_name if exercice and exercice.given_name else ident.given_name)
        family = (exercice.family_name if exercice and exercice.family_name else ident.family_name)
        claims.update(given_name=given, family_name=family, name=f"{given} {family}".strip())
    if "email" in scopes and ident.email:
        claims["email"] = ident.email
    if "rpps" in scopes:
        claims["national_id"] = ident.national_id
        claims["national_id_type"] = ident.id_kind
        if exercice:
            claims["profession"] = exercice.profession
            claims["profession_category"] = exercice.category
            claims["savoir_faire"] = exercice.savoir_faire
        if activity:
            claims["activity"] = {
                "mode": activity.mode, "sector": activity.sector, "organization": activity.organization,
                "finess": activity.finess, "finess_legal": activity.finess_legal, "siret": activity.siret,
                "siren": activity.siren, "structure_id": activity.structure_id, "role": activity.role,
            }
        if authn.card:
            claims["card_type"] = authn.card.type
    return claims
