"""Receiving a report: derive what the rules say, store it once, in one transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from itertools import chain
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, make_transient_to_detached

from adr import (
    audit,
    batch_tally,
    batches,
    cases,
    duplicates,
    mailer,
    products,
    reactions,
    regulatory,
    search,
)
from adr.cases import holder
from adr.extensions import db
from adr.inbox.documents import Accepted, attach
from adr.models import (
    CASE_COPIES,
    Case,
    Report,
    count_open_case,
    insert_new,
    lock_case_products,
    lock_products,
    open_case_deltas,
    write_transaction,
)
from adr.signals import group_events

STORE_ATTEMPTS = 5
# New information must be assessed again: a follow-up reopens a case in these statuses.
REOPENED_BY_FOLLOW_UP = ("submitted", "closed", "invalid")


def preview(report: Report, earlier: list[Report], case: Case) -> None:
    """Set the new report's clock as it will stand once added to `case` after `earlier`."""
    for name, value in cases.clocks([*earlier, report], case)[-1].for_report().items():
        setattr(report, name, value)


class Stored(NamedTuple):
    """A report stored: its reference, and whether its reporter is mailed it (queued or sent)."""

    reference: str
    acknowledged: bool


BY_TOKEN = sa.select(Report.reference).where(Report.submission_token == sa.bindparam("token"))


def reference_for_token(token: str) -> str | None:
    """Return the reference of the report stored with this submission token, if any (on the
    session's connection: every post asks it, and the ORM's execution cost more than the query)."""
    return db.session.connection().scalar(BY_TOKEN, {"token": token})


def insert_new_case(session: Session, case: Case, report: Report) -> None:
    """Insert a new case with its one report and the rows they hold (drugs, reactions, disease,
    mails, follow-up link) by Core, then hold them in the session as loaded, with what the
    flush's hooks would note for them: the unit of work cost an intake more than its inserts.
    """
    connection = session.connection()
    insert_new(connection, [case])
    for name, copy in CASE_COPIES.items():  # as `copy_onto_new_reports`, the defaults taken
        setattr(report, copy, getattr(case, name))
    report.case_id = case.id
    insert_new(connection, [report])
    for reaction in case.reactions:
        reaction.case_id, reaction.report_id = case.id, report.id
    for disease in case.diseases:
        disease.case_id, disease.report_id = case.id, report.id
    for drug in report.drugs:
        drug.report_id = report.id
    for mail in report.mails:
        mail.report_id = report.id
    for link in report.follow_up_links:
        link.report_id = report.id
    held = (report.drugs, case.reactions, case.diseases, report.mails, report.follow_up_links)
    for rows in held:
        insert_new(connection, rows)
    for thing in (case, report, *chain.from_iterable(held)):
        make_transient_to_detached(thing)
    session.add(case)  # and with it all it holds
    count_open_case(open_case_deltas(session), case)
    batch_tally.note_inserted_case(session, case.id)


def store_report(
    report: Report,
    token: str,
    language: str,
    actor: str = audit.PUBLIC_FORM,
    files: Sequence[Accepted] = (),
    also: Callable[[Session, Report], None] | None = None,
) -> Stored:
    """Store a new report in its case, with the files its reporter sent with the public form
    (`files`, kept as source documents of the report); return its reference, and whether an
    acknowledgement was queued with it (no query after the commit: a round trip the less).

    A follow-up (`follow_up_of_id` set, by staff or a private link) joins the first report's
    case and reopens it if it was submitted, closed or invalid; any other report opens a case,
    a public claim to follow one up (`claimed_follow_up_of`) included. A token already stored
    returns the first report's reference and stores nothing, whichever request won the race (its
    unique constraint refuses the second insert); a colliding random reference is drawn again.
    Raises `Refused`, storing nothing, when the files would take the case past its total.
    `also` does more in the same transaction (an inbox message filed); what it raises undoes all.
    """
    received_at = datetime.now(UTC)
    report.received_at = report.added_at = received_at
    report.aware_on = report.aware_on or regulatory.china_date(received_at)
    report.submission_token = token
    report.language = language
    first = db.session.get(Report, report.follow_up_of_id) if report.follow_up_of_id else None
    if first:  # a duplicate's reports are its original's: quoting one joins the original
        preview(report, list(first.case.reports), first.case)
    else:
        preview(report, [], Case())
    products.link(report.drugs)
    found = [] if first else duplicates.find_candidates(report)  # before the write lock
    suggestion = products.suggest_expectedness([*(first.case.reports if first else []), report])
    for _attempt in range(STORE_ATTEMPTS):
        reference = report.reference = regulatory.new_reference(received_at)
        mailer.attach_report_mails(report, len(files))  # rendered before the write lock
        acknowledged = any(mail.kind == "acknowledgement" for mail in report.mails)
        inserted = False
        try:
            with write_transaction() as session:
                # What a new case or report holds starts empty rather than queried after the flush.
                case = (
                    cases.lock(session, first.case_id)
                    if first
                    else Case(status="received", reactions=[], diseases=[])
                )
                report.decisions = []
                report.case = case  # with its drugs and mails: all or nothing
                case.suggested_expectedness = suggestion.code if suggestion else None
                if first:
                    session.add(report)
                else:  # a new case is inserted with its clock: nothing moved to audit
                    cases.recompute(session, case, actor, received=report)
                # The terms and the disease it names, inserted with it (the clock reads neither).
                reactions.add_reported(case, report)
                holder.add_reported_disease(case, report)
                if first:
                    session.flush()
                else:
                    insert_new_case(session, case, report)
                    inserted = True
                search.index_report(session, report)
                audit.record(session, actor, "report received", report.id)
                if report.claimed_follow_up_of:
                    audit.record(
                        session,
                        actor,
                        "follow-up claimed",
                        report.id,
                        "follow_up_of",
                        None,
                        report.claimed_follow_up_of,
                    )
                duplicates.record(session, report, found)
                for accepted in files:
                    attach(case, report, accepted, origin="web", user=None, actor=actor)
                if first and case.status in REOPENED_BY_FOLLOW_UP:
                    audit.record(
                        session,
                        actor,
                        "case reopened",
                        first.id,
                        "status",
                        case.status,
                        "in_review",
                    )
                    case.status = "in_review"
                if first:
                    cases.recompute(session, case, actor, received=report)
                # Its products locked at once, in id order, before any is counted: locked one
                # check at a time, a higher one held could wait for a lower (the window's move).
                # A follow-up's counts count its case: the products of the case's reports too.
                if first:
                    lock_case_products(session, case.id)
                else:
                    lock_products(
                        session, (drug.product_id for drug in report.drugs if drug.product_id)
                    )
                batches.check_batches(session, report)  # counts this report: after its case
                # A new case is its one report, at hand.
                group_events.check_case(
                    session, case.id, actor, report.id, None if first else report
                )
                if also is not None:
                    also(session, report)
            mailer.wake_sender()
            return Stored(reference, acknowledged)  # not report.reference: the commit expired it
        except IntegrityError:
            # The token won by a concurrent request or stored before, or a reference collision.
            stored = reference_for_token(token)
            if stored:
                return Stored(stored, mailer.acknowledgement_on_its_way(stored))
            if inserted:  # not the report's own insert: its rows, rolled back, cannot be sent again
                raise
    raise RuntimeError(f"could not store a report in {STORE_ATTEMPTS} attempts")
