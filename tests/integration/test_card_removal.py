"""Card removal, bridge side, over HTTP: the page after a cps-pin login hands a removal capability to the agent;
POST /cps/removed {capability} ends that session (back-channel logout to its apps) and nothing else.

The cards are the test PKI's (the proof is signed with their keys, as in test_cps_login.py); the apps are a real
back-channel receiver. The agent's side (watching the reader, vpcd) is tested with the agent.
"""
from __future__ import annotations

import json
import re
from html import unescape

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet

from bridge.sessions import COOKIE
from tests.integration.test_cps_login import TELESERVICE, CpsBrowser, next_url
from tests.support.bridge import at, rewrite_policies
from tests.support.redis import RedisServer

IGNORE = "on_card_removal: ignore\n"


@pytest.fixture
def trust_env(test_pki):
    return {"BRIDGE_TRUST_DIR": str(test_pki.trust_dir()), "BRIDGE_CRL_DIR": str(test_pki.crl_dir())}


def start(bridge_factory, receiver, tmp_path, trust_env, *, teleservice_extra: str = "", env: dict | None = None):
    policies = rewrite_policies(tmp_path / "policies", receiver.url)
    if teleservice_extra:
        path = policies / "teleservice-historique.yaml"
        path.write_text(path.read_text() + teleservice_extra)
    trail = tmp_path / "audit.log"
    server = bridge_factory(env={**trust_env, "BRIDGE_POLICIES_DIR": str(policies),
                                 "BRIDGE_AUDIT_PATH": str(trail), **(env or {})})
    server.receiver, server.trail = receiver, trail
    return server


@pytest.fixture
def server(bridge_factory, receiver, tmp_path, trust_env):
    return start(bridge_factory, receiver, tmp_path, trust_env)


def card_login(server, material, http: requests.Session | None = None, **authorize):
    """A cps-pin login up to the proof's answer; (browser, answer)."""
    browser = CpsBrowser(server, client=at(server.receiver.url, TELESERVICE), http=http, **authorize)
    return browser, browser.login_with(material)


def capability_of(page: requests.Response) -> str:
    return unescape(re.search(r'data-capability="([^"]+)"', page.text).group(1))


def removed(server, body, **kwargs) -> requests.Response:
    return requests.post(f"{server.url}/cps/removed", json=body, timeout=10, **kwargs)


def audit(server, event: str) -> list[dict]:
    return [line for line in map(json.loads, server.trail.read_text().splitlines()) if line["event"] == event]


def logout_sids(server, path: str) -> list[str]:
    server.bridge.backchannel.wait()
    keys = KeySet.import_key_set(requests.get(f"{server.url}/jwks", timeout=10).json())
    return [jwt.decode(token, keys).claims["sid"] for token in server.receiver.tokens_for(path)]


def test_the_login_answer_hands_the_capability_to_the_agent_then_goes_to_the_app(server, test_pki):
    browser, page = card_login(server, test_pki.card("899700000001"))
    assert page.status_code == 200 and 'id="card-watch"' in page.text
    csp = page.headers["Content-Security-Policy"]
    assert "connect-src 'self' http://127.0.0.1:47811" in csp and "script-src" not in csp
    assert "<script>" not in page.text and "/static/card-watch.js" in page.text       # no inline script
    assert 'data-agent-url="http://127.0.0.1:47811"' in page.text
    target = next_url(page)
    assert target.startswith(browser.app.redirect_uri) and "code=" in target
    assert f'<a id="watch-continue" class="primary" href="{target}"'.replace("&", "&amp;") in page.text   # no JS
    assert '<noscript><meta http-equiv="refresh"' in page.text
    assert page.headers["Cache-Control"] == "no-store" and browser.has_session()
    capability = capability_of(page)
    assert len(capability) >= 43 and capability not in server.trail.read_text()
    issued = audit(server, "card_watch_issued")
    assert len(issued) == 1 and issued[0]["subject"] == "899700000001"
    browser.app.exchange(browser.code(page)["code"])        # the app gets its code as without the page


