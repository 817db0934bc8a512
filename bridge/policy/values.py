"""Parsing of the scalar values found in policy files: durations, dates, redirect URIs."""
from __future__ import annotations

import ipaddress
import re
from datetime import date, datetime
from urllib.parse import urlsplit

DURATION = re.compile(r"^(\d+)(s|m|h|d)$")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_duration(value) -> int:
    """'15m', '4h', '900s', '1d' or an integer number of seconds. Sign and range are checked by the caller."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = DURATION.match(value.strip()) if isinstance(value, str) else None
    if not match:
        raise ValueError("is not a duration like 15m, 4h or 900s")
    return int(match.group(1)) * UNITS[match.group(2)]


def format_duration(seconds: int) -> str:
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds % size == 0 and seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def parse_date(value) -> date:
    """A YAML date (2026-10-01) or the same text quoted; a date-time or any other spelling is refused."""
    if isinstance(value, datetime):
        raise ValueError("must be a date YYYY-MM-DD, not a date-time")
    if isinstance(value, date):
        return value
    if isinstance(value, str) and ISO_DATE.match(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise ValueError("is not a valid calendar date") from None
    raise ValueError("must be a date YYYY-MM-DD")


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


NATIVE_LOOPBACK = re.compile(r"http://(127\.0\.0\.1|\[::1\])(?::(\d{1,5}))?([/?].*)?")


def is_native_loopback(value) -> bool:
    """RFC 8252 §7.3: http://127.0.0.1/… or http://[::1]/… registered without a port (the port varies at run
    time). localhost is not this form: RFC 8252 §8.3 recommends the IP literals (no resolver, no firewall gap)."""
    match = NATIVE_LOOPBACK.fullmatch(value) if isinstance(value, str) else None
    return bool(match) and match.group(2) is None and "#" not in value


def loopback_matches(registered: str, presented) -> bool:
    """A presented redirect URI equal to a registered native loopback URI but for its port (any port 1-65535);
    scheme, host, path and query exact (RFC 8252 §7.3)."""
    match = NATIVE_LOOPBACK.fullmatch(presented) if isinstance(presented, str) else None
    if not match or match.group(2) is None or "#" in presented or not is_native_loopback(registered):
        return False
    port = int(match.group(2))
    if not 1 <= port <= 65535 or str(port) != match.group(2):
        return False
    return f"http://{match.group(1)}{match.group(3) or ''}" == registered


def url_problem(value, *, dev: bool) -> str | None:
    """Why `value` is not an acceptable client URI, or None. http is tolerated for loopback in development."""
    if not isinstance(value, str) or not value:
        return "must be a URL string"
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        return f"is not a valid URL ({exc})"
    if not parts.scheme or not parts.netloc or not host:
        return "must be an absolute URL"
    if parts.fragment or "#" in value:
        return "must not contain a fragment (OAuth 2.0, RFC 6749 §3.1.2)"
    if "*" in value or any(c.isspace() for c in value):
        return "must be an exact URL (no wildcard, no spaces)"
    if parts.username or parts.password:
        return "must not contain credentials"
    if parts.scheme == "https":
        return None
    if parts.scheme == "http" and is_loopback(host):
        return None if dev else "must be https in production (http only for loopback in development)"
    return "must be https (http only for loopback in development)"
