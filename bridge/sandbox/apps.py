"""Demo client apps ("services") for `make demo`: ordinary OIDC relying parties of the bridge (Authlib client).

Each service is mounted under its own path on one Flask app (default http://127.0.0.1:8002): /portail, /dpi
and /teleservice, each with the client id and secret of its policy file. Development only.

Each app knows its service's idle timeout (its own config, as a real app would; a test checks it matches the
policy): shortly before it, the page sends the user to a "vous allez être déconnecté" page whose button refreshes
the tokens (activity for the bridge). Back-channel logouts from the bridge (RP-initiated logout, idle expiry, an
admin killing the session) are verified and end the app's session at the next request. The DPI also registers a
front-channel logout URI: the bridge's "logged out" page loads it in a hidden iframe, which clears its session.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from authlib.integrations.flask_client import OAuth, OAuthError
from flask import Flask, abort, redirect, render_template, request, session, url_for


@dataclass(frozen=True)
class DemoService:
    slug: str
    title: str
    client_id: str
    client_secret: str
    scope: str = "openid profile rpps"
    idle_timeout: int = 30 * 60    # the service policy's idle_timeout, in seconds
    card_login: bool = False       # the policy also allows the card: the bridge shows its means chooser

    @property
    def warn_before(self) -> int:
        return min(120, self.idle_timeout // 2)


DEMO_SERVICES = (
    DemoService("portail", "Portail éditeur", "demo-portail", "demo-portail-secret", "openid profile email rpps",
                idle_timeout=30 * 60),
    # A third party's app: the bridge asks the professional's consent before its first code (docs/provider.md).
    DemoService("editeur", "Application tierce de l'éditeur", "demo-editeur", "demo-editeur-secret",
                "openid profile email rpps", idle_timeout=30 * 60),
    DemoService("dpi", "Dossier patient informatisé", "dpi-web", "dpi-secret", idle_timeout=15 * 60),
    DemoService("teleservice", "Téléservice historique", "teleservice-web", "teleservice-secret",
                idle_timeout=30 * 60, card_login=True),
)


def claim_words() -> dict:
    """Template helpers that turn claim codes into words in the page's language: ANS codes (bridge.nomenclature)
    and the bridge's means of identification (bridge.mie)."""
    from bridge import nomenclature
    from bridge.mie import CATALOGUE
    from bridge.web.i18n import current_lang

    lang = current_lang()

    def mie_label(mie_id: str) -> str:
        mie = CATALOGUE.get(mie_id)
        return (mie.label_en if lang == "en" else mie.label_fr) if mie else mie_id

    return {"label": lambda kind, code: nomenclature.label(kind, code, lang), "known": nomenclature.known,
            "mie_label": mie_label}


def create_demo_apps(bridge_url: str, base_url: str = "http://127.0.0.1:8002",
                     services: tuple[DemoService, ...] = DEMO_SERVICES, clock=None) -> Flask:
    if os.environ.get("BRIDGE_ENV") == "production":
        raise RuntimeError("the demo apps are for development only (BRIDGE_ENV=production)")
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    app = Flask("demo_apps", template_folder=str(root / "templates"),
                static_folder=str(root / "bridge/web/static"))
    app.secret_key = os.urandom(32)
    app.config.update(SESSION_COOKIE_NAME="demo_apps", SESSION_COOKIE_SAMESITE="Lax")
    from bridge.clock import Clock
    from bridge.web import i18n

    i18n.install(app)
    app.context_processor(claim_words)
    app.context_processor(lambda: {"means_url": f"{bridge_url}/me/means"})   # « Mes moyens de connexion »
    oauth = OAuth(app)
    for s in services:
        oauth.register(s.slug, client_id=s.client_id, client_secret=s.client_secret,
                       server_metadata_url=f"{bridge_url}/.well-known/openid-configuration",
                       client_kwargs={"scope": s.scope, "code_challenge_method": "S256",
                                      "token_endpoint_auth_method": "client_secret_basic"})
    demo = DemoApps(oauth, services, base_url, clock or Clock())
    _page_routes(app, demo)
    _session_routes(app, demo)
    _login_routes(app, demo)
    _kiosk_routes(app, Kiosk(bridge_url))
    return app


class DemoApps:
    """What the routes of the demo apps share: the services, their OIDC clients, the clock, and the sids ended by a
    back-channel logout (the session cookie itself is in the browser)."""

    def __init__(self, oauth: OAuth, services: tuple[DemoService, ...], base_url: str, clock) -> None:
        self.oauth, self.services, self.base_url, self.clock = oauth, services, base_url, clock
        self.by_slug = {s.slug: s for s in services}
        self.ended_sids: set[str] = set()

    def service_or_404(self, slug: str) -> DemoService:
        if slug not in self.by_slug:
            abort(404)
        return self.by_slug[slug]

    def current_user(self, s: DemoService) -> tuple[dict | None, str]:
        """The app's user, unless the bridge ended the session (back-channel) or the app's idle timeout passed."""
        user = session.get(s.slug)
        if not user:
            return None, ""
        if user["claims"].get("sid") in self.ended_sids:
            session.pop(s.slug)
            return None, "backchannel"
        if self.clock.now() - user.get("active", 0) >= s.idle_timeout:
            session.pop(s.slug)
            return None, "idle"
        return user, ""

    def idle_left(self, s: DemoService, user: dict) -> int:
        return max(0, int(user.get("active", 0) + s.idle_timeout - self.clock.now()))


