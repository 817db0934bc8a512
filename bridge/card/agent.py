"""The card agent (`bridge card-agent`): a loopback HTTP service on the workstation between the
bridge's login page and the CPS card.

    GET  /v1/status  -> {readers, reader, card_present, card_type, card: {type, serial, generation}, pin_tries_left}
    POST /v1/sign    {challenge, origin, pin}
                     -> {certificate: b64 DER, signature: b64, algorithm: "RS256", card: {type, serial}}
                      | {error: wrong_pin|card_blocked|no_card|card_removed|no_reader|unsupported_card, tries_left?}

Only 127.0.0.1, only the Origins given with --allow-origin (CORS + Private Network Access preflights answered for
them alone), a Host header naming the loopback (DNS rebinding), JSON bodies (so a cross-site form cannot post
without a preflight), and a body `origin` equal to the Origin header (a page only gets proofs for itself).
One card operation at a time per reader. The PIN goes to the card and nowhere else: it is never logged, stored
or echoed.
"""
from __future__ import annotations

import base64
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import click

from bridge import cps_proof as proof
from bridge.card.certificate import card_type
from bridge.card.errors import CardBlocked, CardError, NoCard, NoReader, UnsupportedCard, WrongPin

log = logging.getLogger("bridge.card.agent")
DEFAULT_PORT = 47811
LOCK_TIMEOUT = 30.0
MAX_BODY = 4096
STATUS = {"wrong_pin": 403, "card_blocked": 423, "no_card": 409, "card_removed": 409, "no_reader": 503,
          "unsupported_card": 422, "card_error": 502, "busy": 409, "bad_request": 400, "origin_not_allowed": 403,
          "origin_mismatch": 403, "bad_host": 403, "not_found": 404, "method_not_allowed": 405,
          "unsupported_media_type": 415}


class AgentError(Exception):
    def __init__(self, code: str, **extra):
        super().__init__(code)
        self.code, self.extra = code, extra


