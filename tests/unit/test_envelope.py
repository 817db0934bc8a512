"""The per-request envelope (bridge.web.envelope) around a small real Flask app: headers on every response,
request ids, one log line per request with the route and without the query string."""
from __future__ import annotations

import json

import pytest
from flask import Flask, abort, make_response

from bridge import logs
from bridge.logs import current_request_id
from bridge.web.envelope import HSTS, SECURITY_HEADERS, Envelope


def make_app(production: bool = False) -> Flask:
    logs.configure("INFO")
    app = Flask("envelope-test")

    @app.get("/page/<name>")
    def page(name):
        return f"bonjour {name}"

    @app.get("/own-policy")
    def own_policy():
        response = make_response("x")
        response.headers["Content-Security-Policy"] = "default-src 'none'"
        response.headers["cache-control"] = "public, max-age=60"
        return response

    @app.get("/who")
    def who():
        return current_request_id()

    @app.get("/broken")
    def broken():
        abort(503)

    app.wsgi_app = Envelope(app.wsgi_app, production=production)
    return app


def request_lines(err: str) -> list[dict]:
    return [line for line in map(json.loads, filter(None, err.splitlines())) if line.get("event") == "request"]


@pytest.mark.parametrize("path", ["/page/a", "/no/such/page", "/broken"])
def test_every_response_gets_the_security_headers_and_a_request_id(path):
    response = make_app().test_client().get(path)
    for name, value in SECURITY_HEADERS:
        assert response.headers.getlist(name) == [value], name
    assert len(response.headers["X-Request-Id"]) == 16
    assert "Strict-Transport-Security" not in response.headers  # development: plain HTTP on localhost


def test_production_adds_hsts():
    response = make_app(production=True).test_client().get("/page/a")
    assert response.headers["Strict-Transport-Security"] == HSTS[0][1]


def test_a_page_keeps_its_own_policy_once():
    response = make_app().test_client().get("/own-policy")
    assert response.headers.getlist("Content-Security-Policy") == ["default-src 'none'"]
    assert response.headers.getlist("Cache-Control") == ["public, max-age=60"]  # names compare case-insensitively
    assert response.headers["X-Frame-Options"] == "DENY"


def test_a_well_formed_request_id_is_kept_a_bad_one_replaced_and_none_leaks_out_of_the_request():
    client = make_app().test_client()
    kept = client.get("/who", headers={"X-Request-Id": "lb-0123456789"})
    assert kept.text == "lb-0123456789" and kept.headers["X-Request-Id"] == "lb-0123456789"
    replaced = client.get("/who", headers={"X-Request-Id": "bad id\"}"})
    assert replaced.text == replaced.headers["X-Request-Id"] and len(replaced.text) == 16
    assert current_request_id() == ""


def test_one_log_line_per_request_with_the_route_and_without_the_query(capfd):
    client = make_app().test_client()
    capfd.readouterr()
    body = client.get("/page/%C3%A9t%C3%A9?code=secret-code&state=s", headers={"X-Request-Id": "probe-0000001"})
    client.get("/no/such/page?code=other-secret")
    err = capfd.readouterr().err
    assert "secret-code" not in err and "other-secret" not in err
    first, missing = request_lines(err)
    assert first == {**first, "method": "GET", "path": "/page/été", "endpoint": "/page/<name>", "status": 200,
                     "bytes": len(body.data), "request_id": "probe-0000001"}
    assert missing["endpoint"] == "<unmatched>" and missing["status"] == 404 and missing["path"] == "/no/such/page"
