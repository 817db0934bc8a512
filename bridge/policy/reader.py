"""Structure of one policy file: keys, types and formats. Referential rules are in checks.py."""
from __future__ import annotations

import re

from bridge.acr import LEVELS
from bridge.mie import CATALOGUE
from bridge.model import KINDS
from bridge.policy.clients import read_client
from bridge.policy.establishment import KEYS as ESTABLISHMENT_KEYS
from bridge.policy.establishment import read_establishment
from bridge.policy.fields import codes, date_, duration, flag, list_, mapping, text, unknown_keys
from bridge.policy.report import MISSING, Report
from bridge.policy.schema import Attestation, Reserve, Service
from bridge.policy.yamlsource import INVALID

SERVICE_KEYS = ("service", "name", "clients", "allowed_mie", "require_2fa", "idle_timeout", "max_session",
                "card_types", "professions", "modes", "historical_teleservice", "attestation", "subject_type",
                "admins", "on_card_removal", "shared_workstation", "min_acr", "identity_kinds", *ESTABLISHMENT_KEYS)
ATTESTATION_KEYS = ("status", "signed_on", "valid_until", "reserves")
RESERVE_KEYS = ("requirement", "action_plan", "due")
CARD_TYPES = ("CPS", "CPF", "CDE", "CPE", "CDA", "CPA")  # TRE_G02 families
MODES = ("L", "S", "B")                                  # codeModeExercice: libéral, salarié, bénévole
STATUSES = ("attested", "reserves", "none")
CARD_REMOVAL = ("logout", "ignore")
SERVICE_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
PROFESSION = re.compile(r"^\d{2}$")                      # TRE_G15 codes: 10 médecin, 21 pharmacien...
REQUIREMENT = re.compile(r"^RIE-PS \d{2}$")
NATIONAL_ID = re.compile(r"^[A-Za-z0-9]{4,64}$")         # "8"+RPPS, "0"+ADELI; sandbox ids may have letters
ADMIN_SERVICE = "admin"                                   # the console's own policy (bridge/web/admin.py)


def read_admins(report: Report, data: dict, service_id: str) -> tuple[str, ...]:
    """`admins:` national ids allowed into the admin console; only in the admin service's file. They must be
    quoted: YAML reads 0751234567 as an integer and drops the leading 0 of an ADELI number."""
    if "admins" not in data:
        if service_id == ADMIN_SERVICE:
            report.warn(("service",), service_id, "has no `admins:` list: the admin console refuses everyone")
        return ()
    if service_id != ADMIN_SERVICE:
        report.error(("admins",), data["admins"], f"only the {ADMIN_SERVICE!r} service (the admin console) has "
                     "administrators")
        return ()
    found: list[str] = []
    for i, item in enumerate(list_(report, data, "admins", ())):
        if not isinstance(item, str):
            if item is not INVALID:
                report.error(("admins", i), item, "must be a quoted national id, e.g. \"899700000001\" (unquoted, "
                             "YAML turns it into a number and may drop a leading 0)")
        elif not NATIONAL_ID.match(item):
            report.error(("admins", i), item, "is not a national id (4 to 64 letters or digits)")
        elif item in found:
            report.error(("admins", i), item, "is listed twice")
        else:
            found.append(item)
    return tuple(found)


def read_min_acr(report: Report, data: dict) -> str:
    """`min_acr`: the lowest bridge acr the service admits, one of bridge.acr.LEVELS (ordered)."""
    value = data.get("min_acr", MISSING)
    if value is MISSING or value is None:
        return ""
    if value not in LEVELS:
        if value is not INVALID:
            report.error(("min_acr",), value, f"must be one of {', '.join(LEVELS)} (ordered levels, lowest first; "
                         "the lowest acr a login must reach for this service)")
        return ""
    return value


def read_identity_kinds(report: Report, data: dict, default: tuple[str, ...]) -> tuple[str, ...]:
    """Which national id kinds log in (rpps, adeli, psi, other); at least one. Unset: all but psi."""
    kinds = codes(report, data, "identity_kinds", (), KINDS, f"one of {', '.join(KINDS)}", default)
    if "identity_kinds" in data and data["identity_kinds"] in (None, []):
        report.error(("identity_kinds",), data["identity_kinds"], "must list at least one kind (rpps...)")
    return kinds or default


