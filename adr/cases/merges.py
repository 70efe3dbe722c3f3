"""Duplicates merged into their original (ICH E2D 5.6.1, GVP 2021): nothing a duplicate said is
lost.

Marking a case a duplicate moves its reports, as received and with their own day 0, into the
original's case, after the reports it holds (the case as it stood once they joined it). A
report that adds something to the original's current view is a follow-up there, with its own
deadline (a death gives the original the death clock and the investigation); one that adds
nothing and was not known earlier than the original (the same report sent twice) is a copy: it
owes the regulator nothing and is listed as 重复. If the duplicate's own file went to the
national system, a nullification is made for it. Undoing a merge puts every report back as it
was, audited; merges are undone latest first.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from adr import audit, duplicates, reactions
from adr.cases import clock, holder
from adr.cases.view import DRUG_COLUMNS, VIEW_COLUMNS, CurrentView, current_view, is_empty
from adr.models import (
    Case,
    CaseMerge,
    Document,
    DuplicateCandidate,
    InboxMessage,
    Reaction,
    Report,
    Submission,
    write_transaction,
)
from adr.regulator import e2b

# A merged report that owes the regulator reopens a case in these statuses, as a follow-up does.
REOPENED = ("submitted", "closed", "invalid")
DRUG_FACTS = tuple(c for c in DRUG_COLUMNS if c not in ("position", "product_id"))
# What a merge changes of each report it moves (and `added_at`), and an undo puts back.
KEPT = ("follow_up_of_id", "merge_id", "duplicate_copy")


class Blocked(Exception):
    """A merge that cannot be undone now, saying why."""


def find_report(session: Session, reference: str) -> Report | None:
    return session.scalar(sa.select(Report).where(Report.reference == reference))


def adds_nothing(report: Any, view: CurrentView) -> bool:
    """Tell whether every value the report gives is the view's already."""
    for column in VIEW_COLUMNS:
        value = getattr(report, column, None)  # a migration's rows lack later columns
        if not is_empty(value) and view.values.get(column) != value:
            return False
    held = {(d.role, (d.generic_name or d.brand_name or "").casefold()): d for d in view.drugs}
    for drug in report.drugs:
        known = held.get((drug.role, (drug.generic_name or drug.brand_name or "").casefold()))
        if known is None:
            return False
        for column in DRUG_FACTS:
            value = getattr(drug, column, None)
            if not is_empty(value) and getattr(known, column, None) != value:
                return False
    return True


def is_copy(report: Any, held: list[Any]) -> bool:
    """Tell whether a merged report is a copy of what the case held: it adds nothing, and the
    company did not know of it before the case's first report (else its day 0 stands)."""
    first_known = min(r.aware_on for r in held)
    return report.aware_on >= first_known and adds_nothing(report, current_view(held))


def snapshot(report: Report) -> dict[str, Any]:
    kept = {name: getattr(report, name) for name in KEPT}
    return {"id": report.id, "added_at": report.added_at.isoformat()} | kept


