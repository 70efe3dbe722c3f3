"""The page language: `?lang=`, remembered in a cookie; else the browser's; else Chinese."""

from __future__ import annotations

from flask import Response, current_app, request
from flask_babel import LazyString, get_locale

from adr.vocab import Term

COOKIE = "lang"


def _supported(code: str | None) -> str | None:
    return code if code in current_app.config["LANGUAGES"] else None


def select_locale() -> str:
    """Return the locale for this request: `?lang=`, the cookie, Accept-Language, Chinese."""
    chosen = _supported(request.args.get("lang")) or _supported(request.cookies.get(COOKIE))
    if chosen:
        return chosen
    for value, _quality in request.accept_languages:
        primary = value.replace("_", "-").split("-")[0].lower()
        if primary == "en":
            return "en"
        if primary == "zh":
            return "zh_CN"
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def remember_language(response: Response) -> Response:
    """Keep a language chosen with `?lang=` in a cookie for a year."""
    chosen = _supported(request.args.get("lang"))
    if chosen and request.cookies.get(COOKIE) != chosen:
        response.set_cookie(COOKIE, chosen, max_age=365 * 86400, samesite="Lax")
    return response


def current_language() -> str:
    """Return the page language as stored with a report: `zh_CN` or `en`."""
    return "en" if get_locale().language == "en" else "zh_CN"


def html_lang() -> str:
    """Return the page language as `<html lang>` names it."""
    return current_language().replace("_", "-")


def lazy_term(term: Term) -> LazyString:
    """Return a vocab label that renders in the page language."""
    return LazyString(lambda: term.text(current_language()))
