"""Settings from the environment (BRIDGE_*), validated once at start-up.

A wrong value raises ConfigError whose message names the variable and the reason, in one line.

This is the one module of the server that reads the process environment for BRIDGE_* variables: load_settings for
the settings (SETTINGS), environment()/variable()/set_variable() for the few read elsewhere (OTHER_VARIABLES:
`bridge serve`'s gunicorn settings, `bridge doctor`'s language...). Command-line options take theirs with click's
envvar= (shown in --help); tests/unit/test_env_reads.py keeps it so.
"""
from __future__ import annotations

import difflib
import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

DEV_SECRET = "dev-insecure-secret-change-me"
DEV_PSC_DISCOVERY = "http://127.0.0.1:8001/auth/realms/esante-wallet/.well-known/wallet-openid-configuration"
PSC_DISCOVERY_PATH = "/.well-known/wallet-openid-configuration"
STORE_SCHEMES = ("memory", "redis", "rediss", "redis+sentinel")
FIDO_MAX_LIFETIME = 3 * 365 * 86400.0   # RIE-PS 08: re-enrolment at least every 3 years

# Every BRIDGE_* variable anything in the project reads: load_settings refuses any other (a misspelled name would
# otherwise be ignored in silence). tests/unit/test_config.py checks that every name the code, docs and deployment
# files use is listed here.
SETTINGS = (
    "BRIDGE_ENV", "BRIDGE_PUBLIC_URL", "BRIDGE_SECRET_KEY", "BRIDGE_STORE_URL", "BRIDGE_POLICIES_DIR",
    "BRIDGE_STORE_WAIT_REPLICAS", "BRIDGE_STORE_WAIT_TIMEOUT",
    "BRIDGE_POLICIES_ACTIVE_DIR", "BRIDGE_KEYS_DIR", "BRIDGE_PSC_DISCOVERY_URL", "BRIDGE_PSC_ISSUER",
    "BRIDGE_PSC_CLIENT_ID", "BRIDGE_PSC_CLIENT_SECRET", "BRIDGE_PSC_CLIENT_CERT", "BRIDGE_PSC_CLIENT_KEY",
    "BRIDGE_PSC_CA_BUNDLE", "BRIDGE_PSC_TOKEN_AUTH_METHOD", "BRIDGE_PSC_ACR_VALUES", "BRIDGE_PSC_ACCEPTED_ACR",
    "BRIDGE_PSC_SCOPE", "BRIDGE_PSC_AUTHMODE_MIE", "BRIDGE_PSC_CONNECT_TIMEOUT", "BRIDGE_PSC_READ_TIMEOUT",
    "BRIDGE_PSC_MAX_SESSION", "BRIDGE_PSC_REQUIRE_ISS", "BRIDGE_PSC_CIBA_ENDPOINT", "BRIDGE_PSC_CIBA_CHANNEL",
    "BRIDGE_TRUST_DIR", "BRIDGE_CRL_DIR", "BRIDGE_AUDIT_PATH",
    "BRIDGE_AUDIT_PSEUDONYMIZE", "BRIDGE_AUDIT_REQUIRED", "BRIDGE_AUDIT_MAX_BYTES", "BRIDGE_AUDIT_STREAM",
    "BRIDGE_AUDIT_KEY_FILE", "BRIDGE_AUDIT_CHECKPOINT_LINES", "BRIDGE_AUDIT_CHECKPOINT_SECONDS",
    "BRIDGE_AUDIT_SYSLOG", "BRIDGE_AUDIT_STDOUT",
    "BRIDGE_AGENT_URL", "BRIDGE_TRUSTED_PROXIES", "BRIDGE_CLIENT_CERT_HEADER", "BRIDGE_CPS_ACR", "BRIDGE_LOG_LEVEL",
    "BRIDGE_RATE_LIMIT_AUTHORIZE", "BRIDGE_RATE_LIMIT_TOKEN", "BRIDGE_RATE_LIMIT_TOKEN_FAILURES",
    "BRIDGE_SWEEP_INTERVAL", "BRIDGE_METRICS_TOKEN", "BRIDGE_MAX_BODY_BYTES", "BRIDGE_ATTEST_DIR",
    "BRIDGE_CERT_WARN_DAYS", "BRIDGE_CERT_CRITICAL_DAYS", "BRIDGE_CARD_FAILURES_PER_CERT",
    "BRIDGE_CARD_FAILURES_PER_ADDRESS", "BRIDGE_CARD_FAILURES_WINDOW", "BRIDGE_CARD_LOCKOUT",
    "BRIDGE_DEVICE_CODE_LIFETIME", "BRIDGE_DEVICE_POLL_INTERVAL", "BRIDGE_DEVICE_FAILURES_PER_BROWSER",
    "BRIDGE_DEVICE_FAILURES_PER_ADDRESS", "BRIDGE_DEVICE_FAILURES_WINDOW",
    "BRIDGE_FIDO_ACR", "BRIDGE_FIDO_ENROL_WINDOW", "BRIDGE_FIDO_KEY_LIFETIME", "BRIDGE_FIDO_FAILURES",
    "BRIDGE_FIDO_FAILURES_WINDOW", "BRIDGE_FIDO_LOCKOUT",
    "BRIDGE_BACKUP_CODE_TTL",
)
# ... and the ones read elsewhere, with the reader.
OTHER_VARIABLES = {
    "BRIDGE_BIND": "bridge serve", "BRIDGE_WORKERS": "bridge serve", "BRIDGE_THREADS": "bridge serve",
    "BRIDGE_GRACEFUL_TIMEOUT": "bridge serve", "BRIDGE_WORKER_TIMEOUT": "bridge serve",
    "BRIDGE_KEEPALIVE": "bridge serve",
    "BRIDGE_AGENT_PORT": "bridge card-agent", "BRIDGE_LANG": "bridge doctor",
    "BRIDGE_AUDIT_TSA_URL": "bridge audit timestamp", "BRIDGE_AUDIT_TSA_CA": "bridge audit timestamp",
    "BRIDGE_ATTEST_LOG_LEVEL": "bridge attest", "BRIDGE_ATTEST_VPCD_PORT": "bridge attest (card self-check)",
    "BRIDGE_DEMO_PSC_PORT": "make demo", "BRIDGE_DEMO_APPS_PORT": "make demo",
    "BRIDGE_HTTP_PORT": "docker-compose.yml", "BRIDGE_POLICIES_HOST_DIR": "docker-compose.yml",
}
KNOWN_VARIABLES = frozenset(SETTINGS) | frozenset(OTHER_VARIABLES)


