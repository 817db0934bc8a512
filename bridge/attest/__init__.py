"""Attestation report: for each service, what the bridge enforces of the identification referential, with audit
statistics and the live self-checks `bridge attest` ran, as printable HTML or PDF. `bridge attest --help`.

Nothing here starts an emulator or a second bridge: the live self-checks live in bridge.sandbox.selfcheck, which
only `bridge attest` (cli.py, its own process) calls; build_report takes their result as data."""
from bridge.attest.build import UnknownService, build_report
from bridge.attest.model import Report, SelfCheckRun
from bridge.attest.render import render_html, render_pdf

__all__ = ["Report", "SelfCheckRun", "UnknownService", "build_report", "render_html", "render_pdf"]
