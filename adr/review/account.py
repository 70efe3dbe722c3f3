"""A staff member's own account: their password and their second factor."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime

from flask import current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import Field

from adr import accounts, totp
from adr.auth import sessions
from adr.extensions import limiter
from adr.review import bp
from adr.review.forms import PasswordChangeForm, TotpConfirmForm, TotpRemoveForm

ENROLLING = "staff_totp_enrolling"  # the secret shown, until a code confirms it

# A stolen session must not try current passwords unchecked: wrong ones are limited like logins
# (a wrong code or too short a new password is not a guess at the password).
limit_wrong_passwords = limiter.shared_limit(
    lambda: current_app.config["LOGIN_RATE_LIMIT_ADDRESS"],
    scope="account-password",
    key_func=lambda: current_user.email,
    methods=["POST"],
    deduct_when=lambda response: g.get("wrong_password", False),
)


def render_account(
    password_form: PasswordChangeForm | None = None, remove_form: TotpRemoveForm | None = None
) -> str:
    return render_template(
        "review/account.html",
        password_form=password_form or PasswordChangeForm(formdata=None),
        remove_form=remove_form or TotpRemoveForm(formdata=None),
        totp_on=current_user.totp_secret is not None,
        totp_required=current_app.config["STAFF_TOTP"] == "required",
    )


def confirmed_by_password(form: FlaskForm, field: Field, wrong: str, purpose: str) -> bool:
    """Validate `form` and check that `field` holds the user's password; if not, say so beside
    it and audit the failure."""
    if not form.validate_on_submit():
        return False
    if accounts.password_matches(current_user, field.data or ""):
        return True
    field.errors.append(wrong)
    accounts.record_wrong_password(current_user, purpose)
    g.wrong_password = True
    return False


@bp.get("/account")
def account() -> str:
    return render_account()


@bp.post("/account/password")
@limit_wrong_passwords
def change_password() -> Response | tuple[str, int]:
    form = PasswordChangeForm()
    wrong = _("The current password is wrong.")
    if not confirmed_by_password(form, form.current_password, wrong, "password change"):
        return render_account(password_form=form), 422
    accounts.set_password(current_user.email, form.new_password.data or "", current_user.email)
    sessions.keep_after_own_change(current_user)
    flash(_("Your password is changed. Every other session of yours has ended."))
    return redirect(url_for("review.account"), 303)


@bp.route("/account/totp", methods=["GET", "POST"])
@limit_wrong_passwords
def enrol_totp() -> str | Response | tuple[str, int]:
    """Bind a second factor: the account's password and a code of the new authenticator."""
    if current_user.totp_secret is not None:
        return redirect(url_for("review.account"), 303)
    secret = session.setdefault(ENROLLING, totp.new_secret())
    form = TotpConfirmForm()
    wrong_code = False
    wrong = _("The password is wrong.")
    if confirmed_by_password(form, form.password, wrong, "second factor enrolment"):
        step = totp.matching_step(secret, form.code.data or "", datetime.now(UTC))
        if step is not None:
            codes = accounts.enable_totp(current_user, secret, step)
            session.pop(ENROLLING)
            sessions.keep_after_own_change(current_user)
            return render_template("review/recovery_codes.html", codes=codes)
        wrong_code = True
    uri = totp.provisioning_uri(secret, current_user.email, current_app.config["STAFF_TOTP_ISSUER"])
    page = render_template(
        "review/totp.html",
        form=form,
        secret=" ".join(textwrap.wrap(secret, 4)),
        qr_code=totp.qr_code_data_uri(uri),
        wrong_code=wrong_code,
    )
    return (page, 422) if request.method == "POST" else page  # any form back is a refusal


@bp.post("/account/totp/remove")
@limit_wrong_passwords
def remove_totp() -> Response | tuple[str, int]:
    form = TotpRemoveForm()
    wrong = _("The password is wrong.")
    if not confirmed_by_password(form, form.password, wrong, "second factor removal"):
        return render_account(remove_form=form), 422
    accounts.remove_totp(current_user.email, current_user.email)
    sessions.keep_after_own_change(current_user)
    flash(_("The second factor is removed. Every other session of yours has ended."))
    return redirect(url_for("review.account"), 303)
