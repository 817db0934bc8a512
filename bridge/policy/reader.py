"""Structure of one policy file (DESIGN §4): keys, types and formats. Referential rules are in checks.py.

Every field is read even after an error, with a safe default, so one run reports every problem of the file.
"""
from __future__ import annotations

import difflib
import re

from bridge.mie import CATALOGUE
from bridge.policy.report import MISSING, Report
from bridge.policy.schema import Attestation, Client, Reserve, Service
from bridge.policy.values import parse_date, parse_duration, url_problem
from bridge.policy.yamlsource import INVALID

SERVICE_KEYS = ("service", "name", "clients", "allowed_mie", "require_2fa", "idle_timeout", "max_session",
                "card_types", "professions", "modes", "historical_teleservice", "attestation", "subject_type")
CLIENT_KEYS = ("client_id", "name", "client_secret_sha256", "token_endpoint_auth_method", "redirect_uris",
               "post_logout_redirect_uris", "backchannel_logout_uri", "scopes", "jwks",
               "id_token_signed_response_alg")
ATTESTATION_KEYS = ("status", "signed_on", "valid_until", "reserves")
RESERVE_KEYS = ("requirement", "action_plan", "due")
AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt", "none")
CARD_TYPES = ("CPS", "CPF", "CDE", "CPE", "CDA", "CPA")  # TRE_G02 families
MODES = ("L", "S", "B")                                  # codeModeExercice: libéral, salarié, bénévole
STATUSES = ("attested", "reserves", "none")
SERVICE_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
CLIENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
SCOPE = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")     # RFC 6749 scope-token
PROFESSION = re.compile(r"^\d{2}$")                      # TRE_G15 codes: 10 médecin, 21 pharmacien...
REQUIREMENT = re.compile(r"^RIE-PS \d{2}$")


def _unknown_keys(report: Report, data: dict, allowed: tuple[str, ...], path: tuple) -> None:
    for key in data:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"allowed: {', '.join(allowed)}"
            report.error(path + (key,), data[key], f"unknown key ({hint})")


def _mapping(report: Report, value, path: tuple, what: str) -> dict | None:
    if isinstance(value, dict):
        return value
    if value is not INVALID:
        report.error(path, value, f"must be a mapping ({what})")
    return None


def _text(report: Report, data: dict, key: str, path: tuple, *, required=False, pattern=None, hint="") -> str:
    value = data.get(key, MISSING)
    if value is MISSING or value is None:
        if required:
            report.error(path + (key,), MISSING, f"is required{': ' + hint if hint else ''}")
        return ""
    if not isinstance(value, str) or not value.strip():
        if value is not INVALID:
            report.error(path + (key,), value, "must be a non-empty string")
        return ""
    if pattern and not pattern.match(value):
        report.error(path + (key,), value, f"is not valid: {hint}")
    return value


def _list(report: Report, data: dict, key: str, path: tuple, default=()) -> list:
    """The raw list at `key` ([] and an error when it is not a list)."""
    value = data.get(key, MISSING)
    if value is MISSING or value is None:
        return list(default)
    if not isinstance(value, list):
        if value is not INVALID:
            report.error(path + (key,), value, "must be a list, e.g. [a, b]")
        return list(default)
    return value


def _codes(report: Report, data: dict, key: str, path: tuple, allowed, hint: str, default=(),
           rule: str | None = None) -> tuple[str, ...]:
    """A list of short codes; each must be in `allowed` (a collection or a regex) and appear once."""
    result: list[str] = []
    for i, item in enumerate(_list(report, data, key, path, default)):
        # YAML reads 10 as an int: accept it for codes, but not booleans or floats.
        text = str(item) if isinstance(item, (str, int)) and not isinstance(item, bool) else None
        ok = text is not None and (allowed.match(text) if isinstance(allowed, re.Pattern) else text in allowed)
        if not ok:
            if item is not INVALID:
                report.error(path + (key, i), item, f"is not valid: {hint}", rule)
        elif text in result:
            report.error(path + (key, i), item, "is listed twice")
        else:
            result.append(text)
    return tuple(result)


def _flag(report: Report, data: dict, key: str, default: bool) -> bool:
    value = data.get(key, default)
    if isinstance(value, bool):
        return value
    if value is not INVALID:
        report.error((key,), value, "must be true or false")
    return default


def _duration(report: Report, data: dict, key: str, default: int) -> int:
    value = data.get(key, MISSING)
    if value is MISSING or value is INVALID:
        return default
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        report.error((key,), value, str(exc))
        return default
    return seconds  # range checked in checks.py


