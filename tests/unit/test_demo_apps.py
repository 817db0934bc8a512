"""Demo apps: the idle warning page before the service's idle timeout, and back-channel logout handling."""
from __future__ import annotations

import pytest

from bridge.clock import Clock
from bridge.policy import load_policies
from bridge.sandbox.apps import DEMO_SERVICES, create_demo_apps


def test_each_demo_app_knows_its_service_idle_timeout():
    policies = load_policies("policies")
    for demo in DEMO_SERVICES:
        service, _client = policies.client(demo.client_id)
        assert demo.idle_timeout == service.idle_timeout, demo.slug


@pytest.fixture
def demo():
    clock = Clock(fixed=1_800_000_000)
    app = create_demo_apps("http://127.0.0.1:9", clock=clock)   # the bridge is never called in these tests
    client = app.test_client()
    with client.session_transaction() as session:
        session["dpi"] = {"id_token": "x", "claims": {"sub": "899700000002", "sid": "sid-1", "mie": "psc-card"},
                          "userinfo": {"name": "Hugo BERNARD"}, "refresh_token": "r", "active": clock.now()}
    return client, clock


def test_the_service_page_arms_the_warning_and_the_warning_page_counts_down(demo):
    client, clock = demo
    page = client.get("/dpi/").get_data(as_text=True)
    assert 'data-idle-remaining="900"' in page and 'data-warn-before="120"' in page
    assert 'data-warning-url="/dpi/idle-warning"' in page and "/static/demo-idle.js" in page
    clock.advance(900 - 90)
    warning = client.get("/dpi/idle-warning").get_data(as_text=True)
    assert "Vous allez être déconnecté" in warning and 'data-remaining="90"' in warning
    assert 'action="/dpi/keepalive"' in warning and 'id="stay"' in warning
    english = client.get("/dpi/idle-warning?lang=en").get_data(as_text=True)
    assert "You are about to be logged out" in english and "Stay logged in" in english


def test_after_the_idle_timeout_the_app_logs_out(demo):
    client, clock = demo
    clock.advance(900)
    page = client.get("/dpi/?idle=1").get_data(as_text=True)
    assert 'data-ended="idle"' in page and 'id="welcome"' not in page
    assert client.get("/dpi/idle-warning").status_code == 302


def test_a_forged_backchannel_logout_is_refused_and_changes_nothing(demo):
    client, _clock = demo
    answer = client.post("/dpi/backchannel-logout", data={"logout_token": "not-a-jwt"})
    assert answer.status_code == 400
    assert 'id="welcome"' in client.get("/dpi/").get_data(as_text=True)