def environment(environ: Mapping[str, str] | None = None) -> Mapping[str, str]:
    """The process environment, or `environ` when given (tests, `bridge doctor` on another environment)."""
    return os.environ if environ is None else environ


def variable(name: str, default: str | None = None) -> str | None:
    """One variable of the process environment, read when called (not at import)."""
    return os.environ.get(name, default)


def set_variable(name: str, value: str) -> None:
    """Set a variable for this process and the ones it starts (`bridge serve` for its gunicorn master and workers)."""
    os.environ[name] = value


def production_requested(environ: Mapping[str, str] | None = None) -> bool:
    """BRIDGE_ENV=production, as the command-line tools take it for their default (load_settings validates the value
    itself: anything else is development here)."""
    return environment(environ).get("BRIDGE_ENV") == "production"


class ConfigError(ValueError):
    """One line: '<VARIABLE>: <reason>'."""


@dataclass(frozen=True)
class Settings:
    env: str = "development"
    public_url: str = "http://127.0.0.1:8000"
    secret_key: str = DEV_SECRET
    store_url: str = "memory://"
    # Redis: every write WAITs for this many replicas (0: none) up to the timeout, else 503 (docs/operations.md).
    store_wait_replicas: int = 0
    store_wait_timeout: float = 0.5
    policies_dir: Path = Path("policies")
    policies_active_dir: Path | None = None   # BRIDGE_POLICIES_ACTIVE_DIR: set by `bridge serve` (bridge.policy.active)
    keys_dir: Path = Path("var/keys")
    psc_discovery_url: str = DEV_PSC_DISCOVERY
    psc_client_id: str = "bridge-demo"
    psc_client_secret: str = "demo-psc-secret"
    psc_client_cert: Path | None = None
    psc_client_key: Path | None = None
    psc_ca_bundle: Path | None = None
    psc_token_auth_method: str = "client_secret_basic"
    psc_acr_values: str = "eidas1"
    psc_accepted_acr: tuple[str, ...] = ("eidas1", "eidas2")
    psc_scope: str = "openid scope_all"
    # PSC's `authMode` claim -> MIE id; only CARD is confirmed, MOBILE is an assumption.
    psc_authmode_mie: dict[str, str] = field(
        default_factory=lambda: {"CARD": "psc-card", "MOBILE": "psc-ecps"})
    psc_connect_timeout: float = 3.0
    psc_read_timeout: float = 10.0
    psc_max_session: int = 4 * 3600
    # PSC CIBA (bridge.upstream.psc_ciba): "" = discovery's backchannel_authentication_endpoint, else
    # {issuer}/protocol/openid-connect/ext/ciba/auth; the channel sent when the client names none.
    psc_ciba_endpoint: str = ""
    psc_ciba_channel: str = "MOBILE"
    psc_require_iss: str = "auto"   # RFC 9207 iss on the PSC callback: auto (as PSC advertises) | always | never
    trust_dir: Path | None = None
    crl_dir: Path | None = None
    # The bridge's own certificates (PSC client, trust store CAs): warning / critical this many days before expiry.
    cert_warn_days: float = 30.0
    cert_critical_days: float = 7.0
    # Repeated bad card certificates (bridge.upstream.card_failures): failures per certificate, per source address
    # (high: a hospital behind one NAT address), in a fixed window; beyond, refused for the lockout.
    card_failures_per_cert: int = 5
    card_failures_per_address: int = 100
    card_failures_window: float = 900.0
    card_lockout: float = 900.0
    # Device authorization grant (RFC 8628, bridge.login.device): codes' lifetime, the kiosk's poll interval,
    # wrong user codes per browser and per address (high: a hospital NAT) in a fixed window.
    device_code_lifetime: float = 600.0
    device_poll_interval: float = 5.0
    device_failures_per_browser: int = 5
    device_failures_per_address: int = 50
    device_failures_window: float = 900.0
    # Backup means (RIE-PS 16, bridge.upstream.backup): how long an admin-activated one-time code lives; ≤ 24 h.
    backup_code_ttl: float = 86400.0
    audit_path: Path | None = None
    audit_pseudonymize: bool = False
    audit_required: bool = False           # load_settings: 1 in production unless BRIDGE_AUDIT_REQUIRED says
    audit_max_bytes: int = 50_000_000
    audit_stream: str | None = None
    audit_key_file: Path | None = None     # signed checkpoints (docs/audit.md): none without a key file
    audit_checkpoint_lines: int = 1000     # 0: no line trigger
    audit_checkpoint_seconds: int = 300    # 0: no time trigger
    audit_syslog: str | None = None        # SIEM export (bridge/audit/export.py): udp://, tcp://, unix:// RFC 5424
    audit_stdout: bool = False             # SIEM export: each audit line as JSON on stdout
    agent_url: str = "http://127.0.0.1:47811"
    trusted_proxies: tuple[str, ...] = ()
    client_cert_header: str = "X-SSL-Client-Cert"
    # acr of direct CPS logins (cps-pin, cps-tls): PSC labels the same card + PIN login "eidas1", so do we.
    cps_acr: str = "eidas1"
    # Passkeys / FIDO2 keys (local-fido, bridge.upstream.fido, docs/passkeys.md): their acr; enrolment only this
    # long after a PSC or card login of the same session (RIE-PS 07); a key lasts at most 3 years (RIE-PS 08);
    # failed assertions per key and per address in a window, then refused for the lockout (R8).
    fido_acr: str = "eidas1"
    fido_enrol_window: float = 300.0
    fido_key_lifetime: float = FIDO_MAX_LIFETIME
    fido_failures: int = 5
    fido_failures_window: float = 900.0
    fido_lockout: float = 300.0
    log_level: str = "INFO"
    rate_limit_authorize: str = "20/second;300/minute"   # per client IP; "off" disables
    rate_limit_token: str = "100/second"                  # successful /token requests per client id; "off" disables
    rate_limit_token_failures: str = "10/second;300/minute"  # failed (400/401) /token requests per (client id, IP)
    sweep_interval: float = 30.0  # in-process sweeper; 0 = off (run `bridge sweeper` instead)
    metrics_token: str = ""           # bearer token required on /metrics when set
    max_body_bytes: int = 1_048_576   # larger request bodies get 413 (Flask MAX_CONTENT_LENGTH)
    # Where `bridge attest` stores each run (report + summary.json) and the admin console reads the latest one;
    # load_settings: var/attest in development, nothing stored in production unless set.
    attest_dir: Path | None = None

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def issuer(self) -> str:
        return self.public_url


