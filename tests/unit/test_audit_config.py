"""BRIDGE_AUDIT_* settings: defaults per environment; a wrong value names the variable in one line."""
from pathlib import Path

import pytest

from bridge.audit import open_audit
from bridge.config import ConfigError, load_settings

PROD = {"BRIDGE_ENV": "production", "BRIDGE_PUBLIC_URL": "https://sso.example.org", "BRIDGE_SECRET_KEY": "x" * 40,
        "BRIDGE_STORE_URL": "redis://redis:6379/0", "BRIDGE_KEYS_DIR": "/var/lib/bridge/keys",
        "BRIDGE_PSC_ISSUER": "https://auth.esw.esante.gouv.fr/auth/realms/esante-wallet",
        "BRIDGE_PSC_CLIENT_ID": "my-client", "BRIDGE_PSC_CLIENT_SECRET": "s3cret",
        "BRIDGE_METRICS_TOKEN": "scrape-token-0123456789",
        "BRIDGE_AUDIT_PATH": "/var/log/bridge/audit.jsonl"}


def test_development_defaults():
    settings = load_settings({})
    assert (settings.audit_path, settings.audit_required, settings.audit_pseudonymize) == (None, False, False)
    assert (settings.audit_max_bytes, settings.audit_stream) == (50_000_000, None)


def test_production_requires_the_audit_by_default():
    settings = load_settings(PROD)
    assert settings.audit_required is True and settings.audit_path == Path("/var/log/bridge/audit.jsonl")


def test_explicit_values():
    settings = load_settings({**PROD, "BRIDGE_AUDIT_REQUIRED": "0", "BRIDGE_AUDIT_PSEUDONYMIZE": "1",
                              "BRIDGE_AUDIT_MAX_BYTES": "1000000", "BRIDGE_AUDIT_STREAM": "bridge:audit"})
    assert settings.audit_required is False and settings.audit_pseudonymize is True
    assert (settings.audit_max_bytes, settings.audit_stream) == (1_000_000, "bridge:audit")
    assert load_settings({"BRIDGE_AUDIT_PATH": "a.jsonl", "BRIDGE_AUDIT_REQUIRED": "1"}).audit_required is True


@pytest.mark.parametrize("change, variable", [
    ({"BRIDGE_AUDIT_PSEUDONYMIZE": "yes please"}, "BRIDGE_AUDIT_PSEUDONYMIZE"),
    ({"BRIDGE_AUDIT_REQUIRED": "2"}, "BRIDGE_AUDIT_REQUIRED"),
    ({"BRIDGE_AUDIT_MAX_BYTES": "50MB"}, "BRIDGE_AUDIT_MAX_BYTES"),
    ({"BRIDGE_AUDIT_MAX_BYTES": "10"}, "BRIDGE_AUDIT_MAX_BYTES"),
    ({"BRIDGE_AUDIT_STREAM": "audit stream"}, "BRIDGE_AUDIT_STREAM"),
    ({"BRIDGE_AUDIT_STREAM": "audit", "BRIDGE_STORE_URL": "redis+sentinel://s:26379/m"}, "BRIDGE_AUDIT_STREAM"),
    ({"BRIDGE_AUDIT_REQUIRED": "1", "BRIDGE_AUDIT_PATH": ""}, "BRIDGE_AUDIT_REQUIRED"),
])
def test_bad_value_names_the_variable(change, variable):
    with pytest.raises(ConfigError) as info:
        load_settings({**PROD, **change})
    message = str(info.value)
    assert message.startswith(variable + ":") and "\n" not in message


def test_a_stream_needs_a_redis_store_in_development_too():
    with pytest.raises(ConfigError, match="^BRIDGE_AUDIT_STREAM:"):
        load_settings({"BRIDGE_AUDIT_STREAM": "audit"})


def test_open_audit_follows_the_settings(tmp_path):
    path = tmp_path / "logs" / "audit.jsonl"
    settings = load_settings({"BRIDGE_AUDIT_PATH": str(path), "BRIDGE_AUDIT_PSEUDONYMIZE": "1",
                              "BRIDGE_AUDIT_MAX_BYTES": "8192"})
    audit = open_audit(settings)
    assert (audit.path, audit.pseudonymize, audit.required, audit.max_bytes) == (path, True, False, 8192)
    assert audit.record("policy_loaded", outcome="info", national_id="810012345678")["subject"].startswith("h:")
    assert path.exists()  # the directory was created


def test_without_a_file_or_stream_lines_go_to_the_log(tmp_path):
    from structlog.testing import capture_logs

    audit = open_audit(load_settings({}))
    with capture_logs() as logs:
        first = audit.record("policy_loaded", outcome="info", service="dmp")
        second = audit.record("policy_loaded", outcome="info", service="dmp")
    assert [e["event"] for e in logs] == ["audit", "audit"]
    assert (first["seq"], second["seq"]) == (1, 2)
