"""The PSC emulator's « FI local » configuration: the command line option and the demo's registration of the bridge
as establishment IdP `bridge-fi` (the HTTP behaviour is in tests/integration/test_fi_local.py)."""
from __future__ import annotations

import argparse

import pytest

from bridge.sandbox.psc import EmulatorConfig, EstablishmentIdp
from bridge.sandbox.psc.__main__ import build_parser, parse_establishment_idp


def test_the_option_names_alias_client_secret_and_issuer():
    idp = parse_establishment_idp("bridge-fi:psc-fi:psc-fi-secret:http://localhost:8000/")
    assert idp == EstablishmentIdp("bridge-fi", "http://localhost:8000", "psc-fi", "psc-fi-secret")
    args = build_parser().parse_args(["--establishment-idp", "a:b:c:https://idp.example/realms/x"])
    assert args.establishment_idp[0].issuer == "https://idp.example/realms/x"


@pytest.mark.parametrize("spec", ["bridge-fi:psc-fi:http://localhost:8000", "bridge-fi::s:http://x", "a:b:c:ftp://x"])
def test_a_malformed_option_is_refused(spec):
    with pytest.raises(argparse.ArgumentTypeError):
        parse_establishment_idp(spec)


def test_config_lookup_and_broker_endpoint():
    config = EmulatorConfig(base_url="http://127.0.0.1:8001",
                            establishment_idps=[EstablishmentIdp("bridge-fi", "http://localhost:8000", "c", "s")])
    assert config.establishment_idp("bridge-fi").client_id == "c" and config.establishment_idp("x") is None
    assert config.broker_endpoint("bridge-fi") == \
        "http://127.0.0.1:8001/auth/realms/esante-wallet/broker/bridge-fi/endpoint"
    with pytest.raises(ValueError):
        EstablishmentIdp("a/b", "http://x", "c", "s")


def test_the_demo_registers_the_bridge_as_establishment_idp():
    from bridge.demo import _emulator_config

    config = _emulator_config("http://127.0.0.1:8001", "http://localhost:8000")
    idp = config.establishment_idp("bridge-fi")
    assert (idp.issuer, idp.client_id, idp.client_secret) == ("http://localhost:8000", "psc-fi", "psc-fi-secret")
    # the example policy registers PSC at the bridge with this very redirect URI
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "docs" / "examples" / "policies" / "psc-fi.yaml"
    assert config.broker_endpoint("bridge-fi") in example.read_text()
