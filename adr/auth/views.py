"""Login and logout: one message for every failure, failures limited, the session renewed."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import abort, current_app, redirect, render_template, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import EmailField, PasswordField
from wtforms.validators import InputRequired

from adr import accounts, audit
from adr.auth import bp
from adr.extensions import db, limiter, login_manager
from adr.models import User, write_transaction


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[InputRequired()])
    password = PasswordField(_l("Password"), validators=[InputRequired()])


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
    return user if user is not None and user.active else None


@login_manager.unauthorized_handler
def to_login() -> Response:
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def role_required(*roles: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Refuse (403) a signed-in user whose role is not one of `roles`."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return checked

    return decorate


def safe_next(target: str | None) -> str:
    """Return `target` when it is a path on this site, else the staff home."""
    parts = urlsplit(target or "")
    on_this_site = not parts.scheme and not parts.netloc and "\\" not in (target or "")
    if target and on_this_site and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("review.dashboard")


def failed(response: Response) -> bool:
    return response.status_code != 302


def login_address() -> str:
    return (request.form.get("email") or "").strip().lower()[:254] or "-"


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["LOGIN_RATE_LIMIT_CLIENT"], methods=["POST"], deduct_when=failed
)
@limiter.limit(
    lambda: current_app.config["LOGIN_RATE_LIMIT_ADDRESS"],
    key_func=login_address,
    methods=["POST"],
    deduct_when=failed,
)
def login() -> Response | tuple[str, int]:
    form = LoginForm()
    if form.validate_on_submit():
        user = accounts.authenticate(form.email.data or "", form.password.data or "")
        with write_transaction() as write:
            if user is None:
                audit.record(write, login_address(), "login failed")
            else:
                audit.record(write, user.email, "login")
        if user is not None:
            session.clear()  # a new session: nothing from before the login survives
            login_user(user)
            return redirect(safe_next(request.args.get("next")))
        return render_template("auth/login.html", form=form, failed=True), 401
    return render_template("auth/login.html", form=form, failed=False), 200


@bp.post("/logout")
def logout() -> Response:
    if current_user.is_authenticated:
        with write_transaction() as write:
            audit.record(write, current_user.email, "logout")
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))