def merge(
    session: Session,
    duplicate: Case,
    original: Case,
    actor: str,
    approved_by: str | None = None,
    reason: str | None = None,
) -> CaseMerge:
    """Move the duplicate's reports, and its source documents, into the original's case and
    derive its clocks again."""
    original = clock.lock(session, original.id)
    now = datetime.now(UTC)
    moved = list(duplicate.reports)
    record = CaseMerge(
        duplicate_case_id=duplicate.id,
        original_case_id=original.id,
        status_before=duplicate.status,
        moved=[snapshot(report) for report in moved],
        reason=reason,
        merged_at=now,
        merged_by=actor,
        approved_by=approved_by,
    )
    session.add(record)
    session.flush()
    candidate = duplicates.pair(duplicate.id, original.id)
    if candidate is not None and candidate.decision == "none":  # proposed by the matcher
        duplicates.decide(session, candidate.id, "duplicate", actor)
    carry_pairs(session, duplicate, original)
    nullify(session, duplicate, original, actor)
    head = original.first_report
    held = list(original.reports)
    owing = False
    for report in moved:
        report.duplicate_copy = is_copy(report, held)
        owing |= not report.duplicate_copy
        held.append(report)
        report.merge_id, report.added_at = record.id, now
        if report.follow_up_of_id is None:
            report.follow_up_of_id = head.id
        report.case_id = original.id
        audit.record(
            session, actor, "merged", report.id, "case", moved[0].reference, head.reference
        )
    # Its source documents join the original's; one of the case as a whole goes with its first
    # report, so that an undo takes it back.
    session.execute(
        sa.update(Document)
        .where(Document.case_id == duplicate.id)
        .values(case_id=original.id, report_id=sa.func.coalesce(Document.report_id, moved[0].id))
    )
    # The inbox's messages it became, or that were proposed for it, name the original now.
    for column in (InboxMessage.case_id, InboxMessage.proposed_case_id):
        session.execute(
            sa.update(InboxMessage).where(column == duplicate.id).values({column: original.id})
        )
    audit.record(session, actor, "assessment", moved[0].id, "status", duplicate.status, "duplicate")
    audit.record(session, actor, "assessment", moved[0].id, "duplicate_of", None, head.reference)
    duplicate.status, duplicate.duplicate_of_id = "duplicate", original.id
    session.flush()
    session.expire(original, ["reports"])
    session.expire(duplicate, ["reports"])
    if owing and original.status in REOPENED:
        record.original_status_before = original.status
        audit.record(
            session, actor, "case reopened", head.id, "status", original.status, "in_review"
        )
        original.status = "in_review"
    for report in moved:
        if not report.duplicate_copy:
            reactions.add_reported(original, report)
            holder.add_reported_disease(original, report)
    clock.recompute(session, original, actor)
    return record


def carry_pairs(session: Session, duplicate: Case, original: Case) -> None:
    """Give the original the duplicate's undecided candidate pairs, to be decided on its page;
    one the original has already is dropped."""
    undecided = sa.select(DuplicateCandidate).where(
        DuplicateCandidate.decision == "none",
        sa.or_(
            DuplicateCandidate.case_id == duplicate.id,
            DuplicateCandidate.candidate_case_id == duplicate.id,
        ),
    )
    for candidate in session.scalars(undecided).all():
        mine = candidate.case_id == duplicate.id
        other = candidate.candidate_case_id if mine else candidate.case_id
        if other == original.id or duplicates.pair(original.id, other) is not None:
            session.delete(candidate)
        elif mine:
            candidate.case_id = original.id
        else:
            candidate.candidate_case_id = original.id
        session.flush()


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


def undo_problem(session: Session, record: CaseMerge) -> str | None:
    """Return why the merge cannot be undone now, or None."""
    if record.undone_at is not None:
        return _("This merge was undone already.")
    ids = [item["id"] for item in record.moved]
    where = set(session.scalars(sa.select(Report.case_id).where(Report.id.in_(ids))))
    if where != {record.original_case_id}:
        return _("Its case was merged into another since: undo that merge first.")
    return None


