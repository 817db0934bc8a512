"""Demo client apps ("services") for `make demo`: ordinary OIDC relying parties of the bridge (Authlib client).

Each service is mounted under its own path on one Flask app (default http://127.0.0.1:8002): /portail, /dpi
and /teleservice, each with the client id and secret of its policy file. Development only.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from authlib.integrations.flask_client import OAuth, OAuthError
from flask import Flask, abort, redirect, render_template, request, session, url_for


@dataclass(frozen=True)
class DemoService:
    slug: str
    title: str
    client_id: str
    client_secret: str
    scope: str = "openid profile rpps"


DEMO_SERVICES = (
    DemoService("portail", "Portail éditeur", "demo-portail", "demo-portail-secret", "openid profile email rpps"),
    DemoService("dpi", "Dossier patient informatisé", "dpi-web", "dpi-secret"),
    DemoService("teleservice", "Téléservice historique", "teleservice-web", "teleservice-secret"),
)


def create_demo_apps(bridge_url: str, base_url: str = "http://127.0.0.1:8002",
                     services: tuple[DemoService, ...] = DEMO_SERVICES) -> Flask:
    if os.environ.get("BRIDGE_ENV") == "production":
        raise RuntimeError("the demo apps are for development only (BRIDGE_ENV=production)")
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    app = Flask("demo_apps", template_folder=str(root / "templates"),
                static_folder=str(root / "bridge/web/static"))
    app.secret_key = os.urandom(32)
    app.config.update(SESSION_COOKIE_NAME="demo_apps", SESSION_COOKIE_SAMESITE="Lax")
    oauth = OAuth(app)
    by_slug = {s.slug: s for s in services}
    for s in services:
        oauth.register(s.slug, client_id=s.client_id, client_secret=s.client_secret,
                       server_metadata_url=f"{bridge_url}/.well-known/openid-configuration",
                       client_kwargs={"scope": s.scope, "code_challenge_method": "S256",
                                      "token_endpoint_auth_method": "client_secret_basic"})

    def service_or_404(slug: str) -> DemoService:
        if slug not in by_slug:
            abort(404)
        return by_slug[slug]

    @app.get("/")
    def index():
        return render_template("demo/index.html", services=services, users={s.slug: session.get(s.slug) for s in services})

    @app.get("/<slug>/")
    def home(slug):
        s = service_or_404(slug)
        return render_template("demo/service.html", service=s, user=session.get(slug), services=services,
                               error=request.args.get("error"))

    @app.get("/<slug>/login")
    def login(slug):
        s = service_or_404(slug)
        return oauth.create_client(slug).authorize_redirect(f"{base_url}/{s.slug}/callback")

    @app.get("/<slug>/callback")
    def callback(slug):
        service_or_404(slug)
        client = oauth.create_client(slug)
        try:
            token = client.authorize_access_token()
        except OAuthError as exc:
            return redirect(url_for("home", slug=slug, error=exc.error or "login_failed"))
        userinfo = client.userinfo(token=token)
        session[slug] = {"id_token": token["id_token"], "claims": dict(token["userinfo"]), "userinfo": dict(userinfo)}
        return redirect(url_for("home", slug=slug))

    @app.post("/<slug>/logout")
    def logout(slug):
        service_or_404(slug)
        user = session.pop(slug, None)
        if not user:
            return redirect(url_for("home", slug=slug))
        return oauth.create_client(slug).logout_redirect(post_logout_redirect_uri=f"{base_url}/{slug}/",
                                                         id_token_hint=user["id_token"])

    return app
