"""`create_emulator(config)`: the Flask application of the emulated PSC realm."""
from __future__ import annotations

import os
from pathlib import Path

from flask import Flask

import bridge.sandbox.psc.admin as admin
import bridge.sandbox.psc.broker as broker
import bridge.sandbox.psc.ciba as ciba
import bridge.sandbox.psc.endpoints as endpoints
import bridge.sandbox.psc.logout as logout
import bridge.sandbox.psc.wallet as wallet

from .config import EmulatorConfig, url_path
from .core import EXTENSION, Emulator
from .signing import SigningKeys
from .state import EmulatorState

TEMPLATES = Path(__file__).resolve().parents[3] / "templates"


def refuse_production() -> None:
    if os.environ.get("BRIDGE_ENV", "").strip().lower() == "production":
        raise RuntimeError("The PSC emulator is a test tool and refuses to run with BRIDGE_ENV=production "
                           "(use the real Pro Santé Connect).")


def create_emulator(config: EmulatorConfig | None = None) -> Flask:
    refuse_production()
    config = config or EmulatorConfig()
    app = Flask("bridge.sandbox.psc", template_folder=str(TEMPLATES))
    app.json.sort_keys = False      # keep PSC's claim order, easier to compare with the real samples
    app.json.ensure_ascii = False
    app.extensions[EXTENSION] = Emulator(config=config, state=EmulatorState(sso_idle_ttl=config.sso_idle_ttl),
                                         keys=SigningKeys())
    app.extensions[ciba.EXTENSION] = ciba.CibaRequests()
    app.extensions[broker.EXTENSION] = broker.Delegations()
    app.extensions[wallet.DELEGATE] = broker.delegate

    issuer, oidc = url_path(config.issuer), url_path(config.oidc_base)
    routes = [
        (url_path(config.authorization_endpoint), wallet.authorize, ["GET", "POST"]),
        (f"{issuer}/.well-known/wallet-openid-configuration", endpoints.discovery, ["GET"]),
        (f"{issuer}/.well-known/openid-configuration", endpoints.discovery, ["GET"]),
        (f"{oidc}/certs", endpoints.jwks, ["GET"]),
        (f"{oidc}/token", endpoints.token, ["POST"]),
        (f"{oidc}/userinfo", endpoints.userinfo, ["GET", "POST"]),
        (f"{oidc}/token/introspect", endpoints.introspect, ["POST"]),
        (f"{oidc}/revoke", endpoints.revoke, ["POST"]),
        (f"{oidc}/logout", logout.end_session, ["GET", "POST"]),
        (f"{oidc}/ext/ciba/auth", ciba.backchannel_authentication, ["POST"]),
        (url_path(config.wallet_url) + "/ciba", ciba.page, ["GET", "POST"]),
        (f"{issuer}/broker/<alias>/endpoint", broker.endpoint, ["GET"]),   # « FI local » (broker.py)
    ]
    admin_base = url_path(config.base_url) + "/_emulator"
    routes += [
        (f"{admin_base}/faults", admin.faults, ["GET", "POST"]),
        (f"{admin_base}/rotate-keys", admin.rotate_keys, ["POST"]),
        (f"{admin_base}/clock", admin.clock, ["POST"]),
        (f"{admin_base}/sessions/end", admin.end_sessions, ["POST"]),
        (f"{admin_base}/ciba", ciba.control, ["GET", "POST"]),
    ]
    for path, view, methods in routes:
        # endpoint names must be unique; discovery is served on two paths
        app.add_url_rule(path, endpoint=f"{view.__module__}.{view.__name__}:{path}", view_func=view,
                         methods=methods)

    @app.errorhandler(404)
    def _not_found(_error):
        # Its own French page, as PSC's own pages are, instead of Werkzeug's English "Not Found".
        from bridge.sandbox.psc.wallet import error_page

        return error_page("Page introuvable", f"Cette adresse n'existe pas sur l'émulateur Pro Santé Connect. "
                                              f"Découverte OpenID : {config.issuer}/.well-known/openid-configuration",
                          404)

    @app.before_request
    def _purge():
        app.extensions[EXTENSION].state.purge_expired()

    return app
