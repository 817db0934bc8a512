"""Floods on /authorize and /token get 429 with Retry-After, counted in the shared Redis, per IP and per client.

/token counts failures (400/401) per (client, address) and successes per client: a secret-guessing flood locks
out only the attacker's address, never the app's real users (issue 12, defect 8)."""
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
    server = bridge_factory(env={"BRIDGE_RATE_LIMIT_TOKEN_FAILURES": "3/minute"})
    answers = [requests.post(f"{server.url}/token", auth=("demo-portail", "demo-portail-secret"), timeout=10,
                             data={"grant_type": "refresh_token", "refresh_token": "x" * 22 + "." + "y" * 43})
               for _ in range(4)]
    assert [a.status_code for a in answers[:3]] == [400] * 3
    assert answers[3].status_code == 429 and answers[3].json()["error"] == "slow_down"
    assert "Retry-After" in answers[3].headers


PROXY = {"BRIDGE_TRUSTED_PROXIES": "127.0.0.1"}
BAD = ("demo-portail", "wrong-secret")
GUESS = {"grant_type": "authorization_code", "code": "c" * 43, "redirect_uri": PORTAIL["redirect_uri"]}


def _token(server, auth, data, ip=None):
    headers = {"X-Forwarded-For": ip} if ip else {}
    return requests.post(f"{server.url}/token", auth=auth, data=data, headers=headers, timeout=10)


def _code(server, app):
    answer = app.login(requests.Session())
    assert "code" in answer, answer
    return {"grant_type": "authorization_code", "code": answer["code"], "redirect_uri": app.redirect_uri,
            "code_verifier": app.pending["verifier"]}


def test_bad_secret_flood_from_one_address_does_not_lock_the_app_out(bridge_factory):
    server = bridge_factory(env={"BRIDGE_RATE_LIMIT_TOKEN_FAILURES": "5/minute", "BRIDGE_RATE_LIMIT_TOKEN": "50/second",
                                 **PROXY})
    app = AppClient(server.url, **PORTAIL)
    flood = [_token(server, BAD, GUESS, ip="203.0.113.66") for _ in range(8)]
    assert [a.status_code for a in flood[:5]] == [401] * 5
    assert flood[7].status_code == 429 and flood[7].json()["error"] == "slow_down"
    # the attacker's address stays locked for this client, even with the right secret
    good = (PORTAIL["client_id"], PORTAIL["client_secret"])
    assert _token(server, good, GUESS, ip="203.0.113.66").status_code == 429
    # the app's server, on another address, still logs its users in
    answer = _token(server, good, _code(server, app), ip="198.51.100.7")
    assert answer.status_code == 200 and answer.json()["id_token"]
    # and so does the attacker's address for another client
    assert _token(server, ("dpi-web", "dpi-secret"), {"grant_type": "refresh_token", "refresh_token": "x"},
                  ip="203.0.113.66").status_code == 400


def test_successes_from_one_nat_address_are_not_counted_as_failures(bridge_factory):
    server = bridge_factory(env={"BRIDGE_RATE_LIMIT_TOKEN_FAILURES": "2/minute"})
    app = AppClient(server.url, **PORTAIL)
    good = (PORTAIL["client_id"], PORTAIL["client_secret"])
    assert _token(server, BAD, {"grant_type": "refresh_token", "refresh_token": "x"}).status_code == 401
    for _ in range(3):   # a hospital behind one address: every login works, one earlier failure or not
        tokens = _token(server, good, _code(server, app))
        assert tokens.status_code == 200
        assert _token(server, good, {"grant_type": "refresh_token",
                                     "refresh_token": tokens.json()["refresh_token"]}).status_code == 200


def test_the_per_client_limit_counts_only_successes(bridge_factory):
    server = bridge_factory(env={"BRIDGE_RATE_LIMIT_TOKEN": "2/minute",
                                 "BRIDGE_RATE_LIMIT_TOKEN_FAILURES": "100/minute", **PROXY})
    app = AppClient(server.url, **PORTAIL)
    good = (PORTAIL["client_id"], PORTAIL["client_secret"])
    for i in range(10):
        assert _token(server, BAD, GUESS, ip=f"203.0.113.{i}").status_code == 401
    assert _token(server, good, _code(server, app), ip="198.51.100.7").status_code == 200
    assert _token(server, good, _code(server, app), ip="198.51.100.8").status_code == 200
    third = _token(server, good, _code(server, app), ip="198.51.100.9")
    assert third.status_code == 429 and third.json()["error"] == "slow_down"


def test_token_off_turns_off_both_token_limits():
    from bridge.config import load_settings

    assert load_settings({"BRIDGE_RATE_LIMIT_TOKEN": "off"}).rate_limit_token_failures == "off"
    assert load_settings({"BRIDGE_RATE_LIMIT_TOKEN": "off", "BRIDGE_RATE_LIMIT_TOKEN_FAILURES": "3/minute"}
                         ).rate_limit_token_failures == "3/minute"


def test_a_bad_limit_stops_start_up():
    import pytest

    from bridge.config import ConfigError, load_settings

    with pytest.raises(ConfigError, match="^BRIDGE_RATE_LIMIT_TOKEN: "):
        load_settings({"BRIDGE_RATE_LIMIT_TOKEN": "lots"})
    with pytest.raises(ConfigError, match="^BRIDGE_RATE_LIMIT_TOKEN_FAILURES: "):
        load_settings({"BRIDGE_RATE_LIMIT_TOKEN_FAILURES": "10/fortnight"})
