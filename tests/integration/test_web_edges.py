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


# --- production: __Host- cookies, /metrics token -----------------------------------------------------------------

SSO = "https://sso.example.org"
METRICS_TOKEN = "scrape-token-0123456789"


def production_env(tmp_path, redis_url) -> dict:
    from bridge.provider.keys import KeyRing
    from tests.support.bridge import rewrite_policies

    policies = rewrite_policies(tmp_path / "policies", "https://apps.example.org")
    for path in policies.glob("*.yaml"):
        path.write_text(path.read_text().replace("http://127.0.0.1:8000", SSO))
    KeyRing(tmp_path / "keys", create=True)
    return {**default_card_trust(), "BRIDGE_ENV": "production", "BRIDGE_PUBLIC_URL": SSO,
            "BRIDGE_SECRET_KEY": "x" * 40, "BRIDGE_STORE_URL": redis_url, "BRIDGE_KEYS_DIR": str(tmp_path / "keys"),
            "BRIDGE_PSC_ISSUER": "https://psc.example.org/auth/realms/esante-wallet", "BRIDGE_PSC_CLIENT_ID": "c",
            "BRIDGE_PSC_CLIENT_SECRET": "s", "BRIDGE_AUDIT_PATH": str(tmp_path / "audit.jsonl"),
            "BRIDGE_SWEEP_INTERVAL": "0", "BRIDGE_POLICIES_DIR": str(policies), "BRIDGE_METRICS_TOKEN": METRICS_TOKEN}


@pytest.fixture
def production(tmp_path, redis_url):
    return create_app(load_settings(production_env(tmp_path, redis_url)))


def set_cookies(response) -> dict[str, str]:
    return {header.split("=", 1)[0]: header for header in response.headers.getlist("Set-Cookie")}


def assert_host_cookie(header: str):
    attributes = [a.strip().lower() for a in header.split(";")[1:]]
    assert "secure" in attributes and "path=/" in attributes, header
    assert not any(a.startswith("domain") for a in attributes), header


def test_production_cookies_carry_the_host_prefix(production):
    client = production.test_client()
    cookies = set_cookies(client.get("/no-such-page?lang=en", base_url=SSO))
    assert set(cookies) == {"__Host-bridge_lang"}
    assert_host_cookie(cookies["__Host-bridge_lang"])
    authorize = client.get("/authorize", base_url=SSO, query_string={
        "client_id": "demo-portail", "response_type": "code", "redirect_uri": "https://apps.example.org/portail/callback",
        "scope": "openid", "state": "s" * 16, "nonce": "n" * 16, "code_challenge": "c" * 43,
        "code_challenge_method": "S256"})
    assert authorize.status_code == 302
    cookies = set_cookies(authorize)
    assert set(cookies) == {"__Host-bridge_browser"}
    assert_host_cookie(cookies["__Host-bridge_browser"])


def test_production_sets_deletes_and_reads_only_prefixed_names(production):
    from bridge.login.transactions import BROWSER_COOKIE
    from bridge.sessions import COOKIE
    from bridge.web.admin_auth import CONSOLE_COOKIE
    from bridge.web.i18n import LANG_COOKIE
    from bridge.web.security import cookie_args, cookie_name

    settings = production.extensions["bridge"].settings
    names = (COOKIE, BROWSER_COOKIE, CONSOLE_COOKIE, LANG_COOKIE)
    assert tuple(cookie_name(name, settings) for name in names) == ("__Host-bridge_session", "__Host-bridge_browser",
                                                                    "__Host-bridge_admin", "__Host-bridge_lang")
    planted = "bridge_session=planted; bridge_lang=en; __Host-bridge_browser=b" + "x" * 40 + "; other=1"
    with production.test_request_context("/", base_url=SSO, headers={"Cookie": planted}):
        from flask import request

        assert request.cookies.get(COOKIE) is None            # a plain name may come from a sibling host
        assert request.cookies.get(LANG_COOKIE) is None
        assert request.cookies.get(BROWSER_COOKIE) == "b" + "x" * 40 and request.cookies.get("other") == "1"
        response = production.make_response("ok")
        response.set_cookie(COOKIE, "v", **cookie_args())
        response.set_cookie(CONSOLE_COOKIE, "t", **{**cookie_args(), "samesite": "Strict", "path": "/admin"})
        response.delete_cookie(COOKIE, path="/")
        response.delete_cookie(CONSOLE_COOKIE, path="/admin")
        headers = response.headers.getlist("Set-Cookie")
    assert [h.split("=", 1)[0] for h in headers] == ["__Host-bridge_session", "__Host-bridge_admin"] * 2
    for header in headers:
        assert_host_cookie(header)
    # the 404 page follows __Host-bridge_lang, not a planted bridge_lang
    client = production.test_client()
    client.set_cookie("bridge_lang", "en", domain="sso.example.org")
    assert 'lang="fr"' in client.get("/nope", base_url=SSO).get_data(as_text=True)
    client.set_cookie("__Host-bridge_lang", "en", domain="sso.example.org")
    assert 'lang="en"' in client.get("/nope", base_url=SSO).get_data(as_text=True)


def test_development_keeps_plain_cookie_names(client):
    from bridge.sessions import COOKIE
    from bridge.web.security import cookie_name

    assert cookie_name(COOKIE, client.application.extensions["bridge"].settings) == "bridge_session"
    assert set(set_cookies(client.get("/nope?lang=en"))) == {"bridge_lang"}


def test_production_refuses_to_start_without_a_metrics_token(tmp_path, redis_url):
    from bridge.config import ConfigError

    env = production_env(tmp_path, redis_url)
    del env["BRIDGE_METRICS_TOKEN"]
    with pytest.raises(ConfigError, match="^BRIDGE_METRICS_TOKEN: required in production"):
        load_settings(env)
    with pytest.raises(ConfigError, match="^BRIDGE_METRICS_TOKEN: required in production"):
        load_settings({**env, "BRIDGE_METRICS_TOKEN": ""})


def test_production_metrics_need_the_token(production):
    client = production.test_client()
    assert client.get("/metrics", base_url=SSO).status_code == 401
    assert client.get("/metrics", base_url=SSO, headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).status_code == 200


# --- the 404 page's language link ----------------------------------------------------------------------------

def test_the_404_language_link_stays_on_this_page(client):
    import re

    response = client.get("/%5Cevil.example/x?a=1")
    assert response.status_code == 404
    links = re.findall(r'<a href="([^"]*)" hreflang="([a-z]+)"', response.get_data(as_text=True))
    assert {lang for _, lang in links} == {"fr", "en"}
    for href, lang in links:
        assert href.startswith("?") and "evil" not in href and href.endswith(f"lang={lang}"), href
    assert dict(links)["?a=1&amp;lang=en"] == "en"
