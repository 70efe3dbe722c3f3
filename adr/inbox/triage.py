"""Triage of the safety inbox: every message decided once, each decision audited.

A message becomes a new report or a follow-up (through the staff form, in the transaction that
stores the report: `file_report`), is linked to a case already in the system, or is set aside
as not an adverse event report with a coded reason. A decision is never changed silently: a
link or a setting aside is reopened with a reason (audited, old → new) and decided again; a
report made from a message stays, and is corrected on its case's page (invalid, duplicate).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Session, selectinload

from adr import audit, regulatory, vocab
from adr.inbox import documents
from adr.inbox.reading import Reading
from adr.models import AuditEntry, Case, InboxMessage, Report, User

MAX_REASON = 500  # InboxMessage.reason_text
# The private link of an acknowledgement a reply quotes: whoever holds it may add to the case.
FOLLOW_UP_LINK = re.compile(r"(/report/follow-up/)[A-Za-z0-9_-]+")


class Refused(Exception):
    """A decision that cannot be made, and why, for staff."""


class AlreadyTriaged(Refused):
    """A decision on a message decided already (by someone else, or a second click)."""


def untriaged(session: Session, limit: int, offset: int = 0) -> list[InboxMessage]:
    """Return the untriaged messages, oldest first."""
    query = (
        sa.select(InboxMessage)
        .where(InboxMessage.outcome.is_(None))
        .order_by(InboxMessage.received_at, InboxMessage.id)
        .options(selectinload(InboxMessage.proposed_case).selectinload(Case.reports))
        .limit(limit)
        .offset(offset)
    )
    return list(session.scalars(query))


@dataclass(frozen=True)
class Waiting:
    """The untriaged messages: how many, since when, and how many are late (`is_late`)."""

    count: int
    oldest: datetime | None
    late: int


def waiting(session: Session, now: datetime) -> Waiting:
    """Return what waits for triage; a message is late after one working day untriaged."""
    untriaged = InboxMessage.outcome.is_(None)
    count, oldest = session.execute(
        sa.select(sa.func.count(), sa.func.min(InboxMessage.received_at)).where(untriaged)
    ).one()
    late = session.scalar(
        sa.select(sa.func.count()).where(
            untriaged, InboxMessage.received_at < regulatory.triage_late_before(now)
        )
    )
    return Waiting(count or 0, oldest, late or 0)


def is_late(message: InboxMessage, now: datetime) -> bool:
    """Tell whether a message has waited for triage more than one working day."""
    return message.outcome is None and message.received_at < regulatory.triage_late_before(now)


def locked(session: Session, message_id: int) -> InboxMessage:
    """Return the message, its row locked for the decision (SQLite's write lock is held)."""
    message = session.get(InboxMessage, message_id, with_for_update=True, populate_existing=True)
    if message is None:
        raise LookupError(f"no inbox message {message_id}")
    return message


def state(message: InboxMessage) -> dict[str, Any]:
    """Return a message's triage as the audit trail keeps it."""
    return {
        "message": message.id,
        "outcome": message.outcome,
        "reason": message.reason,
        "reason_text": message.reason_text,
        "case": message.case.first_report.reference if message.case else None,
        "report": message.report.reference if message.report else None,
        # Day 0: the day it arrived, and the report's awareness date if staff entered another.
        "received_on": regulatory.china_date(message.received_at).isoformat(),
        "aware_on": message.report.aware_on.isoformat() if message.report else None,
    }


def history(session: Session, message_id: int) -> list[AuditEntry]:
    """Return the audit trail's entries about a message, oldest first: stored, reconciled,
    triaged and reopened (with the reason that follows), its downloads.

    A message set aside or linked belongs to no report: its entries are found by the message
    they name (`state` and the download entries begin with its number)."""
    own = AuditEntry.field == "message"
    named = sa.or_(
        AuditEntry.new_value == str(message_id),
        AuditEntry.new_value.startswith(f'{{"message": {message_id},'),
        AuditEntry.new_value.startswith(f"{message_id}/"),
        AuditEntry.new_value.startswith(f"{message_id} "),
    )
    found = list(session.scalars(sa.select(AuditEntry).where(own, named).order_by(AuditEntry.id)))
    reopened = [e.id + 1 for e in found if e.action == "message triaged"]
    reasons = sa.select(AuditEntry).where(
        own, AuditEntry.action == "reason", AuditEntry.id.in_(reopened)
    )
    return sorted([*found, *session.scalars(reasons)], key=lambda entry: entry.id)


def state_text(stored: str, language: str) -> str:
    """Return a triage as the audit trail keeps it (`state`), as staff read it."""
    try:
        kept = json.loads(stored)
        outcome = vocab.label(vocab.INBOX_OUTCOME, kept["outcome"], language)
        parts = [
            f"#{kept['message']}",
            outcome or _("not triaged"),
            vocab.label(vocab.INBOX_REASON, kept["reason"], language),
            kept["reason_text"],
            kept["report"] or kept["case"],
        ]
        if kept.get("aware_on") and kept["aware_on"] != kept.get("received_on"):
            parts.append(
                _(
                    "awareness date %(aware_on)s, not the day it arrived (%(received_on)s)",
                    aware_on=kept["aware_on"],
                    received_on=kept["received_on"],
                )
            )
    except (ValueError, TypeError, KeyError):
        return stored
    return " · ".join(str(part) for part in parts if part)


def decide(
    session: Session,
    message: InboxMessage,
    user: User,
    outcome: str,
    *,
    case: Case | None = None,
    report: Report | None = None,
    reason: str | None = None,
    reason_text: str | None = None,
) -> None:
    """Record a decision on an untriaged message, audited; refuse another one on a triaged
    message (the same one again by the same person, a double click, changes nothing)."""
    if message.outcome is not None:
        made = (message.outcome, message.case_id, message.reason, message.triaged_by_id)
        if made == (outcome, case.id if case else None, reason, user.id):
            return
        raise AlreadyTriaged(already_triaged(message))
    before = state(message)
    message.outcome, message.case, message.report = outcome, case, report
    message.reason, message.reason_text = reason, reason_text
    message.triaged_at, message.triaged_by_id = datetime.now(UTC), user.id
    named = report or (case.first_report if case else None)
    audit.record(
        session,
        user.email,
        "message triaged",
        named.id if named else None,
        "message",
        before,
        state(message),
    )


def already_triaged(message: InboxMessage) -> str:
    """Return what staff read when they decide on a message decided already."""
    return _(
        "This message was triaged already (%(when)s, China time): reopen it with a reason to "
        "decide again.",
        when=f"{message.triaged_at.astimezone(regulatory.CHINA):%Y-%m-%d %H:%M}"
        if message.triaged_at
        else "",
    )


def link_to_case(session: Session, message_id: int, user: User, typed: str) -> Report:
    """Link the message to the case of the report named (already in the system)."""
    reference = regulatory.normalize_reference(typed)
    report = reference and session.scalar(sa.select(Report).where(Report.reference == reference))
    if not report:
        raise Refused(
            _("No report has this reference: check it (it looks like ADR-202611-7K3QD9).")
        )
    message = locked(session, message_id)
    decide(session, message, user, "existing", case=report.case, report=report)
    keep_with(session, message, report, user)
    return report


def keep_with(session: Session, message: InboxMessage, report: Report, user: User) -> None:
    """Keep the message (its raw bytes) as a source document of the report, audited once."""
    document = message.document
    if document is None or document.report_id == report.id:
        return
    document.case, document.report = report.case, report
    audit.record(
        session, user.email, "document added", report.id, new=f"#{document.id} {document.filename}"
    )


def set_aside(session: Session, message_id: int, user: User, reason: str, reason_text: str) -> None:
    """Record that the message is not an adverse event report, with its coded reason."""
    reason_text = " ".join(reason_text.split())[:MAX_REASON]
    if reason not in vocab.INBOX_REASON:
        raise Refused(_("Choose why this message is not an adverse event report."))
    if reason == "other" and not reason_text:
        raise Refused(_("Say why this message is not an adverse event report."))
    message = locked(session, message_id)
    decide(session, message, user, "not_report", reason=reason, reason_text=reason_text or None)


def reopen(session: Session, message_id: int, user: User, why: str) -> None:
    """Set a link or a setting aside back to untriaged, with the reason, both audited."""
    why = " ".join(why.split())[:MAX_REASON]
    if not why:
        raise Refused(_("Say why the decision is corrected."))
    message = locked(session, message_id)
    if message.outcome is None:
        raise Refused(_("This message is not triaged yet."))
    if message.outcome in ("new_report", "follow_up"):
        raise Refused(
            _(
                "A report was made from this message: correct it on its case's page (as "
                "invalid, or a duplicate), not here."
            )
        )
    before = state(message)
    document = message.document
    if document is not None and message.outcome == "existing" and document.report_id:
        taken_from = document.report_id  # the link undone: the message leaves the case too
        document.case = document.report = None
        audit.record(session, user.email, "document taken back", taken_from, new=f"#{document.id}")
    message.outcome = message.reason = message.reason_text = None
    message.case = message.report = None
    message.triaged_at = message.triaged_by_id = None
    named = before["report"] or before["case"]
    report_id = session.scalar(sa.select(Report.id).where(Report.reference == named))
    audit.record(
        session, user.email, "message triaged", report_id, "message", before, state(message)
    )
    audit.record(session, user.email, "reason", report_id, "message", None, why)


def file_report(
    session: Session,
    message_id: int,
    report: Report,
    user: User,
    files: list[documents.Accepted],
) -> list[tuple[str, str]]:
    """Record that a report stored in this transaction was made from the message, and keep the
    message (its raw document) and its `files` with the report; refuse a message triaged
    meanwhile. Return the files the case could not keep (its total reached), with why."""
    message = locked(session, message_id)
    outcome = "follow_up" if report.follow_up_of_id else "new_report"
    decide(session, message, user, outcome, case=report.case, report=report)
    keep_with(session, message, report, user)
    refused = []
    for accepted in files:
        try:
            documents.attach(report.case, report, accepted, origin="attachment", user=user)
        except documents.Refused as why:
            refused.append((accepted.filename, str(why)))
    return refused


def quoted(message: InboxMessage, reading: Reading, limit: int) -> str:
    """Return the message's text quoted for a report's description, at most `limit` long."""
    head = _(
        "Message to the safety inbox, received %(when)s (China time), from %(sender)s, "
        "subject: %(subject)s",
        when=f"{message.received_at.astimezone(regulatory.CHINA):%Y-%m-%d %H:%M}",
        sender=message.sender or "—",
        subject=message.subject or "—",
    )
    text = FOLLOW_UP_LINK.sub(r"\1…", reading.text)  # a quoted acknowledgement's private link
    body = "\n".join(f"> {line}" if line else ">" for line in text.split("\n"))
    text = f"{head}\n{body}" if text else head
    return text if len(text) <= limit else text[: limit - 1] + "…"
