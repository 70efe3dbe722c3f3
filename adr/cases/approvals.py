"""Four-eyes: steps that wait for a second member of staff (`FOUR_EYES`, on by default).

Marking a case invalid or a duplicate, closing it, recording the date it was sent or the death
investigation's date, a correction or decision that moves a deadline or withdraws a death, and
undoing a merge become requests. Any other active member of staff may approve or refuse one; the
requester cannot. A request is carried out on the case as it was asked for: if reports joined
or left the case since, or its requester's account was deactivated, it can only be refused.
Until then nothing changes and the clock runs. Each request, approval and refusal is
audited.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from adr import audit
from adr.cases import clock
from adr.extensions import db
from adr.models import ApprovalRequest, Case, User, write_transaction

STATUS_KINDS = ("invalid", "duplicate", "close", "sent")
KINDS = (*STATUS_KINDS, "correction", "reassessment", "investigation", "unmerge")


class NotAllowed(Exception):
    """The requester cannot decide their own request."""


class Stale(Exception):
    """The request no longer fits the case (or was decided already); it says why."""


def status_kind(step: dict[str, Any]) -> str:
    """Return the kind of a status step: invalid, duplicate, close, or sent (the date sent)."""
    return {"invalid": "invalid", "duplicate": "duplicate", "closed": "close"}.get(
        step.get("status", ""), "sent"
    )


def request(
    session: Session,
    case: Case,
    actor: str,
    kind: str,
    payload: dict[str, Any],
    reason: str | None,
) -> ApprovalRequest:
    """Record a request for a second person's approval, in the caller's transaction."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    held = [report.id for report in case.reports]  # the case as it was asked for
    pending = ApprovalRequest(
        case_id=case.id,
        report_id=case.first_report.id,
        kind=kind,
        payload=payload | {"held": held},
        reason=reason,
        requested_at=datetime.now(UTC),
        requested_by=actor,
        status="pending",
    )
    session.add(pending)
    session.flush()
    audit.record(session, actor, "approval requested", pending.report_id, kind, None, payload)
    return pending


def pending(case_id: int | None = None) -> list[ApprovalRequest]:
    """Return the requests awaiting a decision, oldest first (of one case, or all)."""
    query = sa.select(ApprovalRequest).where(ApprovalRequest.status == "pending")
    if case_id is not None:
        query = query.where(ApprovalRequest.case_id == case_id)
    return list(db.session.scalars(query.order_by(ApprovalRequest.id)))


def decide(request_id: int, approve: bool, actor: str, note: str | None) -> ApprovalRequest:
    """Approve (and carry out) or refuse a pending request, in one transaction.

    Raises LookupError for no such request, NotAllowed for the requester's own, and Stale when
    it was decided already or no longer fits the case.
    """
    with write_transaction() as session:
        found = session.get(ApprovalRequest, request_id, with_for_update=True)
        if found is None:
            raise LookupError(f"no approval request {request_id}")
        if found.requested_by == actor:
            raise NotAllowed
        if found.status != "pending":
            raise Stale(_("it was decided already."))
        if approve and not requester_active(session, found):
            raise Stale(_("the account that asked for it is no longer active: refuse it."))
        case = clock.lock(session, found.case_id)
        found.status = "approved" if approve else "refused"
        found.decided_at, found.decided_by, found.decision_note = datetime.now(UTC), actor, note
        anchor = case.first_report.id if case.reports else found.report_id
        audit.record(session, actor, found.status, anchor, found.kind, note, found.payload)
        if approve:
            carry_out(session, case, found, actor)
    return found


def requester_active(session: Session, found: ApprovalRequest) -> bool:
    return bool(session.scalar(sa.select(User.active).where(User.email == found.requested_by)))


def carry_out(session: Session, case: Case, found: ApprovalRequest, approver: str) -> None:
    """Carry out an approved request as its requester asked it."""
    from adr.cases import assessment, corrections, merges

    if found.payload.get("held", []) != [report.id for report in case.reports]:
        raise Stale(_("reports joined or left the case since it was asked for: refuse it."))
    problem = assessment.still_fits(case, found)
    if problem:
        raise Stale(problem)
    requester, payload = found.requested_by, found.payload
    if found.kind in STATUS_KINDS:
        assessment.apply_status(session, case, payload, requester, approver)
    elif found.kind == "reassessment":
        assessment.decide_again(session, case, payload, requester, found.reason)
    elif found.kind == "investigation":
        assessment.record_investigation(session, case, payload, requester)
    elif found.kind == "unmerge":
        try:
            merges.undo(session, payload["merge"], requester, payload["reason"])
        except merges.Blocked as blocked:
            raise Stale(str(blocked)) from None
        return  # both cases derived again
    else:
        corrections.carry_out(session, case, payload, requester, approver)
    clock.recompute(session, case, requester)
