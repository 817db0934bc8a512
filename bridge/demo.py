"""`make demo`: PSC emulator (:8001), bridge (:8000) and demo apps (:8002) on embedded defaults, plus direct CPS
card login when pcscd is on the machine: a virtual CPS card in the vpcd reader and the card agent (:47811).

The bridge always trusts the test PKI (BRIDGE_TRUST_DIR / BRIDGE_CRL_DIR under var/testpki, unless already set):
the demo teleservice allows cps-pin, which needs a trust store. Without pcscd the card page only shows its help.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

from werkzeug.serving import make_server

DEMO_HOLDER = "899700000001"
DEMO_PIN = "1234"
PKI_SEED = "psc-bridge"            # same as `bridge sandbox card`, so both share var/testpki
VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
READER = "Virtual PCD 00 00"


def _serve(app, port: int) -> threading.Thread:
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread


def trust_env(pki) -> dict[str, str]:
    """BRIDGE_TRUST_DIR / BRIDGE_CRL_DIR of the test PKI (CRLs rewritten now, so they are fresh)."""
    return {"BRIDGE_TRUST_DIR": str(pki.trust_dir().resolve()), "BRIDGE_CRL_DIR": str(pki.crl_dir().resolve())}


@dataclass
class CardDemo:
    available: bool
    note: str                                   # French line for the banner
    pin: str | None = None
    serial: str = ""
    agent_url: str = ""
    stops: list[Callable[[], None]] = field(default_factory=list)

    def stop(self) -> None:
        for stop in reversed(self.stops):
            try:
                stop()
            except Exception:   # shutting down the demo: nothing left to do about it
                pass


def find_pcscd() -> str | None:
    return shutil.which("pcscd") or ("/usr/sbin/pcscd" if Path("/usr/sbin/pcscd").exists() else None)


def _pcscd_running() -> bool:
    path = os.environ.get("PCSCLITE_CSOCK_NAME", "/run/pcscd/pcscd.comm")
    with socket.socket(socket.AF_UNIX) as sock:
        try:
            sock.connect(path)
            return True
        except OSError:
            return False


def _wait_for_reader(timeout: float, with_card: bool = False) -> bool:
    """pcscd offers the vpcd reader (and, with `with_card`, has noticed the card in it)."""
    from bridge.card import pcsc
    from bridge.card.errors import CardError

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if READER in pcsc.list_readers():
                if with_card:
                    pcsc.connect(READER).close()      # NoCard until pcscd has polled the slot
                return True
        except CardError:
            pass
        time.sleep(0.2)
    return False


def start_card(public_url: str, agent_url: str, pki, *, vpcd_port: int = 35963, reader_timeout: float = 10.0
               ) -> CardDemo:
    """pcscd (started when not running), the virtual card of DEMO_HOLDER (PIN DEMO_PIN) and the card agent."""
    from bridge.card.agent import make_server as make_agent
    from bridge.sandbox.card import VirtualCard
    from bridge.upstream.cps import public_origin

    pcscd = find_pcscd()
    if pcscd is None or not VPCD_DRIVER.exists():
        missing = "pcscd" if pcscd is None else "le lecteur virtuel vpcd (vsmartcard-vpcd)"
        return CardDemo(False, f"Connexion directe par carte CPS indisponible : {missing} absent de cette machine "
                               "(make test-deps). La démo fonctionne avec Pro Santé Connect seulement.")
    demo = CardDemo(True, "")
    if not _pcscd_running():
        process = subprocess.Popen([pcscd, "--foreground"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        demo.stops.append(process.terminate)
    if not _wait_for_reader(reader_timeout):
        demo.stop()
        # e.g. vpcd's port still in TIME_WAIT for a minute after a pcscd that was killed first
        return CardDemo(False, f"Connexion directe par carte CPS indisponible : pcscd ne présente pas le lecteur "
                               f"« {READER} » (juste après un arrêt de pcscd, attendez une minute). La démo "
                               "fonctionne avec Pro Santé Connect seulement.")
    material = pki.card(DEMO_HOLDER)
    card = VirtualCard(material, pin=DEMO_PIN)
    try:
        card.insert(vpcd_port)
        demo.stops.append(card.remove)
        if not _wait_for_reader(reader_timeout, with_card=True):
            raise OSError(f"pcscd does not see the virtual card on vpcd port {vpcd_port}")
        port = urlsplit(agent_url).port
        agent = make_agent([public_origin(public_url)], port=47811 if port is None else port)
    except OSError as exc:
        demo.stop()
        return CardDemo(False, f"Connexion directe par carte CPS indisponible : {exc}. "
                               "La démo fonctionne avec Pro Santé Connect seulement.")
    threading.Thread(target=agent.serve_forever, daemon=True, name="card-agent").start()
    demo.stops.append(lambda: (agent.shutdown(), agent.server_close()))
    demo.agent_url = f"http://127.0.0.1:{agent.server_address[1]}"
    demo.pin, demo.serial = DEMO_PIN, material.serial
    demo.note = (f"Carte CPS virtuelle {material.serial} de {DEMO_HOLDER} dans « {READER} », code PIN {DEMO_PIN} ; "
                 f"agent carte sur {demo.agent_url}.")
    return demo


def _report_in_background(app) -> str:
    """The attestation report of the demo policies, with its live self-checks, written to var/."""
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
    from bridge.sandbox.testpki import TestPki

    os.environ.setdefault("BRIDGE_ENV", "development")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))    # run the `finally` below: stop pcscd, remove the card
    pki = TestPki(PKI_SEED, Path("var/testpki"))
    for name, value in trust_env(pki).items():
        os.environ.setdefault(name, value)
    psc = serve_psc(port=8001)
    settings = load_settings()
    card = start_card(settings.public_url, settings.agent_url, pki)
    bridge_app = create_app(settings)
    threads = [_serve(bridge_app, 8000), _serve(create_demo_apps(settings.public_url), 8002)]
    card_lines = (f"""  Carte CPS (directe)  : {card.note}
  Ouvrez http://127.0.0.1:8002/teleservice/ puis « Se connecter » et « Carte CPS et code PIN » ;
  saisissez le code {card.pin}.""" if card.available else f"  Carte CPS (directe)  : {card.note}")
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
  et « Carte CPS » ou « e-CPS ».
{card_lines}
  Ctrl-C pour arrêter.
""", flush=True)
    try:
        for thread in threads:
            thread.join()
    except KeyboardInterrupt:
        pass
    finally:
        card.stop()


if __name__ == "__main__":
    main()
