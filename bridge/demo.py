"""`make demo`: PSC emulator (:8001), bridge (:8000) and demo apps (:8002) on embedded defaults, plus direct CPS
card login when pcscd is on the machine: a virtual CPS card in the vpcd reader and the card agent (:47811).

The bridge always trusts the test PKI (BRIDGE_TRUST_DIR / BRIDGE_CRL_DIR under var/testpki, unless already set):
the demo teleservice allows cps-pin, which needs a trust store. Without pcscd the card page only shows its help.
The virtual card is issued in the name the PSC emulator gives the same national id: one identity, one name.

Settings of the demo (environment; a value you set wins):

======================= ========================== ==========================================================
variable                default                    meaning
======================= ========================== ==========================================================
BRIDGE_PUBLIC_URL       http://localhost:8000      the bridge listens on its port (http, localhost/127.0.0.1)
BRIDGE_DEMO_PSC_PORT    8001                       the PSC emulator
BRIDGE_DEMO_APPS_PORT   8002                       the demo apps
BRIDGE_AGENT_URL        http://127.0.0.1:47811     the card agent (only when pcscd and vpcd are installed)
BRIDGE_AUDIT_PATH       var/audit.jsonl            the audit trail (console « Journal d'audit », report statistics)
======================= ========================== ==========================================================

Other ports than the shipped ones: the demo runs on a copy of policies/ (var/demo-policies) whose demo redirect
URIs follow them, unless BRIDGE_POLICIES_DIR is set. Everything that can be wrong (a setting, a policy file, a busy
port) is found before anything listens, and stops the demo with one line and exit 2, as `bridge serve` does.
"""
from __future__ import annotations

import dataclasses
import errno
import http.client
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from werkzeug.serving import make_server

from bridge.config import ConfigError, error_line

DEMO_HOLDER = "899700000001"
DEMO_PIN = "1234"
PKI_SEED = "psc-bridge"            # same as `bridge sandbox card`, so both share var/testpki
VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
# A two-slot ("bifente") reader as on a doctor's desk: the patient's carte Vitale in slot 0, the CPS in slot 1.
VITALE_READER, READER = "Virtual PCD 00 00", "Virtual PCD 00 01"
AUDIT_PATH = "var/audit.jsonl"
DEFAULT_PSC_PORT, DEFAULT_APPS_PORT, DEFAULT_AGENT_PORT = 8001, 8002, 47811
# The demo origins written in the shipped policies/ (redirect URIs of the demo apps and of the admin console).
SHIPPED_BRIDGE_ORIGIN, SHIPPED_APPS_ORIGIN = "http://127.0.0.1:8000", "http://127.0.0.1:8002"
LOCAL_POLICIES = Path("var/demo-policies")
DEMO_PUBLIC_URL = "http://localhost:8000"   # passkeys need a host name (the policies above then get a local copy)
# Added to every answer of the bridge and the apps: a second `make demo` recognises a running one by it.
DEMO_HEADER = "X-PSC-Bridge-Demo"


class PortBusy(Exception):
    """One French line: the port, the setting that moves it, and whether a demo already runs there."""


# --- who holds the virtual card ---------------------------------------------------------------------------------

def holder_name(national_id: str = DEMO_HOLDER) -> tuple[str, str]:
    """(given name, family name) the PSC emulator gives this national id."""
    from bridge.sandbox.professionals import TEST_PROFESSIONALS

    professional = TEST_PROFESSIONALS[national_id]
    return professional["given_name"], professional["family_name"]


def demo_card(pki):
    """The card material of DEMO_HOLDER, in the emulator's name for that id (not the test PKI's default)."""
    given, family = holder_name(DEMO_HOLDER)
    return pki.card(DEMO_HOLDER, given_name=given, family_name=family)


