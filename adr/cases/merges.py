"""Duplicates merged into their original (ICH E2D 5.6.1, GVP 2021): nothing a duplicate said is
lost.

Marking a case a duplicate moves its reports, as received and with their own day 0, into the
original's case. A report that adds something to the original's current view is a follow-up
there, with its own deadline (a death gives the original the death clock and the investigation);
one that adds nothing (the same report sent twice) is a copy: it owes the regulator nothing and
is listed as 重复. If the duplicate's own file went to the national system, a nullification is
made for it. Undoing a merge puts everything back, audited.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from adr import audit, e2b, reactions
from adr.cases import clock
from adr.cases.view import DRUG_COLUMNS, VIEW_COLUMNS, CurrentView, current_view, is_empty
from adr.models import Case, CaseMerge, Reaction, Report, Submission

# A merged report that owes the regulator reopens a case in these statuses, as a follow-up does.
REOPENED = ("submitted", "closed", "invalid")
DRUG_FACTS = tuple(c for c in DRUG_COLUMNS if c not in ("position", "product_id"))


def find_report(session: Session, reference: str) -> Report | None:
    return session.scalar(sa.select(Report).where(Report.reference == reference))


def adds_nothing(report: Report, view: CurrentView) -> bool:
    """Tell whether every value the report gives is the view's already: a copy of it."""
    for column in VIEW_COLUMNS:
        value = getattr(report, column)
        if not is_empty(value) and view.values.get(column) != value:
            return False
    held = {(d.role, (d.generic_name or d.brand_name or "").casefold()): d for d in view.drugs}
    for drug in report.drugs:
        known = held.get((drug.role, (drug.generic_name or drug.brand_name or "").casefold()))
        if known is None:
            return False
        for column in DRUG_FACTS:
            value = getattr(drug, column)
            if not is_empty(value) and getattr(known, column) != value:
                return False
    return True


def merge(
    session: Session,
    duplicate: Case,
    original: Case,
    actor: str,
    approved_by: str | None = None,
    reason: str | None = None,
) -> CaseMerge:
    """Move the duplicate's reports into the original's case and derive its clocks again."""
    original = clock.lock(session, original.id)
    record = CaseMerge(
        duplicate_case_id=duplicate.id,
        original_case_id=original.id,
        status_before=duplicate.status,
        reason=reason,
        merged_at=datetime.now(UTC),
        merged_by=actor,
        approved_by=approved_by,
    )
    session.add(record)
    session.flush()
    nullify(session, duplicate, original, actor)
    head = original.first_report
    moved = list(duplicate.reports)
    held = list(original.reports)
    owing = False
    for report in moved:
        report.duplicate_copy = adds_nothing(report, current_view(held))
        owing |= not report.duplicate_copy
        held.append(report)
        report.merge_id = record.id
        if report.follow_up_of_id is None:
            report.follow_up_of_id = head.id
        report.case_id = original.id
        audit.record(
            session, actor, "merged", report.id, "case", moved[0].reference, head.reference
        )
    audit.record(session, actor, "assessment", moved[0].id, "status", duplicate.status, "duplicate")
    audit.record(session, actor, "assessment", moved[0].id, "duplicate_of", None, head.reference)
    duplicate.status, duplicate.duplicate_of_id = "duplicate", original.id
    session.flush()
    session.expire(original, ["reports"])
    session.expire(duplicate, ["reports"])
    if owing and original.status in REOPENED:
        audit.record(
            session, actor, "case reopened", head.id, "status", original.status, "in_review"
        )
        original.status = "in_review"
    for report in moved:
        if not report.duplicate_copy:
            reactions.add_reported(session, original, report)
    clock.recompute(session, original, actor)
    return record


def nullify(session: Session, duplicate: Case, original: Case, actor: str) -> Submission | None:
    """Make the nullification of the duplicate's own E2B file, when one went; None otherwise.

    A report sent another way (its date recorded) is nullified by hand: the case page says so.
    """
    sent = [s for s in duplicate.submissions if s.kind == "report"]
    if not sent or any(s.kind == "nullification" for s in duplicate.submissions):
        return None
    reason = f"duplicate of {e2b.safety_report_id(original)}"[: e2b.REASON_MAX]
    try:
        return e2b.submit(session, duplicate, actor, "nullification", reason)
    except (e2b.NotReady, e2b.E2BError):
        return None


def undo(session: Session, merge_id: int, actor: str, reason: str) -> None:
    """Put a merge's reports back in their own case, as they were, and derive both clocks."""
    record = session.get(CaseMerge, merge_id)
    if record is None or record.undone_at is not None:
        raise LookupError(f"no merge {merge_id} to undo")
    original = clock.lock(session, record.original_case_id)
    duplicate = clock.lock(session, record.duplicate_case_id)
    moved = list(
        session.scalars(sa.select(Report).where(Report.merge_id == record.id).order_by(Report.id))
    )
    moved_ids = {report.id for report in moved}
    for report in moved:
        if report.follow_up_of_id not in moved_ids:
            report.follow_up_of_id = None
        report.case_id, report.merge_id, report.duplicate_copy = duplicate.id, None, False
        audit.record(
            session,
            actor,
            "merge undone",
            report.id,
            "case",
            original.first_report.reference,
            moved[0].reference,
        )
    for reaction in session.scalars(
        sa.select(Reaction).where(
            Reaction.case_id == original.id, Reaction.report_id.in_(moved_ids)
        )
    ):
        session.delete(reaction)
    record.undone_at, record.undone_by, record.undo_reason = datetime.now(UTC), actor, reason
    audit.record(session, actor, "reason", moved[0].id, "merge", None, reason)
    duplicate.status, duplicate.duplicate_of_id = record.status_before, None
    audit.record(
        session, actor, "assessment", moved[0].id, "status", "duplicate", record.status_before
    )
    session.flush()
    for case in (original, duplicate):
        session.expire(case, ["reports", "reactions"])
        clock.recompute(session, case, actor)


def merged_into(case_id: int, session: Session) -> list[CaseMerge]:
    """Return the merges that brought reports into the case, oldest first, undone ones too."""
    return list(
        session.scalars(
            sa.select(CaseMerge).where(CaseMerge.original_case_id == case_id).order_by(CaseMerge.id)
        )
    )
