"""Settings: a wrong value stops start-up with one line naming the variable and the reason."""
import pytest

from bridge.config import ConfigError, load_settings

PROD = {"BRIDGE_ENV": "production", "BRIDGE_PUBLIC_URL": "https://sso.example.org", "BRIDGE_SECRET_KEY": "x" * 40,
        "BRIDGE_STORE_URL": "redis://redis:6379/0", "BRIDGE_KEYS_DIR": "/var/lib/bridge/keys",
        "BRIDGE_PSC_ISSUER": "https://auth.esw.esante.gouv.fr/auth/realms/esante-wallet",
        "BRIDGE_PSC_CLIENT_ID": "my-client", "BRIDGE_PSC_CLIENT_SECRET": "s3cret",
        "BRIDGE_METRICS_TOKEN": "scrape-token-0123456789"}


def test_development_defaults_point_at_the_emulator():
    settings = load_settings({})
    assert settings.env == "development" and settings.store_url == "memory://"
    assert settings.psc_discovery_url.endswith("/auth/realms/esante-wallet/.well-known/wallet-openid-configuration")


def test_production_configuration_is_accepted():
    settings = load_settings(PROD)
    assert settings.production
    assert settings.psc_discovery_url == PROD["BRIDGE_PSC_ISSUER"] + "/.well-known/wallet-openid-configuration"


def test_max_body_bytes_defaults_to_one_mebibyte_and_is_configurable():
    assert load_settings(PROD).max_body_bytes == 1_048_576
    assert load_settings({**PROD, "BRIDGE_MAX_BODY_BYTES": "65536"}).max_body_bytes == 65536


@pytest.mark.parametrize("change, variable", [
    ({"BRIDGE_ENV": "staging"}, "BRIDGE_ENV"),
    ({"BRIDGE_STORE_URL": "memory://"}, "BRIDGE_STORE_URL"),
    ({"BRIDGE_STORE_URL": "mysql://x"}, "BRIDGE_STORE_URL"),
    ({"BRIDGE_SECRET_KEY": "short"}, "BRIDGE_SECRET_KEY"),
    ({"BRIDGE_PUBLIC_URL": "http://sso.example.org"}, "BRIDGE_PUBLIC_URL"),
    ({"BRIDGE_PSC_ISSUER": "http://psc.local/realm"}, "BRIDGE_PSC_ISSUER"),
    ({"BRIDGE_PSC_CLIENT_CERT": "/nonexistent.pem"}, "BRIDGE_PSC_CLIENT_KEY"),
    ({"BRIDGE_PSC_READ_TIMEOUT": "abc"}, "BRIDGE_PSC_READ_TIMEOUT"),
    ({"BRIDGE_PSC_CONNECT_TIMEOUT": "0"}, "BRIDGE_PSC_CONNECT_TIMEOUT"),
    ({"BRIDGE_TRUSTED_PROXIES": "10.0.0.1,not-an-ip"}, "BRIDGE_TRUSTED_PROXIES"),
    ({"BRIDGE_AGENT_URL": "http://10.1.2.3:47811"}, "BRIDGE_AGENT_URL"),
    ({"BRIDGE_LOG_LEVEL": "LOUD"}, "BRIDGE_LOG_LEVEL"),
    ({"BRIDGE_PSC_AUTHMODE_MIE": "CARD=cps-pin"}, "BRIDGE_PSC_AUTHMODE_MIE"),
    ({"BRIDGE_POLICIES_DIR": "/nonexistent"}, "BRIDGE_POLICIES_DIR"),
    ({"BRIDGE_MAX_BODY_BYTES": "1MB"}, "BRIDGE_MAX_BODY_BYTES"),
    ({"BRIDGE_MAX_BODY_BYTES": "100"}, "BRIDGE_MAX_BODY_BYTES"),
    ({"BRIDGE_MAX_BODY_BYTES": str(10**9)}, "BRIDGE_MAX_BODY_BYTES"),
])
def test_bad_value_names_the_variable(change, variable):
    with pytest.raises(ConfigError) as info:
        load_settings({**PROD, **change})
    message = str(info.value)
    assert message.startswith(variable + ":") and "\n" not in message


@pytest.mark.parametrize("missing", ["BRIDGE_SECRET_KEY", "BRIDGE_PUBLIC_URL", "BRIDGE_KEYS_DIR",
                                     "BRIDGE_PSC_CLIENT_ID"])