def _uris(report: Report, data: dict, key: str, path: tuple, dev: bool) -> tuple[str, ...]:
    uris = []
    for i, uri in enumerate(_list(report, data, key, path)):
        problem = url_problem(uri, dev=dev)
        if problem:
            if uri is not INVALID:
                report.error(path + (key, i), uri, problem)
        else:
            uris.append(uri)
    return tuple(uris)


def read_client(report: Report, raw, index: int, dev: bool) -> Client | None:
    path = ("clients", index)
    data = _mapping(report, raw, path, "client_id, redirect_uris...")
    if data is None:
        return None
    _unknown_keys(report, data, CLIENT_KEYS, path)
    client_id = _text(report, data, "client_id", path, required=True, pattern=CLIENT_ID,
                      hint="letters, digits, '.', '_', ':' or '-'")
    method = data.get("token_endpoint_auth_method", "client_secret_basic")
    if method not in AUTH_METHODS:
        report.error(path + ("token_endpoint_auth_method",), method, f"must be one of {', '.join(AUTH_METHODS)}")
        method = "client_secret_basic"
    secret = data.get("client_secret_sha256", "")
    if method.startswith("client_secret"):
        if not isinstance(secret, str) or not re.fullmatch(r"[0-9a-fA-F]{64}", secret):
            report.error(path + ("client_secret_sha256",), secret if secret != "" else MISSING,
                         f"{method} needs the 64-hex SHA-256 of the client secret")
            secret = ""
    elif secret:
        report.error(path + ("client_secret_sha256",), secret, f"must be absent with {method} (no shared secret)")
    jwks = data.get("jwks")
    if method == "private_key_jwt" and not (isinstance(jwks, dict) and isinstance(jwks.get("keys"), list)
                                            and jwks["keys"]):
        report.error(path + ("jwks",), jwks if jwks is not None else MISSING,
                     "private_key_jwt needs the client's public keys as {keys: [...]}")
    if data.get("redirect_uris") in (None, []):
        report.error(path + ("redirect_uris",), data.get("redirect_uris", MISSING),
                     "at least one redirect URI is required")
    redirects = _uris(report, data, "redirect_uris", path, dev)
    logout = _uris(report, data, "post_logout_redirect_uris", path, dev)
    backchannel = data.get("backchannel_logout_uri", "")
    if backchannel not in ("", None):
        problem = url_problem(backchannel, dev=dev)
        if problem:
            report.error(path + ("backchannel_logout_uri",), backchannel, problem)
            backchannel = ""
    scopes = _codes(report, data, "scopes", path, SCOPE, "an OAuth scope token", ("openid", "profile"))
    if "openid" not in scopes:
        report.error(path + ("scopes",), list(scopes), "must include 'openid' (this is an OpenID Connect provider)")
    alg = data.get("id_token_signed_response_alg", "RS256")
    if alg not in ("RS256", "ES256"):
        report.error(path + ("id_token_signed_response_alg",), alg, "must be RS256 or ES256")
        alg = "RS256"
    name = data.get("name", "")
    if not isinstance(name, str):
        report.error(path + ("name",), name, "must be a string")
        name = ""
    if not client_id:
        return None
    return Client(client_id=client_id, redirect_uris=redirects, token_endpoint_auth_method=method,
                  client_secret_sha256=str(secret).lower(), post_logout_redirect_uris=logout,
                  backchannel_logout_uri=str(backchannel or ""), scopes=scopes,
                  jwks=jwks if isinstance(jwks, dict) else None, id_token_signed_response_alg=alg, name=name)


def _date(report: Report, data: dict, key: str, path: tuple):
    value = data.get(key, MISSING)
    if value is MISSING or value is None or value is INVALID:
        return None
    try:
        return parse_date(value)
    except ValueError as exc:
        report.error(path + (key,), value, str(exc))
        return None


def read_reserve(report: Report, raw, index: int) -> Reserve | None:
    path = ("attestation", "reserves", index)
    data = _mapping(report, raw, path, "requirement, action_plan, due")
    if data is None:
        return None
    _unknown_keys(report, data, RESERVE_KEYS, path)
    requirement = _text(report, data, "requirement", path, required=True, pattern=REQUIREMENT,
                        hint="a referential requirement id like 'RIE-PS 13'")
    action_plan = _text(report, data, "action_plan", path, required=True, hint="how and when it will be fixed")
    due = _date(report, data, "due", path)
    if "due" not in data:
        report.error(path + ("due",), MISSING, "is required: the action plan's due date (YYYY-MM-DD)")
    if not (requirement and action_plan and due and REQUIREMENT.match(requirement)):
        return None
    return Reserve(requirement, action_plan, due)


