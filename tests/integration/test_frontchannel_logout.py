"""OIDC Front-Channel Logout 1.0 over HTTP: the "logged out" page after /logout (and /switch) holds one hidden
iframe per app of the session that registered a frontchannel_logout_uri, with iss and sid when the app asks for
them, and a CSP whose frame-src is exactly those apps' origins. Back-channel goes on as before."""
from __future__ import annotations

import base64
import hashlib
import json
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import requests

from tests.support.bridge import DPI, PORTAIL, AppClient, at, form_fields, rewrite_policies
from tests.support.html import parse

SECRET = "fc-secret"
# Three test apps: one with a query in its front-channel URI, one without sid/iss (another origin: localhost),
# one that registered front-channel but is not logged in.
EXTRA = """\
service: fc-tests
name: Front-channel tests
clients:
{clients}
allowed_mie: [psc]
"""
CLIENT = """\
  - client_id: {client_id}
    name: {name}
    client_secret_sha256: {hash}
    redirect_uris: [http://127.0.0.1:8002/{client_id}/callback]
    frontchannel_logout_uri: '{uri}'
    frontchannel_logout_session_required: {required}
"""


def conf(client_id: str) -> dict:
    return {"client_id": client_id, "client_secret": SECRET, "redirect_uri": f"http://127.0.0.1:8002/{client_id}/callback",
            "scope": "openid profile rpps"}


@pytest.fixture
def stack(bridge_factory, receiver, tmp_path):
    other_origin = receiver.url.replace("127.0.0.1", "localhost")
    secret_hash = hashlib.sha256(SECRET.encode()).hexdigest()
    clients = "".join(CLIENT.format(client_id=c, name=n, hash=secret_hash, uri=u, required=r) for c, n, u, r in (
        ("fc-query", "Appli avec requête", "http://127.0.0.1:8002/fc/logout?tenant=a%20b&x=1", "true"),
        ("fc-nosid", "Appli sans sid", other_origin + "/fc2/logout", "false"),
        ("fc-absent", "Appli absente", "http://127.0.0.1:8002/absent/logout", "true")))
    policies = rewrite_policies(tmp_path / "policies", receiver.url, {"fc-tests.yaml": EXTRA.format(clients=clients)})
    server = bridge_factory(env={"BRIDGE_POLICIES_DIR": str(policies)})
    server.receiver, server.other_origin = receiver, other_origin
    return server


def login(server, client_conf, browser):
    app = AppClient(server.url, **at(server.receiver.url, client_conf))
    return app.exchange(app.login(browser, user="899700000002")["code"])


def claims(id_token: str) -> dict:
    payload = id_token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def csp(response) -> dict[str, list[str]]:
    directives = [d.split() for d in response.headers["Content-Security-Policy"].split(";") if d.strip()]
    return {d[0]: d[1:] for d in directives}


def frames(page) -> dict[str, dict]:
    return {f.attrs["data-client"]: f.attrs for f in parse(page.text).find_all("iframe")}


