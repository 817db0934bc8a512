"""HTML (Jinja2, same translation catalog as the web pages) and PDF (WeasyPrint) renderings of a Report."""
from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from bridge.attest.model import Report
from bridge.i18n import translations

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
CSS = Path(__file__).resolve().parents[1] / "web" / "static" / "report.css"


OUTCOMES = {"fr": {"success": "succès", "denied": "refus", "failure": "échec", "info": "information"},
            "en": {"success": "success", "denied": "denied", "failure": "failure", "info": "info"}}


def human_duration(seconds: int, lang: str = "fr") -> str:
    hours, rest = divmod(int(seconds), 3600)
    minutes = rest // 60
    if hours and minutes:
        return f"{hours} h {minutes:02d}"
    if hours:
        return f"{hours} h"
    return f"{minutes} min" if minutes else f"{seconds} s"


def human_date(day: date | None, lang: str = "fr") -> str:
    if day is None:
        return "—"
    return day.isoformat() if lang == "en" else day.strftime("%d/%m/%Y")


def _environment(lang: str) -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"]),
                      extensions=["jinja2.ext.i18n"])
    env.install_gettext_translations(translations(lang), newstyle=True)
    env.filters["duration"] = lambda s: human_duration(s, lang)
    env.filters["day"] = lambda d: human_date(d, lang)
    env.globals["outcomes"] = OUTCOMES["en" if lang == "en" else "fr"]
    return env


def stylesheet() -> Markup:
    """The report's CSS, inlined as is: autoescaping would turn its quotes into &#34; and break every rule that has
    a string (page numbers, font names). It is our own file, and may not close the <style> element."""
    css = CSS.read_text(encoding="utf-8")
    if "</" in css:
        raise ValueError(f"{CSS} must not contain '</'")
    return Markup(css)


def render_html(report: Report) -> str:
    generated = datetime.fromtimestamp(report.generated_at, UTC)
    return _environment(report.lang).get_template("report/report.html").render(
        report=report, lang=report.lang, css=stylesheet(),
        generated=generated.strftime("%Y-%m-%d %H:%M UTC"))


def render_pdf(report: Report, html: str | None = None) -> bytes:
    from weasyprint import HTML  # imported here: heavy, and only the PDF needs it

    return HTML(string=html or render_html(report), base_url=str(ROOT)).write_pdf()