def normalize_origin(value: str) -> str:
    """`scheme://host[:port]`, lower-case, no path: what browsers send in `Origin`."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/") or parts.query:
        raise ValueError(f"{value!r} is not an origin (scheme://host[:port])")
    return f"{parts.scheme}://{parts.netloc}".lower()


class CardService:
    """The card operations behind the HTTP layer (callable from tests and other front-ends)."""

    def __init__(self, reader: str | None = None, lock_timeout: float = LOCK_TIMEOUT):
        self.reader = reader
        self.lock_timeout = lock_timeout
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def _lock(self) -> threading.Lock:
        # With no configured reader the agent picks whichever holds a card, so it serialises everything.
        with self._locks_guard:
            return self._locks.setdefault(self.reader or "*", threading.Lock())

    def _exclusive(self):
        lock = self._lock()
        if not lock.acquire(timeout=self.lock_timeout):
            raise AgentError("busy")
        return lock

    def status(self) -> dict:
        from bridge.card import pcsc, profiles

        result = {"readers": [], "reader": None, "card_present": False, "card_type": None, "card": None,
                  "pin_tries_left": None}
        try:
            result["readers"] = pcsc.list_readers()
        except NoReader:
            return {**result, "error": "no_reader"}
        if not result["readers"]:
            return {**result, "error": "no_reader"}
        lock = self._exclusive()
        try:
            with profiles.open_card(self.reader) as card:
                kind = card_type(_load_certificate(card.read_certificate())) or None
                result.update(reader=card.connection.reader, card_present=True, card_type=kind,
                              card={"type": kind, "serial": card.serial, "generation": card.generation},
                              pin_tries_left=card.pin_tries_left())
        except UnsupportedCard:
            result.update(card_present=True, error="unsupported_card")
        except (NoCard, NoReader) as exc:
            result["error"] = exc.code
        except CardError as exc:
            result["error"] = exc.code
        finally:
            lock.release()
        return result

    def sign(self, challenge: str, origin: str, pin: str) -> dict:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        from bridge.card import profiles

        digest_info = proof.digest_info(origin, challenge)
        lock = self._exclusive()
        try:
            with profiles.open_card(self.reader) as card:
                certificate = card.read_certificate()
                card.verify_pin(pin)
                signature = card.sign(digest_info)
                cert = _load_certificate(certificate)
                serial = card.serial
        finally:
            lock.release()
        try:   # a wrong key reference or padding would otherwise surface as a confusing server-side failure
            cert.public_key().verify(signature, proof.signed_message(origin, challenge), padding.PKCS1v15(),
                                     hashes.SHA256())
        except Exception:
            raise AgentError("card_error", detail="the card's signature does not match its certificate") from None
        return {"certificate": base64.b64encode(certificate).decode("ascii"),
                "signature": base64.b64encode(signature).decode("ascii"),
                "algorithm": "RS256",
                "card": {"type": card_type(cert) or None, "serial": serial}}


def _load_certificate(der: bytes):
    from cryptography import x509

    return x509.load_der_x509_certificate(der)


class AgentHandler(BaseHTTPRequestHandler):
    server_version = "psc-bridge-card-agent"
    sys_version = ""
    protocol_version = "HTTP/1.1"

    # --- plumbing ----------------------------------------------------------------------------------------------------
    def log_message(self, format: str, *args) -> None:   # request line only: never a body
        log.info("%s %s", self.address_string(), format % args)

    def _origin(self) -> str | None:
        origin = self.headers.get("Origin")
        try:
            origin = normalize_origin(origin) if origin else None
        except ValueError:
            return None
        return origin if origin in self.server.allow_origins else None

    def _host_ok(self) -> bool:
        host = (self.headers.get("Host") or "").lower()
        port = self.server.server_address[1]
        return host in (f"127.0.0.1:{port}", f"localhost:{port}")

    def _cors(self, origin: str | None) -> None:
        if origin:
            self.send_header("Access-Control-Allow-Origin", origin)
            self.send_header("Vary", "Origin")

    def _send_json(self, status: int, body: dict, origin: str | None) -> None:
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self._cors(origin)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, code: str, origin: str | None, **extra) -> None:
        self.close_connection = True     # an unread request body must not be taken for the next request
        self._send_json(STATUS.get(code, 400), {"error": code, **extra}, origin)

    def _guard(self) -> str | None:
        """The allowed Origin of this request, or None after answering 403."""
        if not self._host_ok():
            self._error("bad_host", None)
            return None
        origin = self._origin()
        if origin is None:
            self._error("origin_not_allowed", None)
        return origin

    # --- verbs --------------------------------------------------------------------------------------------------------
    def do_OPTIONS(self) -> None:
        origin = self._guard()
        if origin is None:
            return
        self.send_response(204)
        self._cors(origin)
        self.send_header("Access-Control-Allow-Methods", "GET, POST")
        self.send_header("Access-Control-Allow-Headers", "Content-Type")
        self.send_header("Access-Control-Max-Age", "600")
        if (self.headers.get("Access-Control-Request-Private-Network") or "").lower() == "true":
            self.send_header("Access-Control-Allow-Private-Network", "true")
        self.send_header("Vary", "Access-Control-Request-Private-Network")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        origin = self._guard()
        if origin is None:
            return
        if self.path.split("?")[0] == "/v1/sign":
            return self._error("method_not_allowed", origin)
        if self.path.split("?")[0] != "/v1/status":
            return self._error("not_found", origin)
        self._send_json(200, self.server.service.status(), origin)

    def do_POST(self) -> None:
        origin = self._guard()
        if origin is None:
            return
        if self.path != "/v1/sign":
            return self._error("not_found" if self.path != "/v1/status" else "method_not_allowed", origin)
        if (self.headers.get("Content-Type") or "").split(";")[0].strip().lower() != "application/json":
            return self._error("unsupported_media_type", origin)
        try:
            length = int(self.headers.get("Content-Length") or "0")
        except ValueError:
            length = -1
        if not 0 < length <= MAX_BODY:
            self.close_connection = True
            return self._error("bad_request", origin)
        try:
            body = json.loads(self.rfile.read(length))
            challenge, claimed_origin, pin = body["challenge"], body["origin"], body["pin"]
            if not all(isinstance(v, str) for v in (challenge, claimed_origin, pin)):
                raise TypeError
            if not (pin.isdigit() and 4 <= len(pin) <= 8) or not 16 <= len(challenge) <= 512:
                raise ValueError
        except (ValueError, KeyError, TypeError):
            return self._error("bad_request", origin)
        try:
            same_origin = normalize_origin(claimed_origin) == origin
        except ValueError:
            same_origin = False
        if not same_origin:
            return self._error("origin_mismatch", origin)
        try:
            result = self.server.service.sign(challenge, origin, pin)
        except WrongPin as exc:
            return self._error("wrong_pin", origin, tries_left=exc.tries_left)
        except CardBlocked:
            return self._error("card_blocked", origin, tries_left=0)
        except CardError as exc:
            log.warning("sign failed: %s", exc.code)
            return self._error(exc.code, origin)
        except AgentError as exc:
            return self._error(exc.code, origin, **exc.extra)
        except ValueError:          # challenge or origin refused by proof.signed_message
            return self._error("bad_request", origin)
        log.info("signed a login proof for %s with card %s", origin, result["card"]["serial"])
        self._send_json(200, result, origin)


class AgentServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, allow_origins: list[str], port: int, reader: str | None):
        self.allow_origins = frozenset(normalize_origin(o) for o in allow_origins)
        if not self.allow_origins:
            raise ValueError("at least one --allow-origin is needed")
        self.service = CardService(reader)
        super().__init__(("127.0.0.1", port), AgentHandler)


def make_server(allow_origins: list[str], port: int = DEFAULT_PORT, reader: str | None = None) -> AgentServer:
    """An agent bound to 127.0.0.1:port (0 = any free port); run it with serve_forever()."""
    return AgentServer(allow_origins, port, reader)


@click.command("card-agent")
@click.option("--allow-origin", "allow_origins", multiple=True, required=True,
              help="Public URL (origin) of the bridge whose pages may use the card; repeat for several.")
@click.option("--port", type=int, envvar="BRIDGE_AGENT_PORT", default=DEFAULT_PORT, show_default=True,
              show_envvar=True, help="Loopback port.")
@click.option("--reader", default=None, help="Use only this PC/SC reader (name or part of it).")
@click.option("--log-level", envvar="BRIDGE_LOG_LEVEL", default="INFO", show_default=True, show_envvar=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
def card_agent_command(allow_origins, port, reader, log_level):
    """Serve the CPS card to the bridge's login page on 127.0.0.1 (runs on the workstation)."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        server = make_server(list(allow_origins), port, reader)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--allow-origin") from None
    click.echo(f"card agent on http://127.0.0.1:{server.server_address[1]} "
               f"for {', '.join(sorted(server.allow_origins))}", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
