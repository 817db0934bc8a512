"""Floods on /authorize and /token get 429 with Retry-After, counted in the shared Redis, per IP and per client."""
from __future__ import annotations

import requests

from tests.support.bridge import PORTAIL, AppClient


def test_authorize_flood_from_one_ip_is_slowed(bridge_factory):
    server = bridge_factory(env={"BRIDGE_RATE_LIMIT_AUTHORIZE": "5/minute"})
    app = AppClient(server.url, **PORTAIL)
    answers = [requests.get(app.authorize_url(), allow_redirects=False, timeout=10) for _ in range(7)]
    assert [a.status_code for a in answers[:5]] == [302] * 5
    assert answers[6].status_code == 429 and int(answers[6].headers["Retry-After"]) >= 1
    assert 'data-error-code="too_many_requests"' in answers[6].text


def test_behind_a_trusted_proxy_each_client_ip_has_its_own_budget(bridge_factory):
    server = bridge_factory(env={"BRIDGE_RATE_LIMIT_AUTHORIZE": "2/minute", "BRIDGE_TRUSTED_PROXIES": "127.0.0.1"})
    app = AppClient(server.url, **PORTAIL)

    def hit(ip):
        return requests.get(app.authorize_url(), allow_redirects=False, timeout=10,
                            headers={"X-Forwarded-For": f"{ip}, 127.0.0.1"}).status_code

    assert [hit("10.0.0.1") for _ in range(3)] == [302, 302, 429]
    assert hit("10.0.0.2") == 302      # another workstation behind the same balancer


def test_token_flood_per_client_gets_slow_down(bridge_factory):
    server = bridge_factory(env={"BRIDGE_RATE_LIMIT_TOKEN": "3/minute"})
    answers = [requests.post(f"{server.url}/token", auth=("demo-portail", "demo-portail-secret"), timeout=10,
                             data={"grant_type": "refresh_token", "refresh_token": "x" * 22 + "." + "y" * 43})
               for _ in range(4)]
    assert [a.status_code for a in answers[:3]] == [400] * 3
    assert answers[3].status_code == 429 and answers[3].json()["error"] == "slow_down"
    assert "Retry-After" in answers[3].headers


def test_a_bad_limit_stops_start_up():
    import pytest

    from bridge.config import ConfigError, load_settings

    with pytest.raises(ConfigError, match="^BRIDGE_RATE_LIMIT_TOKEN: "):
        load_settings({"BRIDGE_RATE_LIMIT_TOKEN": "lots"})