def test_the_reader_posted_with_the_proof_is_passed_on(server, test_pki):
    browser = CpsBrowser(server, client=at(server.receiver.url, TELESERVICE))
    browser.start()
    browser.page()
    material = test_pki.card("899700000001")
    from tests.integration.test_cps_login import sign

    issued = browser.new_challenge()
    page = browser.post_proof(issued["challenge"], material.cert_der,
                              sign(material, issued["challenge"], issued["origin"]),
                              {"type": "CPS", "serial": material.serial}, card_reader="Virtual PCD 00 01")
    assert 'data-reader="Virtual PCD 00 01"' in page.text


def test_removal_ends_the_session_and_logs_every_app_out(server, test_pki):
    browser, page = card_login(server, test_pki.card("899700000001"))
    browser.app.exchange(browser.code(page)["code"])
    session = server.bridge.sessions.load(browser.http.cookies[COOKIE])
    answer = removed(server, {"capability": capability_of(page)})
    assert answer.status_code == 200 and answer.json() == {"ended": True}
    assert server.bridge.sessions.load(browser.http.cookies[COOKIE]) is None
    assert logout_sids(server, "/teleservice/backchannel-logout") == [session.sid]
    line = audit(server, "card_removed")[-1]
    assert (line["outcome"], line["reason"], line["subject"]) == ("success", "ended", "899700000001")
    ended = [x for x in audit(server, "logout") if x["reason"] == "card_removed"]
    assert ended and ended[0]["details"]["sid"] == session.sid


def test_reinserting_the_card_revives_nothing(server, test_pki):
    browser, page = card_login(server, test_pki.card("899700000001"))
    browser.code(page)
    assert removed(server, {"capability": capability_of(page)}).status_code == 200
    again = browser.http.get(browser.app.authorize_url(), allow_redirects=False, timeout=10)
    assert again.status_code == 302 and "/login" in again.headers["Location"]     # a new login, no code
    assert "code=" not in again.headers["Location"]


def test_forged_and_replayed_notices_end_nothing(server, test_pki):
    browser, page = card_login(server, test_pki.card("899700000001"))
    browser.code(page)
    capability = capability_of(page)
    for forged in ("A" * 43, capability[:-2] + "xx", capability + "A"):
        answer = removed(server, {"capability": forged})
        assert answer.status_code == 404 and answer.json()["error"] == "unknown_capability"
        assert answer.json()["message"]
    assert server.bridge.sessions.load(browser.http.cookies[COOKIE]) is not None
    assert removed(server, {"capability": capability}).status_code == 200
    replay = removed(server, {"capability": capability})
    assert replay.status_code == 404 and replay.json()["error"] == "unknown_capability"
    reasons = [(x["outcome"], x["reason"]) for x in audit(server, "card_removed")]
    assert reasons == [("failure", "unknown")] * 3 + [("success", "ended"), ("failure", "unknown")]


@pytest.mark.parametrize("body,status", [
    (b"not json", 400), (b"[]", 400), (b'{"capability": 5}', 400), (b"{}", 400),
    (json.dumps({"capability": "x" * 2000}).encode(), 413),
])
def test_malformed_notices_are_refused(server, body, status):
    answer = requests.post(f"{server.url}/cps/removed", data=body, timeout=10,
                           headers={"Content-Type": "application/json"})
    assert answer.status_code == status and answer.json()["error"]


def test_a_notice_for_a_session_already_ended(server, test_pki):
    browser, page = card_login(server, test_pki.card("899700000001"))
    tokens = browser.app.exchange(browser.code(page)["code"])
    out = browser.http.get(f"{server.url}/logout", params={"id_token_hint": tokens["id_token"]},
                           allow_redirects=False, timeout=10)
    assert out.status_code in (200, 302)
    server.bridge.backchannel.wait()
    before = len(server.receiver.received)
    answer = removed(server, {"capability": capability_of(page)})
    assert answer.status_code == 410 and answer.json()["error"] == "session_ended"
    assert removed(server, {"capability": capability_of(page)}).status_code == 404     # deleted by the answer
    server.bridge.backchannel.wait()
    assert len(server.receiver.received) == before            # nothing sent twice
    line = [x for x in audit(server, "card_removed") if x["reason"] == "session_ended"][0]
    assert line["outcome"] == "info" and line["details"]["ended_by"] == "logout"


