"""The live self-check harness of the attestation report: a second bridge (the lab) wired to the PSC emulator and
the TEST PKI, a virtual CPS card in pcscd's vpcd reader, and the checks that drive them.

Sandbox land: only `bridge attest` (bridge/attest/cli.py, its own process) and the demo call it. The product's
report (bridge.attest: build, render, statistics) takes its result as data (`SelfCheckRun`) and never imports it,
so the admin console builds reports without starting anything.

`build_report` here is bridge.attest.build_report with the live self-checks run first; the process's logging is
left as it was found (the lab's create_app configures the process-wide logs).
"""
from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from bridge.attest.model import Report
from bridge.sandbox.selfcheck.checks import run_checks

__all__ = ["build_report", "kept_logging", "run_checks"]

# Loggers whose level bridge.logs.configure or the lab set (the root's is read separately).
_LOGGERS = ("werkzeug", "authlib", "bridge.pki", "weasyprint")


@contextlib.contextmanager
def kept_logging() -> Iterator[None]:
    """Whatever runs inside may reconfigure logging (the lab's create_app calls bridge.logs.configure at its own
    level): the process gets back its structlog configuration, its root handlers and level, and the levels of the
    loggers the bridge touches. A long-running caller (a web worker, the demo) keeps logging as before."""
    import structlog

    was_configured = structlog.is_configured()
    config = structlog.get_config()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {name: logging.getLogger(name).level for name in _LOGGERS}
    try:
        yield
    finally:
        if was_configured:
            structlog.configure(**config)
        else:
            structlog.reset_defaults()
        for handler in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(handler)
        for handler in handlers:
            if handler not in root.handlers:
                root.addHandler(handler)
        root.setLevel(level)   # setLevel (not an attribute): it also clears the logging module's caches
        for name, saved in levels.items():
            logging.getLogger(name).setLevel(saved)


def build_report(policies, settings, *, self_checks: bool = True, log_level: str = "WARNING",
                 service: str | None = None, lang: str = "fr", watch=None, **options) -> Report:
    """bridge.attest.build_report(policies, settings, service=, lang=, clock=, period_from=, period_to=,
    audit_paths=) with the live self-checks of the chosen services (unless `self_checks` is false), told as they
    run to `watch` (bridge.attest.demonstrate.Narrator) if given. A wrong service or period is refused before the
    lab starts."""
    from bridge import attest
    from bridge.attest.build import chosen_services, live_policies_dir, report_period
    from bridge.clock import Clock
    from bridge.policy import paris_date

    checks = None
    if self_checks:
        chosen = chosen_services(policies, service)
        today = paris_date((options.get("clock") or Clock()).now())
        report_period(today, options.get("period_from"), options.get("period_to"))
        with kept_logging():
            checks = run_checks(live_policies_dir(settings), chosen, lang, log_level, watch=watch)
    return attest.build_report(policies, settings, service=service, lang=lang, checks=checks, **options)
