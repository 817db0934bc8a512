"""Edges of the web layer (issue 12): JSON errors on every API path, never an HTML page; the 404 page's language
link stays on this site; __Host- cookies and the /metrics token in production."""
from __future__ import annotations

import pytest
from werkzeug.exceptions import Forbidden

from app import create_app
from bridge.config import load_settings
from tests.support.bridge import default_card_trust


@pytest.fixture
def client(tmp_path):
    settings = load_settings({**default_card_trust(), "BRIDGE_KEYS_DIR": str(tmp_path / "keys"),
                              "BRIDGE_SWEEP_INTERVAL": "0"})
    app = create_app(settings)
    return app.test_client()


def assert_json_error(response, status: int, error: str | None = None):
    assert response.status_code == status, response.data[:200]
    assert response.mimetype == "application/json", response.data[:200]
    body = response.get_json()
    assert set(body) == {"error", "error_description"} and isinstance(body["error_description"], str)
    assert b"<html" not in response.data.lower()
    if error:
        assert body["error"] == error
    return body


@pytest.mark.parametrize("path", ["/token/x", "/introspect/x", "/revoke/", "/userinfo/me", "/jwks/1",
                                  "/.well-known/nope", "/.well-known/openid-configuration/x",
                                  "/login/cps/challenge/x", "/healthz/x"])
def test_unknown_api_paths_answer_json_404(client, path):
    assert_json_error(client.get(path), 404, "not_found")


@pytest.mark.parametrize("method, path", [("GET", "/token"), ("GET", "/introspect"), ("GET", "/revoke"),
                                          ("PUT", "/userinfo"), ("DELETE", "/userinfo"), ("POST", "/jwks"),
                                          ("POST", "/.well-known/openid-configuration"),
                                          ("PUT", "/.well-known/oauth-authorization-server"),
                                          ("GET", "/login/cps/challenge"), ("POST", "/readyz"),
                                          ("POST", "/metrics")])
def test_wrong_method_on_api_paths_answers_json_405_with_allow(client, method, path):
    response = client.open(path, method=method)
    assert_json_error(response, 405, "invalid_request")
    assert response.headers["Allow"]


@pytest.mark.parametrize("endpoint, path, method", [("oidc.jwks", "/jwks", "GET"), ("oidc.token", "/token", "POST"),
                                                    ("oidc.introspect", "/introspect", "POST"),
                                                    ("oidc.revoke", "/revoke", "POST"),
                                                    ("oidc.userinfo", "/userinfo", "GET"),
                                                    ("oidc.discovery", "/.well-known/openid-configuration", "GET")])
def test_other_http_errors_and_crashes_on_api_paths_answer_json(client, endpoint, path, method):
    views = client.application.view_functions

    def forbidden(*args, **kwargs):
        raise Forbidden("no")

    def crash(*args, **kwargs):
        raise RuntimeError("boom")

    views[endpoint] = forbidden
    assert_json_error(client.open(path, method=method), 403, "invalid_request")
    views[endpoint] = crash
    response = client.open(path, method=method)
    body = assert_json_error(response, 500, "server_error")
    assert "boom" not in body["error_description"] and response.headers["X-Request-Id"] in body["error_description"]


def test_browser_paths_keep_their_html_pages(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404 and response.mimetype == "text/html"
    response = client.open("/logout/done", method="DELETE")
    assert response.status_code == 405 and response.mimetype == "text/html"
