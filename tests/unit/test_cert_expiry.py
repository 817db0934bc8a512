"""The bridge's own certificates (issue 19, item 2): the PSC mTLS client certificate and the trust store CAs, their
expiry as states, a gauge, a /readyz detail and `bridge cert status` with monitoring-plugin exit codes."""
from __future__ import annotations

import os
from dataclasses import replace
from datetime import timedelta

import pytest
from click.testing import CliRunner

from bridge import metrics
from bridge.config import ConfigError, Settings, load_settings
from bridge.pki.cert_cli import cert, report
from bridge.pki.expiry import certificate_expiry, worst

DAY = 86400


@pytest.fixture
def certs(test_pki, tmp_path):
    """(client certificate expiring in 5 days, in 20 days, in 400 days, trust directory)."""
    soon = test_pki.client_certificate("bridge-5d", days=5, directory=tmp_path / "client")
    later = test_pki.client_certificate("bridge-20d", days=20, directory=tmp_path / "client")
    far = test_pki.client_certificate("bridge-400d", days=400, directory=tmp_path / "client")
    return soon, later, far, test_pki.trust_dir(tmp_path / "trust")


def settings_with(client=None, trust=None, **extra) -> Settings:
    return replace(Settings(), psc_client_cert=client[0] if client else None,
                   psc_client_key=client[1] if client else None, trust_dir=trust, **extra)


def test_states_follow_the_thresholds_with_a_fake_clock(test_pki, certs):
    soon, later, far, trust = certs
    now = test_pki.anchor.timestamp()
    by_days = {}
    for client in (soon, later, far):
        (entry,) = certificate_expiry(settings_with(client), now)
        by_days[round(entry.days_left)] = entry
    assert {d: e.state for d, e in by_days.items()} == {5: "critical", 20: "warning", 400: "ok"}
    assert by_days[5].kind == "psc_client" and by_days[5].subject == "C=FR,CN=bridge-5d"
    # the same certificate 16 days later: expired, still critical, negative seconds
    (entry,) = certificate_expiry(settings_with(later), now + 21 * DAY)
    assert entry.state == "critical" and entry.seconds_left < 0
    # thresholds are settings
    (entry,) = certificate_expiry(settings_with(later, cert_warn_days=10.0, cert_critical_days=3.0), now)
    assert entry.state == "ok"


def test_trust_store_cas_are_reported_and_the_soonest_comes_first(test_pki, certs):
    soon, _, _, trust = certs
    now = test_pki.anchor.timestamp()
    entries = certificate_expiry(settings_with(soon, trust), now)
    assert entries[0].kind == "psc_client" and {e.kind for e in entries[1:]} == {"trust_ca"}
    assert len(entries) >= 3 and worst(entries) == "critical"
    cas = [e for e in entries if e.kind == "trust_ca"]
    assert {e.state for e in cas} == {"ok"}
    # ten years on, five days before the CAs expire
    late = (test_pki.ca("fort-personnes").not_valid_after_utc - timedelta(days=5)).timestamp()
    assert {e.state for e in certificate_expiry(settings_with(None, trust), late)} == {"critical"}


def test_an_unreadable_certificate_file_is_reported_not_raised(tmp_path, certs):
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate")
    (entry,) = certificate_expiry(settings_with((bad, bad)), 0)
    assert entry.state == "unreadable" and entry.not_after is None and worst([entry]) == "unreadable"
    assert certificate_expiry(Settings(), 0) == []


def test_report_exit_codes_follow_the_monitoring_convention(test_pki, certs):
    soon, later, far, trust = certs
    now = test_pki.anchor.timestamp()
    codes = [report(certificate_expiry(settings_with(c, trust), now))[0] for c in (far, later, soon)]
    assert codes == [0, 1, 2]
    code, lines = report(certificate_expiry(settings_with(later), now))
    assert lines[0].startswith("CERT WARNING: 1 warning; soonest: psc_client in 20.0 days")
    assert "NOT AFTER (UTC)" in lines[1] and "C=FR,CN=bridge-20d" in lines[1]
    assert report([])[0] == 3 and report([])[1][0].startswith("CERT UNKNOWN")


def test_bridge_cert_status_command(certs, monkeypatch):
    soon, _, far, trust = certs
    for name in list(os.environ):
        if name.startswith("BRIDGE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("BRIDGE_PSC_CLIENT_CERT", str(far[0]))
    monkeypatch.setenv("BRIDGE_PSC_CLIENT_KEY", str(far[1]))
    monkeypatch.setenv("BRIDGE_TRUST_DIR", str(trust))
    result = CliRunner().invoke(cert, ["status"])
    assert result.exit_code == 0 and result.output.startswith("CERT OK:") and "C=FR,CN=bridge-400d" in result.output
    monkeypatch.setenv("BRIDGE_PSC_CLIENT_CERT", str(soon[0]))
    monkeypatch.setenv("BRIDGE_PSC_CLIENT_KEY", str(soon[1]))
    result = CliRunner().invoke(cert, ["status"])
    assert result.exit_code == 2 and result.output.startswith("CERT CRITICAL:")
    monkeypatch.setenv("BRIDGE_CERT_WARN_DAYS", "ten")
    result = CliRunner().invoke(cert, ["status"])
    assert result.exit_code == 3 and "BRIDGE_CERT_WARN_DAYS" in result.output


def test_threshold_settings_are_validated():
    assert load_settings({"BRIDGE_CERT_WARN_DAYS": "45", "BRIDGE_CERT_CRITICAL_DAYS": "10"}).cert_warn_days == 45
    with pytest.raises(ConfigError, match="BRIDGE_CERT_CRITICAL_DAYS"):
        load_settings({"BRIDGE_CERT_WARN_DAYS": "5", "BRIDGE_CERT_CRITICAL_DAYS": "10"})
    with pytest.raises(ConfigError, match="BRIDGE_CERT_WARN_DAYS"):
        load_settings({"BRIDGE_CERT_WARN_DAYS": "-1"})


def test_the_gauge_gives_seconds_left_by_kind_and_subject(test_pki, certs):
    soon, _, _, trust = certs
    now = test_pki.anchor.timestamp()
    (family,) = metrics.CertExpiryCollector(settings_with(soon, trust), lambda: now).collect()
    values = {(s.labels["kind"], s.labels["subject"]): s.value for s in family.samples}
    assert values[("psc_client", "C=FR,CN=bridge-5d")] == 5 * DAY
    assert sum(kind == "trust_ca" for kind, _ in values) >= 2
    body, _ = metrics.exposition(None, (metrics.CertExpiryCollector(settings_with(soon), lambda: now),))
    assert b'bridge_certificate_expiry_seconds{kind="psc_client",subject="C=FR,CN=bridge-5d"} 432000.0' in body
