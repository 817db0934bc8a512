"""Load and validate policies/*.yaml; every problem is reported at once, naming file, field and reason."""
from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from bridge.mie import CATALOGUE
from bridge.policy.schema import Attestation, Client, PolicySet, Reserve, Service

SERVICE_KEYS = {"service", "name", "clients", "allowed_mie", "require_2fa", "idle_timeout", "max_session",
                "card_types", "professions", "modes", "historical_teleservice", "attestation", "subject_type"}
CLIENT_KEYS = {"client_id", "client_secret_sha256", "token_endpoint_auth_method", "redirect_uris",
               "post_logout_redirect_uris", "backchannel_logout_uri", "scopes", "jwks",
               "id_token_signed_response_alg", "name"}
AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt", "none")
DURATION = re.compile(r"^(\d+)\s*([smh])$")
UNITS = {"s": 1, "m": 60, "h": 3600}


class PolicyError(ValueError):
    def __init__(self, errors: list[str]):
        self.errors = errors
        super().__init__("\n".join(errors))


def parse_duration(value) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = DURATION.match(str(value).strip())
    if not match:
        raise ValueError(f"{value!r} is not a duration like 15m, 4h or 900s")
    return int(match.group(1)) * UNITS[match.group(2)]


def _is_loopback(host: str | None) -> bool:
    return host in ("127.0.0.1", "localhost", "::1")