# --- ports ----------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Ports:
    bridge: int
    psc: int
    apps: int
    agent: int | None = None     # None: no card demo on this machine, so its port does not matter

    @property
    def apps_url(self) -> str:
        return f"http://127.0.0.1:{self.apps}/"

    def listeners(self) -> list[tuple[int, str, str]]:
        """(port, the setting that moves it, that setting with another port) in the order they are checked."""
        rows = [(self.bridge, "BRIDGE_PUBLIC_URL", f"BRIDGE_PUBLIC_URL=http://127.0.0.1:{_another(self.bridge)}"),
                (self.psc, "BRIDGE_DEMO_PSC_PORT", f"BRIDGE_DEMO_PSC_PORT={_another(self.psc)}"),
                (self.apps, "BRIDGE_DEMO_APPS_PORT", f"BRIDGE_DEMO_APPS_PORT={_another(self.apps)}")]
        if self.agent is not None:
            rows.append((self.agent, "BRIDGE_AGENT_URL", f"BRIDGE_AGENT_URL=http://127.0.0.1:{_another(self.agent)}"))
        return rows


def _another(port: int) -> int:
    return port + 1000 if port <= 64535 else port - 1000


def _port_setting(environ, name: str, default: int) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ConfigError(f"{name}: {raw!r} is not a port number (1..65535)")
    return int(raw)


def _bridge_port(public_url: str) -> int:
    """The demo serves the bridge itself, in plain http on the loopback: BRIDGE_PUBLIC_URL must say so."""
    parts = urlsplit(public_url)
    if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "localhost") or parts.path not in ("", "/"):
        raise ConfigError(f"BRIDGE_PUBLIC_URL: {public_url!r}: make demo serves the bridge on "
                          "http://127.0.0.1:<port> (or localhost), without a path")
    return parts.port or 80


def demo_ports(settings, environ, *, with_card: bool) -> Ports:
    agent = urlsplit(settings.agent_url).port or DEFAULT_AGENT_PORT
    ports = Ports(bridge=_bridge_port(settings.public_url),
                  psc=_port_setting(environ, "BRIDGE_DEMO_PSC_PORT", DEFAULT_PSC_PORT),
                  apps=_port_setting(environ, "BRIDGE_DEMO_APPS_PORT", DEFAULT_APPS_PORT),
                  agent=agent if with_card else None)
    seen: dict[int, str] = {}
    for port, setting, _ in ports.listeners():
        if port in seen:
            raise ConfigError(f"{setting}: port {port} is already the port of {seen[port]}")
        seen[port] = setting
    return ports


def _bind_error(port: int) -> OSError | None:
    """Why 127.0.0.1:port cannot be listened on, or None. SO_REUSEADDR as the servers: TIME_WAIT is free."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            return exc
    return None


def running_demo(ports: Ports) -> str | None:
    """The apps URL a running PSC Bridge demo announces on one of these ports (DEMO_HEADER), if any."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))   # never ask a proxy about 127.0.0.1
    for port in (ports.apps, ports.bridge):
        try:
            answer = opener.open(f"http://127.0.0.1:{port}/", timeout=2)
        except urllib.error.HTTPError as error:   # an error page is an answer too
            answer = error
        except (OSError, http.client.HTTPException, ValueError):   # nothing, or not HTTP
            continue
        with answer:
            announced = answer.headers.get(DEMO_HEADER)
        if announced:
            return announced
    return None


def busy_port_message(ports: Ports) -> str | None:
    """One French line for the first port the demo cannot listen on, or None when they are all free."""
    for port, setting, example in ports.listeners():
        error = _bind_error(port)
        if error is None:
            continue
        if error.errno == errno.EACCES:
            return (f"make demo : pas le droit d'écouter sur le port {port} (ports sous 1024 réservés à root) ; "
                    f"changez-le avec {setting}, par exemple : {example} make demo")
        running = running_demo(ports)
        if running:   # it holds the other ports too: move them all
            moves = " ".join(other for busy, _, other in ports.listeners() if _bind_error(busy) is not None)
            return (f"make demo : le port {port} ({setting}) est déjà utilisé, une démo tourne déjà : {running} "
                    f"— arrêtez-la (Ctrl-C dans son terminal) ou lancez celle-ci ailleurs : {moves} make demo")
        return (f"make demo : le port {port} ({setting}) est déjà utilisé par un autre programme ; arrêtez-le ou "
                f"changez de port : {example} make demo")
    return None


