"""Benchmark scenarios. One class per scenario; `@scenario` registers it (order = run order).

A scenario prepares once in the harness process (`prepare`), then each load-generator thread calls `once` in a
loop with its own `requests.Session` (`new_session`). `once` performs one operation, raises on any unexpected
answer, and returns the number of HTTP requests it made. Adding one, e.g. refresh once the provider has it:

    @scenario
    class Refresh(Scenario):
        name, description = "refresh", "refresh_token grant (rotation)"

        def prepare(self, ctx):
            self.tokens = login_flow(ctx, requests.Session())

        def once(self, ctx, http):
            # each thread keeps its own family: rotation invalidates the previous refresh token
            ...
            return 1
"""
from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass
from html import unescape
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import requests

# The demo portal's client (policies/demo-portail.yaml) and a single-activity test professional.
CLIENT = {"client_id": "demo-portail", "client_secret": "demo-portail-secret",
          "redirect_uri": "http://127.0.0.1:8002/portail/callback", "scope": "openid profile email rpps"}
USER, AUTH_MODE = "899700000002", "CARD"
TIMEOUT = 30


@dataclass
class Context:
    bridge_url: str
    hello_url: str
    psc_url: str


class ScenarioError(RuntimeError):
    pass


def expect(response: requests.Response, *statuses: int) -> requests.Response:
    if response.status_code not in statuses:
        raise ScenarioError(f"{response.request.method} {urlsplit(response.url).path}: HTTP {response.status_code}")
    return response


class Scenario:
    name = ""
    description = ""
    target = "bridge"        # which server the load goes to: bridge | hello

    def prepare(self, ctx: Context) -> None:
        """Once, in the harness process, before the load."""

    def new_session(self, ctx: Context) -> requests.Session:
        return requests.Session()

    def once(self, ctx: Context, http: requests.Session) -> int:
        raise NotImplementedError


SCENARIOS: dict[str, type[Scenario]] = {}


def scenario(cls: type[Scenario]) -> type[Scenario]:
    SCENARIOS[cls.name] = cls
    return cls


# -- the browser + app side of a full login ---------------------------------------------------------------------
_FORM = re.compile(r'<form[^>]*action="([^"]*)"')
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


def login_flow(ctx: Context, http: requests.Session) -> dict:
    """authorize -> PSC (emulator login form) -> callback -> code -> token -> userinfo: 7 HTTP requests.
    Returns the token response. `http` plays both the browser (cookies) and the app (token, userinfo)."""
    http.cookies.clear()  # a new browser: no SSO session
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    state, nonce = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
    url = f"{ctx.bridge_url}/authorize?" + urlencode({
        "response_type": "code", "client_id": CLIENT["client_id"], "redirect_uri": CLIENT["redirect_uri"],
        "scope": CLIENT["scope"], "state": state, "nonce": nonce, "code_challenge": challenge,
        "code_challenge_method": "S256"})
    # 1 /authorize -> /login/psc, 2 /login/psc -> PSC authorize
    for _ in range(2):
        response = expect(http.get(url, allow_redirects=False, timeout=TIMEOUT), 302)
        url = urljoin(url, response.headers["Location"])
    # 3 PSC login page, 4 form post -> bridge callback
    page = expect(http.get(url, allow_redirects=False, timeout=TIMEOUT), 200)
    action = unescape(_FORM.search(page.text).group(1))
    fields = {unescape(k): unescape(v) for k, v in _HIDDEN.findall(page.text)}
    response = expect(http.post(urljoin(page.url, action), allow_redirects=False, timeout=TIMEOUT,
                                data={**fields, "user": USER, "auth_mode": AUTH_MODE, "action": "login"}), 302)
    # 5 callback -> the app's redirect_uri with the code
    callback = urljoin(url, response.headers["Location"])
    response = expect(http.get(callback, allow_redirects=False, timeout=TIMEOUT), 302)
    location = response.headers["Location"]
    if not location.startswith(CLIENT["redirect_uri"]):
        raise ScenarioError(f"callback redirected to {urlsplit(location).path}, not the app")
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    if query.get("state") != state or "code" not in query:
        raise ScenarioError(f"no code in the app's redirect ({sorted(query)})")
    # 6 token (client_secret_basic + PKCE verifier), 7 userinfo
    tokens = expect(http.post(f"{ctx.bridge_url}/token", timeout=TIMEOUT,
                              auth=(CLIENT["client_id"], CLIENT["client_secret"]),
                              data={"grant_type": "authorization_code", "code": query["code"],
                                    "redirect_uri": CLIENT["redirect_uri"], "code_verifier": verifier}), 200).json()
    info = expect(http.get(f"{ctx.bridge_url}/userinfo", timeout=TIMEOUT,
                           headers={"Authorization": f"Bearer {tokens['access_token']}"}), 200).json()
    if info.get("sub") != USER:
        raise ScenarioError("userinfo for another subject")
    return tokens