def _url(name: str, value: str, *, production: bool) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{name}: {value!r} is not an absolute http(s) URL")
    if production and parts.scheme != "https":
        raise ConfigError(f"{name}: must use https in production (got {value!r})")
    return value.rstrip("/")


def _path(name: str, value: str, *, must_exist: bool = True, is_dir: bool = False) -> Path:
    path = Path(value)
    if must_exist and not path.exists():
        raise ConfigError(f"{name}: {value!r} does not exist")
    if must_exist and is_dir and not path.is_dir():
        raise ConfigError(f"{name}: {value!r} is not a directory")
    return path


def _seconds(name: str, value: str, *, low: float, high: float) -> float:
    """A number of seconds ("2.5") or a duration written as in the policies ("3s", "15m", "2h")."""
    from bridge.policy.values import parse_duration

    try:
        number = float(value)
    except ValueError:
        try:
            number = parse_duration(value)
        except ValueError:
            raise ConfigError(f"{name}: {value!r} is not a number of seconds or a duration like 3s, 15m, 2h") \
                from None
    if not low <= number <= high:
        raise ConfigError(f"{name}: {number:g} is outside {low:g}..{high:g} seconds")
    return number


def _flag(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered not in ("0", "1", "true", "false"):
        raise ConfigError(f"{name}: {value!r} must be 0 or 1")
    return lowered in ("1", "true")


def _rate_limit(name: str, value: str) -> str:
    from limits import parse_many

    value = value.strip()
    if value == "off":
        return value
    try:
        parse_many(value)
    except ValueError:
        raise ConfigError(f"{name}: {value!r} is not a rate like 20/second;300/minute (or off)") from None
    return value


def _one_of(name: str, value: str, choices: tuple[str, ...]) -> str:
    if value.strip().lower() not in choices:
        raise ConfigError(f"{name}: {value!r} must be one of {', '.join(choices)}")
    return value.strip().lower()


def _authmode_map(name: str, value: str) -> dict[str, str]:
    from bridge.mie import CATALOGUE

    mapping = {}
    for item in filter(None, (part.strip() for part in value.split(","))):
        mode, sep, mie = item.partition("=")
        if not sep or mie not in CATALOGUE or not CATALOGUE[mie].via_psc:
            raise ConfigError(f"{name}: {item!r} must be AUTHMODE=<PSC MIE id> (e.g. CARD=psc-card)")
        mapping[mode.strip()] = mie
    return mapping


def _refuse_unknown_variables(env: dict[str, str]) -> None:
    """A BRIDGE_* variable nothing reads is a typo (BRIDGE_STORE for BRIDGE_STORE_URL): say so, with the near name."""
    for name in sorted(env):
        if name.startswith("BRIDGE_") and name not in KNOWN_VARIABLES and env[name] != "":
            # Compared without the shared BRIDGE_ prefix, which would make every name look near.
            near = difflib.get_close_matches(name[7:], sorted(known[7:] for known in KNOWN_VARIABLES), n=1)
            hint = f" (did you mean BRIDGE_{near[0]}?)" if near else ""
            raise ConfigError(f"{name}: not a PSC Bridge setting{hint}")


def bounded_int(name: str, raw: str, low: int, high: int, *, what: str = "a whole number", unit: str = "",
                high_text: str = "") -> int:
    """A whole-number setting within low..high (bridge serve's serving settings use it too)."""
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}: {raw!r} is not {what}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}: {value} is outside {low}..{high_text or high}{' ' + unit if unit else ''}")
    return value


