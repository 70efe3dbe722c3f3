"""What every request passes through: cleaned and bounded input, one log line, safe headers."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from types import TracebackType
from typing import Any

from flask import Flask, Request, Response, abort, current_app, g, request
from werkzeug.datastructures import ImmutableMultiDict, MultiDict
from werkzeug.middleware.proxy_fix import ProxyFix

# C0 and C1 control characters but tab, line feed and carriage return: no report needs them,
# and PostgreSQL refuses NUL in text. With them the invisible formatting characters: the
# direction marks, embeddings, overrides and isolates that reorder names and numbers on the
# pages staff read, the zero-width spaces and joiners, word joiner, invisible operators, the
# byte-order mark. The zero-width joiner goes too: it joins emoji into one picture (a family
# shows as its members without it), but it also hides inside names and batch numbers, where
# search and duplicate detection would miss them, and Chinese and English never need it.
CONTROLS = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u2069\ufeff]"
)
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
HSTS = "max-age=31536000; includeSubDomains"

log = logging.getLogger("adr.request")


def without_controls(value: Any) -> Any:
    return CONTROLS.sub("", value) if isinstance(value, str) else value


class CleanParameters(ImmutableMultiDict[str, Any]):
    """Query and form parameters with control and invisible formatting characters removed."""

    def __init__(self, mapping: Any = None) -> None:
        pairs = MultiDict(mapping).items(multi=True) if mapping is not None else ()
        super().__init__([(without_controls(key), without_controls(value)) for key, value in pairs])


class CleanRequest(Request):
    parameter_storage_class = CleanParameters


def logged_path() -> str:
    """Return the path to log: a route's `<token>` part is a secret, logged as its placeholder."""
    rule = request.url_rule
    return rule.rule if rule is not None and "token" in rule.arguments else request.path


class App(Flask):
    """Flask, whose log of an unexpected error keeps secrets out of the path, as requests do."""

    def log_exception(
        self, exc_info: tuple[type, BaseException, TracebackType] | tuple[None, None, None]
    ) -> None:
        self.logger.error("Exception on %s [%s]", logged_path(), request.method, exc_info=exc_info)


def init_app(app: Flask) -> None:
    """Clean and bound every request, log each one without its content, and harden responses."""
    app.request_class = CleanRequest
    proxies = {name: app.config[f"PROXY_FIX_X_{name.upper()}"] for name in ("for", "proto", "host")}
    if any(proxies.values()):
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies["for"], x_proto=proxies["proto"], x_host=proxies["host"]
        )
    if app.config["PREFERRED_URL_SCHEME"] == "https":
        app.config["SESSION_COOKIE_SECURE"] = True
    logging.getLogger("adr").setLevel(app.config["LOG_LEVEL"])
    app.logger  # noqa: B018 - makes Flask attach its stderr handler to the "adr" logger
    app.before_request(start_request)
    app.after_request(finish_request)


def start_request() -> None:
    """Stamp the request; refuse a path with control characters or a form of too many parts."""
    g.started = time.perf_counter()
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
    if CONTROLS.search(request.path):
        abort(404)
    if request.method == "POST" and form_parts() > current_app.config["MAX_FORM_PARTS"]:
        abort(413)  # before any form is built from it


def form_parts() -> int:
    return sum(len(values) for _, values in request.form.lists()) + len(request.files)


def finish_request(response: Response) -> Response:
    """Log one line (no query, no form values, no secret) and add the security headers."""
    started = g.get("started", time.perf_counter())
    request_id = g.get("request_id", "-")
    log.info(
        json.dumps(
            {
                "request_id": request_id,
                "method": request.method,
                "path": logged_path(),
                "status": response.status_code,
                "ms": round((time.perf_counter() - started) * 1000, 1),
            }
        )
    )
    headers = response.headers
    headers["X-Request-ID"] = request_id
    headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    )
    headers.setdefault("X-Frame-Options", "DENY")  # for in-app browsers without frame-ancestors
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    if current_app.config["PREFERRED_URL_SCHEME"] == "https":
        headers.setdefault("Strict-Transport-Security", HSTS)
    response.vary.add("Cookie")
    response.vary.add("Accept-Language")
    return response
