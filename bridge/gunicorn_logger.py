"""gunicorn's logger for `bridge serve`, imported by bridge/gunicorn_conf.py only (gunicorn does not import on
Windows, where the card agent runs: the `bridge` command must not need it)."""
from __future__ import annotations

from gunicorn.glogging import Logger


class NoAccessLog(Logger):
    """No access lines: bridge.web.envelope logs each request itself. With a logging configuration, the stock
    logger builds every access line even when no handler writes it (10 % of a token request's CPU)."""
    access_log_enabled = False