def read_attestation(report: Report, raw) -> Attestation:
    path = ("attestation",)
    if raw is None or raw is MISSING:
        return Attestation()
    data = _mapping(report, raw, path, "status, signed_on, valid_until, reserves")
    if data is None:
        return Attestation()
    _unknown_keys(report, data, ATTESTATION_KEYS, path)
    status = data.get("status", MISSING)
    if status not in STATUSES:
        report.error(path + ("status",), status, f"must be one of {', '.join(STATUSES)}")
        status = "none"
    signed_on = _date(report, data, "signed_on", path)
    valid_until = _date(report, data, "valid_until", path)
    raw_reserves = _list(report, data, "reserves", path)
    reserves = tuple(r for r in (read_reserve(report, item, i) for i, item in enumerate(raw_reserves)) if r)
    if status == "none":
        for key in ("signed_on", "valid_until"):
            if data.get(key) is not None:
                report.error(path + (key,), data[key], "makes no sense with status: none")
    else:
        for key, value in (("signed_on", signed_on), ("valid_until", valid_until)):
            if key not in data:
                report.error(path + (key,), MISSING, f"is required when status is {status}")
    if raw_reserves and status != "reserves":
        report.error(path + ("reserves",), f"{len(raw_reserves)} reserve(s)", "need status: reserves")
    if status == "reserves" and not raw_reserves:
        report.error(path + ("reserves",), MISSING, "status: reserves needs at least one reserve")
    if signed_on and valid_until and valid_until <= signed_on:
        report.error(path + ("valid_until",), valid_until.isoformat(),
                     f"must be after signed_on ({signed_on.isoformat()})")
    return Attestation(status=status, signed_on=signed_on, valid_until=valid_until, reserves=reserves)


_DEFAULTS = Service(service="", name="", clients=(), allowed_mie=())


def read_service(report: Report, raw, *, dev: bool) -> Service | None:
    defaults = _DEFAULTS
    if raw is None:
        report.error((), MISSING, "empty policy file")
        return None
    data = _mapping(report, raw, (), "a policy file is one YAML mapping: service, clients, allowed_mie...")
    if data is None:
        return None
    _unknown_keys(report, data, SERVICE_KEYS, ())
    service_id = _text(report, data, "service", (), required=True, pattern=SERVICE_ID,
                       hint="lowercase letters, digits, '.', '_' or '-'")
    name = _text(report, data, "name", ())
    clients_raw = _list(report, data, "clients", ())
    if not clients_raw and (data.get("clients") is None or data.get("clients") == []):
        report.error(("clients",), data.get("clients", MISSING), "at least one client is required")
    clients = []
    for i, item in enumerate(clients_raw):
        client = read_client(report, item, i, dev)
        if client is None:
            continue
        if any(c.client_id == client.client_id for c in clients):
            report.error(("clients", i, "client_id"), client.client_id, "duplicate client_id in this file")
        else:
            clients.append(client)
    allowed = _codes(report, data, "allowed_mie", (), CATALOGUE,
                     f"unknown MIE (known: {', '.join(CATALOGUE)})", (), "unknown_mie")
    if "allowed_mie" not in data or data["allowed_mie"] in (None, []):
        report.error(("allowed_mie",), data.get("allowed_mie", MISSING),
                     "at least one means of identification is required")
    subject_type = data.get("subject_type", "public")
    if subject_type not in ("public", "pairwise"):
        report.error(("subject_type",), subject_type, "must be public or pairwise")
        subject_type = "public"
    return Service(
        service=service_id, name=name or service_id, clients=tuple(clients), allowed_mie=allowed,
        require_2fa=_flag(report, data, "require_2fa", defaults.require_2fa),
        idle_timeout=_duration(report, data, "idle_timeout", defaults.idle_timeout),
        max_session=_duration(report, data, "max_session", defaults.max_session),
        card_types=_codes(report, data, "card_types", (), CARD_TYPES, f"one of {', '.join(CARD_TYPES)}",
                          defaults.card_types),
        professions=_codes(report, data, "professions", (), PROFESSION,
                           "a 2-digit TRE_G15 profession code, quoted (\"10\", \"21\"...)"),
        modes=_codes(report, data, "modes", (), MODES, "L (libéral), S (salarié) or B (bénévole)"),
        historical_teleservice=_flag(report, data, "historical_teleservice", defaults.historical_teleservice),
        subject_type=subject_type, attestation=read_attestation(report, data.get("attestation")),
        source=report.file)
