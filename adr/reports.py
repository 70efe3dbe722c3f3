"""Receiving a report: derive what the rules say, store it once, in one transaction."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from adr import audit, mailer, regulatory
from adr.extensions import db
from adr.models import Report, write_transaction

STORE_ATTEMPTS = 5


def derive(report: Report, received_at: datetime) -> None:
    """Fill in what the regulation derives from a report as typed, with day 0 at `received_at`."""
    report.received_at = received_at
    report.serious = regulatory.is_serious(report.event_serious, report.event_outcome)
    report.report_category = regulatory.report_category(report.serious)
    report.due_at = regulatory.due_at(
        received_at, report.report_category, death=report.event_outcome == "death"
    )
    report.valid_case = regulatory.is_valid_case(report)
    report.completeness = regulatory.completeness(report).score


def reference_for_token(token: str) -> str | None:
    """Return the reference of the report stored with this submission token, if any."""
    return db.session.scalar(sa.select(Report.reference).where(Report.submission_token == token))


def store_report(report: Report, token: str, language: str) -> str:
    """Store a new report and return its reference.

    A token already stored returns the first report's reference and stores nothing,
    whichever request won the race (its unique constraint refuses the second insert);
    a colliding random reference is drawn again.
    """
    received_at = datetime.now(UTC)
    derive(report, received_at)
    report.submission_token = token
    report.language = language
    for _attempt in range(STORE_ATTEMPTS):
        reference = report.reference = regulatory.new_reference(received_at)
        mailer.attach_report_mails(report)  # rendered before the write lock is taken
        try:
            with write_transaction() as session:
                session.add(report)  # with its drugs and mails: all or nothing
                session.flush()
                audit.record(session, audit.PUBLIC_FORM, "report received", report.id)
            mailer.wake_sender()
            return reference  # not report.reference: the commit expired it
        except IntegrityError:
            # The token won by a concurrent request or stored before, or a reference collision.
            stored = reference_for_token(token)
            if stored:
                return stored
    raise RuntimeError(f"could not store a report in {STORE_ATTEMPTS} attempts")
