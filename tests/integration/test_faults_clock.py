"""Clock jumps (docs/operations.md#clock-jumps): the bridge's injected clock steps forward or back, as a host whose
NTP was broken and is then corrected. What the code promises, tested over HTTP:

- forward past the limits: sessions end (at the next request or sweep) and every app is told (back-channel logout);
- backward: limits are wall-clock instants fixed at the start (deadline = start + absolute limit), so a session
  never lives past start + limit on the clock, a session that ended stays ended, and nothing expires early;
- PSC tokens are judged on the bridge's clock with 30 s of skew: a bridge clock far behind PSC's sees ID tokens
  issued in the future and refuses them (id_token_iat), far ahead sees them expired (id_token_expired)."""
from __future__ import annotations

import pytest
import requests

from bridge.clock import Clock
from bridge.sweeper import sweep_once
from tests.support.bridge import DPI, PORTAIL, AppClient, at, rewrite_policies

HOUR = 3600


@pytest.fixture
def stack(bridge_factory, receiver, tmp_path):
    clock = Clock()
    server = bridge_factory(env={"BRIDGE_POLICIES_DIR": str(rewrite_policies(tmp_path / "policies", receiver.url))},
                            clock=clock)
    server.clock, server.receiver = clock, receiver
    return server


def login(server, conf, browser=None):
    browser = browser or requests.Session()
    app = AppClient(server.url, **at(server.receiver.url, conf))
    return browser, app.exchange(app.login(browser, user="899700000002")["code"])


def refresh(server, conf, tokens) -> requests.Response:
    answer = requests.post(f"{server.url}/token", timeout=10, auth=(conf["client_id"], conf["client_secret"]),
                           data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    if answer.status_code == 200:
        tokens.update(answer.json())
    return answer


def userinfo(server, tokens) -> int:
    return requests.get(f"{server.url}/userinfo", timeout=10,
                        headers={"Authorization": f"Bearer {tokens['access_token']}"}).status_code


def sso(server, browser, conf) -> bool:
    """Does the browser still hold a live SSO session for this app (prompt=none gives a code)?"""
    app = AppClient(server.url, **at(server.receiver.url, conf))
    location = browser.get(app.authorize_url(prompt="none"), allow_redirects=False, timeout=10).headers["Location"]
    return "code=" in location


def test_a_forward_jump_past_the_absolute_limit_ends_everything_and_tells_the_apps(stack):
    browser, portail = login(stack, PORTAIL)
    _, dpi = login(stack, DPI, browser)
    stack.clock.advance(5 * HOUR)                     # one step, past the 4 h absolute limit
    assert sweep_once(stack.bridge) >= 1               # the sweeper notices without any request
    stack.bridge.backchannel.wait()
    assert stack.receiver.tokens_for("/portail/backchannel-logout")
    assert stack.receiver.tokens_for("/dpi/backchannel-logout")
    for conf, tokens in ((PORTAIL, portail), (DPI, dpi)):
        assert refresh(stack, conf, tokens).json()["error"] == "invalid_grant"
        assert userinfo(stack, tokens) == 401
    assert not sso(stack, browser, PORTAIL)


def test_a_backward_jump_keeps_the_deadline_fixed_at_the_start(stack):
    """Started at T0, the clock steps back 1 h, the app keeps refreshing every 10 min: the session works until the
    clock reads T0 + 4 h and not a second later. (On the wall clock: the step back is lived again, see the
    runbook.)"""
    start = stack.clock.now()
    browser, portail = login(stack, PORTAIL)
    stack.clock.advance(-HOUR)
    assert refresh(stack, PORTAIL, portail).status_code == 200 and userinfo(stack, portail) == 200
    while stack.clock.now() + 10 * 60 < start + 4 * HOUR:
        stack.clock.advance(10 * 60)
        assert refresh(stack, PORTAIL, portail).status_code == 200, stack.clock.now() - start
    stack.clock.advance(start + 4 * HOUR - 1 - stack.clock.now())
    assert refresh(stack, PORTAIL, portail).status_code == 200 and sso(stack, browser, PORTAIL)
    stack.clock.advance(1)
    assert refresh(stack, PORTAIL, portail).json()["error"] == "invalid_grant"
    assert not sso(stack, browser, PORTAIL)
    stack.bridge.backchannel.wait()
    assert stack.receiver.tokens_for("/portail/backchannel-logout")


def test_a_session_ended_by_inactivity_stays_ended_when_the_clock_goes_back(stack):
    browser, dpi = login(stack, DPI)
    stack.clock.advance(16 * 60)                      # DPI: 15 min of inactivity
    assert sweep_once(stack.bridge) >= 1
    stack.clock.advance(-HOUR)                        # the clock is corrected back
    assert refresh(stack, DPI, dpi).json()["error"] == "invalid_grant"
    assert userinfo(stack, dpi) == 401
    stack.bridge.backchannel.wait()
    assert len(stack.receiver.tokens_for("/dpi/backchannel-logout")) == 1


@pytest.mark.parametrize("step, outcome", [
    (-10 * 60, "id_token_iat"),       # bridge 10 min behind PSC: ID tokens from the future
    (+HOUR, "id_token_expired"),      # bridge 1 h ahead: ID tokens already expired
    (-20, None), (+20, None),         # within the 30 s of skew: accepted
])
def test_psc_tokens_are_judged_on_the_bridges_clock(bridge_factory, step, outcome):
    clock = Clock()
    server = bridge_factory(clock=clock)
    clock.advance(step)
    browser = requests.Session()
    result = AppClient(server.url, **PORTAIL).login(browser, user="899700000002")
    if outcome is None:
        assert "code" in result
    else:
        assert not isinstance(result, dict) and f'data-error-code="{outcome}"' in result.text
        assert "bridge_session" not in browser.cookies