# -- scenarios -----------------------------------------------------------------------------------------------------
@scenario
class LoginFlow(Scenario):
    name = "login_flow"
    description = "full login: authorize, PSC login form, callback, code, token, userinfo (7 requests)"

    def once(self, ctx, http):
        login_flow(ctx, http)
        return 7


@scenario
class Userinfo(Scenario):
    name = "userinfo"
    description = "GET /userinfo with a bearer access token"

    def prepare(self, ctx):
        self.access_token = login_flow(ctx, requests.Session())["access_token"]

    def once(self, ctx, http):
        expect(http.get(f"{ctx.bridge_url}/userinfo", timeout=TIMEOUT,
                        headers={"Authorization": f"Bearer {self.access_token}"}), 200)
        return 1


@scenario
class Refresh(Scenario):
    name = "refresh"
    description = "refresh_token grant: rotation in one atomic store round trip"

    def new_session(self, ctx):
        # Each thread keeps its own token family: rotation invalidates the previous refresh token.
        http = requests.Session()
        http.tokens = login_flow(ctx, http)
        return http

    def once(self, ctx, http):
        http.tokens = expect(http.post(f"{ctx.bridge_url}/token", timeout=TIMEOUT,
                                       auth=(CLIENT["client_id"], CLIENT["client_secret"]),
                                       data={"grant_type": "refresh_token",
                                             "refresh_token": http.tokens["refresh_token"]}), 200).json()
        return 1


@scenario
class Introspection(Scenario):
    name = "introspection"
    description = "POST /introspect (RFC 7662) by the token's own service"

    def prepare(self, ctx):
        self.access_token = login_flow(ctx, requests.Session())["access_token"]

    def once(self, ctx, http):
        answer = expect(http.post(f"{ctx.bridge_url}/introspect", timeout=TIMEOUT,
                                  auth=(CLIENT["client_id"], CLIENT["client_secret"]),
                                  data={"token": self.access_token}), 200).json()
        if answer.get("active") is not True:
            raise ScenarioError("introspection: token not active")
        return 1


@scenario
class Hello(Scenario):
    name = "hello"
    description = "bare Flask 'hello' under the same gunicorn configuration (framework ceiling)"
    target = "hello"

    def once(self, ctx, http):
        expect(http.get(f"{ctx.hello_url}/", timeout=TIMEOUT), 200)
        return 1


# -- device authorization grant (RFC 8628): kiosks -----------------------------------------------------------------
KIOSK = ("poste-de-soins", "poste-de-soins-secret")   # policies/dpi.yaml
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@scenario
class DeviceAuthorization(Scenario):
    name = "device_authorization"
    description = "POST /device_authorization: a kiosk asks for a device code and a user code"

    def once(self, ctx, http):
        answer = expect(http.post(f"{ctx.bridge_url}/device_authorization", auth=KIOSK, timeout=TIMEOUT,
                                  data={"scope": "openid profile rpps"}), 200).json()
        if len(answer.get("user_code", "")) != 9:
            raise ScenarioError("no user code")
        return 1


@scenario
class DevicePoll(Scenario):
    name = "device_poll"
    description = "POST /token device_code grant, still pending: a waiting kiosk's poll (authorization_pending or, " \
                  "this fast, slow_down)"

    def new_session(self, ctx):
        http = requests.Session()
        http.device_code = expect(http.post(f"{ctx.bridge_url}/device_authorization", auth=KIOSK, timeout=TIMEOUT,
                                            data={"scope": "openid"}), 200).json()["device_code"]
        return http

    def once(self, ctx, http):
        answer = expect(http.post(f"{ctx.bridge_url}/token", auth=KIOSK, timeout=TIMEOUT,
                                  data={"grant_type": DEVICE_GRANT, "device_code": http.device_code}), 400)
        if answer.json().get("error") not in ("authorization_pending", "slow_down"):
            raise ScenarioError(f"device poll: {answer.json().get('error')}")
        return 1
