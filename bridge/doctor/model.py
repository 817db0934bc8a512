"""One line of the `bridge doctor` checklist, and the context every check reads."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from urllib.parse import urlsplit

SYMBOLS = {"ok": "✓", "warn": "!", "fail": "✗", "skip": "-"}


def t(lang: str, fr: str, en: str) -> str:
    return en if lang == "en" else fr


@dataclass(frozen=True)
class Check:
    id: str
    status: str          # ok | warn | fail | skip (not applicable, or not checkable after an earlier ✗)
    label: str
    detail: str = ""
    fix: str = ""        # what to do, on warn and fail

    def line(self, lang: str) -> str:
        text = f"{SYMBOLS[self.status]} {self.label}{t(lang, ' : ', ': ')}{self.detail}"
        return f"{text} — {self.fix}" if self.fix and self.status in ("warn", "fail") else text

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Context:
    lang: str
    settings: object
    now: float
    environ: dict
    agent_origins: tuple[str, ...] = ()
    cert_warn_days: int = 30
    policies: object = None          # PolicySet once the policies check loaded it
    store: object = None
    extra: dict = field(default_factory=dict)

    def t(self, fr: str, en: str) -> str:
        return t(self.lang, fr, en)


def safe_url(url: str) -> str:
    """A URL without user, password, query or fragment: what may be printed."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}{parts.path}"