def _bytes(name: str, raw: str, *, low: int, high: int, high_text: str) -> int:
    return bounded_int(name, raw, low, high, what="a number of bytes", unit="bytes", high_text=high_text)


def error_line(exc: Exception) -> str:
    """The one line every entry point prints for a wrong setting or policy (bridge serve, make demo, app.py)."""
    return f"bridge: configuration error: {exc}"


# --- the readers of load_settings, one group of variables each, called in this order (the first wrong value found is
# the one reported). Each returns the Settings fields it read; a variable left out keeps the Settings default.

def _mode(env: dict[str, str]) -> str:
    mode = env.get("BRIDGE_ENV", "development")
    if mode not in ("development", "production"):
        raise ConfigError(f"BRIDGE_ENV: {mode!r} must be 'development' or 'production'")
    return mode


def _site(env: dict[str, str], production: bool) -> dict:
    """The bridge's own URL, its secret key and its store."""
    values: dict = {}
    if "BRIDGE_PUBLIC_URL" in env:
        values["public_url"] = _url("BRIDGE_PUBLIC_URL", env["BRIDGE_PUBLIC_URL"], production=production)
    elif production:
        raise ConfigError("BRIDGE_PUBLIC_URL: required in production")
    secret = env.get("BRIDGE_SECRET_KEY")
    if secret is not None:
        if len(secret) < 32:
            raise ConfigError("BRIDGE_SECRET_KEY: must be at least 32 characters")
        values["secret_key"] = secret
    elif production:
        raise ConfigError("BRIDGE_SECRET_KEY: required in production (the development default is public)")
    store = env.get("BRIDGE_STORE_URL", "memory://")
    scheme = urlsplit(store).scheme
    if scheme not in STORE_SCHEMES:
        raise ConfigError(f"BRIDGE_STORE_URL: scheme {scheme!r} not supported "
                          f"(use {', '.join(s + '://' for s in STORE_SCHEMES)})")
    if production and scheme == "memory":
        raise ConfigError("BRIDGE_STORE_URL: memory:// is single-process and loses sessions; "
                          "use redis:// in production")
    values["store_url"] = store
    if env.get("BRIDGE_STORE_WAIT_REPLICAS"):
        raw = env["BRIDGE_STORE_WAIT_REPLICAS"]
        if not raw.isdigit() or int(raw) > 10:
            raise ConfigError(f"BRIDGE_STORE_WAIT_REPLICAS: {raw!r} must be a whole number between 0 and 10")
        if int(raw) and scheme == "memory":
            raise ConfigError("BRIDGE_STORE_WAIT_REPLICAS: memory:// has no replicas")
        values["store_wait_replicas"] = int(raw)
    if env.get("BRIDGE_STORE_WAIT_TIMEOUT"):
        values["store_wait_timeout"] = _seconds("BRIDGE_STORE_WAIT_TIMEOUT", env["BRIDGE_STORE_WAIT_TIMEOUT"],
                                                low=0.01, high=5)
    return values


def _directories(env: dict[str, str], production: bool) -> dict:
    """Policies (and the validated copy `bridge serve` makes of them) and signing keys."""
    values: dict = {"policies_dir": _path("BRIDGE_POLICIES_DIR", env.get("BRIDGE_POLICIES_DIR", "policies"),
                                          is_dir=True)}
    if env.get("BRIDGE_POLICIES_ACTIVE_DIR"):
        values["policies_active_dir"] = _path("BRIDGE_POLICIES_ACTIVE_DIR", env["BRIDGE_POLICIES_ACTIVE_DIR"],
                                              is_dir=True)
    if "BRIDGE_KEYS_DIR" in env:
        values["keys_dir"] = Path(env["BRIDGE_KEYS_DIR"])
    elif production:
        raise ConfigError("BRIDGE_KEYS_DIR: required in production (signing keys must persist)")
    return values


def _psc_discovery(env: dict[str, str], production: bool) -> dict:
    """Where Pro Santé Connect describes itself: its discovery URL, or its issuer."""
    get = env.get
    if get("BRIDGE_PSC_DISCOVERY_URL") and get("BRIDGE_PSC_ISSUER"):
        raise ConfigError("BRIDGE_PSC_ISSUER: set either BRIDGE_PSC_DISCOVERY_URL or BRIDGE_PSC_ISSUER, not both")
    if get("BRIDGE_PSC_DISCOVERY_URL"):
        return {"psc_discovery_url": _url("BRIDGE_PSC_DISCOVERY_URL", env["BRIDGE_PSC_DISCOVERY_URL"],
                                          production=production)}
    if get("BRIDGE_PSC_ISSUER"):
        issuer = _url("BRIDGE_PSC_ISSUER", env["BRIDGE_PSC_ISSUER"], production=production)
        return {"psc_discovery_url": issuer + PSC_DISCOVERY_PATH}
    if production:
        raise ConfigError("BRIDGE_PSC_DISCOVERY_URL: required in production (or BRIDGE_PSC_ISSUER)")
    return {}


