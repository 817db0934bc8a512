"""`serve()`: the emulator on a real socket (threaded werkzeug server in a daemon thread)."""
from __future__ import annotations

import ipaddress
import ssl
import threading

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .app import create_emulator, refuse_production
from .config import DEFAULT_BASE_URL, EmulatorConfig
from .core import EXTENSION, Emulator
from .faults import validate_faults


class _NoQueryLogHandler(WSGIRequestHandler):
    """Access log without query strings: they carry codes, id_token_hint and other secrets."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = getattr(self, "path", "").split("?", 1)[0]
        self.log("info", '"%s %s" %s', getattr(self, "command", "-"), path, code)


def _not_ready(environ, start_response):
    """Placeholder: make_server needs an app before the bound port (hence base URL and app) is known."""
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"starting"]


class EmulatorServer:
    """A running emulator. `url` is its base URL; use as a context manager or call `stop()`."""

    def __init__(self, app: Flask, server: BaseWSGIServer, thread: threading.Thread):
        self.app, self._server, self._thread = app, server, thread

    @property
    def emulator(self) -> Emulator:
        return self.app.extensions[EXTENSION]

    @property
    def config(self) -> EmulatorConfig:
        return self.emulator.config

    @property
    def url(self) -> str:
        return self.config.base_url

    @property
    def issuer(self) -> str:
        return self.config.issuer

    @property
    def discovery_url(self) -> str:
        return self.config.discovery_url

    @property
    def authorization_endpoint(self) -> str:
        return self.config.authorization_endpoint

    # In-process equivalents of the /_emulator/ HTTP controls.
    def set_faults(self, faults: dict) -> None:
        self.emulator.state.faults = validate_faults(faults)

    def rotate_keys(self) -> str:
        return self.emulator.keys.rotate()

    def advance_clock(self, seconds: float) -> None:
        self.emulator.state.clock.advance(seconds)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> EmulatorServer:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _url_host(host: str) -> str:
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    try:
        return f"[{host}]" if ipaddress.ip_address(host).version == 6 else host
    except ValueError:
        return host


def serve(config: EmulatorConfig | None = None, host: str = "127.0.0.1", port: int = 0,
          ssl_context: ssl.SSLContext | None = None) -> EmulatorServer:
    """Start the emulator in a daemon thread. With port=0 (or a config left at the default base URL) the
    base URL is computed from the bound socket, https when `ssl_context` is given."""
    refuse_production()
    config = config or EmulatorConfig()
    server = make_server(host, port, _not_ready, threaded=True, ssl_context=ssl_context,
                         request_handler=_NoQueryLogHandler)
    try:
        base_url = config.base_url
        if port == 0 or config.base_url == DEFAULT_BASE_URL:
            base_url = f"{'https' if ssl_context else 'http'}://{_url_host(host)}:{server.server_port}"
        config = config.served_at(base_url, server.server_port)
        server.app = create_emulator(config)
    except BaseException:
        server.server_close()
        raise
    # A short poll interval keeps stop() fast: tests start and stop one emulator per test.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
                              name=f"psc-emulator:{server.server_port}")
    thread.start()
    return EmulatorServer(server.app, server, thread)
