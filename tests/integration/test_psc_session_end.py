"""PSC-side session end, over HTTP against the bridge and the PSC emulator: a PSC refresh refused (the PSC session
ended) ends the SSO session and logs its apps out; PSC unreachable keeps it (bounded retry); PSC's back-channel
logout to the bridge is verified (OIDC Back-Channel Logout 1.0 §2.6) before anything ends."""
from __future__ import annotations

import base64
import json
import uuid

import requests

from bridge.sweeper import sweep_once
from bridge.upstream import psc_tokens
from tests.support.psc_relay import audit, exchange, login, sid_of, userinfo

EVENT = "http://schemas.openid.net/event/backchannel-logout"


def end_at_psc(stack, *, backchannel: bool) -> dict:
    answer = requests.post(f"{stack.psc.url}/_emulator/sessions/end", timeout=10,
                           json={"user": "899700000002", "backchannel": backchannel})
    answer.raise_for_status()
    return answer.json()["ended"]


def faults(stack, **values) -> None:
    requests.post(f"{stack.psc.url}/_emulator/faults", json=values, timeout=5).raise_for_status()


def app_logouts(stack) -> list[str]:
    stack.bridge.backchannel.wait()
    return stack.receiver.tokens_for("/lgc-desktop/backchannel-logout")


def test_a_refresh_refused_by_psc_ends_the_sso_session_and_notifies_the_apps(relay_stack):
    tokens, _ = login(relay_stack)
    sid = sid_of(relay_stack, tokens["access_token"])
    end_at_psc(relay_stack, backchannel=False)        # logged out elsewhere; PSC tells nobody
    relay_stack.advance(100)                          # the kept PSC access token has 20 s left: refresh
    answer = exchange(relay_stack, tokens["access_token"])
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"
    assert "access_token" not in answer.json()
    assert relay_stack.bridge.sessions.find(sid) is None and psc_tokens.load(relay_stack.bridge, sid) is None
    assert userinfo(relay_stack, tokens["access_token"]).status_code == 401
    assert len(app_logouts(relay_stack)) == 1
    ended = audit(relay_stack, "psc_session_ended")
    assert ended and ended[0]["details"]["source"] == "refresh" and ended[0]["subject"] == "899700000002"
    assert any(r["reason"] == "psc_session_ended" for r in audit(relay_stack, "logout"))


def test_the_sweeper_finds_a_psc_session_that_ended_elsewhere(relay_stack):
    tokens, _ = login(relay_stack)
    sid = sid_of(relay_stack, tokens["access_token"])
    end_at_psc(relay_stack, backchannel=False)
    relay_stack.advance(28 * 60 + 1)                  # the kept refresh token lapses within 2 min: due
    sweep_once(relay_stack.bridge)
    assert relay_stack.bridge.sessions.find(sid) is None
    assert len(app_logouts(relay_stack)) == 1


def test_a_psc_session_ended_idle_is_found_at_the_next_refresh(relay_stack_factory):
    stack = relay_stack_factory(sso_idle_ttl=20 * 60)   # an emulator whose idle limit is below the refresh token's
    tokens, _ = login(stack)
    sid = sid_of(stack, tokens["access_token"])
    stack.advance(21 * 60)                              # no refresh for 21 min: PSC's session is over
    assert userinfo(stack, tokens["access_token"]).status_code == 401   # (the bridge token itself expired)
    fresh = requests.post(f"{stack.url}/token", auth=("lgc-desktop", "lgc-secret"), timeout=10, data={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}).json()
    answer = exchange(stack, fresh["access_token"])
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"
    assert stack.bridge.sessions.find(sid) is None and len(app_logouts(stack)) == 1


def test_psc_unreachable_is_no_logout_and_the_retry_is_bounded(relay_stack):
    tokens, _ = login(relay_stack)
    sid = sid_of(relay_stack, tokens["access_token"])
    faults(relay_stack, token_status=503)
    relay_stack.advance(100)
    answer = exchange(relay_stack, tokens["access_token"])   # the kept token still has 20 s: given as is
    assert answer.status_code == 200
    relay_stack.advance(25)
    answer = exchange(relay_stack, tokens["access_token"])
    assert answer.status_code == 503 and answer.json()["error"] == "temporarily_unavailable"
    assert answer.headers["Retry-After"] == str(psc_tokens.RETRY_AFTER) and "access_token" not in answer.json()
    assert exchange(relay_stack, tokens["access_token"]).status_code == 503   # within RETRY_AFTER: PSC not asked
    assert [r["details"]["failures"] for r in audit(relay_stack, "psc_refresh")] == [1, 2]   # consecutive
    assert relay_stack.bridge.sessions.find(sid) is not None and not app_logouts(relay_stack)
    faults(relay_stack)                               # PSC is back
    relay_stack.advance(psc_tokens.RETRY_AFTER)
    answer = exchange(relay_stack, tokens["access_token"])
    assert answer.status_code == 200, answer.text