def _psc_client(env: dict[str, str], production: bool) -> dict:
    """The bridge as a client of PSC: id, secret, mTLS certificate and key, CA bundle, token authentication."""
    get = env.get
    values: dict = {}
    if get("BRIDGE_PSC_CLIENT_ID"):
        values["psc_client_id"] = env["BRIDGE_PSC_CLIENT_ID"]
    elif production:
        raise ConfigError("BRIDGE_PSC_CLIENT_ID: required in production")
    if "BRIDGE_PSC_CLIENT_SECRET" in env:
        values["psc_client_secret"] = env["BRIDGE_PSC_CLIENT_SECRET"]
    elif production:
        values["psc_client_secret"] = ""
    cert, key = get("BRIDGE_PSC_CLIENT_CERT"), get("BRIDGE_PSC_CLIENT_KEY")
    if bool(cert) != bool(key):
        raise ConfigError("BRIDGE_PSC_CLIENT_KEY: BRIDGE_PSC_CLIENT_CERT and BRIDGE_PSC_CLIENT_KEY go together")
    if cert:
        values["psc_client_cert"] = _path("BRIDGE_PSC_CLIENT_CERT", cert)
        values["psc_client_key"] = _path("BRIDGE_PSC_CLIENT_KEY", key)
    if get("BRIDGE_PSC_CA_BUNDLE"):
        values["psc_ca_bundle"] = _path("BRIDGE_PSC_CA_BUNDLE", env["BRIDGE_PSC_CA_BUNDLE"])
    methods = ("client_secret_basic", "client_secret_post", "tls_client_auth")
    method = get("BRIDGE_PSC_TOKEN_AUTH_METHOD", "tls_client_auth" if cert else "client_secret_basic")
    if method not in methods:
        raise ConfigError(f"BRIDGE_PSC_TOKEN_AUTH_METHOD: {method!r} must be one of {', '.join(methods)}")
    if method == "tls_client_auth" and not cert:
        raise ConfigError("BRIDGE_PSC_TOKEN_AUTH_METHOD: tls_client_auth needs BRIDGE_PSC_CLIENT_CERT and _KEY")
    if method != "tls_client_auth" and not values.get("psc_client_secret", Settings.psc_client_secret):
        raise ConfigError(f"BRIDGE_PSC_CLIENT_SECRET: required for {method}")
    values["psc_token_auth_method"] = method
    return values


def _psc_login(env: dict[str, str]) -> dict:
    """What the bridge asks of PSC and accepts from it: acr, scope, authMode mapping, timeouts, session, iss."""
    get = env.get
    values: dict = {}
    if get("BRIDGE_PSC_ACR_VALUES"):
        values["psc_acr_values"] = env["BRIDGE_PSC_ACR_VALUES"].strip()
    if get("BRIDGE_PSC_ACCEPTED_ACR"):
        values["psc_accepted_acr"] = tuple(a.strip() for a in env["BRIDGE_PSC_ACCEPTED_ACR"].split(",") if a.strip())
    if get("BRIDGE_PSC_CIBA_ENDPOINT"):
        values["psc_ciba_endpoint"] = env["BRIDGE_PSC_CIBA_ENDPOINT"].strip()
        if not values["psc_ciba_endpoint"].startswith(("https://", "http://")):
            raise ConfigError("BRIDGE_PSC_CIBA_ENDPOINT: an http(s) URL")
    if get("BRIDGE_PSC_CIBA_CHANNEL"):
        values["psc_ciba_channel"] = env["BRIDGE_PSC_CIBA_CHANNEL"].strip().upper()
        if values["psc_ciba_channel"] not in ("CARD", "MOBILE"):
            raise ConfigError("BRIDGE_PSC_CIBA_CHANNEL: CARD or MOBILE")
    if get("BRIDGE_PSC_SCOPE"):
        scope = env["BRIDGE_PSC_SCOPE"]
        if "openid" not in scope.split():
            raise ConfigError(f"BRIDGE_PSC_SCOPE: {scope!r} must contain 'openid'")
        values["psc_scope"] = scope
    if get("BRIDGE_PSC_AUTHMODE_MIE"):
        values["psc_authmode_mie"] = _authmode_map("BRIDGE_PSC_AUTHMODE_MIE", env["BRIDGE_PSC_AUTHMODE_MIE"])
    if get("BRIDGE_PSC_CONNECT_TIMEOUT"):
        values["psc_connect_timeout"] = _seconds("BRIDGE_PSC_CONNECT_TIMEOUT", env["BRIDGE_PSC_CONNECT_TIMEOUT"],
                                                 low=0.1, high=60)
    if get("BRIDGE_PSC_READ_TIMEOUT"):
        values["psc_read_timeout"] = _seconds("BRIDGE_PSC_READ_TIMEOUT", env["BRIDGE_PSC_READ_TIMEOUT"],
                                              low=0.1, high=120)
    if get("BRIDGE_PSC_MAX_SESSION"):
        values["psc_max_session"] = int(_seconds("BRIDGE_PSC_MAX_SESSION", env["BRIDGE_PSC_MAX_SESSION"],
                                                  low=60, high=4 * 3600))
    if get("BRIDGE_PSC_REQUIRE_ISS"):
        values["psc_require_iss"] = _one_of("BRIDGE_PSC_REQUIRE_ISS", env["BRIDGE_PSC_REQUIRE_ISS"],
                                            ("auto", "always", "never"))
    return values


