"""Readers for the fields of a policy file: each reports its own errors and returns a safe default.

Every field is read even after an error, with a safe default, so one run reports every problem of the file.
"""
from __future__ import annotations

import difflib
import re

from bridge.policy.report import MISSING, Report
from bridge.policy.values import parse_date, parse_duration, url_problem
from bridge.policy.yamlsource import INVALID


def unknown_keys(report: Report, data: dict, allowed: tuple[str, ...], path: tuple) -> None:
    for key in data:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"allowed: {', '.join(allowed)}"
            report.error(path + (key,), data[key], f"unknown key ({hint})")


def mapping(report: Report, value, path: tuple, what: str) -> dict | None:
    if isinstance(value, dict):
        return value
    if value is not INVALID:
        report.error(path, value, f"must be a mapping ({what})")
    return None


def text(report: Report, data: dict, key: str, path: tuple, *, required=False, pattern=None, hint="") -> str:
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


def list_(report: Report, data: dict, key: str, path: tuple, default=()) -> list:
    """The raw list at `key` ([] and an error when it is not a list)."""
    value = data.get(key, MISSING)
    if value is MISSING or value is None:
        return list(default)
    if not isinstance(value, list):
        if value is not INVALID:
            report.error(path + (key,), value, "must be a list, e.g. [a, b]")
        return list(default)
    return value


def codes(report: Report, data: dict, key: str, path: tuple, allowed, hint: str, default=(),
          rule: str | None = None) -> tuple[str, ...]:
    """A list of short codes; each must be in `allowed` (a collection or a regex) and appear once."""
    result: list[str] = []
    for i, item in enumerate(list_(report, data, key, path, default)):
        # YAML reads 10 as an int: accept it for codes, but not booleans or floats.
        code = str(item) if isinstance(item, (str, int)) and not isinstance(item, bool) else None
        ok = code is not None and (allowed.match(code) if isinstance(allowed, re.Pattern) else code in allowed)
        if not ok:
            if item is not INVALID:
                close = [] if isinstance(allowed, re.Pattern) or code is None else \
                    difflib.get_close_matches(code, list(allowed), n=1)
                more = f"; did you mean {close[0]!r}?" if close else ""
                report.error(path + (key, i), item, f"is not valid: {hint}{more}", rule)
        elif code in result:
            report.error(path + (key, i), item, "is listed twice")
        else:
            result.append(code)
    return tuple(result)


def flag(report: Report, data: dict, key: str, default: bool) -> bool:
    value = data.get(key, default)
    if isinstance(value, bool):
        return value
    if value is not INVALID:
        report.error((key,), value, "must be true or false")
    return default


def duration(report: Report, data: dict, key: str, default: int) -> int:
    value = data.get(key, MISSING)
    if value is MISSING or value is INVALID:
        return default
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        report.error((key,), value, str(exc))
        return default
    return seconds  # range checked in checks.py


def uris(report: Report, data: dict, key: str, path: tuple, dev: bool) -> tuple[str, ...]:
    found = []
    for i, uri in enumerate(list_(report, data, key, path)):
        problem = url_problem(uri, dev=dev)
        if problem:
            if uri is not INVALID:
                report.error(path + (key, i), uri, problem)
        else:
            found.append(uri)
    return tuple(found)


def date_(report: Report, data: dict, key: str, path: tuple):
    value = data.get(key, MISSING)
    if value is MISSING or value is None or value is INVALID:
        return None
    try:
        return parse_date(value)
    except ValueError as exc:
        report.error(path + (key,), value, str(exc))
        return None
