"""A store outage fails closed: 503 pages and OAuth temporarily_unavailable, no token; recovery without restart."""
from __future__ import annotations

import requests

from tests.support.bridge import PORTAIL, AppClient
from tests.support.redis import RedisServer


def test_redis_down_fails_closed_and_recovers(bridge_factory, tmp_path):
    own = RedisServer(tmp_path).start()
    try:
        server = bridge_factory(env={"BRIDGE_STORE_URL": own.url})
        app, browser = AppClient(server.url, **PORTAIL), requests.Session()
        code = app.login(browser, user="899700000002")["code"]
        own.stop()

        page = browser.get(app.authorize_url(), allow_redirects=False, timeout=30)
        assert page.status_code == 503 and 'data-error-code="store_unavailable"' in page.text

        token = requests.post(f"{server.url}/token", timeout=30, auth=("demo-portail", "demo-portail-secret"),
                              data={"grant_type": "authorization_code", "code": code,
                                    "code_verifier": app.pending["verifier"], "redirect_uri": PORTAIL["redirect_uri"]})
        assert token.status_code == 503
        assert token.json()["error"] == "temporarily_unavailable" and "access_token" not in token.json()

        own.start()  # same port: the bridge reconnects by itself
        result = AppClient(server.url, **PORTAIL).login(requests.Session(), user="899700000003")
        assert "code" in result
    finally:
        own.stop()