def _card_trust(env: dict[str, str]) -> dict:
    """The IGC-Santé trust store and CRLs of direct card logins (cps-pin, cps-tls)."""
    values: dict = {}
    if env.get("BRIDGE_TRUST_DIR"):
        values["trust_dir"] = _path("BRIDGE_TRUST_DIR", env["BRIDGE_TRUST_DIR"], is_dir=True)
    if env.get("BRIDGE_CRL_DIR"):
        values["crl_dir"] = _path("BRIDGE_CRL_DIR", env["BRIDGE_CRL_DIR"], is_dir=True)
    values.update(_cert_expiry(env))
    values.update(_card_failures(env))
    if env.get("BRIDGE_BACKUP_CODE_TTL"):   # RIE-PS 16: at most 24 h, lower if the site wants
        values["backup_code_ttl"] = _seconds("BRIDGE_BACKUP_CODE_TTL", env["BRIDGE_BACKUP_CODE_TTL"], low=60,
                                             high=86400)
    return values


def _card_failures(env: dict[str, str]) -> dict:
    """Thresholds of repeated bad card certificates: counts per certificate and per address, window, lockout."""
    values: dict = {}
    for name in ("BRIDGE_CARD_FAILURES_PER_CERT", "BRIDGE_CARD_FAILURES_PER_ADDRESS"):
        if env.get(name):
            try:
                values[name[7:].lower()] = int(env[name])
            except ValueError:
                raise ConfigError(f"{name}: {env[name]!r} is not a whole number") from None
            if not 1 <= values[name[7:].lower()] <= 100_000:
                raise ConfigError(f"{name}: {env[name]!r} must be between 1 and 100000")
    for name in ("BRIDGE_CARD_FAILURES_WINDOW", "BRIDGE_CARD_LOCKOUT"):
        if env.get(name):
            values[name[7:].lower()] = _seconds(name, env[name], low=10, high=86400)
    return values


def _device_grant(env: dict[str, str]) -> dict:
    """The device authorization grant (RFC 8628): code lifetime, poll interval, wrong user codes allowed."""
    values: dict = {}
    bounds = {"BRIDGE_DEVICE_CODE_LIFETIME": (60, 1800), "BRIDGE_DEVICE_POLL_INTERVAL": (1, 60),
              "BRIDGE_DEVICE_FAILURES_WINDOW": (60, 86400)}
    for name, (low, high) in bounds.items():
        if env.get(name):
            values[name[7:].lower()] = _seconds(name, env[name], low=low, high=high)
    for name in ("BRIDGE_DEVICE_FAILURES_PER_BROWSER", "BRIDGE_DEVICE_FAILURES_PER_ADDRESS"):
        if env.get(name):
            values[name[7:].lower()] = bounded_int(name, env[name], 1, 100_000)
    return values


def _days(name: str, value: str) -> float:
    try:
        days = float(value)
    except ValueError:
        raise ConfigError(f"{name}: {value!r} is not a number of days") from None
    if not 0 <= days <= 365:
        raise ConfigError(f"{name}: {value!r} must be between 0 and 365 days")
    return days


def _cert_expiry(env: dict[str, str]) -> dict:
    """When the bridge's own certificates (PSC client, trust store CAs) raise a warning, then a critical alert."""
    warn = _days("BRIDGE_CERT_WARN_DAYS", env["BRIDGE_CERT_WARN_DAYS"]) if env.get("BRIDGE_CERT_WARN_DAYS") else 30.0
    critical = (_days("BRIDGE_CERT_CRITICAL_DAYS", env["BRIDGE_CERT_CRITICAL_DAYS"])
                if env.get("BRIDGE_CERT_CRITICAL_DAYS") else 7.0)
    if critical > warn:
        raise ConfigError("BRIDGE_CERT_CRITICAL_DAYS: must not exceed BRIDGE_CERT_WARN_DAYS")
    return {"cert_warn_days": warn, "cert_critical_days": critical}