def undo(session: Session, merge_id: int, actor: str, reason: str) -> list[clock.Move]:
    """Put a merge's reports back in their own case, as they were, and derive both clocks;
    return each report's deadline that moved.

    With them go their source documents, the follow-ups entered since that follow up one of
    them, and the decisions resting on them (a decision rests on a report: staff re-assess the
    original if one concerned it, which the request shows). The original's status goes back if
    the merge reopened it and no one moved it since. Raises Blocked when the merge cannot be
    undone now.
    """
    record = session.get(CaseMerge, merge_id)
    if record is None:
        raise LookupError(f"no merge {merge_id}")
    problem = undo_problem(session, record)
    if problem:
        raise Blocked(problem)
    original = clock.lock(session, record.original_case_id)
    duplicate = clock.lock(session, record.duplicate_case_id)
    before = {item["id"]: item for item in record.moved}
    deadlines = clock.deadlines([original])
    moved = list(session.scalars(sa.select(Report).where(Report.id.in_(before))))
    for report in moved:
        for name in KEPT:
            setattr(report, name, before[report.id][name])
        report.added_at = datetime.fromisoformat(before[report.id]["added_at"])
        report.case_id = duplicate.id
    since = list(  # follow-ups entered while merged, of a report going back
        session.scalars(
            sa.select(Report).where(
                Report.case_id == original.id,
                Report.follow_up_of_id.in_(before),
                Report.id.not_in(before),
            )
        )
    )
    for report in since:
        report.case_id = duplicate.id
    home = next(r.reference for r in moved if r.follow_up_of_id is None)
    going = [*moved, *since]
    for report in sorted(going, key=lambda r: r.id):
        audit.record(
            session, actor, "merge undone", report.id, "case", original.first_report.reference, home
        )
    session.execute(
        sa.update(Document)
        .where(Document.report_id.in_([r.id for r in going]))
        .values(case_id=duplicate.id)
    )
    session.execute(
        sa.update(InboxMessage)
        .where(InboxMessage.report_id.in_([r.id for r in going]))
        .values(case_id=duplicate.id)
    )
    for reaction in session.scalars(
        sa.select(Reaction).where(
            Reaction.case_id == original.id, Reaction.report_id.in_([r.id for r in going])
        )
    ):
        session.delete(reaction)
    session.flush()
    session.expire(original, ["reports", "reactions"])
    session.expire(duplicate, ["reports", "reactions"])
    stay = original.reports[-1]
    record.undone_at, record.undone_by, record.undo_reason = datetime.now(UTC), actor, reason
    audit.record(session, actor, "reason", stay.id, "merge", None, reason)
    duplicate.status, duplicate.duplicate_of_id = record.status_before, None
    audit.record(session, actor, "assessment", moved[0].id, "status", "duplicate", duplicate.status)
    if record.original_status_before and original.status == "in_review":
        audit.record(
            session,
            actor,
            "assessment",
            stay.id,
            "status",
            "in_review",
            record.original_status_before,
        )
        original.status = record.original_status_before
    session.flush()
    for case in (original, duplicate):
        session.expire(case, ["reports"])
        clock.recompute(session, case, actor)
    return clock.moves(deadlines, clock.deadlines([original, duplicate]))


class _Trial(Exception):
    def __init__(self, moves: list[clock.Move]) -> None:
        super().__init__()
        self.moves = moves


def undo_moves(merge_id: int, actor: str, reason: str) -> list[clock.Move]:
    """Return the deadlines undoing the merge would move, changing nothing (for the request a
    second person approves)."""
    try:
        with write_transaction() as session:
            raise _Trial(undo(session, merge_id, actor, reason))
    except _Trial as trial:
        return trial.moves


def own_first(session: Session, report: Report) -> int:
    """Return the id of the first report of the case `report` came in with: its case's first
    report, or, for a report merged in from a duplicate, the duplicate's own first report (a
    follow-up of it goes back with it if the merge is undone)."""
    first, merge_id = report.follow_up_of_id, report.merge_id
    while merge_id is not None:  # through each merge still in force, the latest first
        record = session.get(CaseMerge, merge_id)
        if record is None:
            break
        item = next(i for i in record.moved if i["id"] == report.id)
        first, merge_id = item["follow_up_of_id"], item["merge_id"]
    return first or report.id


def merged_into(case_id: int, session: Session) -> list[CaseMerge]:
    """Return the merges that brought reports into the case, oldest first, undone ones too."""
    return list(
        session.scalars(
            sa.select(CaseMerge).where(CaseMerge.original_case_id == case_id).order_by(CaseMerge.id)
        )
    )
