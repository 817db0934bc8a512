"""The bridge as establishment identity provider of Pro Santé Connect (« FI local », « PSC sans couture »).

A service with `establishment_idp: true` is PSC registered as a client of the bridge: PSC sends a professional
here (`kc_idp_hint`), the bridge authenticates them with a local phishing-resistant means and returns an ID token
whose `amr` PSC reads. Such a service must NOT offer PSC (PSC would send the login back to itself: a loop), so it
is exempt from "every service offers PSC" (RIE-PS 03) and from `historical_teleservice` (the ANS habilitation as a
PSC identity provider, RIE-PS 02 (2), is the authorization); the attestation calendar of local means still applies.

`fi_amr`: MIE -> the `amr` the bridge puts in the ID token it gives PSC. What PSC expects is documented only by
examples (["sc","pin","mfa","hwk"] for a smart card, élevé; ["swk","mfa","pwd","okta_verify"], substantiel) and
what PSC does with it is UNCONFIRMED: hence a table the policy can override, per MIE (docs/provider.md).
`psc_idp_hint` (any other service): the `kc_idp_hint` the bridge sends PSC, so that service's logins go straight
to that establishment IdP (docs/policies.md).
"""
from __future__ import annotations

import re

from bridge.mie import CATALOGUE
from bridge.policy.fields import flag, mapping, text
from bridge.policy.report import MISSING, Report
from bridge.policy.yamlsource import INVALID

KEYS = ("establishment_idp", "fi_amr", "psc_idp_hint")
FI_MEANS = ("local-fido", "cps-pin", "cps-tls")     # local, phishing-resistant: what an FI service may allow
# The smart-card example of the PSC documentation (élevé), in its order; a passkey keeps its own amr
# (hwk or swk for a synced passkey, user, mfa: bridge/mie.py), which PSC's examples do not cover.
DEFAULT_FI_AMR: dict[str, tuple[str, ...]] = {"cps-pin": ("sc", "pin", "mfa", "hwk"),
                                              "cps-tls": ("sc", "pin", "mfa", "hwk")}
AMR_VALUE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
IDP_ALIAS = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")   # a Keycloak identity provider alias


def read_fi_amr(report: Report, data: dict) -> tuple[tuple[str, tuple[str, ...]], ...]:
    raw = data.get("fi_amr", MISSING)
    if raw is MISSING or raw is None:
        return ()
    table = mapping(report, raw, ("fi_amr",), "a MIE -> list of amr values, e.g. local-fido: [hwk, user, mfa]")
    found: list[tuple[str, tuple[str, ...]]] = []
    for mie, values in (table or {}).items():
        path = ("fi_amr", mie)
        if mie not in FI_MEANS:
            report.error(path, mie, f"is not a local means an establishment IdP may use ({', '.join(FI_MEANS)})")
            continue
        if not isinstance(values, list) or not values:
            if values is not INVALID:
                report.error(path, values, "must be a non-empty list of amr values, e.g. [sc, pin, mfa, hwk]")
            continue
        bad = [v for v in values if not isinstance(v, str) or not AMR_VALUE.match(v)]
        if bad:
            report.error(path, bad[0], "is not an amr value (letters, digits, '_' or '-', at most 32)")
        elif len(set(values)) != len(values):
            report.error(path, values, "lists an amr value twice")
        else:
            found.append((mie, tuple(values)))
    return tuple(found)


def read_establishment(report: Report, data: dict) -> dict:
    """The Service fields of this module (establishment_idp, fi_amr, psc_idp_hint), errors reported."""
    return {"establishment_idp": flag(report, data, "establishment_idp", False), "fi_amr": read_fi_amr(report, data),
            "psc_idp_hint": text(report, data, "psc_idp_hint", (), pattern=IDP_ALIAS,
                                 hint="an identity provider alias at PSC (letters, digits, '_', '.', '-')")}


def _at(data: dict, mie: str) -> tuple:
    items = data.get("allowed_mie") if isinstance(data.get("allowed_mie"), list) else []
    return ("allowed_mie", items.index(mie)) if mie in items else ("allowed_mie",)


def check_establishment(report: Report, service, data: dict) -> None:
    """The rules of an establishment IdP service, and the fields that only make sense with or without one."""
    if not service.establishment_idp:
        if service.fi_amr:
            report.error(("fi_amr",), dict(service.fi_amr), "only makes sense with establishment_idp: true")
        if service.psc_idp_hint and not any(CATALOGUE[m].via_psc for m in service.allowed_mie):
            report.warn(("psc_idp_hint",), service.psc_idp_hint, "has no effect: this service offers no PSC means")
        return
    for mie in service.allowed_mie:
        if CATALOGUE[mie].via_psc:
            report.error(_at(data, mie), mie, "is a Pro Santé Connect means: an establishment IdP authenticates for "
                         "PSC and must not send the login back to PSC (loop); allow local means only "
                         f"({', '.join(FI_MEANS)})")
        elif mie not in FI_MEANS:
            report.error(_at(data, mie), mie, "is not a phishing-resistant local means: an establishment IdP for "
                         f"PSC allows only {', '.join(FI_MEANS)}")
    if service.psc_idp_hint:
        report.error(("psc_idp_hint",), service.psc_idp_hint, "makes no sense with establishment_idp: true (this "
                     "service's logins never go to PSC)")
    for mie, _ in service.fi_amr:
        if mie not in service.allowed_mie:
            report.warn(("fi_amr", mie), mie, "is not in allowed_mie: this line is never used")


def fi_amr(service, authn) -> list[str]:
    """The amr the bridge states to PSC for this login: the service's table, else the default, else the login's."""
    table = {**DEFAULT_FI_AMR, **dict(service.fi_amr)}
    return list(table.get(authn.mie, authn.amr))