def _audit(env: dict[str, str], *, production: bool, store_url: str) -> dict:
    """The audit trail: file, pseudonymization, required or not, rotation size, Redis stream."""
    values: dict = {}
    audit_path = Path(env["BRIDGE_AUDIT_PATH"]) if env.get("BRIDGE_AUDIT_PATH") else None
    if audit_path is not None:
        values["audit_path"] = audit_path
    if env.get("BRIDGE_AUDIT_PSEUDONYMIZE"):
        values["audit_pseudonymize"] = _flag("BRIDGE_AUDIT_PSEUDONYMIZE", env["BRIDGE_AUDIT_PSEUDONYMIZE"])
    explicit = bool(env.get("BRIDGE_AUDIT_REQUIRED"))
    required = _flag("BRIDGE_AUDIT_REQUIRED", env["BRIDGE_AUDIT_REQUIRED"]) if explicit else production
    values["audit_required"] = required
    if env.get("BRIDGE_AUDIT_MAX_BYTES"):
        values["audit_max_bytes"] = _bytes("BRIDGE_AUDIT_MAX_BYTES", env["BRIDGE_AUDIT_MAX_BYTES"],
                                           low=4096, high=10**12, high_text="10^12")
    stream = env.get("BRIDGE_AUDIT_STREAM")
    if stream:
        if not re.fullmatch(r"[\w.:{}-]{1,200}", stream):
            raise ConfigError(f"BRIDGE_AUDIT_STREAM: {stream!r} must be a Redis key name (letters, digits, . : _ -)")
        if urlsplit(store_url).scheme not in ("redis", "rediss"):
            raise ConfigError("BRIDGE_AUDIT_STREAM: needs BRIDGE_STORE_URL on redis:// or rediss://")
        values["audit_stream"] = stream
    # An explicit 1 with nowhere to write would turn every login into a 503: refuse at start-up instead.
    if explicit and required and audit_path is None and not stream:
        raise ConfigError("BRIDGE_AUDIT_REQUIRED: 1 needs BRIDGE_AUDIT_PATH or BRIDGE_AUDIT_STREAM")
    return values | _audit_checkpoints(env)


def _audit_checkpoints(env: dict[str, str]) -> dict:
    """Signed checkpoints: the audit key file and the triggers (0 turns one off)."""
    values: dict = {}
    if env.get("BRIDGE_AUDIT_KEY_FILE"):
        if not env.get("BRIDGE_AUDIT_PATH"):
            raise ConfigError("BRIDGE_AUDIT_KEY_FILE: checkpoints are written in BRIDGE_AUDIT_PATH, which is not set")
        values["audit_key_file"] = Path(env["BRIDGE_AUDIT_KEY_FILE"])
    if env.get("BRIDGE_AUDIT_CHECKPOINT_LINES"):
        values["audit_checkpoint_lines"] = bounded_int(
            "BRIDGE_AUDIT_CHECKPOINT_LINES", env["BRIDGE_AUDIT_CHECKPOINT_LINES"], 0, 10**9, unit="lines")
    if env.get("BRIDGE_AUDIT_CHECKPOINT_SECONDS"):
        values["audit_checkpoint_seconds"] = bounded_int(
            "BRIDGE_AUDIT_CHECKPOINT_SECONDS", env["BRIDGE_AUDIT_CHECKPOINT_SECONDS"], 0, 86400, unit="seconds")
    if env.get("BRIDGE_AUDIT_SYSLOG"):   # the SIEM export; the file stays the reference
        from bridge.audit.export import ExportConfigError, parse_syslog_url

        try:
            parse_syslog_url(env["BRIDGE_AUDIT_SYSLOG"])
        except ExportConfigError as exc:
            raise ConfigError(f"BRIDGE_AUDIT_SYSLOG: {exc}") from None
        values["audit_syslog"] = env["BRIDGE_AUDIT_SYSLOG"]
    if env.get("BRIDGE_AUDIT_STDOUT"):
        values["audit_stdout"] = _flag("BRIDGE_AUDIT_STDOUT", env["BRIDGE_AUDIT_STDOUT"])
    return values


def _agent_and_proxies(env: dict[str, str]) -> dict:
    """The workstation card agent's URL, and the reverse proxies believed (X-Forwarded-*, client certificate)."""
    values: dict = {}
    if env.get("BRIDGE_AGENT_URL"):
        agent = _url("BRIDGE_AGENT_URL", env["BRIDGE_AGENT_URL"], production=False)
        if urlsplit(agent).hostname not in ("127.0.0.1", "localhost", "::1"):
            raise ConfigError(f"BRIDGE_AGENT_URL: {agent!r} must be a loopback address "
                              "(the agent runs on the workstation)")
        values["agent_url"] = agent
    if env.get("BRIDGE_TRUSTED_PROXIES"):
        proxies = []
        for item in env["BRIDGE_TRUSTED_PROXIES"].split(","):
            try:
                proxies.append(str(ipaddress.ip_network(item.strip(), strict=False)))
            except ValueError:
                raise ConfigError(f"BRIDGE_TRUSTED_PROXIES: {item.strip()!r} is not an IP address or network") from None
        values["trusted_proxies"] = tuple(proxies)
    if env.get("BRIDGE_CLIENT_CERT_HEADER"):
        values["client_cert_header"] = env["BRIDGE_CLIENT_CERT_HEADER"]
    return values


def _rate_limits(env: dict[str, str]) -> dict:
    """/authorize and /token rate limits, and the in-process sweeper's interval."""
    values: dict = {}
    for name in ("BRIDGE_RATE_LIMIT_AUTHORIZE", "BRIDGE_RATE_LIMIT_TOKEN", "BRIDGE_RATE_LIMIT_TOKEN_FAILURES"):
        if env.get(name):
            values[name[7:].lower()] = _rate_limit(name, env[name])
    if values.get("rate_limit_token") == "off" and not env.get("BRIDGE_RATE_LIMIT_TOKEN_FAILURES"):
        values["rate_limit_token_failures"] = "off"   # BRIDGE_RATE_LIMIT_TOKEN=off alone turns off every /token limit
    if env.get("BRIDGE_SWEEP_INTERVAL"):
        values["sweep_interval"] = _seconds("BRIDGE_SWEEP_INTERVAL", env["BRIDGE_SWEEP_INTERVAL"], low=0, high=3600)
    return values