def test_psc_down_until_the_refresh_token_lapses_stops_the_relay_but_keeps_the_session(relay_stack):
    tokens, _ = login(relay_stack)
    sid = sid_of(relay_stack, tokens["access_token"])
    relay_stack.psc.stop()                            # connection refused from now on
    relay_stack.advance(28 * 60 + 1)
    sweep_once(relay_stack.bridge)
    assert audit(relay_stack, "psc_refresh")[-1]["reason"] == "psc_unreachable"
    fresh = requests.post(f"{relay_stack.url}/token", auth=("lgc-desktop", "lgc-secret"), timeout=10, data={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}).json()
    relay_stack.advance(2 * 60)                       # 30 min: the kept PSC refresh token lapsed
    sweep_once(relay_stack.bridge)
    assert audit(relay_stack, "psc_relay_stopped")[0]["reason"] == "refresh_lapsed"
    assert psc_tokens.load(relay_stack.bridge, sid) is None
    answer = exchange(relay_stack, fresh["access_token"])
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"
    assert userinfo(relay_stack, fresh["access_token"]).status_code == 200   # the SSO session is kept
    assert not app_logouts(relay_stack)


def test_psc_backchannel_logout_ends_the_sso_session(relay_stack):
    tokens, _ = login(relay_stack)
    sid = sid_of(relay_stack, tokens["access_token"])
    delivered = end_at_psc(relay_stack, backchannel=True)
    assert list(delivered.values()) == [{"bridge-test": 200}]
    assert relay_stack.bridge.sessions.find(sid) is None
    assert len(app_logouts(relay_stack)) == 1
    assert audit(relay_stack, "psc_backchannel_logout")[0]["details"]["sessions"] == 1
    assert audit(relay_stack, "psc_session_ended")[0]["details"]["source"] == "backchannel_logout"


def logout_token(stack, **overrides) -> dict:
    now = int(stack.clock.now())
    claims = {"iss": stack.psc.issuer, "aud": "bridge-test", "iat": now, "exp": now + 120, "jti": str(uuid.uuid4()),
              "sid": psc_sid(stack), "events": {EVENT: {}}}
    return {k: v for k, v in {**claims, **overrides}.items() if v is not None}


def psc_sid(stack) -> str:
    return stack.psc.emulator.state.live_sessions_of("899700000002")[0]


def post(stack, token: str) -> requests.Response:
    return requests.post(f"{stack.url}/psc/backchannel-logout", data={"logout_token": token}, timeout=10)


def test_bad_logout_tokens_end_nothing(relay_stack):
    tokens, _ = login(relay_stack)
    sid = sid_of(relay_stack, tokens["access_token"])
    keys = relay_stack.psc.emulator.keys
    bad = {
        "forged": keys.sign_with_unpublished_key(logout_token(relay_stack)),
        "wrong_aud": keys.sign(logout_token(relay_stack, aud="another-rp")),
        "wrong_iss": keys.sign(logout_token(relay_stack, iss="https://evil.example/realms/x")),
        "expired": keys.sign(logout_token(relay_stack, iat=int(relay_stack.clock.now()) - 3600,
                                          exp=int(relay_stack.clock.now()) - 3000)),
        "future": keys.sign(logout_token(relay_stack, iat=int(relay_stack.clock.now()) + 600)),
        "no_event": keys.sign(logout_token(relay_stack, events={"x": {}})),
        "nonce": keys.sign(logout_token(relay_stack, nonce="n")),
        "no_sid_or_sub": keys.sign(logout_token(relay_stack, sid=None)),
        "no_jti": keys.sign(logout_token(relay_stack, jti=None)),
        "unsigned": "eyJhbGciOiJub25lIn0." + base64.urlsafe_b64encode(
            json.dumps(logout_token(relay_stack)).encode()).decode().rstrip("=") + ".",
        "empty": "",
    }
    for name, token in bad.items():
        answer = post(relay_stack, token)
        assert answer.status_code == 400 and answer.json()["error"] == "invalid_request", name
    assert relay_stack.bridge.sessions.find(sid) is not None and not app_logouts(relay_stack)
    assert len(audit(relay_stack, "psc_backchannel_logout")) == len(bad)


def test_a_replayed_logout_token_is_refused(relay_stack):
    tokens, _ = login(relay_stack)
    sid = sid_of(relay_stack, tokens["access_token"])
    keys, jti = relay_stack.psc.emulator.keys, str(uuid.uuid4())
    other = keys.sign(logout_token(relay_stack, sid=f"other-{uuid.uuid4()}", jti=jti))
    assert post(relay_stack, other).status_code == 200     # another PSC session: nothing here to end
    answer = post(relay_stack, other)
    assert answer.status_code == 400 and answer.json()["error_description"] == "logout_token_replayed"
    answer = post(relay_stack, keys.sign(logout_token(relay_stack, jti=jti)))   # this session, same jti
    assert answer.status_code == 400 and answer.json()["error_description"] == "logout_token_replayed"
    assert relay_stack.bridge.sessions.find(sid) is not None and not app_logouts(relay_stack)


def test_a_logout_of_an_older_psc_session_spares_a_session_now_held_by_another(relay_stack):
    tokens, _ = login(relay_stack)
    sid, old_psc_sid = sid_of(relay_stack, tokens["access_token"]), psc_sid(relay_stack)
    kept = psc_tokens.load(relay_stack.bridge, sid)   # the same professional logged in again: another PSC session
    psc_tokens.keep_psc_tokens(relay_stack.bridge, sid, {"access_token": kept["at"], "refresh_token": kept["rt"],
                                                         "session_state": "a-newer-psc-session"})
    answer = post(relay_stack, relay_stack.psc.emulator.keys.sign(logout_token(relay_stack, sid=old_psc_sid)))
    assert answer.status_code == 200 and relay_stack.bridge.sessions.find(sid) is not None
    assert audit(relay_stack, "psc_backchannel_logout")[-1]["details"]["sessions"] == 0