def test_removing_another_card_leaves_this_session_alone(server, test_pki):
    mine, my_page = card_login(server, test_pki.card("899700000001"))
    mine.app.exchange(mine.code(my_page)["code"])
    theirs, their_page = card_login(server, test_pki.card("899700000002", family_name="INFIRMIER"))
    theirs.app.exchange(theirs.code(their_page)["code"])
    their_sid = server.bridge.sessions.load(theirs.http.cookies[COOKIE]).sid
    assert removed(server, {"capability": capability_of(their_page)}).status_code == 200
    assert server.bridge.sessions.load(mine.http.cookies[COOKIE]) is not None
    assert logout_sids(server, "/teleservice/backchannel-logout") == [their_sid]


def test_the_same_person_with_another_card_keeps_the_session_when_the_old_card_leaves(server, test_pki):
    browser, first = card_login(server, test_pki.card("899700000001"))
    browser.code(first)
    again = CpsBrowser(server, client=at(server.receiver.url, TELESERVICE), http=browser.http, prompt="login")
    second = again.login_with(test_pki.card("899700000001", kind="CPF"))
    again.code(second)
    answer = removed(server, {"capability": capability_of(first)})
    assert answer.status_code == 409 and answer.json()["error"] == "card_changed"
    assert server.bridge.sessions.load(browser.http.cookies[COOKIE]) is not None
    assert removed(server, {"capability": capability_of(second)}).status_code == 200
    assert server.bridge.sessions.load(browser.http.cookies[COOKIE]) is None


def test_a_service_that_ignores_removal_redirects_at_once(bridge_factory, receiver, tmp_path, trust_env, test_pki):
    server = start(bridge_factory, receiver, tmp_path, trust_env, teleservice_extra=IGNORE)
    browser, answer = card_login(server, test_pki.card("899700000001"))
    assert answer.status_code == 302 and answer.headers["Location"].startswith(browser.app.redirect_uri)
    assert not audit(server, "card_watch_issued")


def test_psc_logins_get_no_capability(server):
    browser = CpsBrowser(server, client=at(server.receiver.url, TELESERVICE))
    browser.start()     # the chooser: Pro Santé Connect this time
    result = browser.app.follow(browser.http, f"{server.url}/login/psc?txn={browser.txn}", user="899700000001")
    assert "code" in result
    assert not audit(server, "card_watch_issued")


def test_a_store_outage_fails_closed_and_the_notice_can_be_sent_again(bridge_factory, receiver, tmp_path,
                                                                       trust_env, test_pki):
    own = RedisServer(tmp_path, aof=True).start()
    try:
        server = start(bridge_factory, receiver, tmp_path, trust_env, env={"BRIDGE_STORE_URL": own.url})
        browser, page = card_login(server, test_pki.card("899700000001"))
        browser.code(page)
        own.stop()
        answer = removed(server, {"capability": capability_of(page)})
        assert answer.status_code == 503 and answer.json()["error"] == "temporarily_unavailable"
        own.start()
        assert removed(server, {"capability": capability_of(page)}).status_code == 200
        assert server.bridge.sessions.load(browser.http.cookies[COOKIE]) is None
    finally:
        own.stop()


def test_notices_are_rate_limited_per_address(bridge_factory, receiver, tmp_path, trust_env):
    server = start(bridge_factory, receiver, tmp_path, trust_env, env={"BRIDGE_RATE_LIMIT_AUTHORIZE": "3/minute"})
    answers = [removed(server, {"capability": "A" * 43}) for _ in range(4)]
    assert [a.status_code for a in answers] == [404, 404, 404, 429]
    assert answers[-1].json()["error"] == "too_many_requests" and answers[-1].headers["Retry-After"]
