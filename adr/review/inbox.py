"""The safety inbox for staff: the messages to triage, one message and its decisions, downloads,
and the month's reconciliation (page and workbook).

A new report or a follow-up is made through the staff form (`/staff/reports/new?inbox=ID`),
which files the message in the transaction that stores the report (`Filing`); the other
decisions post here. Nothing of a message is ever shown as HTML (`adr.inbox.reading`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from adr import audit, regulatory
from adr.auth.views import role_required
from adr.extensions import db
from adr.i18n import current_language
from adr.inbox import documents, reading, reconciliation, triage
from adr.intake.forms import MaxLength, StaffReportForm
from adr.models import InboxMessage, Report, User, write_transaction
from adr.review import bp
from adr.review.coding import posted_id
from adr.review.compliance import send_workbook, spooled
from adr.review.documents import download
from adr.review.queries import MAX_PAGE, utcnow

PAGE_SIZE = 50


@bp.get("/inbox")
@role_required("reviewer", "admin")
def inbox() -> str:
    """List the untriaged messages, oldest first."""
    number = request.args.get("page", 1, type=int)
    if not 1 <= number <= MAX_PAGE:
        abort(404)
    now = utcnow()
    messages = triage.untriaged(db.session(), PAGE_SIZE, (number - 1) * PAGE_SIZE)
    if number > 1 and not messages:
        abort(404)
    return render_template(
        "review/inbox.html",
        messages=messages,
        waiting=triage.waiting(db.session(), now),
        late_before=regulatory.triage_late_before(now),
        page=number,
        page_size=PAGE_SIZE,
        month=current_month(),
    )


def find_message(text: str | None) -> InboxMessage:
    """Return the message of that id; 404 for anything else."""
    return db.session.get(InboxMessage, posted_id(text)) or abort(404)


@bp.get("/inbox/<message_id>")
@role_required("reviewer", "admin")
def inbox_message(message_id: str) -> tuple[str, int]:
    return render_message(find_message(message_id))


def render_message(
    message: InboxMessage, refused: str | None = None, status: int = 200, decision: str = ""
) -> tuple[str, int]:
    """Render a message's page; `refused` says why the `decision` posted was not made."""
    raw = message.document.data if message.document else None
    shown = reading.read(raw) if raw is not None else None
    filed = []
    if message.case is not None and message.report is not None:
        filed = [d for d in message.case.documents if d.report_id == message.report_id]
    return render_template(
        "review/inbox_message.html",
        message=message,
        reading=shown,
        proposed=message.proposed_case.first_report if message.proposed_case else None,
        filed=filed,
        late=triage.is_late(message, utcnow()),
        refused=refused,
        decision=decision,
        typed=request.form if request.method == "POST" else {},
        entries=triage.history(db.session(), message.id),
    ), status


@bp.post("/inbox/<message_id>")
@role_required("reviewer", "admin")
def triage_message(message_id: str) -> Response | tuple[str, int]:
    """Link the message to a case, set it aside as not a report, or reopen it (with a reason)."""
    message = find_message(message_id)
    decision = request.form.get("decision", "")
    user: User = current_user._get_current_object()
    form = request.form
    actions: dict[str, Callable[[Session], Any]] = {
        "existing": lambda s: triage.link_to_case(s, message.id, user, form.get("case", "")),
        "not_report": lambda s: triage.set_aside(
            s, message.id, user, form.get("reason", ""), form.get("reason_text", "")
        ),
        "reopen": lambda s: triage.reopen(s, message.id, user, form.get("why", "")),
    }
    if decision not in actions:
        abort(400)
    try:
        with write_transaction() as session:
            actions[decision](session)
    except triage.Refused as refused:
        status = 409 if isinstance(refused, triage.AlreadyTriaged) else 422
        return render_message(find_message(message_id), str(refused), status, decision)
    if decision == "reopen":
        flash(_("The decision is reopened: the message waits for triage again."))
        return redirect(url_for("review.inbox_message", message_id=message.id), 303)
    flash(_("Message triaged: %(subject)s", subject=message.subject or "—"))
    return redirect(url_for("review.inbox"), 303)


@bp.get("/inbox/<message_id>/message.eml")
@role_required("reviewer", "admin")
def inbox_raw(message_id: str) -> Response:
    """Download the message whole, as it reached the inbox."""
    message = find_message(message_id)
    document = message.document or abort(404)
    with write_transaction() as session:
        audit.record(
            session,
            current_user.email,
            "document downloaded",
            document.report_id,
            "message",
            None,
            f"{message.id} {document.filename}",
        )
    return download(document.data, document.filename, "message/rfc822")


@bp.get("/inbox/<message_id>/attachments/<number>")
@role_required("reviewer", "admin")
def inbox_attachment(message_id: str, number: str) -> Response:
    """Download one attachment of a message, as its sender sent it."""
    message = find_message(message_id)
    document = message.document or abort(404)
    found = reading.attachment(document.data, posted_id(number)) or abort(404)
    attachment, data = found
    with write_transaction() as session:
        audit.record(
            session,
            current_user.email,
            "document downloaded",
            message.report_id,
            "message",
            None,
            f"{message.id}/{attachment.number} {attachment.filename}",
        )
    return download(data, attachment.filename, "application/octet-stream")


