"""The card agent (`bridge card-agent`): a loopback HTTP service on the workstation between the
bridge's login page and the CPS card (docs/card.md, "Agent contract").

    GET  /v1/status  -> {readers: [{name, slots: [{index, reader, card: null | {type, serial, logical_number, cps,
                         holder?, generation?, pin_tries_left?}}]}], selected,
                         reader, card_present, card_type, card: {type, serial, generation, logical_number, holder},
                         pin_tries_left, error?}          (the v1 fields describe the selected CPS)
    POST /v1/sign    {challenge, origin, pin, reader?}
                     -> {certificate: b64 DER, signature: b64, algorithm: "RS256",
                         card: {type, serial, logical_number, reader, holder}}
                      | {error: wrong_pin|card_blocked|no_card|no_cps_card|several_cards|card_removed|card_reset|
                                busy|no_reader|unsupported_card|card_error, tries_left?}
    POST /v1/watch   {capability, reader} -> 202 {watching: true} | 409 {error: no_card|card_removed}

Only 127.0.0.1, only the Origins given with --allow-origin (CORS + Private Network Access preflights answered for
them alone), a Host header naming the loopback (DNS rebinding), JSON bodies (so a cross-site form cannot post
without a preflight), and a body `origin` equal to the Origin header (a page only gets proofs for itself).
One card operation at a time per slot. The PIN goes to the card and nowhere else: it is never logged, stored
or echoed. The card operations are bridge/card/service.py, the removal watch bridge/card/watch.py.
"""
from __future__ import annotations

import json
import logging
import re
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import click

from bridge.card import pcsc
from bridge.card.errors import CardBlocked, CardError, CardRemoved, NoCard, WrongPin
from bridge.card.service import CardService
from bridge.card.watch import Watcher, short

log = logging.getLogger("bridge.card.agent")
DEFAULT_PORT = 47811
MAX_BODY = 4096
READER_MAX = 200
CAPABILITY = re.compile(r"[A-Za-z0-9_-]{20,200}")
STATUS = {"wrong_pin": 403, "card_blocked": 423, "no_card": 409, "no_cps_card": 409, "several_cards": 409,
          "card_removed": 409, "card_reset": 409, "no_reader": 503, "unsupported_card": 422, "card_error": 502,
          "busy": 409, "bad_request": 400, "origin_not_allowed": 403, "origin_mismatch": 403, "bad_host": 403,
          "not_found": 404, "method_not_allowed": 405, "unsupported_media_type": 415}
ROUTES = {"/v1/status": "GET", "/v1/sign": "POST", "/v1/watch": "POST"}


def normalize_origin(value: str) -> str:
    """`scheme://host[:port]`, lower-case, no path: what browsers send in `Origin`."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/") or parts.query:
        raise ValueError(f"{value!r} is not an origin (scheme://host[:port])")
    return f"{parts.scheme}://{parts.netloc}".lower()


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

    def _route(self, method: str) -> str | None:
        """The allowed Origin when this request names an endpoint for `method`; else None after answering."""
        origin = self._guard()
        if origin is None:
            return None
        path = self.path.split("?")[0]
        if path not in ROUTES:
            self._error("not_found", origin)
            return None
        if ROUTES[path] != method:
            self._error("method_not_allowed", origin)
            return None
        return origin

    def _json_body(self, origin: str) -> dict | None:
        """The request's JSON object, or None after answering 400/415."""
        if (self.headers.get("Content-Type") or "").split(";")[0].strip().lower() != "application/json":
            self._error("unsupported_media_type", origin)
            return None
        try:
            length = int(self.headers.get("Content-Length") or "0")
        except ValueError:
            length = -1
        if not 0 < length <= MAX_BODY:
            self._error("bad_request", origin)
            return None
        try:
            body = json.loads(self.rfile.read(length))
        except ValueError:
            body = None
        if not isinstance(body, dict):
            self._error("bad_request", origin)
            return None
        return body

    def do_GET(self) -> None:
        origin = self._route("GET")
        if origin is not None:
            self._send_json(200, self.server.service.status(), origin)

    def do_POST(self) -> None:
        origin = self._route("POST")
        if origin is None:
            return
        body = self._json_body(origin)
        if body is None:
            return
        if self.path.split("?")[0] == "/v1/watch":
            return self._watch(body, origin)
        self._sign(body, origin)

    def _sign(self, body: dict, origin: str) -> None:
        challenge, claimed_origin, pin, reader = (body.get(k) for k in ("challenge", "origin", "pin", "reader"))
        if not all(isinstance(v, str) for v in (challenge, claimed_origin, pin)) \
                or not (pin.isdigit() and 4 <= len(pin) <= 8) or not 16 <= len(challenge) <= 512 \
                or not (reader is None or (isinstance(reader, str) and 0 < len(reader) <= READER_MAX)):
            return self._error("bad_request", origin)
        try:
            same_origin = normalize_origin(claimed_origin) == origin
        except ValueError:
            same_origin = False
        if not same_origin:
            return self._error("origin_mismatch", origin)
        try:
            result = self.server.service.sign(challenge, origin, pin, reader)
        except WrongPin as exc:
            return self._error("wrong_pin", origin, tries_left=exc.tries_left)
        except CardBlocked:
            return self._error("card_blocked", origin, tries_left=0)
        except CardError as exc:
            log.warning("sign failed: %s (%s)", exc.code, exc)
            return self._error(exc.code, origin)
        except ValueError:          # challenge or origin refused by proof.signed_message
            return self._error("bad_request", origin)
        card = result["card"]
        log.info("signed a login proof for %s with card %s in %s", origin, card["serial"], card["reader"])
        self._send_json(200, result, origin)

    def _watch(self, body: dict, origin: str) -> None:
        capability, reader = body.get("capability"), body.get("reader")
        if not isinstance(capability, str) or not CAPABILITY.fullmatch(capability) \
                or not isinstance(reader, str) or not 0 < len(reader) <= READER_MAX:
            return self._error("bad_request", origin)
        try:
            self.server.watch(capability, reader, origin)
        except CardError as exc:
            log.info("no watch for capability %s in %s: %s", short(capability), reader, exc.code)
            return self._error(exc.code, origin)
        self._send_json(202, {"watching": True}, origin)


class AgentServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, allow_origins: list[str], port: int, reader: str | None):
        self.allow_origins = frozenset(normalize_origin(o) for o in allow_origins)
        if not self.allow_origins:
            raise ValueError("at least one --allow-origin is needed")
        self.service = CardService(reader)
        self.watcher = Watcher()
        super().__init__(("127.0.0.1", port), AgentHandler)

    def watch(self, capability: str, reader: str, origin: str) -> None:
        """Watch the card that last signed in `reader`; NoCard (none did) or CardRemoved (it has left since)."""
        signed = self.service.signed_in(reader)
        if signed is None:
            raise NoCard(f"no card signed in {reader}")
        try:
            state = next(iter(pcsc.reader_states([reader])), None)
        except CardError:
            state = None
        if state is None or not state.present or state.events != signed.events:
            raise CardRemoved(f"the card that signed in {reader} has left")
        self.watcher.add(reader, signed.events, signed.cert_sha256, capability, origin)

    def server_close(self) -> None:
        self.watcher.stop()
        super().server_close()


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
