"""The ADR report intake system: `create_app` builds the Flask application."""

from __future__ import annotations

import gc
import json
import os
import secrets
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask, redirect, render_template, url_for
from werkzeug.wrappers import Response

from adr import http
from adr.extensions import babel, csrf, db, limiter, login_manager, mail, migrate

ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Create the app: defaults, `instance/config.py`, `ADR_*` variables, then `test_config`."""
    app = http.App(
        __name__,
        instance_path=os.environ.get("ADR_INSTANCE_PATH") or None,
        instance_relative_config=True,
        template_folder=str(ROOT / "templates"),
    )
    app.config.from_object("adr.config")
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("ADR")
    if test_config:
        app.config.update(test_config)
    Path(app.instance_path).mkdir(mode=0o700, parents=True, exist_ok=True)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = instance_secret_key(Path(app.instance_path))
    if not (app.debug or app.testing):
        refuse_development_secret(str(app.config["SECRET_KEY"]))
    app.config["SAFETY_INBOX"] = address_list(app.config["SAFETY_INBOX"])
    app.config["MAIL_DEFAULT_SENDER"] = (
        app.config["MAIL_DEFAULT_SENDER"] or app.config["SAFETY_INBOX"][0]
    )
    domain = app.config["MAIL_DEFAULT_SENDER"].rpartition("@")[2]
    app.config["MAIL_MESSAGE_ID_DOMAIN"] = app.config["MAIL_MESSAGE_ID_DOMAIN"] or domain
    # Flask accepts a signed session cookie this long; no staff session may outlive it.
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=app.config["STAFF_SESSION_HOURS"])
    if app.config["STAFF_TOTP"] not in ("optional", "required"):
        raise ValueError("STAFF_TOTP must be optional or required")
    if min(int(app.config["BATCH_ALERT_COUNT"]), int(app.config["BATCH_ALERT_DAYS"])) < 1:
        raise ValueError("BATCH_ALERT_COUNT and BATCH_ALERT_DAYS must be at least 1")
    if min(int(app.config[f"GROUP_EVENT_{name}"]) for name in ("CASES", "DAYS", "DEATHS")) < 1:
        raise ValueError(
            "GROUP_EVENT_CASES, GROUP_EVENT_DAYS and GROUP_EVENT_DEATHS must be at least 1"
        )
    if not 1 <= int(app.config["NEW_REACTION_DAYS"]) <= 30:
        raise ValueError("NEW_REACTION_DAYS must be a number of days from 1 to 30 (15 or 30)")

    http.init_app(app)
    register_extensions(app)
    register_blueprints(app)
    register_pages(app)
    register_commands(app)
    return app


def freeze_loaded() -> None:
    """Set what the process has loaded apart from the garbage collector (a gunicorn worker once
    the app is loaded, `adr send-mail --loop`): it lives as long as the process, and each full
    collection scanned its 200,000 objects again, 150 ms a pause (collections took 1.2 ms of CPU
    a report, 0.6 ms since; docs/benchmarks.md, "intake7"). What is garbage already is collected
    first, not kept for good."""
    gc.collect()
    gc.freeze()


def instance_secret_key(instance: Path) -> str:
    """Return the deployment's secret key, made once and kept in the instance folder."""
    path = instance / "secret_key"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_hex(32))
    return path.read_text().strip()


def refuse_development_secret(secret: str) -> None:
    """Stop a server that would sign sessions with a guessable key ("dev", "secret", …)."""
    if len(secret.strip()) < 32:
        raise RuntimeError(
            "SECRET_KEY is shorter than 32 characters, as development values are: set "
            "ADR_SECRET_KEY to a long random value (python3 -c 'import secrets; "
            "print(secrets.token_hex(32))'), or unset it to use instance/secret_key"
        )


def address_list(value: str | list[str]) -> list[str]:
    """Read one address, a JSON list, or addresses separated by commas."""
    if isinstance(value, str):
        value = json.loads(value) if value.strip().startswith("[") else value.split(",")
    return [address.strip() for address in value if address.strip()]


def register_extensions(app: Flask) -> None:
    from adr import mailer, models
    from adr.i18n import select_locale

    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            models.configure_sqlite(db.engine, app.config["SQLITE_BUSY_TIMEOUT_MS"])
            models.create_private_file(db.engine.url.database)
        elif db.engine.dialect.name == "postgresql":
            models.configure_postgresql(db.engine)
    migrate.init_app(
        app, db, directory=str(Path(__file__).parent / "migrations"), render_as_batch=True
    )
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    limiter.init_app(app)
    mail.init_app(app)
    login_manager.init_app(app)
    mailer.init_background_sender(app)


def register_blueprints(app: Flask) -> None:
    from adr.auth import bp as auth_bp
    from adr.intake import bp as intake_bp
    from adr.review import bp as review_bp

    app.register_blueprint(intake_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(review_bp)


def register_pages(app: Flask) -> None:
    """Add what every page shares: language, health check, icon and error pages."""
    from flask_babel import gettext as _

    from adr.i18n import html_lang, remember_language

    app.jinja_env.globals.update(html_lang=html_lang)
    app.after_request(remember_language)

    @app.get("/healthz")
    def healthz() -> tuple[str, int, dict[str, str]]:
        try:
            db.session.execute(sa.select(1))
        except sa.exc.SQLAlchemyError:
            db.session.rollback()
            return "database unavailable", 503, {"Content-Type": "text/plain"}
        return "ok", 200, {"Content-Type": "text/plain"}

    @app.get("/favicon.ico")
    def favicon() -> Response:
        """Answer browsers that ask for the icon without reading the page's link to it."""
        return redirect(url_for("static", filename="favicon.svg"), 301)

    messages = {
        400: lambda: _("The request could not be read. Go back and try again."),
        404: lambda: _("There is no page at this address."),
        405: lambda: _("There is no page at this address."),
        413: lambda: _("What was sent is too large. Shorten the longest texts and try again."),
        429: lambda: _("Too many requests from your connection. Wait a minute and try again."),
        500: lambda: _("Something went wrong on our side. Please try again later, or call us."),
    }
    for status, message in messages.items():
        app.register_error_handler(
            status,
            lambda error, status=status, message=message: (
                render_template("error.html", message=message()),
                status,
            ),
        )


def register_commands(app: Flask) -> None:
    from adr import cli

    cli.register(app)