def _announce(app, apps_url: str):
    """`app` (WSGI) with DEMO_HEADER on every answer."""
    def announced(environ, start_response):
        def start(status, headers, exc_info=None):
            headers.append((DEMO_HEADER, apps_url))
            return start_response(status, headers, exc_info)
        return app(environ, start)
    return announced


def _serve(app, port: int) -> threading.Thread:
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread


# --- policies that follow the ports ------------------------------------------------------------------------------

def localize_policies(source: Path, target: Path, bridge_origin: str, apps_origin: str) -> Path:
    """A copy of `source` whose demo redirect URIs use these origins (the shipped ones name :8000 and :8002)."""
    from bridge.policy.loader import policy_files

    target.mkdir(parents=True, exist_ok=True)
    for stale in policy_files(target):
        stale.unlink()
    for path in policy_files(source):
        text = path.read_text(encoding="utf-8")
        text = text.replace(SHIPPED_BRIDGE_ORIGIN + "/", bridge_origin + "/")
        text = text.replace(SHIPPED_APPS_ORIGIN + "/", apps_origin + "/")
        (target / path.name).write_text(text, encoding="utf-8")
    return target


def _follow_ports(settings, ports: Ports, environ):
    """Settings whose policies accept the demo's ports: the shipped policies name the default ones."""
    from bridge.config import load_settings
    from bridge.upstream.cps import public_origin

    bridge_origin, apps_origin = public_origin(settings.public_url), ports.apps_url.rstrip("/")
    if environ.get("BRIDGE_POLICIES_DIR") or (bridge_origin, apps_origin) == (SHIPPED_BRIDGE_ORIGIN,
                                                                              SHIPPED_APPS_ORIGIN):
        return settings
    environ["BRIDGE_POLICIES_DIR"] = str(localize_policies(settings.policies_dir, LOCAL_POLICIES, bridge_origin,
                                                           apps_origin))
    return load_settings(environ)


# --- the card -------------------------------------------------------------------------------------------------------

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
    cps: object | None = None                   # the virtual CPS (VirtualCard) and its vpcd port, for toggle()
    cps_port: int = 0

    def toggle(self) -> str:
        """Pull the virtual CPS out of its slot, or put it back: the French line saying which."""
        if self.cps is None:
            return "Pas de carte CPS virtuelle dans cette démo."
        if self.cps.inserted:
            self.cps.remove()
            return (f"Carte CPS retirée de « {READER} » : les sessions ouvertes avec elle se ferment "
                    "(Entrée pour la réinsérer).")
        self.cps.insert(self.cps_port)
        return f"Carte CPS réinsérée dans « {READER} » (Entrée pour la retirer)."

    def stop(self) -> None:
        for stop in reversed(self.stops):
            try:
                stop()
            except Exception:  # noqa: BLE001, S110 - shutting down the demo: nothing left to do about it
                pass


def find_pcscd() -> str | None:
    return shutil.which("pcscd") or ("/usr/sbin/pcscd" if Path("/usr/sbin/pcscd").exists() else None)


def _card_missing() -> str | None:
    """What this machine lacks for the virtual card, in French, or None."""
    if find_pcscd() is None:
        return "pcscd"
    return None if VPCD_DRIVER.exists() else "le lecteur virtuel vpcd (vsmartcard-vpcd)"


def _pcscd_running() -> bool:
    path = os.environ.get("PCSCLITE_CSOCK_NAME", "/run/pcscd/pcscd.comm")
    with socket.socket(socket.AF_UNIX) as sock:
        try:
            sock.connect(path)
            return True
        except OSError:
            return False


