"""Views of the public intake: parse the request, call the rules and the store, render."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import (
    abort,
    after_this_request,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from adr import follow_up_links, regulatory
from adr.cases.reports import Stored, reference_for_token, store_report
from adr.extensions import db, limiter
from adr.http import accepts_files, upload_limit
from adr.i18n import current_language
from adr.inbox import documents
from adr.intake import bp
from adr.intake.forms import FollowUpForm, ReportForm, drug_from_pack, expiry_limit
from adr.intake.pages import blank_form_page, render_form

REPORT_FORMS = ("intake.submit_report", "intake.follow_up")  # the endpoints that receive a report


@bp.get("/")
def index() -> str:
    return render_template("intake/index.html")


@bp.get("/privacy")
def privacy() -> str:
    return render_template("intake/privacy.html")


@bp.app_template_global()
def field_attrs(
    field: Any, hint: object = None, extra: dict[str, Any] | None = None, required: bool = False
) -> dict[str, Any]:
    """Return `extra` and the attributes that tie a field to its hint and error message."""
    described_by = [f"{field.id}-error"] if field.errors else []
    if hint:
        described_by.append(f"{field.id}-hint")
    attrs = dict(extra or {})
    if described_by:
        attrs["aria-describedby"] = " ".join(described_by)
    if field.errors:
        attrs["aria-invalid"] = "true"
    if required:
        attrs["required"] = True
    if field.type == "Date":  # a date to come is refused: the picker stops at today (China)
        attrs.setdefault("max", regulatory.china_today().isoformat())
    if field.type == "ExpiryDate":  # printed on a pack: up to ten years from today
        attrs.setdefault("max", expiry_limit().isoformat())
    return attrs


@bp.app_template_global()
def company_name() -> str:
    key = "COMPANY_NAME_EN" if current_language() == "en" else "COMPANY_NAME"
    return current_app.config[key]


def report_rate_limit() -> str:
    return current_app.config["REPORT_RATE_LIMIT"]


def report_cost() -> int:
    """Count a report sent once, and each file sent with it once more."""
    return 1 + sum(1 for _name, upload in request.files.items(multi=True) if upload.filename)


def public_upload_limit() -> int:
    """Return how large a report form may be: the files it may carry, and the rest of it."""
    config = current_app.config
    files = int(config["PUBLIC_UPLOAD_COUNT"]) * int(config["PUBLIC_UPLOAD_MAX_MB"]) * documents.MB
    return files + int(config["MAX_CONTENT_LENGTH"])


@bp.get("/report")
def report_form() -> str:
    drug_rows = request.args.get("drugs", default=1, type=int)
    follow_up_of = request.args.get("follow_up_of", type=regulatory.normalize_reference)
    return blank_form_page(drug_rows, follow_up_of, drug_from_pack(request.args))


@bp.post("/report")
@accepts_files(public_upload_limit)
@limiter.limit(report_rate_limit, cost=report_cost)
def submit_report() -> Response | tuple[str, int]:
    return receive(ReportForm.posted())


@bp.route("/report/follow-up/<token>", methods=["GET", "POST"])
@accepts_files(public_upload_limit)
@limiter.limit(report_rate_limit, cost=report_cost)
def follow_up(token: str) -> Response | tuple[str, int]:
    """The form of an acknowledgement's private link: a follow-up to the report it was sent for."""
    link = follow_up_links.find(token)
    if link is None:
        abort(404)
    reference = link.report.reference

    @after_this_request
    def no_referrer(response: Response) -> Response:
        response.headers["Referrer-Policy"] = "no-referrer"  # the token stays in this page
        return response

    # A form opened in time may be sent a little late.
    grace = follow_up_links.SEND_GRACE if request.method == "POST" else timedelta(0)
    if follow_up_links.is_expired(link, grace):
        if request.method == "POST":  # opened in time, sent too late: the public form takes it
            form = ReportForm.posted()
            form.follow_up_of.data = reference
            notice = _(
                "This link has expired, so send the form from here: your reference is in it."
            )
            return render_form(form, 410, notice)
        return render_template("intake/follow_up_expired.html", reference=reference), 410
    if request.method == "GET":
        return form_page(FollowUpForm.blank(follow_up_of=reference))
    form = FollowUpForm.posted()
    form.follow_up_of.data = reference  # the link's report, whatever was posted
    form.link_report = link.report
    return receive(form)


def receive(form: ReportForm) -> Response | tuple[str, int]:
    """Store a posted report and lead to its confirmation, or give the form back."""
    if form.website.data:  # a bot: look like success, keep nothing
        fake = regulatory.new_reference(datetime.now(UTC))
        return redirect(url_for("intake.submitted", reference=fake), 303)
    if {"add_drug", "remove_drug"} & request.form.keys():
        return form_page(form, notice=form.change_drug_rows(request.form))
    submission_token = form.token()
    sent_before = reference_for_token(submission_token)
    if sent_before:  # a second click, or the form sent again: the first report's page
        return redirect(url_for("intake.submitted", reference=sent_before), 303)
    valid = form.validate()
    files = form.accepted_files()  # each refused file said at its field, with the form's errors
    if not valid or any(field.errors for field in form.file_fields()):
        return form_page(form, 422)
    try:
        stored = store(form, submission_token, files)
    except documents.Refused as refused:  # the case could not keep them all
        next(field for field in form.file_fields() if field.uploads()).refuse(refused)
        return form_page(form, 422)
    # What the confirmation says of the acknowledgement comes from the sender's own session:
    # the page answers nothing about a reference someone else holds.
    session["submitted"] = list(stored)
    return redirect(url_for("intake.submitted", reference=stored.reference), 303)


