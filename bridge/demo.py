"""`make demo`: PSC emulator (:8001), bridge (:8000) and demo apps (:8002) on embedded defaults."""
from __future__ import annotations

import os
import threading

from werkzeug.serving import make_server


def _serve(app, port: int) -> threading.Thread:
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread


def _report_in_background(app) -> str:
    """The attestation report of the demo policies, with its live self-checks, written to var/ (DESIGN §10)."""
    from pathlib import Path

    from bridge.attest import build_report, render_html

    bridge = app.extensions["bridge"]
    target = Path("var/attestation-report.html")

    def write() -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(render_html(build_report(bridge.policies, bridge.settings)), encoding="utf-8")

    threading.Thread(target=write, name="attest-report", daemon=True).start()
    return str(target.resolve())


def main() -> None:
    from app import create_app
    from bridge.config import load_settings
    from bridge.sandbox.apps import create_demo_apps
    from bridge.sandbox.psc import serve as serve_psc

    os.environ.setdefault("BRIDGE_ENV", "development")
    psc = serve_psc(port=8001)
    settings = load_settings()
    bridge_app = create_app(settings)
    threads = [_serve(bridge_app, 8000), _serve(create_demo_apps(settings.public_url), 8002)]
    report = _report_in_background(bridge_app)
    print(f"""
  PSC Bridge — démonstration
  ─────────────────────────
  Applications de démo : http://127.0.0.1:8002/          (portail, dpi, téléservice)
  Bridge (OIDC)        : {settings.public_url}/.well-known/openid-configuration
  PSC (émulateur)      : {psc.discovery_url}

  Console d'admin      : {settings.public_url}/admin/     (administrateur de démo : Camille MARTIN 899700000001)
  Rapport d'attestation: {report}  (généré en arrière-plan ; aussi depuis la console)

  Ouvrez http://127.0.0.1:8002/portail/ puis « Se connecter » ; choisissez un professionnel de test
  et « Carte CPS » ou « e-CPS ». Ctrl-C pour arrêter.
""", flush=True)
    try:
        for thread in threads:
            thread.join()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