def _page_routes(app: Flask, demo: DemoApps) -> None:
    """The list of services, each service's page, and its "vous allez être déconnecté" page."""
    services = demo.services

    @app.get("/")
    def index():
        return render_template("demo/index.html", services=services,
                               users={s.slug: demo.current_user(s)[0] for s in services})

    @app.get("/<slug>/")
    def home(slug):
        s = demo.service_or_404(slug)
        if "state" in request.args and "code" not in request.args:   # back from the bridge's logout
            try:
                demo.oauth.create_client(slug).validate_logout_response()
                session[f"{slug}:notice"] = "logout"
            except OAuthError:
                pass   # not our logout: just show the page, without the parameter
            return redirect(url_for("home", slug=slug))
        user, ended = demo.current_user(s)
        ended = ended or session.pop(f"{slug}:notice", "")
        return render_template("demo/service.html", service=s, user=user, services=services, ended=ended,
                               error=request.args.get("error"), idle_left=demo.idle_left(s, user) if user else 0)

    @app.get("/<slug>/idle-warning")
    def idle_warning(slug):
        s = demo.service_or_404(slug)
        user, _ = demo.current_user(s)
        if not user:
            return redirect(url_for("home", slug=slug))
        return render_template("demo/idle_warning.html", service=s, user=user, idle_left=demo.idle_left(s, user))


def _session_routes(app: Flask, demo: DemoApps) -> None:
    """"Rester connecté" (a token refresh) and the bridge's back-channel logouts."""

    @app.post("/<slug>/keepalive")
    def keepalive(slug):
        """"Rester connecté": refreshing the tokens is activity for the bridge, which restarts its idle timer."""
        s = demo.service_or_404(slug)
        user, _ = demo.current_user(s)
        if not user:
            return redirect(url_for("home", slug=slug))
        try:
            token = demo.oauth.create_client(slug).fetch_access_token(grant_type="refresh_token",
                                                                      refresh_token=user.get("refresh_token", ""))
        except OAuthError:
            session.pop(slug, None)
            return redirect(url_for("home", slug=slug, error="session_expired"))
        user.update(active=demo.clock.now(), refresh_token=token.get("refresh_token", user.get("refresh_token")))
        session[slug] = user
        return redirect(url_for("home", slug=slug))

    @app.post("/<slug>/backchannel-logout")
    def backchannel_logout(slug):
        """OIDC Back-Channel Logout 1.0: verify the logout token, remember its sid."""
        s = demo.service_or_404(slug)
        client = demo.oauth.create_client(slug)
        claims, error = _logout_token_claims(client, request.form.get("logout_token", ""), s.client_id)
        if error:
            return error
        demo.ended_sids.add(claims["sid"])
        return "", 200

    @app.get("/<slug>/frontchannel-logout")
    def frontchannel_logout(slug):
        """OIDC Front-Channel Logout 1.0, loaded in a hidden iframe of the bridge's "logged out" page: ends this
        app's session in this browser when `iss` is the bridge and `sid` the session's (§3); an empty page."""
        s = demo.service_or_404(slug)
        user = session.get(s.slug)
        issuer = demo.oauth.create_client(slug).load_server_metadata().get("issuer")
        if user and request.args.get("iss") == issuer and request.args.get("sid") == user["claims"].get("sid"):
            session.pop(s.slug)
            session[f"{slug}:notice"] = "frontchannel"
        return "", 200, {"Cache-Control": "no-store"}


def _logout_token_claims(client, token: str, client_id: str) -> tuple[dict | None, tuple | None]:
    """(claims, None) for a valid logout token from the bridge, else (None, the error answer)."""
    import requests
    from joserfc import jws, jwt
    from joserfc.errors import JoseError
    from joserfc.jwk import KeySet

    try:
        jws.extract_compact(token.encode())   # malformed: refused before asking the bridge for its keys
    except (JoseError, ValueError):
        return None, ({"error": "invalid_request"}, 400)
    try:
        metadata = client.load_server_metadata()
        keys = KeySet.import_key_set(client.fetch_jwk_set())
        claims = jwt.decode(token, keys, algorithms=["RS256", "ES256"]).claims
        jwt.JWTClaimsRegistry(iss={"essential": True, "value": metadata["issuer"]},
                              aud={"essential": True, "value": client_id}, sid={"essential": True},
                              iat={"essential": True}).validate(claims)
    except requests.RequestException:
        return None, ({"error": "temporarily_unavailable"}, 503)
    except (JoseError, ValueError, KeyError, TypeError):
        return None, ({"error": "invalid_request"}, 400)
    if "http://schemas.openid.net/event/backchannel-logout" not in (claims.get("events") or {}) \
            or "nonce" in claims:
        return None, ({"error": "invalid_request"}, 400)
    return claims, None


