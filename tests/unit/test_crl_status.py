"""CRL freshness for operators: TrustStore.crl_status and `bridge crl status` (monitoring-plugin exit codes)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization

from bridge import pki
from bridge.pki.cli import crl
from bridge.sandbox.testpki import TestPki

INTERMEDIATE = "CN=AC IGC-SANTE FORT PERSONNES TEST,OU=IGC-SANTE TEST,O=ASIP-SANTE,C=FR"


@pytest.fixture
def dirs(test_pki, tmp_path):
    return test_pki.trust_dir(tmp_path / "trust"), test_pki.crl_dir(tmp_path / "crl")


def by_issuer(trust, now):
    return {status.issuer: status for status in trust.crl_status(now)}


def test_every_ca_of_the_trust_store_is_reported_with_its_crl_expiry(test_pki, dirs):
    trust = pki.TrustStore.from_directory(*dirs)
    statuses = by_issuer(trust, test_pki.anchor + timedelta(hours=1))
    cas = {cert.subject.rfc4514_string() for cert in trust.roots + trust.intermediates}
    assert set(statuses) == cas and INTERMEDIATE in cas and len(cas) >= 2
    expected = test_pki.crl("fort-personnes").next_update_utc
    assert statuses[INTERMEDIATE].next_update == expected and statuses[INTERMEDIATE].state == "fresh"
    # the same CRLs, one second after their next update
    assert {s.state for s in trust.crl_status(expected + timedelta(seconds=1))} == {"stale"}


def test_missing_forged_and_replaced_crls(test_pki, dirs):
    trust_dir, crl_dir = dirs
    trust = pki.TrustStore.from_directory(trust_dir, crl_dir)
    now = test_pki.anchor + timedelta(hours=1)
    (crl_dir / "ACI-FO-PP-TEST.crl").unlink()
    assert by_issuer(trust, now)[INTERMEDIATE].state == "missing"
    impostor = TestPki("impostor", test_pki.directory / "impostor-keys", anchor=test_pki.anchor)
    (crl_dir / "ACI-FO-PP-TEST.crl").write_bytes(impostor.crl("fort-personnes").public_bytes(
        serialization.Encoding.DER))
    assert by_issuer(trust, now)[INTERMEDIATE].state == "missing"   # not signed by the CA: does not count
    (crl_dir / "ACI-FO-PP-TEST.crl").write_bytes(test_pki.crl("fort-personnes", stale=True).public_bytes(
        serialization.Encoding.DER))
    assert by_issuer(trust, now)[INTERMEDIATE].state == "stale"     # the file is re-read when it changes


def run(env: dict, *args: str):
    return CliRunner().invoke(crl, ["status", *args], env={"BRIDGE_TRUST_DIR": None, "BRIDGE_CRL_DIR": None, **env})


def test_cli_exit_codes_follow_the_monitoring_plugin_convention(test_pki, dirs, tmp_path):
    trust_dir, crl_dir = (str(d) for d in dirs)
    ok = run({"BRIDGE_TRUST_DIR": trust_dir, "BRIDGE_CRL_DIR": crl_dir})
    assert ok.exit_code == 0 and ok.output.startswith("CRL OK: "), ok.output
    assert INTERMEDIATE in ok.output and "fresh" in ok.output
    # fresh for 7 days at most (the test PKI's CRLs): a 30-day warning window flags all of them
    warning = run({"BRIDGE_TRUST_DIR": trust_dir, "BRIDGE_CRL_DIR": crl_dir}, "--warn-hours", str(30 * 24))
    assert warning.exit_code == 1 and warning.output.startswith("CRL WARNING: ") and "expiring" in warning.output
    stale = run({"BRIDGE_TRUST_DIR": trust_dir, "BRIDGE_CRL_DIR": str(test_pki.crl_dir(tmp_path / "old", stale=True))})
    assert stale.exit_code == 2 and stale.output.startswith("CRL CRITICAL: ") and "stale" in stale.output
    empty = tmp_path / "empty"
    empty.mkdir()
    missing = run({"BRIDGE_TRUST_DIR": trust_dir, "BRIDGE_CRL_DIR": str(empty)})
    assert missing.exit_code == 2 and "missing" in missing.output.splitlines()[0]
    unknown = run({})
    assert unknown.exit_code == 3 and unknown.output.startswith("CRL UNKNOWN: BRIDGE_TRUST_DIR")