LOCK_CYCLES = {"40P01", "40001"}  # PostgreSQL's deadlock_detected, serialization_failure


def store(form: ReportForm, token: str, files: list[documents.Accepted]) -> Stored:
    """Store the posted report; once more if PostgreSQL undid it to end a lock cycle with
    another writer (a staff action on its case or products), rather than give it back."""
    try:
        return store_report(form.to_report(), token, current_language(), files=files)
    except sa.exc.OperationalError as error:
        if getattr(error.orig, "sqlstate", None) not in LOCK_CYCLES:
            raise
        current_app.logger.warning("storing the report again after %s", type(error.orig).__name__)
    db.session.rollback()
    return store_report(form.to_report(), token, current_language(), files=files)


def form_page(form: ReportForm, status: int = 200, notice: str | None = None) -> tuple[str, int]:
    """Render the form on the page it was sent from: the public form, or a follow-up link's.

    Given back after a post, it asks for the files sent again: a page cannot hold them.
    """
    if request.method == "POST":
        form.ask_for_files_again()
    if request.endpoint != "intake.follow_up":
        return render_form(form, status, notice)
    action = url_for("intake.follow_up", token=(request.view_args or {})["token"])
    return render_form(
        form, status, notice, follow_up_reference=form.follow_up_of.data, form_action=action
    )


def posting_a_report() -> bool:
    """Tell whether this request sends a report form, which an error must give back whole."""
    return request.method == "POST" and request.endpoint in REPORT_FORMS


@bp.get("/report/submitted/<reference>")
@limiter.limit(report_rate_limit)
def submitted(reference: str) -> str:
    if not regulatory.REFERENCE_RE.fullmatch(reference):
        abort(404)
    acknowledged = session.get("submitted") == [reference, True]
    return render_template("intake/submitted.html", reference=reference, acknowledged=acknowledged)


@bp.errorhandler(CSRFError)
def csrf_refused(error: CSRFError) -> tuple[str, int]:
    """Give the form back, values kept, when its token expired or the session was lost."""
    if not posting_a_report():
        return render_template(
            "error.html", message=_("This page has expired. Go back, reload it and try again.")
        ), 400
    if "expired" in (error.description or ""):
        notice = _(
            "The form was open for a long time, so we could not accept it yet. "
            "Nothing was lost: check it and send it again."
        )
    else:
        notice = _(
            "We could not confirm that this form came from our site. "
            "Nothing was lost: check it and send it again."
        )
    return form_page(ReportForm.posted(), 400, notice)


@bp.errorhandler(RequestEntityTooLarge)
def too_large(error: RequestEntityTooLarge) -> tuple[str, int]:
    """Say what is too large: the files sent with a report, or a form's text."""
    limit = upload_limit()
    if not (posting_a_report() and limit and (request.content_length or 0) > limit):
        message = _("What was sent is too large. Shorten the longest texts and try again.")
        return render_template("error.html", message=message), 413
    config = current_app.config
    message = _(
        "The files are too large to send: at most %(count)s photos or PDF files of %(size)s MB "
        "each. Go back, choose fewer or smaller files, and send the report again.",
        count=config["PUBLIC_UPLOAD_COUNT"],
        size=config["PUBLIC_UPLOAD_MAX_MB"],
    )
    return render_template("error.html", message=message), 413


@bp.errorhandler(RateLimitExceeded)
def too_many_reports(error: RateLimitExceeded) -> tuple[str, int]:
    """Give the form back, values kept, when one client sends too many reports."""
    if not posting_a_report():
        message = _("Too many requests from your connection. Wait a minute and try again.")
        return render_template("error.html", message=message), 429
    notice = _(
        "Many reports have come from your connection in a short time. "
        "Nothing was lost: wait a minute, then send it again."
    )
    return form_page(ReportForm.posted(), 429, notice)


@bp.errorhandler(sa.exc.OperationalError)
def database_unavailable(error: sa.exc.OperationalError) -> tuple[str, int]:
    """Give the form back, values kept, while the database cannot be reached (a restart)."""
    db.session.rollback()
    current_app.logger.warning("database unavailable: %s", type(error.orig).__name__)
    if not posting_a_report():
        message = _("We cannot open this page just now. Please try again in a minute.")
        return render_template("error.html", message=message), 503
    notice = _(
        "We could not store your report just now. "
        "Nothing was lost: wait a minute, then send it again."
    )
    return form_page(ReportForm.posted(), 503, notice)