class _Reader:
    """Collects errors for one file instead of stopping at the first."""

    def __init__(self, path: Path, dev: bool):
        self.path, self.dev, self.errors = path, dev, []

    def error(self, field: str, value, reason: str) -> None:
        self.errors.append(f"{self.path}: {field}: {value!r}: {reason}")

    def unknown(self, data: dict, allowed: set, where: str) -> None:
        for key in sorted(set(data) - allowed, key=str):
            self.error(f"{where}{key}", data[key], "unknown key")

    def strings(self, data: dict, key: str, default=()) -> tuple[str, ...]:
        value = data.get(key, list(default))
        if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
            self.error(key, value, "must be a list of strings")
            return tuple(default)
        return tuple(str(v) for v in value)

    def url(self, field: str, value) -> str:
        parts = urlsplit(str(value))
        if not parts.scheme or not parts.netloc or parts.fragment:
            self.error(field, value, "must be an absolute URL without fragment")
        elif parts.scheme != "https" and not (self.dev and parts.scheme == "http" and _is_loopback(parts.hostname)):
            self.error(field, value, "must be https (http only for loopback in development)")
        return str(value)

    def client(self, index: int, data) -> Client | None:
        where = f"clients[{index}]."
        if not isinstance(data, dict):
            self.error(where[:-1], data, "must be a mapping")
            return None
        self.unknown(data, CLIENT_KEYS, where)
        client_id = data.get("client_id")
        if not isinstance(client_id, str) or not client_id:
            self.error(where + "client_id", client_id, "required")
            return None
        method = data.get("token_endpoint_auth_method", "client_secret_basic")
        if method not in AUTH_METHODS:
            self.error(where + "token_endpoint_auth_method", method, f"must be one of {', '.join(AUTH_METHODS)}")
        secret = data.get("client_secret_sha256", "")
        if method.startswith("client_secret") and not re.fullmatch(r"[0-9a-f]{64}", str(secret)):
            self.error(where + "client_secret_sha256", secret, "must be the 64-hex SHA-256 of the client secret")
        if method == "private_key_jwt" and not isinstance(data.get("jwks"), dict):
            self.error(where + "jwks", data.get("jwks"), "private_key_jwt needs the client's public jwks")
        redirects = self.strings(data, "redirect_uris")
        if not redirects:
            self.error(where + "redirect_uris", redirects, "at least one redirect URI is required")
        logout = self.strings(data, "post_logout_redirect_uris")
        for i, uri in enumerate(redirects):
            self.url(f"{where}redirect_uris[{i}]", uri)
        for i, uri in enumerate(logout):
            self.url(f"{where}post_logout_redirect_uris[{i}]", uri)
        backchannel = data.get("backchannel_logout_uri", "")
        if backchannel:
            self.url(where + "backchannel_logout_uri", backchannel)
        alg = data.get("id_token_signed_response_alg", "RS256")
        if alg not in ("RS256", "ES256"):
            self.error(where + "id_token_signed_response_alg", alg, "must be RS256 or ES256")
        scopes = self.strings(data, "scopes", ("openid", "profile"))
        return Client(client_id=client_id, redirect_uris=redirects, token_endpoint_auth_method=method,
                      client_secret_sha256=str(secret), post_logout_redirect_uris=logout,
                      backchannel_logout_uri=str(backchannel), scopes=scopes, jwks=data.get("jwks"),
                      id_token_signed_response_alg=alg, name=str(data.get("name", "")))

    def attestation(self, data) -> Attestation:
        if data is None:
            return Attestation()
        if not isinstance(data, dict):
            self.error("attestation", data, "must be a mapping")
            return Attestation()
        self.unknown(data, {"status", "signed_on", "valid_until", "reserves"}, "attestation.")
        status = data.get("status", "none")
        if status not in ("attested", "reserves", "none"):
            self.error("attestation.status", status, "must be attested, reserves or none")
        dates = {}
        for key in ("signed_on", "valid_until"):
            value = data.get(key)
            if value is not None and not isinstance(value, date):
                self.error(f"attestation.{key}", value, "must be a date YYYY-MM-DD")
                value = None
            dates[key] = value
        reserves = []
        for i, item in enumerate(data.get("reserves") or []):
            if not isinstance(item, dict) or not isinstance(item.get("due"), date):
                self.error(f"attestation.reserves[{i}]", item, "needs requirement, action_plan and due (date)")
                continue
            reserves.append(Reserve(str(item.get("requirement", "")), str(item.get("action_plan", "")), item["due"]))
        return Attestation(status=status, reserves=tuple(reserves), **dates)

    def service(self, data) -> Service | None:
        if not isinstance(data, dict):
            self.error("(file)", type(data).__name__, "a policy file must be a YAML mapping")
            return None
        self.unknown(data, SERVICE_KEYS, "")
        service_id = data.get("service")
        if not isinstance(service_id, str) or not re.fullmatch(r"[a-z0-9][a-z0-9._-]*", service_id or ""):
            self.error("service", service_id, "required: lowercase letters, digits, '.', '_' or '-'")
        clients_raw = data.get("clients") or []
        if not isinstance(clients_raw, list) or not clients_raw:
            self.error("clients", clients_raw, "at least one client is required")
            clients_raw = []
        clients = tuple(c for c in (self.client(i, raw) for i, raw in enumerate(clients_raw)) if c)
        allowed = self.strings(data, "allowed_mie")
        if not allowed:
            self.error("allowed_mie", allowed, "at least one means of identification is required")
        for mie in allowed:
            if mie not in CATALOGUE:
                self.error("allowed_mie", mie, f"unknown MIE (known: {', '.join(CATALOGUE)})")
        durations = {}
        for key, default in (("idle_timeout", "30m"), ("max_session", "4h")):
            try:
                durations[key] = parse_duration(data.get(key, default))
                if durations[key] <= 0:
                    raise ValueError("must be positive")
            except ValueError as exc:
                self.error(key, data.get(key), str(exc))
                durations[key] = parse_duration(default)
        subject_type = data.get("subject_type", "public")
        if subject_type not in ("public", "pairwise"):
            self.error("subject_type", subject_type, "must be public or pairwise")
        flags = {}
        for key, default in (("require_2fa", True), ("historical_teleservice", False)):
            flags[key] = data.get(key, default)
            if not isinstance(flags[key], bool):
                self.error(key, flags[key], "must be true or false")
                flags[key] = default
        if self.errors:
            return None
        return Service(service=service_id, name=str(data.get("name") or service_id), clients=clients,
                       allowed_mie=allowed, card_types=self.strings(data, "card_types", ("CPS", "CPF")),
                       professions=self.strings(data, "professions"), modes=self.strings(data, "modes"),
                       subject_type=subject_type, attestation=self.attestation(data.get("attestation")),
                       source=str(self.path), **durations, **flags)


def load_policies(directory: Path, *, dev: bool = True) -> PolicySet:
    """Load every *.yaml / *.yml file; raise PolicyError listing every problem in every file."""
    errors: list[str] = []
    services: dict[str, Service] = {}
    client_owner: dict[str, str] = {}
    files = sorted([*Path(directory).glob("*.yaml"), *Path(directory).glob("*.yml")])
    if not files:
        raise PolicyError([f"{directory}: no policy files (*.yaml)"])
    for path in files:
        reader = _Reader(path, dev)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f":{mark.line + 1}" if mark else ""
            errors.append(f"{path}{where}: malformed YAML: {getattr(exc, 'problem', exc)}")
            continue
        service = reader.service(data)
        errors.extend(reader.errors)
        if service is None:
            continue
        if service.service in services:
            errors.append(f"{path}: service: {service.service!r}: duplicate (also in {services[service.service].source})")
            continue
        for client in service.clients:
            if client.client_id in client_owner:
                errors.append(f"{path}: clients: {client.client_id!r}: duplicate client_id (also in {client_owner[client.client_id]})")
            client_owner[client.client_id] = str(path)
        services[service.service] = service
    if errors:
        raise PolicyError(errors)
    return PolicySet(services=services)
