"""BRIDGE_STORE_WAIT_REPLICAS / _TIMEOUT: parsed, bounded, refused where there is no replica (memory://)."""
import pytest

from bridge.config import ConfigError, load_settings

REDIS = {"BRIDGE_STORE_URL": "redis+sentinel://127.0.0.1:26379/mymaster/0"}


def test_defaults_wait_for_no_replica():
    settings = load_settings(REDIS)
    assert settings.store_wait_replicas == 0 and settings.store_wait_timeout == 0.5


def test_values_are_read():
    settings = load_settings({**REDIS, "BRIDGE_STORE_WAIT_REPLICAS": "1", "BRIDGE_STORE_WAIT_TIMEOUT": "0.25"})
    assert settings.store_wait_replicas == 1 and settings.store_wait_timeout == 0.25


@pytest.mark.parametrize("change", [
    {"BRIDGE_STORE_WAIT_REPLICAS": "-1"}, {"BRIDGE_STORE_WAIT_REPLICAS": "one"}, {"BRIDGE_STORE_WAIT_REPLICAS": "11"},
    {"BRIDGE_STORE_WAIT_TIMEOUT": "0"}, {"BRIDGE_STORE_WAIT_TIMEOUT": "10"},
    {"BRIDGE_STORE_URL": "memory://", "BRIDGE_STORE_WAIT_REPLICAS": "1"},
])
def test_bad_values_name_the_variable(change):
    with pytest.raises(ConfigError) as info:
        load_settings({**REDIS, **change})
    assert str(info.value).startswith(next(name for name in change if "WAIT" in name) + ":")
