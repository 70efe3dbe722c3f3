"""Login and logout: one message for every failure, failures limited, the session renewed."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import abort, current_app, redirect, render_template, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_limiter.util import get_remote_address
from flask_login import current_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import InputRequired

from adr import accounts, audit
from adr.auth import bp, sessions
from adr.extensions import db, limiter, login_manager
from adr.models import User, write_transaction


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[InputRequired()])
    password = PasswordField(_l("Password"), validators=[InputRequired()])


class CodeForm(FlaskForm):
    code = StringField(
        _l("The 6-digit code of your authenticator app, or a recovery code"),
        validators=[InputRequired()],
    )


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
    if not sessions.holds_for(user):
        sessions.end(ended_by_the_server=True)
        return None
    return user


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
    """Return the e-mail address a login attempt is for: typed, or awaiting its code."""
    typed = request.form.get("email") or sessions.pending().get("email") or ""
    return typed.strip().lower()[:254] or "-"


# Wrong passwords and wrong codes count together against one client and one address.
limit_per_client = limiter.shared_limit(
    lambda: current_app.config["LOGIN_RATE_LIMIT_CLIENT"],
    scope="login-client",
    methods=["POST"],
    deduct_when=failed,
)
# Per address *and* client: someone guessing elsewhere cannot lock the holder out.
limit_per_address = limiter.shared_limit(
    lambda: current_app.config["LOGIN_RATE_LIMIT_ADDRESS"],
    scope="login-address",
    key_func=lambda: f"{login_address()} {get_remote_address()}",
    methods=["POST"],
    deduct_when=failed,
)


def record_login(email: str, succeeded: bool) -> None:
    with write_transaction() as write:
        audit.record(write, email, "login" if succeeded else "login failed")
        if not succeeded:
            accounts.alert_on_repeated_failures(write, email)


@bp.route("/login", methods=["GET", "POST"])
@limit_per_client
@limit_per_address
def login() -> Response | tuple[str, int]:
    form = LoginForm()
    if form.validate_on_submit():
        user = accounts.authenticate(form.email.data or "", form.password.data or "")
        if user is None:
            record_login(login_address(), succeeded=False)
            return render_template("auth/login.html", form=form, failed=True), 401
        target = safe_next(request.args.get("next"))
        if user.totp_secret is not None:
            sessions.await_second_factor(user, target)
            return redirect(url_for("auth.login_code"))
        record_login(user.email, succeeded=True)
        sessions.begin(user)
        return redirect(target)
    ended = session.pop(sessions.ENDED, False)
    return render_template("auth/login.html", form=form, failed=False, ended=ended), 200


@bp.route("/login/code", methods=["GET", "POST"])
@limit_per_client
@limit_per_address
def login_code() -> Response | tuple[str, int]:
    user = sessions.pending_user()
    if user is None:
        return redirect(url_for("auth.login"))
    form = CodeForm()
    if form.validate_on_submit():
        if accounts.check_second_factor(user, form.code.data or ""):
            target = sessions.pending()["next"]
            record_login(user.email, succeeded=True)
            sessions.begin(user)
            return redirect(target)
        record_login(user.email, succeeded=False)
        return render_template("auth/code.html", form=form, failed=True), 401
    return render_template("auth/code.html", form=form, failed=False), 200


@bp.post("/logout")
def logout() -> Response:
    if current_user.is_authenticated:
        accounts.log_out(current_user)
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))
