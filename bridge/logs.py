"""Structured JSON logs (structlog). Never log secrets, PINs or tokens: log their absence of content.

Every line on stderr is one JSON object: the bridge's own events (``log.info("event", key=value)``) and the lines
of the libraries that use the standard ``logging`` module (gunicorn, werkzeug, urllib3...), which go through the
same renderer. While a request is handled, its ``request_id`` is bound (``bind_request``) and added to every line.
Query strings are never logged: they carry authorization codes, states and ``id_token_hint``.
"""
from __future__ import annotations

import logging
import re
import sys

import structlog

# Libraries whose DEBUG records carry secrets: Authlib logs every issued token ("Issue token {...}").
QUIET_LOGGERS = ("authlib",)
_QUERY = re.compile(r"\?[^\s\x1b\"]*")


def _shared_processors() -> list:
    return [structlog.contextvars.merge_contextvars, structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True)]


def json_formatter() -> logging.Formatter:
    """A logging.Formatter that renders standard-library records as the same JSON lines as structlog."""
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*_shared_processors(), structlog.stdlib.add_logger_name],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info, structlog.processors.JSONRenderer()])


class StripQueryStrings(logging.Filter):
    """Remove query strings from access-log lines of HTTP servers (werkzeug's development server logs the raw
    request line, ``GET /psc/callback?code=...&state=... HTTP/1.1``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(_QUERY.sub("", arg) if isinstance(arg, str) else arg for arg in record.args)
        elif isinstance(record.msg, str) and "?" in record.msg and not record.args:
            record.msg = _QUERY.sub("", record.msg)
        return True


def configure(level: str = "INFO") -> None:
    root = logging.getLogger()
    if not root.handlers:  # under gunicorn the handlers come from its logconfig_dict (bridge/gunicorn_conf.py)
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(json_formatter())
        handler.addFilter(StripQueryStrings())
        root.addHandler(handler)
        root.setLevel(getattr(logging, level))
    for name in QUIET_LOGGERS:  # never below INFO, whatever BRIDGE_LOG_LEVEL says
        logging.getLogger(name).setLevel(max(logging.INFO, getattr(logging, level)))
    werkzeug = logging.getLogger("werkzeug")
    if not any(isinstance(f, StripQueryStrings) for f in werkzeug.filters):
        werkzeug.addFilter(StripQueryStrings())
    structlog.configure(
        processors=[*_shared_processors(), structlog.processors.format_exc_info, structlog.processors.JSONRenderer()],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level)),
        logger_factory=_stderr_logger, cache_logger_on_first_use=False)


def _stderr_logger(*_args) -> structlog.PrintLogger:
    """Write to the *current* sys.stderr (looked up on each use, not frozen at configure time: a test runner or
    a server may replace the stream, and a log line must never fail a request)."""
    return structlog.PrintLogger(sys.stderr)


def bind_request(request_id: str) -> None:
    """Start a request's log context: its request id appears on every line logged while it is handled."""
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=request_id)


def current_request_id() -> str:
    """The id bound by bind_request ('' outside a request)."""
    return structlog.contextvars.get_contextvars().get("request_id", "")


def unbind_request() -> None:
    structlog.contextvars.clear_contextvars()


log = structlog.get_logger("bridge")
