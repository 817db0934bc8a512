"""The bridge's own certificates over HTTP (issue 19, item 2): the admin console banner (warning within 30 days,
critical within 7), the /readyz detail that never fails readiness, and the gauge on /metrics. The test PKI's
certificates expire N days after its anchor (today, 00:00 UTC); the PSC emulator signs with the real time, so the
bridge's clock stays on it here (tests/unit/test_cert_expiry.py uses a fixed clock)."""
from __future__ import annotations

import re
from dataclasses import replace

import pytest
import requests

from tests.support.console import console_login, start_stack
from tests.support.html import parse

DAY = 86400


@pytest.fixture
def stack(tmp_path, redis_url, psc_emulator_factory, receiver):
    return start_stack(tmp_path, redis_url, psc_emulator_factory, receiver.url)


def days_left(stack, test_pki, days: int) -> int:
    return int((test_pki.anchor.timestamp() + days * DAY - stack.bridge.clock.now()) // DAY)


def use_client_certificate(stack, paths) -> None:
    """As if BRIDGE_PSC_CLIENT_CERT named `paths[0]` (the PSC emulator's client stays on its secret)."""
    stack.bridge.settings = replace(stack.bridge.settings, psc_client_cert=paths[0], psc_client_key=paths[1])


def readyz_certificates(stack) -> tuple[int, dict]:
    response = requests.get(stack.url + "/readyz", timeout=20)
    return response.status_code, {c["name"]: c for c in response.json()["checks"]}["certificates"]


def test_banner_and_readyz_detail_at_20_then_5_days_and_none_when_far(stack, test_pki, tmp_path):
    admin = requests.Session()
    console_login(admin, stack.url)
    use_client_certificate(stack, test_pki.client_certificate("bridge-400d", days=400, directory=tmp_path / "c"))
    page = admin.get(f"{stack.url}/admin/", timeout=10)
    assert page.status_code == 200 and 'id="cert-expiry"' not in page.text
    assert readyz_certificates(stack)[1]["detail"].startswith("ok: ")

    use_client_certificate(stack, test_pki.client_certificate("bridge-20d", days=20, directory=tmp_path / "c"))
    banner = parse(admin.get(f"{stack.url}/admin/services", timeout=10).text).find(id="cert-expiry")
    assert banner is not None and banner.attrs["role"] == "status" and "notice" in banner.attrs["class"]
    item = banner.find("li", data_kind="psc_client")
    assert item.attrs["data-state"] == "warning" and "C=FR,CN=bridge-20d" in item.text
    assert f"(dans {days_left(stack, test_pki, 20)} jour(s))" in item.text
    assert "bridge cert status" in banner.text
    status, check = readyz_certificates(stack)
    assert status == 200 and check["ok"]
    assert re.fullmatch(r"warning: psc_client expires in (19|20) days", check["detail"])

    use_client_certificate(stack, test_pki.client_certificate("bridge-5d", days=5, directory=tmp_path / "c"))
    banner = parse(admin.get(f"{stack.url}/admin/", timeout=10).text).find(id="cert-expiry")
    assert banner.attrs["role"] == "alert" and "alert" in banner.attrs["class"]
    assert banner.find("li", data_kind="psc_client").attrs["data-state"] == "critical"
    assert "renouvelez-le maintenant" in banner.text
    status, check = readyz_certificates(stack)   # critical, yet still ready: the certificate still works
    assert status == 200 and check["ok"] and re.fullmatch(r"critical: psc_client expires in [45] days", check["detail"])

    scrape = requests.get(f"{stack.url}/metrics", timeout=10).text
    assert 'bridge_certificate_expiry_seconds{kind="psc_client",subject="C=FR,CN=bridge-5d"}' in scrape
    assert 'bridge_certificate_expiry_seconds{kind="trust_ca"' in scrape


def test_trust_store_cas_show_in_the_banner_within_the_threshold_setting(stack):
    admin = requests.Session()
    console_login(admin, stack.url)
    assert stack.bridge.settings.trust_dir is not None
    # the test CAs expire in ten years: a warning threshold of eleven (BRIDGE_CERT_WARN_DAYS) takes them in
    stack.bridge.settings = replace(stack.bridge.settings, cert_warn_days=11 * 365.0)
    page = parse(admin.get(f"{stack.url}/admin/", timeout=10).text)
    items = page.find(id="cert-expiry").find_all("li", data_kind="trust_ca")
    assert items and {li.attrs["data-state"] for li in items} == {"warning"}
    assert "autorité de confiance" in items[0].text
