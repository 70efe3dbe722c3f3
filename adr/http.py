"""What every request passes through: cleaned and bounded input, one log line, safe headers.

Static files are named by their content (`/static/site.css?v=<hash>`), so such a URL is
cached for a year and a changed file is fetched under its new name.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

from flask import Flask, Request, Response, abort, current_app, g, request
from werkzeug.datastructures import ImmutableMultiDict, MultiDict
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.security import safe_join

# C0 and C1 control characters but tab, line feed and carriage return: no report needs them,
# and PostgreSQL refuses NUL in text. With them the invisible formatting characters: the
# direction marks, embeddings, overrides and isolates that reorder names and numbers on the
# pages staff read, the zero-width spaces and joiners, word joiner, invisible operators, the
# byte-order mark. The zero-width joiner goes too: it joins emoji into one picture (a family
# shows as its members without it), but it also hides inside names and batch numbers, where
# search and duplicate detection would miss them, and Chinese and English never need it.
CONTROLS = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u034f\u061c\u115f\u1160\u180e"
    "\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\u2066-\u2069\u3164\ufeff"
    "\uffa0\ufff9-\ufffb\U000e0000-\U000e007f]"
)  # also soft hyphens, fillers, separators, interlinear marks and the tag characters
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
HSTS = "max-age=31536000; includeSubDomains"
VERSIONED_STATIC = "public, max-age=31536000, immutable"  # the URL changes with the file
UNVERSIONED_STATIC = "public, max-age=300"  # an old page's link, or a bookmark
STATIC_VERSIONS = "adr.static_versions"

log = logging.getLogger("adr.request")
View = TypeVar("View", bound=Callable[..., Any])


def without_controls(value: Any) -> Any:
    return CONTROLS.sub("", value) if isinstance(value, str) else value


class CleanParameters(ImmutableMultiDict[str, Any]):
    """Query and form parameters with control and invisible formatting characters removed."""

    def __init__(self, mapping: Any = None) -> None:
        pairs = MultiDict(mapping).items(multi=True) if mapping is not None else ()
        super().__init__([(without_controls(key), without_controls(value)) for key, value in pairs])


class CleanRequest(Request):
    parameter_storage_class = CleanParameters

    def __init__(self, environ: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(environ, *args, **kwargs)
        # Werkzeug decodes the query string strictly: bytes that are not UTF-8 (sent raw, not
        # %-encoded) would make every page a 500. Read as the replacement character instead.
        self.query_string = self.query_string.decode("utf-8", "replace").encode()


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

    def send_static_file(self, filename: str) -> Response:
        """Serve a static file, for a year when asked for by its current `?v=` version."""
        response = super().send_static_file(filename)
        current = request.args.get("v") == static_version(filename)
        response.headers["Cache-Control"] = VERSIONED_STATIC if current else UNVERSIONED_STATIC
        return response


def static_version(filename: str) -> str | None:
    """Return the start of a static file's SHA-256, read once per file by this app (a worker)."""
    versions = current_app.extensions.setdefault(STATIC_VERSIONS, {})
    if filename not in versions:
        path = safe_join(str(current_app.static_folder), filename)
        try:
            with open(path or "", "rb") as file:
                versions[filename] = hashlib.file_digest(file, "sha256").hexdigest()[:12]
        except OSError:  # no such file: its URL has no version and answers 404
            versions[filename] = None
    return versions[filename]


def add_static_version(endpoint: str | None, values: dict[str, Any]) -> None:
    """Give `url_for('static', filename=…)` the file's version, `?v=<hash>`."""
    if endpoint == "static" and "filename" in values:
        values.setdefault("v", static_version(values["filename"]))


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
    app.url_defaults(add_static_version)
    app.before_request(start_request)
    app.after_request(finish_request)


def accepts_files(limit: Callable[[], int]) -> Callable[[View], View]:
    """Let a view receive files: a multipart post to it may be `limit()` bytes, not
    MAX_CONTENT_LENGTH (each of its other fields stays within MAX_FORM_MEMORY_SIZE).

    Put it under the route, above the view's other decorators.
    """

    def mark(view: View) -> View:
        view.upload_limit = limit  # type: ignore[attr-defined]
        return view

    return mark


def upload_limit() -> int | None:
    """Return how large a post to this request's view may be, when it sends files to one that
    receives them."""
    if request.method != "POST" or request.mimetype != "multipart/form-data":
        return None
    view = current_app.view_functions.get(request.endpoint or "")
    limit = getattr(view, "upload_limit", None)
    return limit() if limit else None


def start_request() -> None:
    """Stamp the request; refuse a path with control characters or a form of too many parts."""
    g.started = time.perf_counter()
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
    if CONTROLS.search(request.path):
        abort(404)
    limit = upload_limit()
    if limit:  # before anything reads the form
        request.max_content_length = limit
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