def read_card_removal(report: Report, data: dict, allowed_mie: tuple[str, ...]) -> str:
    """`on_card_removal`: logout | ignore, by default logout where cps-pin is allowed (only cps-pin logins have a
    card the workstation agent can watch)."""
    default = "logout" if "cps-pin" in allowed_mie else "ignore"
    value = data.get("on_card_removal", MISSING)
    if value is MISSING or value is None:
        return default
    if value not in CARD_REMOVAL:
        if value is not INVALID:
            report.error(("on_card_removal",), value, "must be logout or ignore (what removing the card of a cps-pin "
                         "login from its reader does to the session)")
        return default
    if value == "logout" and "cps-pin" not in allowed_mie:
        report.warn(("on_card_removal",), value, "has no effect: only cps-pin logins have a card the bridge can "
                    "watch, and this service does not allow cps-pin")
    return value


def read_reserve(report: Report, raw, index: int) -> Reserve | None:
    path = ("attestation", "reserves", index)
    data = mapping(report, raw, path, "requirement, action_plan, due")
    if data is None:
        return None
    unknown_keys(report, data, RESERVE_KEYS, path)
    requirement = text(report, data, "requirement", path, required=True, pattern=REQUIREMENT,
                       hint="a referential requirement id like 'RIE-PS 13'")
    action_plan = text(report, data, "action_plan", path, required=True, hint="how and when it will be fixed")
    due = date_(report, data, "due", path)
    if "due" not in data:
        report.error(path + ("due",), MISSING, "is required: the action plan's due date (YYYY-MM-DD)")
    if not (requirement and action_plan and due and REQUIREMENT.match(requirement)):
        return None
    return Reserve(requirement, action_plan, due)


def read_attestation(report: Report, raw) -> Attestation:
    path = ("attestation",)
    if raw is None or raw is MISSING:
        return Attestation()
    data = mapping(report, raw, path, "status, signed_on, valid_until, reserves")
    if data is None:
        return Attestation()
    unknown_keys(report, data, ATTESTATION_KEYS, path)
    status = data.get("status", MISSING)
    if status not in STATUSES:
        report.error(path + ("status",), status, f"must be one of {', '.join(STATUSES)}")
        status = "none"
    signed_on = date_(report, data, "signed_on", path)
    valid_until = date_(report, data, "valid_until", path)
    raw_reserves = list_(report, data, "reserves", path)
    reserves = tuple(r for r in (read_reserve(report, item, i) for i, item in enumerate(raw_reserves)) if r)
    if status == "none":
        for key in ("signed_on", "valid_until"):
            if data.get(key) is not None:
                report.error(path + (key,), data[key], "makes no sense with status: none")
    else:
        for key in ("signed_on", "valid_until"):
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
    data = mapping(report, raw, (), "a policy file is one YAML mapping: service, clients, allowed_mie...")
    if data is None:
        return None
    unknown_keys(report, data, SERVICE_KEYS, ())
    service_id = text(report, data, "service", (), required=True, pattern=SERVICE_ID,
                      hint="lowercase letters, digits, '.', '_' or '-'")
    name = text(report, data, "name", ())
    clients_raw = list_(report, data, "clients", ())
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
    allowed = codes(report, data, "allowed_mie", (), CATALOGUE,
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
        require_2fa=flag(report, data, "require_2fa", defaults.require_2fa),
        idle_timeout=duration(report, data, "idle_timeout", defaults.idle_timeout),
        max_session=duration(report, data, "max_session", defaults.max_session),
        card_types=codes(report, data, "card_types", (), CARD_TYPES, f"one of {', '.join(CARD_TYPES)}",
                         defaults.card_types),
        professions=codes(report, data, "professions", (), PROFESSION,
                          "a 2-digit TRE_G15 profession code, quoted (\"10\", \"21\"...)"),
        modes=codes(report, data, "modes", (), MODES, "L (libéral), S (salarié) or B (bénévole)"),
        historical_teleservice=flag(report, data, "historical_teleservice", defaults.historical_teleservice),
        subject_type=subject_type, attestation=read_attestation(report, data.get("attestation")),
        admins=read_admins(report, data, service_id), on_card_removal=read_card_removal(report, data, allowed),
        shared_workstation=flag(report, data, "shared_workstation", defaults.shared_workstation),
        min_acr=read_min_acr(report, data), source=report.file,
        identity_kinds=read_identity_kinds(report, data, defaults.identity_kinds), **read_establishment(report, data))
