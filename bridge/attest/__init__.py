"""Attestation report: for each service, what the bridge enforces of the identification referential,
with live self-checks and audit statistics, as printable HTML or PDF. `bridge attest --help`."""
from bridge.attest.build import UnknownService, build_report
from bridge.attest.cli import attest_command
from bridge.attest.model import Report
from bridge.attest.render import render_html, render_pdf

__all__ = ["Report", "UnknownService", "attest_command", "build_report", "render_html", "render_pdf"]
