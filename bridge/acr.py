"""The bridge's `acr`: ONE table from what the upstream reported to what the bridge states (docs/provider.md, "acr").

| upstream             | upstream acr (PSC)                        | bridge acr                                   |
|----------------------|-------------------------------------------|----------------------------------------------|
| psc (any means)      | each value of BRIDGE_PSC_ACCEPTED_ACR     | the same value (PSC: `eidas2` for CPS-card   |
|                      | (default eidas1, eidas2)                  | logins since 2026, `eidas1` otherwise)       |
| psc                  | anything else (absent, `eidas0`, ...)     | none: the login is refused, naming the value |
| cps-pin, cps-tls     | -                                         | BRIDGE_CPS_ACR (default eidas1)              |
| local-fido (passkey) | -                                         | BRIDGE_FIDO_ACR (default eidas1)             |
| backup               | -                                         | eidas1 (one-time code: single factor)        |

PSC states the level itself; the means (`authMode`) is kept beside it (Authentication.auth_mode) but does not change
it. Levels are ordered eidas1 < eidas2 < eidas3 (`min_acr`, `acr_values`); a value outside LEVELS is only equal
to itself. An app's acr_values / claims acr is met by an acr at least as high as the lowest level it lists (or
equal to one of its non-level values): an app asking eidas1 is not refused a card login that reached eidas2.
"""
from __future__ import annotations

import json

LEVELS = ("eidas1", "eidas2", "eidas3")
PSC_UPSTREAM = "psc"
FIDO_UPSTREAM = "local-fido"
BACKUP_ACR = "eidas1"   # an admin-activated one-time code (bridge.upstream.backup) is never more than the lowest
UNMET = "unmet_authentication_requirements"   # OpenID Connect Core 1.0 errata set 2, §3.1.2.6


class UnknownAcr(ValueError):
    """The upstream reported an acr the table does not map."""

    def __init__(self, acr):
        super().__init__(f"acr {acr!r} is not in the bridge's acr table")
        self.acr = acr


def rank(acr) -> int:
    """Position in LEVELS, -1 for anything else."""
    return LEVELS.index(acr) if acr in LEVELS else -1


def psc_table(settings) -> dict[str, str]:
    """PSC acr -> bridge acr (identity on the configured accepted values)."""
    return {value: value for value in settings.psc_accepted_acr}


def from_psc(acr, settings) -> str:
    """The bridge acr of a PSC login; UnknownAcr when PSC's value is not in the table."""
    table = psc_table(settings)
    if not isinstance(acr, str) or acr not in table:
        raise UnknownAcr(acr)
    return table[acr]


def reachable(allowed_mie, settings) -> tuple[str, ...]:
    """The bridge acr values logins with these means can give (a service's allowed_mie), lowest level first."""
    from bridge.mie import CATALOGUE, PSC_MIE

    found: set[str] = set()
    for mie_id in allowed_mie:
        mie = CATALOGUE.get(mie_id)
        if mie is None:
            continue
        if mie.via_psc or mie_id in PSC_MIE:
            found.update(psc_table(settings).values())
        elif mie.upstream == FIDO_UPSTREAM:
            found.add(settings.fido_acr)
        elif mie_id == "backup":
            found.add(BACKUP_ACR)
        else:
            found.add(settings.cps_acr)
    return tuple(sorted(found, key=lambda a: (rank(a), a)))


def issuable(services, settings) -> tuple[str, ...]:
    """What discovery advertises: every acr some loaded service's means can give."""
    found: set[str] = set()
    for service in services:
        found.update(reachable(service.allowed_mie, settings))
    return tuple(sorted(found, key=lambda a: (rank(a), a)))


def unreachable_minimums(services, settings) -> list[str]:
    """Why start-up stops: services whose min_acr none of their means can give with this configuration (every
    login would be refused), each named by its file."""
    problems = []
    for service in services:
        gives = reachable(service.allowed_mie, settings)
        if service.min_acr and not any(at_least(a, service.min_acr) for a in gives):
            problems.append(f"{service.source or service.service}: min_acr: {service.min_acr} cannot be reached by "
                            f"allowed_mie ({', '.join(service.allowed_mie)}), which give {', '.join(gives) or 'none'} "
                            "with BRIDGE_PSC_ACCEPTED_ACR and BRIDGE_CPS_ACR: every login would be refused")
    return problems


def requested(params: dict) -> tuple[str, ...]:
    """The acr values an app requires: `acr_values`, or the `claims` parameter's id_token acr marked essential
    (value or values). The claims parameter wins when both are present (it is the essential request)."""
    essential = _essential_claims_acr(params.get("claims"))
    if essential:
        return essential
    return tuple(dict.fromkeys((params.get("acr_values") or "").split()))


def _essential_claims_acr(raw) -> tuple[str, ...]:
    if not raw:
        return ()
    try:
        claims = json.loads(raw) if isinstance(raw, str) else raw
        request = claims.get("id_token", {}).get("acr")
    except (ValueError, AttributeError, RecursionError):
        return ()
    if not isinstance(request, dict) or request.get("essential") is not True:
        return ()
    values = request.get("values") if "values" in request else [request.get("value")]
    return tuple(dict.fromkeys(v for v in values or () if isinstance(v, str) and v)) if isinstance(
        values, list) else ()


def claims_problem(raw) -> str | None:
    """Why a `claims` parameter is malformed (OIDC Core §5.5), or None."""
    if raw is None:
        return None
    try:
        claims = json.loads(raw)
    except (ValueError, RecursionError):   # RecursionError: "[[[[…" nested deeper than the parser goes
        return "claims is not valid JSON."
    if not isinstance(claims, dict) or any(not isinstance(claims.get(k, {}), dict) for k in ("userinfo", "id_token")):
        return "claims must be a JSON object whose userinfo and id_token members are objects."
    return None


def met(requested_values, acr: str) -> bool:
    """Does `acr` satisfy what the app asked? Nothing asked: yes."""
    if not requested_values:
        return True
    if acr in requested_values:
        return True
    levels = [rank(v) for v in requested_values if rank(v) >= 0]
    return bool(levels) and rank(acr) >= min(levels)


def at_least(acr: str, minimum: str) -> bool:
    """min_acr: no minimum, or acr ranks at least as high."""
    return not minimum or rank(acr) >= rank(minimum)


def reachable_request(requested_values, minimum: str, allowed_mie, settings) -> bool:
    """Can some allowed means give an acr that meets both the app's request and the service's min_acr?"""
    return any(met(requested_values, a) and at_least(a, minimum) for a in reachable(allowed_mie, settings))


def to_psc(requested_values, minimum: str, settings) -> str:
    """acr_values for PSC: the app's PSC-known requested values at or above min_acr; else min_acr when it is a
    PSC value above the default; else BRIDGE_PSC_ACR_VALUES."""
    table = psc_table(settings)
    wanted = [v for v in requested_values if v in table and at_least(v, minimum)]
    if wanted:
        return " ".join(wanted)
    if minimum in table and not at_least(settings.psc_acr_values.split()[0] if settings.psc_acr_values else "",
                                         minimum):
        return minimum
    return settings.psc_acr_values
