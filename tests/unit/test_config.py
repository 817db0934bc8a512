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


@pytest.mark.parametrize("missing", ["BRIDGE_SECRET_KEY", "BRIDGE_PUBLIC_URL", "BRIDGE_KEYS_DIR", "BRIDGE_PSC_CLIENT_ID"])
def test_production_requires(missing):
    env = {k: v for k, v in PROD.items() if k != missing}
    with pytest.raises(ConfigError, match=f"^{missing}: required"):
        load_settings(env)


def test_startup_prints_one_line_and_exits_2(tmp_path):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "app.py"], env={"BRIDGE_ENV": "production", "PATH": "/usr/bin"},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "BRIDGE_PUBLIC_URL" in result.stderr
