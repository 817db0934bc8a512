"""The printed report: its stylesheet reaches WeasyPrint intact, so pages are numbered "n / N", text is in the
sans-serif font the CSS names, and WeasyPrint reports no CSS error."""
from __future__ import annotations

import logging
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from bridge.attest import build_report, render_html, render_pdf
from bridge.config import Settings
from bridge.policy import load_policies

pytestmark = pytest.mark.skipif(shutil.which("pdffonts") is None and not __import__("os").environ.get("CI"),
                                reason="poppler-utils (pdftotext, pdffonts) not installed")


def _run(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    base = tmp_path_factory.mktemp("attest-pdf")
    settings = Settings(policies_dir=Path("policies"), keys_dir=base / "keys")
    return build_report(load_policies(Path("policies")), settings)   # no live self-checks


def test_the_stylesheet_is_inlined_unescaped(report):
    style = re.search(r"<style>(.*?)</style>", render_html(report), re.S).group(1)
    assert "&#34;" not in style and "&quot;" not in style
    assert 'counter(page) " / " counter(pages)' in style and 'font-family: "DejaVu Sans"' in style


def test_pdf_has_page_numbers_sans_serif_fonts_and_no_css_error(report, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        pdf_bytes = render_pdf(report)
    assert [r.getMessage() for r in caplog.records if r.name.startswith("weasyprint")] == []
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(pdf_bytes)
    pages = int(re.search(r"^Pages:\s+(\d+)", _run("pdfinfo", str(pdf)), re.M).group(1))
    assert pages > 1
    assert re.search(rf"^1 / {pages}$", _run("pdftotext", "-f", "1", "-l", "1", str(pdf), "-"), re.M)
    assert re.search(rf"^{pages} / {pages}$", _run("pdftotext", "-f", str(pages), "-l", str(pages), str(pdf), "-"),
                     re.M)
    fonts = [line.split()[0].split("+")[-1] for line in _run("pdffonts", str(pdf)).splitlines()[2:]]
    assert "DejaVu-Sans" in fonts, fonts             # the body font named by report.css
    assert not [f for f in fonts if "Serif" in f or "Times" in f], fonts
