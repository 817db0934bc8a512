"""The bridge's acr table (bridge/acr.py), min_acr in policies, and the upstream facts kept in Authentication."""
from __future__ import annotations

import json

import pytest

from bridge import acr
from bridge.config import Settings
from bridge.model import Authentication, Identity
from bridge.policy import PolicyError, load_policies

SETTINGS = Settings()   # BRIDGE_PSC_ACCEPTED_ACR eidas1,eidas2; BRIDGE_CPS_ACR eidas1
POLICY = """service: high
clients:
  - client_id: high
    client_secret_sha256: 07f4acac118140b0f01f34a44264fd3caea382fdf734b0cf2aac4728215e92f7
    redirect_uris: [http://127.0.0.1:8002/cb]
allowed_mie: [psc]
"""


def test_psc_values_map_to_themselves_and_anything_else_is_refused_naming_it():
    assert acr.from_psc("eidas2", SETTINGS) == "eidas2" and acr.from_psc("eidas1", SETTINGS) == "eidas1"
    for bad in ("eidas0", "eidas3", None, "", ["eidas1"]):
        with pytest.raises(acr.UnknownAcr) as caught:
            acr.from_psc(bad, SETTINGS)
        assert repr(bad) in str(caught.value)


def test_levels_are_ordered_and_requests_are_met_by_a_level_at_least_as_high():
    assert acr.met((), "") and acr.met(("eidas1",), "eidas2") and acr.met(("eidas2", "eidas1"), "eidas1")
    assert not acr.met(("eidas2",), "eidas1") and not acr.met(("urn:other",), "eidas3")
    assert acr.met(("urn:other",), "urn:other")
    assert acr.at_least("eidas2", "eidas2") and not acr.at_least("eidas1", "eidas2") and acr.at_least("", "")
    assert not acr.at_least("", "eidas1")


def test_requested_reads_acr_values_and_the_essential_claims_acr():
    assert acr.requested({"acr_values": "eidas2 eidas1 eidas2"}) == ("eidas2", "eidas1")
    essential = json.dumps({"id_token": {"acr": {"essential": True, "values": ["eidas2"]}}})
    assert acr.requested({"acr_values": "eidas1", "claims": essential}) == ("eidas2",)
    single = json.dumps({"id_token": {"acr": {"essential": True, "value": "eidas2"}}})
    assert acr.requested({"claims": single}) == ("eidas2",)
    voluntary = json.dumps({"id_token": {"acr": {"values": ["eidas2"]}}})
    assert acr.requested({"claims": voluntary}) == ()
    assert acr.claims_problem("{bad") and acr.claims_problem('{"id_token": 3}') and not acr.claims_problem(None)
    assert not acr.claims_problem('{"x": 1}') and acr.claims_problem('[1]')   # unknown members are ignored
    assert acr.claims_problem("[" * 2048) and acr.requested({"claims": "[" * 2048}) == ()   # never a 500


def test_reachable_and_what_psc_is_asked():
    assert acr.reachable(("psc",), SETTINGS) == ("eidas1", "eidas2")
    assert acr.reachable(("cps-pin",), SETTINGS) == ("eidas1",)
    assert not acr.reachable_request(("eidas3",), "", ("psc", "cps-pin"), SETTINGS)
    assert acr.reachable_request(("eidas1",), "eidas2", ("psc",), SETTINGS)
    assert acr.to_psc(("eidas2",), "", SETTINGS) == "eidas2" and acr.to_psc((), "", SETTINGS) == "eidas1"
    assert acr.to_psc((), "eidas2", SETTINGS) == "eidas2" and acr.to_psc(("eidas1",), "eidas2", SETTINGS) == "eidas2"


def test_old_stored_sessions_load_and_upstream_facts_round_trip():
    old = {"identity": {"national_id": "899700000002"}, "mie": "psc-card", "amr": ["sc"], "acr": "eidas1",
           "auth_time": 1, "upstream": "psc"}
    authn = Authentication.from_dict(old)
    assert authn.upstream_acr == authn.auth_mode == authn.auth_level == ""
    new = Authentication(Identity("899700000002"), "psc-card", ("sc",), "eidas2", 1, "psc", upstream_acr="eidas2",
                         auth_mode="CARD", auth_level="1")
    assert Authentication.from_dict(json.loads(json.dumps(new.to_dict()))) == new


def test_min_acr_is_read_and_unknown_values_are_refused_naming_file_and_field(tmp_path):
    (tmp_path / "high.yaml").write_text(POLICY + "min_acr: eidas2\n")
    assert load_policies(tmp_path).services["high"].min_acr == "eidas2"
    (tmp_path / "high.yaml").write_text(POLICY + "min_acr: substantial\n")
    with pytest.raises(PolicyError) as caught:
        load_policies(tmp_path)
    text = str(caught.value)
    assert "high.yaml" in text and "min_acr" in text and "eidas1, eidas2, eidas3" in text


def test_emulator_acr_per_auth_mode_and_its_command_line():
    from bridge.sandbox.psc import EmulatorConfig
    from bridge.sandbox.psc.__main__ import build_parser

    default = EmulatorConfig()
    assert default.acr("CARD") == "eidas2" and default.acr("MOBILE") == "eidas1" and default.acr("OTHER") == "eidas1"
    args = build_parser().parse_args(["--acr", "CARD=eidas3,MOBILE=eidas2", "--unmet-acr", "error"])
    assert args.acr == (("CARD", "eidas3"), ("MOBILE", "eidas2")) and args.unmet_acr == "error"
    assert EmulatorConfig(acr_by_auth_mode=args.acr).acr("MOBILE") == "eidas2"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--acr", "CARD"])
    with pytest.raises(ValueError):
        EmulatorConfig(unmet_acr="maybe")


def test_start_up_stops_when_a_min_acr_cannot_be_reached(tmp_path):
    import shutil
    from pathlib import Path

    from bridge.config import ConfigError, load_settings
    from bridge.core import build_bridge
    from bridge.store.memory import MemoryStore

    policies = tmp_path / "policies"
    policies.mkdir()
    shutil.copy(Path("policies") / "demo-portail.yaml", policies / "demo-portail.yaml")
    (policies / "high.yaml").write_text(POLICY.replace("client_id: high", "client_id: high-app") + "min_acr: eidas3\n")
    env = {"BRIDGE_KEYS_DIR": str(tmp_path / "keys"), "BRIDGE_POLICIES_DIR": str(policies)}
    with pytest.raises(ConfigError, match=r"high\.yaml: min_acr: eidas3 cannot be reached .*give eidas1, eidas2"):
        build_bridge(load_settings(env), store=MemoryStore())
    assert build_bridge(load_settings({**env, "BRIDGE_PSC_ACCEPTED_ACR": "eidas1,eidas2,eidas3"}), store=MemoryStore())
