"""The inbox's messages the app places by itself: its own mails come back, and replies to them.

A message whose Message-ID is one the outbox gave a mail to the safety inbox (a web report's
notification, a batch alert) is the app's own mail: it is reconciled as it is stored, outcome
`existing`, with its report and case (a batch alert is about several cases: none), by nobody
(`triaged_by` None). Only that Message-ID proves it: it is made at random when the mail is
written, and only the inbox's readers ever see it. Everything weaker only proposes a case, for
staff to decide on the triage page: a message answering one of our mails about a report (its
In-Reply-To or References names the mail's Message-ID: a reporter replying to the
acknowledgement), our mail to someone else that reached the inbox, and a message carrying our
X-ADR-Reference header without a Message-ID we made (anyone can write that header).
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage

import sqlalchemy as sa
from sqlalchemy.orm import Session

from adr import audit, regulatory
from adr.inbox.messages import APP, Headers, header
from adr.mailer import REFERENCE_HEADER
from adr.models import InboxMessage, OutboxMail, Report

INBOX_KINDS = ("safety_inbox", "batch_alert")  # the outbox's mails to the safety inbox


def our_mail(session: Session, message_id: str) -> OutboxMail | None:
    """Return the outbox's mail of this Message-ID, if the app wrote one."""
    return session.scalar(sa.select(OutboxMail).where(OutboxMail.message_id == message_id))


def case_of(session: Session, report_id: int | None) -> int | None:
    """Return the case a report belongs to now (after any merge)."""
    if report_id is None:
        return None
    return session.scalar(sa.select(Report.case_id).where(Report.id == report_id))


def reconcile(session: Session, message: InboxMessage, head: EmailMessage) -> str | None:
    """Reconcile the app's own mail, or propose the case a message names, from its header.

    Runs in the transaction that stores the message; returns "reconciled", "proposed" or None.
    """
    headers = Headers.of(head)
    # The message's own Message-ID: None when an earlier, different message had it first.
    ours = our_mail(session, message.message_id) if message.message_id else None
    if ours is not None and ours.kind in INBOX_KINDS:
        message.outcome = "existing"
        message.case_id = case_of(session, ours.report_id)
        message.report_id = ours.report_id  # as staff's "already in the system" links it
        message.triaged_at = datetime.now(UTC)
        message.triaged_by_id = None
        session.flush()
        audit.record(
            session,
            APP,
            "message reconciled",
            report_id=ours.report_id,
            field="message",
            new=message.id,
        )
        return "reconciled"
    message.proposed_case_id = proposed_case(session, ours, headers, header(head, REFERENCE_HEADER))
    return "proposed" if message.proposed_case_id else None


def proposed_case(
    session: Session, ours: OutboxMail | None, headers: Headers, reference: str
) -> int | None:
    """Return the case a message names: our mail itself, the mail it answers, or the header."""
    if ours is not None and ours.report_id is not None:
        return case_of(session, ours.report_id)
    if headers.in_reply_to:
        rows = session.execute(
            sa.select(OutboxMail.message_id, OutboxMail.report_id).where(
                OutboxMail.message_id.in_(headers.in_reply_to[:100]),
                OutboxMail.report_id.is_not(None),
            )
        )
        reports = {message_id: report_id for message_id, report_id in rows}
        for message_id in headers.in_reply_to:  # the mail it answers first, then the thread's
            if message_id in reports:
                return case_of(session, reports[message_id])
    normalized = regulatory.normalize_reference(reference) if reference else None
    if normalized is None:
        return None
    return session.scalar(sa.select(Report.case_id).where(Report.reference == normalized))
