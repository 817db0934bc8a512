"""Fault injection: validation of the `POST /_emulator/faults` body and claim merging.

The active faults are one JSON object that replaces the previous one (`{}` clears). Unknown keys and wrong
types are refused (HTTP 400) so that a typo in a negative test cannot silently test nothing.
"""
from __future__ import annotations

import copy
from collections.abc import Callable


class FaultError(ValueError):
    """The faults object is not valid; the message names the key."""


def _dict(value) -> bool:
    return isinstance(value, dict)


def _bool(value) -> bool:
    return isinstance(value, bool)


def _seconds(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 120


def _text(value) -> bool:
    return isinstance(value, str) and bool(value)


def _http_status(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 400 <= value <= 599


def _one_of(*choices: str) -> Callable[[object], bool]:
    return lambda value: value in choices


# key -> (validator, what the value must be)
FAULT_KEYS: dict[str, tuple[Callable[[object], bool], str]] = {
    "id_token_claims": (_dict, "an object (null value = delete the claim)"),
    "id_token_alg": (_one_of("none", "RS256", "HS256"), '"none", "RS256" or "HS256"'),
    "id_token_bad_signature": (_bool, "a boolean"),
    "id_token_kid_unknown": (_bool, "a boolean"),
    "access_token_claims": (_dict, "an object (null value = delete the claim)"),
    "userinfo_claims": (_dict, "an object (null value = delete the claim)"),
    "userinfo_format": (_one_of("json", "jwt"), '"json" or "jwt"'),
    "userinfo_status": (_http_status, "an HTTP status 400-599"),
    "userinfo_delay": (_seconds, "seconds between 0 and 120"),
    "token_delay": (_seconds, "seconds between 0 and 120"),
    "token_error": (_text, "an OAuth error code such as \"invalid_grant\""),
    "token_status": (_http_status, "an HTTP status 400-599"),
    "authorize_error": (_text, "an OAuth error code such as \"access_denied\""),
}


def validate_faults(faults: object) -> dict:
    """A deep copy of a valid faults object, or FaultError."""
    if not isinstance(faults, dict):
        raise FaultError("faults must be a JSON object")
    for key, value in faults.items():
        if key not in FAULT_KEYS:
            raise FaultError(f"unknown fault {key!r}; known: {', '.join(sorted(FAULT_KEYS))}")
        check, expected = FAULT_KEYS[key]
        if not check(value):
            raise FaultError(f"fault {key!r} must be {expected}, got {value!r}")
    return copy.deepcopy(faults)


def merge_claims(claims: dict, overrides: dict | None) -> dict:
    """Claims with `overrides` applied: a value replaces (or adds) the claim, None deletes it."""
    merged = dict(claims)
    for name, value in (overrides or {}).items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = copy.deepcopy(value)
    return merged