def test_the_logged_out_page_loads_each_front_channel_app_with_iss_and_sid(stack):
    browser = requests.Session()
    tokens = login(stack, PORTAIL, browser)
    for client in (DPI, conf("fc-query"), conf("fc-nosid")):
        login(stack, client, browser)
    sid = claims(tokens["id_token"])["sid"]
    page = browser.get(f"{stack.url}/logout", allow_redirects=False, timeout=10,
                       params={"id_token_hint": tokens["id_token"]})
    assert page.status_code == 200 and "data-logged-out" in page.text
    found = frames(page)
    assert set(found) == {"dpi-web", "fc-query", "fc-nosid"}   # not the portal (back-channel only), not fc-absent
    issuer = stack.url
    assert found["dpi-web"]["src"] == \
        f"{stack.receiver.url}/dpi/frontchannel-logout?iss={quote(issuer, safe='')}&sid={quote(sid, safe='')}"
    query = urlsplit(found["fc-query"]["src"]).query
    assert query.startswith("tenant=a%20b&x=1&")                # the registered query is kept as it was
    assert parse_qs(query) == {"tenant": ["a b"], "x": ["1"], "iss": [issuer], "sid": [sid]}
    assert found["fc-nosid"]["src"] == f"{stack.other_origin}/fc2/logout"   # session not required: as registered
    for attrs in found.values():
        assert attrs["title"] and "hidden" in attrs and attrs["tabindex"] == "-1"
    assert parse(page.text).find(data_frontchannel=True).attrs["aria-hidden"] == "true"
    policy = csp(page)
    assert sorted(policy["frame-src"]) == sorted([stack.receiver.url, stack.other_origin])
    assert policy["frame-ancestors"] == ["'none'"] and policy["default-src"] == ["'self'"]
    # Back-channel goes on as before, for the apps that registered it.
    stack.bridge.backchannel.wait()
    assert stack.receiver.tokens_for("/dpi/backchannel-logout") and stack.receiver.tokens_for("/portail/")
    # The session is gone: the page then goes on to PSC's logout, and back to a page without iframes.
    continue_url = parse(page.text).find(id="fc-continue").attrs["href"]
    assert continue_url.startswith(stack.psc.issuer)
    back = browser.get(continue_url, allow_redirects=False, timeout=10)
    done = browser.get(back.headers["Location"], allow_redirects=False, timeout=10)
    assert done.status_code == 200 and "data-logged-out" in done.text and "<iframe" not in done.text
    assert "frame-src" not in done.headers["Content-Security-Policy"]


def test_post_logout_redirect_comes_after_the_iframes(stack):
    browser = requests.Session()
    tokens = login(stack, PORTAIL, browser)
    login(stack, DPI, browser)
    target = f"{stack.receiver.url}/portail/"
    page = browser.get(f"{stack.url}/logout", allow_redirects=False, timeout=10, params={
        "id_token_hint": tokens["id_token"], "post_logout_redirect_uri": target, "state": "s1"})
    assert set(frames(page)) == {"dpi-web"}
    assert csp(page)["frame-src"] == [stack.receiver.url]
    assert 'src="/static/frontchannel.js' in page.text          # follows the link once the iframes have loaded
    psc_logout = parse(page.text).find(id="fc-continue").attrs["href"]
    back = browser.get(psc_logout, allow_redirects=False, timeout=10)
    done = browser.get(back.headers["Location"], allow_redirects=False, timeout=10)
    assert done.headers["Location"] == f"{target}?state=s1"


def test_without_a_front_channel_app_logout_redirects_as_before(stack):
    browser = requests.Session()
    tokens = login(stack, PORTAIL, browser)
    response = browser.get(f"{stack.url}/logout", allow_redirects=False, timeout=10,
                           params={"id_token_hint": tokens["id_token"]})
    assert response.status_code == 302 and response.headers["Location"].startswith(stack.psc.issuer)


def test_a_user_switch_shows_the_iframes_before_the_fresh_login(stack):
    browser = requests.Session()
    tokens = login(stack, DPI, browser)
    sid = claims(tokens["id_token"])["sid"]
    app = AppClient(stack.url, **at(stack.receiver.url, PORTAIL))
    switch_url = app.authorize_url().replace("/authorize?", "/switch?")
    confirm = browser.get(switch_url, timeout=10)
    action, hidden = form_fields(confirm.text)
    page = browser.post(f"{stack.url}/switch", data=hidden, allow_redirects=False, timeout=10)
    assert page.status_code == 200
    assert parse_qs(urlsplit(frames(page)["dpi-web"]["src"]).query)["sid"] == [sid]
    assert csp(page)["frame-src"] == [stack.receiver.url]
    assert parse(page.text).find(id="fc-continue").attrs["href"].startswith(stack.psc.issuer)