# Reports made from a message: the staff form (adr.review.views.new_report) calls these.


def named_message(text: str | None) -> InboxMessage | None:
    """Return the message a staff form names (`?inbox=` or its hidden field); None if none."""
    return find_message(text) if text else None


def prefill(form: StaffReportForm, message: InboxMessage) -> None:
    """Fill the staff form from a message: source e-mail, day 0 the China day it arrived, and
    its text quoted in the description."""
    shown = reading.read(message.document.data) if message.document else None
    description = form.event.form.description
    limit = next(v.limit for v in description.validators if isinstance(v, MaxLength))
    form.case.form.source.data = "email"
    form.case.form.awareness_date.data = regulatory.china_date(message.received_at)
    if shown is not None and shown.readable:
        description.data = triage.quoted(message, shown, limit)
    form.inbox_message.data = str(message.id)


def already_triaged(message: InboxMessage) -> tuple[str, int]:
    """Answer a report made from a message decided already: 409, the message's page."""
    return render_message(message, triage.already_triaged(message), 409)


@dataclass
class Filing:
    """A message made a report: its attachments made safe before the report's transaction
    (`kept`, or `refused` with why), then filed with the report in it (`file`)."""

    message_id: int
    user: User
    kept: list[documents.Accepted]
    refused: list[tuple[str, str]]
    beyond_case: list[tuple[str, str]] = field(default_factory=list)  # the case's total reached

    @classmethod
    def of(cls, message: InboxMessage) -> Filing:
        raw = message.document.data if message.document else b""
        kept, refused = [], []
        for attachment, data in reading.files(raw):  # whatever becomes of its text
            try:
                kept.append(documents.accept(data, attachment.filename))
            except documents.Refused as why:
                refused.append((attachment.filename, str(why)))
        return cls(message.id, current_user._get_current_object(), kept, refused)

    def file(self, session: Session, report: Report) -> None:
        self.beyond_case = triage.file_report(
            session, self.message_id, report, self.user, self.kept
        )

    def say(self) -> None:
        """Flash what was kept with the case, and what stays only inside the message."""
        flash(
            _(
                "The message is kept with the case, with %(count)s of its attachments.",
                count=len(self.kept) - len(self.beyond_case),
            )
        )
        for filename, why in [*self.refused, *self.beyond_case]:
            flash(
                _(
                    "Attachment %(filename)s was not kept with the case (%(why)s): it stays "
                    "inside the message file.",
                    filename=filename,
                    why=why,
                )
            )


# The month's reconciliation.


@bp.get("/inbox/reconciliation")
@role_required("reviewer", "admin")
def inbox_reconciliation() -> tuple[str, int]:
    """Show every message received in the month, with what it became."""
    month = request.args.get("month", "").strip()[:20] or current_month()
    try:
        found = reconciliation.month_of(db.session(), month)
    except ValueError:
        message = _("Choose a month, written like %(example)s.", example=current_month())
        return render_template(
            "review/inbox_reconciliation.html", found=None, month=month, month_error=message
        ), 400
    language = current_language()
    return render_template(
        "review/inbox_reconciliation.html",
        found=found,
        rows=[(m, reconciliation.row(m, language)) for m in found.messages],
        month=month,
        month_error=None,
    ), 200


@bp.get("/inbox/reconciliation.xlsx")
@role_required("reviewer", "admin")
def inbox_reconciliation_sheet() -> Response:
    """Download the month's reconciliation as a workbook, audited."""
    month = request.args.get("month", "").strip()[:20] or current_month()
    try:
        found = reconciliation.month_of(db.session(), month)
    except ValueError:
        abort(400)
    spool = spooled()
    reconciliation.write_sheet(found, spool, current_language())
    with write_transaction() as session:
        audit.record(session, current_user.email, "reconciliation downloaded", field=month)
    return send_workbook(spool, f"ADR-inbox-{month}.xlsx")


def current_month() -> str:
    return f"{utcnow().astimezone(regulatory.CHINA):%Y-%m}"


@bp.app_context_processor
def inbox_helpers() -> dict[str, Any]:
    def untriaged_count() -> int:
        """Count the messages waiting for triage, once a request (the staff menu shows it)."""
        if "untriaged" not in g:
            query = sa.select(sa.func.count()).where(InboxMessage.outcome.is_(None))
            g.untriaged = db.session.scalar(query) or 0
        return int(g.untriaged)

    def waiting_for(since: datetime) -> str:
        """Return how long a message has waited, in days and hours."""
        hours = int((utcnow() - since).total_seconds() // 3600)
        if hours < 24:
            return _("%(hours)s hours", hours=max(hours, 0))
        return _("%(days)s days %(hours)s hours", days=hours // 24, hours=hours % 24)

    return {
        "file_size": documents.size_text,
        "untriaged_count": untriaged_count,
        "waiting_for": waiting_for,
    }