def _cps_acr(env: dict[str, str]) -> dict:
    """The acr of direct CPS logins."""
    if not env.get("BRIDGE_CPS_ACR"):
        return {}
    acr = env["BRIDGE_CPS_ACR"].strip()
    if not acr or any(c.isspace() for c in acr):
        raise ConfigError(f"BRIDGE_CPS_ACR: {acr!r} must be one acr value (e.g. eidas1)")
    return {"cps_acr": acr}


def _fido(env: dict[str, str]) -> dict:
    """Passkeys (local-fido): acr, enrolment window after a strong login, key lifetime, failed-assertion lockout."""
    values: dict = {}
    if env.get("BRIDGE_FIDO_ACR"):
        acr = env["BRIDGE_FIDO_ACR"].strip()
        if not acr or any(c.isspace() for c in acr):
            raise ConfigError(f"BRIDGE_FIDO_ACR: {acr!r} must be one acr value (e.g. eidas1)")
        values["fido_acr"] = acr
    if env.get("BRIDGE_FIDO_ENROL_WINDOW"):
        values["fido_enrol_window"] = _seconds("BRIDGE_FIDO_ENROL_WINDOW", env["BRIDGE_FIDO_ENROL_WINDOW"],
                                               low=30, high=3600)
    if env.get("BRIDGE_FIDO_KEY_LIFETIME"):
        values["fido_key_lifetime"] = _seconds("BRIDGE_FIDO_KEY_LIFETIME", env["BRIDGE_FIDO_KEY_LIFETIME"],
                                               low=86400, high=FIDO_MAX_LIFETIME)
    if env.get("BRIDGE_FIDO_FAILURES"):
        try:
            values["fido_failures"] = int(env["BRIDGE_FIDO_FAILURES"])
        except ValueError:
            raise ConfigError(f"BRIDGE_FIDO_FAILURES: {env['BRIDGE_FIDO_FAILURES']!r} is not a whole number") \
                from None
        if not 1 <= values["fido_failures"] <= 10:   # R8: lock after at most 10 consecutive failures
            raise ConfigError(f"BRIDGE_FIDO_FAILURES: {env['BRIDGE_FIDO_FAILURES']!r} must be between 1 and 10")
    if env.get("BRIDGE_FIDO_FAILURES_WINDOW"):
        values["fido_failures_window"] = _seconds("BRIDGE_FIDO_FAILURES_WINDOW", env["BRIDGE_FIDO_FAILURES_WINDOW"],
                                                  low=10, high=86400)
    if env.get("BRIDGE_FIDO_LOCKOUT"):
        values["fido_lockout"] = _seconds("BRIDGE_FIDO_LOCKOUT", env["BRIDGE_FIDO_LOCKOUT"], low=60, high=86400)
    return values


def _operations(env: dict[str, str], production: bool) -> dict:
    """Logs, /metrics, request body size, where `bridge attest` stores its runs."""
    values: dict = {}
    level = env.get("BRIDGE_LOG_LEVEL", "INFO").upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"BRIDGE_LOG_LEVEL: {level!r} must be DEBUG, INFO, WARNING or ERROR")
    values["log_level"] = level
    if env.get("BRIDGE_METRICS_TOKEN"):  # empty = unset (compose passes "" for an absent variable)
        token = env["BRIDGE_METRICS_TOKEN"]
        if len(token) < 16 or not re.fullmatch(r"[A-Za-z0-9._~+/=-]+", token):
            raise ConfigError("BRIDGE_METRICS_TOKEN: must be at least 16 characters of A-Z a-z 0-9 . _ ~ + / = -")
        values["metrics_token"] = token
    if env.get("BRIDGE_MAX_BODY_BYTES"):
        values["max_body_bytes"] = _bytes("BRIDGE_MAX_BODY_BYTES", env["BRIDGE_MAX_BODY_BYTES"],
                                          low=4096, high=100 * 2**20, high_text="104857600")
    if "BRIDGE_ATTEST_DIR" in env:   # empty: no run stored (development too)
        raw = env["BRIDGE_ATTEST_DIR"]
        if raw and Path(raw).exists() and not Path(raw).is_dir():
            raise ConfigError(f"BRIDGE_ATTEST_DIR: {raw!r} is not a directory")
        values["attest_dir"] = Path(raw) if raw else None
    elif not production:
        values["attest_dir"] = Path("var/attest")
    if production and not values.get("metrics_token"):
        raise ConfigError("BRIDGE_METRICS_TOKEN: required in production (/metrics would be public)")
    return values


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Every setting from the environment (or from `environ`), validated: ConfigError on the first wrong value."""
    env = dict(environment(environ))
    _refuse_unknown_variables(env)
    mode = _mode(env)
    production = mode == "production"
    values: dict = {"env": mode}
    values.update(_site(env, production))
    values.update(_directories(env, production))
    values.update(_psc_discovery(env, production))
    values.update(_psc_client(env, production))
    values.update(_psc_login(env))
    values.update(_card_trust(env))
    values.update(_device_grant(env))
    values.update(_audit(env, production=production, store_url=values["store_url"]))
    values.update(_agent_and_proxies(env))
    values.update(_rate_limits(env))
    values.update(_cps_acr(env))
    values.update(_fido(env))
    values.update(_operations(env, production))
    return Settings(**values)