def test_production_requires(missing):
    env = {k: v for k, v in PROD.items() if k != missing}
    with pytest.raises(ConfigError, match=f"^{missing}: required"):
        load_settings(env)


def test_startup_prints_one_line_and_exits_2(tmp_path):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "app.py"], env={"BRIDGE_ENV": "production", "PATH": "/usr/bin"},
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "BRIDGE_PUBLIC_URL" in result.stderr


# --- names: a misspelled BRIDGE_* variable is refused, with the name it was probably meant to be ---------------------

SCANNED = ("bridge", "tests", "deploy", "bench", "docs", ".ci", "docker-compose.yml", "Makefile", "Dockerfile",
           "README.md", "app.py", "pyproject.toml")
# Deliberately wrong names in tests, and docs/admin.md's "rather than a BRIDGE_ADMINS setting".
NOT_SETTINGS = {"BRIDGE_ADMINS", "BRIDGE_STORE", "BRIDGE_PSC_CONECT_TIMEOUT", "BRIDGE_STORE_URLS", "BRIDGE_FOO"}


def names_used_in_the_repository() -> set[str]:
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    pattern = re.compile(r"(?<![A-Za-z0-9_])BRIDGE_[A-Z0-9_]*[A-Z0-9](?![A-Za-z0-9_*])")
    found: set[str] = set()
    for entry in SCANNED:
        path = root / entry
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        for file in files:
            if "__pycache__" in file.parts or file.suffix in (".pyc", ".mo", ".png", ".pdf", ".der", ".so"):
                continue
            try:
                found |= set(pattern.findall(file.read_text(encoding="utf-8")))
            except (UnicodeDecodeError, OSError):
                continue
    return found - NOT_SETTINGS


def test_every_bridge_variable_the_project_reads_is_known():
    from bridge.config import KNOWN_VARIABLES

    used = names_used_in_the_repository()
    assert {"BRIDGE_STORE_URL", "BRIDGE_BIND", "BRIDGE_ATTEST_VPCD_PORT", "BRIDGE_DEMO_APPS_PORT"} <= used
    assert used - KNOWN_VARIABLES == set(), "add them to bridge.config.SETTINGS or OTHER_VARIABLES"


@pytest.mark.parametrize("typo, meant", [
    ("BRIDGE_STORE", "BRIDGE_STORE_URL"),
    ("BRIDGE_PSC_CONECT_TIMEOUT", "BRIDGE_PSC_CONNECT_TIMEOUT"),
    ("BRIDGE_STORE_URLS", "BRIDGE_STORE_URL"),
])
def test_a_misspelled_variable_is_refused_with_the_name_it_was_meant_to_be(typo, meant):
    with pytest.raises(ConfigError) as info:
        load_settings({typo: "redis://localhost"})
    assert str(info.value) == f"{typo}: not a PSC Bridge setting (did you mean {meant}?)"


def test_an_unknown_variable_far_from_any_setting_is_refused_without_a_guess():
    with pytest.raises(ConfigError, match=r"^BRIDGE_FOO: not a PSC Bridge setting$"):
        load_settings({"BRIDGE_FOO": "1"})


def test_variables_read_outside_the_settings_and_empty_ones_are_accepted():
    from bridge.config import OTHER_VARIABLES

    load_settings({**dict.fromkeys(OTHER_VARIABLES, "1"), "BRIDGE_FOO": ""})


# --- durations: seconds, or the policies' notation -------------------------------------------------------------------

def test_durations_accept_the_policy_notation():
    settings = load_settings({"BRIDGE_PSC_CONNECT_TIMEOUT": "3s", "BRIDGE_PSC_READ_TIMEOUT": "0.5",
                              "BRIDGE_PSC_MAX_SESSION": "2h", "BRIDGE_SWEEP_INTERVAL": "15m"})
    assert (settings.psc_connect_timeout, settings.psc_read_timeout) == (3, 0.5)
    assert (settings.psc_max_session, settings.sweep_interval) == (7200, 900)


@pytest.mark.parametrize("value, reason", [
    ("3x", "'3x' is not a number of seconds or a duration like 3s, 15m, 2h"),
    ("2m", "120 is outside 0.1..60 seconds"),
])
def test_a_wrong_duration_names_the_variable(value, reason):
    with pytest.raises(ConfigError) as info:
        load_settings({"BRIDGE_PSC_CONNECT_TIMEOUT": value})
    assert str(info.value) == f"BRIDGE_PSC_CONNECT_TIMEOUT: {reason}"