def _login_routes(app: Flask, demo: DemoApps) -> None:
    """Login through the bridge (authorization code + PKCE), its callback, and RP-initiated logout."""

    @app.get("/<slug>/login")
    def login(slug):
        s = demo.service_or_404(slug)
        return demo.oauth.create_client(slug).authorize_redirect(f"{demo.base_url}/{s.slug}/callback")

    @app.get("/<slug>/switch")
    def switch(slug):
        """« Changer d'utilisateur »: the authorization request the login would send, to the bridge's /switch
        instead of /authorize (docs/shared-workstations.md); the code comes back to the same callback."""
        s = demo.service_or_404(slug)
        client = demo.oauth.create_client(slug)
        redirect_uri = f"{demo.base_url}/{s.slug}/callback"
        request_data = client.create_authorization_url(redirect_uri)
        client.save_authorize_data(redirect_uri=redirect_uri, **request_data)
        parts = urlsplit(request_data["url"])
        return redirect(urlunsplit(parts._replace(path=parts.path.rsplit("/", 1)[0] + "/switch")))

    @app.get("/<slug>/callback")
    def callback(slug):
        demo.service_or_404(slug)
        client = demo.oauth.create_client(slug)
        try:
            token = client.authorize_access_token()
        except OAuthError as exc:
            return redirect(url_for("home", slug=slug, error=exc.error or "login_failed"))
        userinfo = client.userinfo(token=token)
        session[slug] = {"id_token": token["id_token"], "claims": dict(token["userinfo"]), "userinfo": dict(userinfo),
                         "refresh_token": token.get("refresh_token", ""), "active": demo.clock.now()}
        return redirect(url_for("home", slug=slug))

    @app.post("/<slug>/logout")
    def logout(slug):
        demo.service_or_404(slug)
        user = session.pop(slug, None)
        if not user:
            return redirect(url_for("home", slug=slug))
        return demo.oauth.create_client(slug).logout_redirect(post_logout_redirect_uri=f"{demo.base_url}/{slug}/",
                                                              id_token_hint=user["id_token"])


class Kiosk:
    """« Poste de soins »: a shared kiosk without a keyboard on the device authorization grant (RFC 8628,
    docs/provider.md). Its pending requests and logged-in user live here, per browser (a random id in the cookie):
    the device code never leaves the kiosk's server side."""
    CLIENT = ("poste-de-soins", "poste-de-soins-secret")   # policies/dpi.yaml
    GRANT = "urn:ietf:params:oauth:grant-type:device_code"

    def __init__(self, bridge_url: str):
        self.bridge_url = bridge_url
        self.states: dict[str, dict] = {}

    def state(self) -> dict:
        key = session.get("kiosk") or os.urandom(16).hex()
        session["kiosk"] = key
        return self.states.setdefault(key, {})

    def start(self) -> dict:
        import requests

        answer = requests.post(f"{self.bridge_url}/device_authorization", auth=self.CLIENT,
                               data={"scope": "openid profile rpps"}, timeout=10)
        answer.raise_for_status()
        return answer.json()

    def poll(self, pending: dict) -> tuple[str, dict]:
        """One poll of /token: (error code or "ok", the token answer)."""
        import requests

        answer = requests.post(f"{self.bridge_url}/token", auth=self.CLIENT, timeout=10,
                               data={"grant_type": self.GRANT, "device_code": pending["device_code"]})
        body = answer.json()
        return ("ok" if answer.status_code == 200 else body.get("error", "server_error")), body

    def userinfo(self, access_token: str) -> dict:
        import requests

        return requests.get(f"{self.bridge_url}/userinfo", headers={"Authorization": f"Bearer {access_token}"},
                            timeout=10).json()


def _kiosk_routes(app: Flask, kiosk: Kiosk) -> None:
    @app.get("/poste-de-soins/")
    def kiosk_page():
        """Polls the bridge once per display: the page reloads itself every `interval` seconds while it waits."""
        state = kiosk.state()
        pending, outcome = state.get("pending"), state.pop("outcome", "")
        if pending and not state.get("user"):
            result, body = kiosk.poll(pending)
            if result == "ok":
                state["user"] = kiosk.userinfo(body["access_token"])
                state.pop("pending")
            elif result == "slow_down":
                pending["interval"] += 5
            elif result != "authorization_pending":
                state.pop("pending")
                outcome = result
        headers = {"Cache-Control": "no-store"}
        if state.get("pending"):
            headers["Refresh"] = str(state["pending"]["interval"])   # the next poll
        return render_template("demo/kiosk.html", user=state.get("user"), pending=state.get("pending"),
                               outcome=outcome), 200, headers

    @app.post("/poste-de-soins/start")
    def kiosk_start():
        state = kiosk.state()
        state.pop("user", None)
        state["pending"] = kiosk.start()
        return redirect(url_for("kiosk_page"))

    @app.post("/poste-de-soins/logout")
    def kiosk_logout():
        kiosk.state().clear()
        return redirect(url_for("kiosk_page"))