def _wait_for_reader(timeout: float, with_card: bool = False) -> bool:
    """pcscd offers the vpcd reader's two slots (and, with `with_card`, has noticed the cards in them)."""
    from bridge.card import pcsc
    from bridge.card.errors import CardError

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if {VITALE_READER, READER} <= set(pcsc.list_readers()):
                if with_card:
                    for reader in (VITALE_READER, READER):
                        pcsc.Connection(reader).close()      # NoCard until pcscd has polled the slot
                return True
        except CardError:
            pass
        time.sleep(0.2)
    return False


def start_card(public_url: str, agent_url: str, pki, *, vpcd_port: int = 35963, reader_timeout: float = 10.0
               ) -> CardDemo:
    """pcscd (started when not running), a carte Vitale-like card in slot 0 of the virtual reader (port
    `vpcd_port`), the virtual CPS of DEMO_HOLDER (PIN DEMO_PIN) in slot 1 (port + 1) and the card agent."""
    from bridge.card.agent import make_server as make_agent
    from bridge.sandbox.card import VirtualCard
    from bridge.sandbox.vitale import VirtualVitale
    from bridge.upstream.cps import public_origin

    missing = _card_missing()
    if missing:
        return CardDemo(False, f"Connexion directe par carte CPS indisponible : {missing} absent de cette machine "
                               "(make test-deps). La démo fonctionne avec Pro Santé Connect seulement.")
    demo = CardDemo(True, "")
    if not _pcscd_running():
        process = subprocess.Popen([find_pcscd(), "--foreground"], stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        demo.stops.append(process.terminate)
    if not _wait_for_reader(reader_timeout):
        demo.stop()
        # e.g. vpcd's port still in TIME_WAIT for a minute after a pcscd that was killed first
        return CardDemo(False, f"Connexion directe par carte CPS indisponible : pcscd ne présente pas le lecteur "
                               f"« {READER} » (juste après un arrêt de pcscd, attendez une minute). La démo "
                               "fonctionne avec Pro Santé Connect seulement.")
    material = demo_card(pki)
    card, vitale = VirtualCard(material, pin=DEMO_PIN), VirtualVitale()
    try:
        vitale.insert(vpcd_port)
        demo.stops.append(vitale.remove)
        card.insert(vpcd_port + 1)
        demo.stops.append(card.remove)
        if not _wait_for_reader(reader_timeout, with_card=True):
            raise OSError(f"pcscd does not see the virtual cards on vpcd ports {vpcd_port} and {vpcd_port + 1}")
        port = urlsplit(agent_url).port
        agent = make_agent([public_origin(public_url)], port=DEFAULT_AGENT_PORT if port is None else port)
    except OSError as exc:
        demo.stop()
        return CardDemo(False, f"Connexion directe par carte CPS indisponible : {exc}. "
                               "La démo fonctionne avec Pro Santé Connect seulement.")
    threading.Thread(target=agent.serve_forever, daemon=True, name="card-agent").start()
    demo.stops.append(lambda: (agent.shutdown(), agent.server_close()))
    demo.agent_url = f"http://127.0.0.1:{agent.server_address[1]}"
    demo.pin, demo.serial = DEMO_PIN, material.serial
    demo.cps, demo.cps_port = card, vpcd_port + 1
    given, family = holder_name(DEMO_HOLDER)
    demo.note = (f"lecteur bifente virtuel : carte Vitale dans « {VITALE_READER} », carte CPS virtuelle "
                 f"{material.serial} de {given} {family} ({DEMO_HOLDER}) dans « {READER} », "
                 f"code PIN {DEMO_PIN} ; agent carte sur {demo.agent_url}.")
    return demo


# --- start-up ------------------------------------------------------------------------------------------------------

def _report_in_background(app) -> str:
    """The attestation report of the demo policies, with its live self-checks, written to var/: `bridge attest` in
    its own process (its lab never runs inside the demo bridge, whose logs stay as they are), which also stores the
    run in BRIDGE_ATTEST_DIR (var/attest) for the console's report page. Its output goes to var/attest.log."""
    target = Path("var/attestation-report.html")
    output = Path("var/attest.log")

    def write() -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        with output.open("w", encoding="utf-8") as log_file:   # the demo's environment: its settings, its policies
            subprocess.run([sys.executable, "-m", "bridge.cli", "attest", "--out", str(target)],
                           stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT, check=False)

    threading.Thread(target=write, name="attest-report", daemon=True).start()
    return str(target.resolve())


def _demo_defaults(environ, psc_url: str) -> None:
    """Development, an audit trail, and the emulator as PSC, unless the user said otherwise."""
    if environ.get("BRIDGE_ENV") == "production":
        raise ConfigError("BRIDGE_ENV: make demo runs in development only (the PSC emulator and the demo apps "
                          "refuse production); use `bridge serve` for production")
    environ.setdefault("BRIDGE_ENV", "development")
    environ.setdefault("BRIDGE_AUDIT_PATH", AUDIT_PATH)
    # A host name, not 127.0.0.1: browsers refuse passkeys (WebAuthn) on an IP address (docs/passkeys.md).
    environ.setdefault("BRIDGE_PUBLIC_URL", DEMO_PUBLIC_URL)
    if not environ.get("BRIDGE_PSC_DISCOVERY_URL") and not environ.get("BRIDGE_PSC_ISSUER"):
        from bridge.sandbox.psc import EmulatorConfig

        environ["BRIDGE_PSC_DISCOVERY_URL"] = EmulatorConfig(base_url=psc_url).discovery_url


def _emulator_config(psc_url: str, public_url: str):
    """The emulator at `psc_url`, with the bridge's PSC client registered for `public_url`, and the bridge as
    establishment IdP `bridge-fi` (used only when a policy sends psc_idp_hint: docs/provider.md, FI local)."""
    from bridge.sandbox.psc import DEMO_CLIENT, EmulatorConfig, EstablishmentIdp

    client = dataclasses.replace(DEMO_CLIENT, redirect_uris=(f"{public_url}/psc/callback",),
                                 post_logout_redirect_uris=(f"{public_url}/logout/done",))
    return EmulatorConfig(base_url=psc_url, clients=(client,),
                          establishment_idps=(EstablishmentIdp("bridge-fi", public_url, "psc-fi", "psc-fi-secret"),))


def _create_bridge(settings):
    """The bridge application; a required audit it cannot write is a configuration error, as for `bridge serve`."""
    from app import create_app
    from bridge.audit.chain import AuditUnavailable

    try:
        return create_app(settings)
    except AuditUnavailable as exc:
        name = "BRIDGE_AUDIT_PATH" if settings.audit_path is not None else "BRIDGE_AUDIT_STREAM"
        raise ConfigError(f"{name}: {exc}") from None


@dataclass
class Prepared:
    """Everything checked, nothing listening yet."""
    settings: object
    ports: Ports
    pki: object
    app: object


def prepare(environ=None) -> Prepared:
    """Settings, ports and the bridge application, before anything listens. ConfigError or PolicyError (one
    line, as `bridge serve`), PortBusy (one French line)."""
    from bridge.config import load_settings
    from bridge.sandbox.testpki import TestPki

    environ = os.environ if environ is None else environ
    psc_port = _port_setting(environ, "BRIDGE_DEMO_PSC_PORT", DEFAULT_PSC_PORT)
    _demo_defaults(environ, f"http://127.0.0.1:{psc_port}")
    pki = TestPki(PKI_SEED, Path("var/testpki"))
    for name, value in trust_env(pki).items():
        environ.setdefault(name, value)
    settings = load_settings(environ)
    ports = demo_ports(settings, environ, with_card=_card_missing() is None)
    settings = _follow_ports(settings, ports, environ)
    message = busy_port_message(ports)
    if message:
        raise PortBusy(message)
    return Prepared(settings, ports, pki, _create_bridge(settings))


def _banner(demo: Prepared, psc, card: CardDemo, report: str) -> str:
    settings, apps = demo.settings, demo.ports.apps_url
    card_lines = (f"""  Carte CPS (directe)  : {card.note}
  Ouvrez {apps}teleservice/ puis « Se connecter » et « Carte CPS et code PIN » ;
  saisissez le code {card.pin}. Entrée dans ce terminal : retirer (puis réinsérer) la carte CPS.""" if card.available
                  else f"  Carte CPS (directe)  : {card.note}")
    audit = (f"{settings.audit_path.resolve()}  (console : {settings.public_url}/admin/audit)"
             if settings.audit_path else "non écrit (BRIDGE_AUDIT_PATH vide)")
    given, family = holder_name(DEMO_HOLDER)
    return f"""
  PSC Bridge — démonstration
  ─────────────────────────
  Applications de démo : {apps}          (portail, editeur, dpi, téléservice)
  Bridge (OIDC)        : {settings.public_url}/.well-known/openid-configuration
  PSC (émulateur)      : {psc.discovery_url}

  Console d'admin      : {settings.public_url}/admin/     (administrateur de démo : {given} {family} {DEMO_HOLDER})
  Journal d'audit      : {audit}
  Rapport d'attestation: {report}  (généré en arrière-plan ; aussi depuis la console)

  Ouvrez {apps}portail/ puis « Se connecter » ; choisissez un professionnel de test
  et « Carte CPS » ou « e-CPS ». {apps}editeur/ : une application tierce, qui demande votre consentement
  (« Mes autorisations » : {settings.public_url}/me/authorizations).
  Clés d'accès (FIDO2) : après une connexion PSC, « Mes moyens de connexion » ({settings.public_url}/me/means)
  enregistre une clé ; puis {apps}teleservice/ « Se connecter » et « Clé de sécurité ou clé d'accès ».
  (Les navigateurs refusent les clés d'accès sur une adresse IP : la démo sert la passerelle sur localhost.)
{card_lines}
  Ports : BRIDGE_PUBLIC_URL, BRIDGE_DEMO_PSC_PORT, BRIDGE_DEMO_APPS_PORT, BRIDGE_AGENT_URL.  Ctrl-C pour arrêter.
"""


def run(demo: Prepared) -> None:
    from bridge.sandbox.apps import create_demo_apps
    from bridge.sandbox.psc import serve as serve_psc

    settings, ports = demo.settings, demo.ports
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))    # run the `finally` below: stop pcscd, remove the card
    psc_url = f"http://127.0.0.1:{ports.psc}"
    psc = serve_psc(_emulator_config(psc_url, settings.public_url), port=ports.psc)
    card = start_card(settings.public_url, settings.agent_url, demo.pki)
    apps = create_demo_apps(settings.public_url, base_url=ports.apps_url.rstrip("/"))
    threads = [_serve(_announce(demo.app, ports.apps_url), ports.bridge),
               _serve(_announce(apps, ports.apps_url), ports.apps)]
    print(_banner(demo, psc, card, _report_in_background(demo.app)), flush=True)
    if card.available and sys.stdin.isatty():
        threading.Thread(target=card_keys, args=(card,), daemon=True, name="card-keys").start()
    try:
        for thread in threads:
            thread.join()
    except KeyboardInterrupt:
        pass
    finally:
        card.stop()


def card_keys(card: CardDemo, lines=None) -> None:
    """Each Enter typed in the demo's terminal pulls the virtual CPS out, or puts it back (card removal demo)."""
    for _line in lines if lines is not None else sys.stdin:
        print(card.toggle(), flush=True)


def quiet_access_logs() -> None:
    """No werkzeug access lines: the bridge logs one JSON `request` line per request, they would only repeat it
    (werkzeug's errors, at WARNING and above, still show)."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)


def main() -> int:
    from bridge.policy import PolicyError

    quiet_access_logs()
    try:
        demo = prepare()
    except (ConfigError, PolicyError) as exc:
        print(error_line(exc), file=sys.stderr)
        return 2
    except PortBusy as exc:
        print(exc, file=sys.stderr)
        return 2
    run(demo)
    return 0


if __name__ == "__main__":
    sys.exit(main())
