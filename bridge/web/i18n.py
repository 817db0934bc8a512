"""French by default, English on request: `?lang=en` (kept in a cookie), else the cookie, else Accept-Language.

Installed on the bridge and on the demo apps (same templates, same catalog: bridge/i18n.py).
"""
from __future__ import annotations

from urllib.parse import urlencode

from flask import Flask, request
from flask_babel import Babel, get_locale

from bridge.i18n import DEFAULT, LANGUAGES, TRANSLATIONS_DIR, normalize

LANG_COOKIE = "bridge_lang"   # logical name; on the bridge in production: __Host-bridge_lang (bridge.web.security)
LANG_NAMES = {"fr": "Français", "en": "English"}


def select_locale() -> str:
    return (normalize(request.args.get("lang")) or normalize(request.cookies.get(LANG_COOKIE))
            or request.accept_languages.best_match(LANGUAGES) or DEFAULT)


def current_lang() -> str:
    """The page's language ('fr' outside a request)."""
    try:
        locale = get_locale()
    except RuntimeError:
        return DEFAULT
    return normalize(str(locale)) or DEFAULT


def lang_url(code: str) -> str:
    """This page in another language (GET, same query): a query-only relative link, so it never names a path
    (a raw `/%5Cevil.example/x` in the href is read by browsers as the off-site `//evil.example/x`)."""
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"] + [("lang", code)]
    return f"?{urlencode(args)}"


def install(app: Flask, *, secure: bool = False) -> None:
    Babel(app, locale_selector=select_locale, default_locale=DEFAULT,
          default_translation_directories=str(TRANSLATIONS_DIR))

    @app.context_processor
    def languages() -> dict:
        return {"current_lang": current_lang(), "lang_url": lang_url, "lang_names": LANG_NAMES}

    @app.after_request
    def remember(response):
        chosen = normalize(request.args.get("lang"))
        if chosen and chosen != request.cookies.get(LANG_COOKIE):
            response.set_cookie(LANG_COOKIE, chosen, max_age=365 * 24 * 3600, httponly=True, samesite="Lax",
                                secure=secure, path="/")
        return response
