"""The reviewer's queue: cases assigned to staff, saved views of the list, bulk actions.

A bulk action is the same step as on each case page, case by case: marking sent and closing go
through the assessment's checks and, under four-eyes, its approvals. The whole selection is
checked first; if any case refuses, nothing is done and the list comes back with every value
kept and each refusal beside its row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

import sqlalchemy as sa
from flask import flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from adr import audit, regulatory
from adr.auth.views import role_required
from adr.cases.assessment import Applied, Assessment, apply, problems, unsent
from adr.extensions import db
from adr.models import Case, OpenCaseCount, Report, SavedFilter, User, write_transaction
from adr.review import bp
from adr.review.integrity import flash_applied
from adr.review.queries import OWES, find_report

BULK_ACTIONS = ("assign", "sent", "close")
MAX_SELECTED = 200  # rows of a bulk action: four pages of the list
MAX_SAVED_FILTERS = 30


def assignable(current: User | None = None) -> list[User]:
    """Return the active staff a case can be assigned to, by name, and `current` whoever holds
    it (a deactivated account too, so that the page says who)."""
    users = db.session.scalars(sa.select(User).where(User.active).order_by(User.name)).all()
    return [*users, current] if current and not current.active else list(users)


def staff_for_filters() -> list[User]:
    """Return the active staff, and the deactivated ones still holding open cases."""
    holding = sa.select(OpenCaseCount.assignee_id).where(OpenCaseCount.cases > 0)
    query = sa.select(User).where(sa.or_(User.active, User.id.in_(holding)))
    return list(db.session.scalars(query.order_by(User.active.desc(), User.name)))


def account_id(text: str) -> int | None:
    """Return the account id a form or URL gives, if it can be one (no integer overflow)."""
    return int(text) if re.fullmatch(r"[0-9]{1,9}", text) else None


def assignee_from(value: str) -> tuple[User | None, bool]:
    """Return the account an `assignee` field names ("" for nobody), and whether it is one."""
    if not value:
        return None, True
    number = account_id(value)
    user = db.session.get(User, number) if number else None
    return user, user is not None and user.active


def assign(session: Session, case: Case, user: User | None, actor: str) -> bool:
    """Assign the case (None: to nobody), audited on its first report; False if unchanged."""
    old = case.assigned_to.email if case.assigned_to else None
    new = user.email if user else None
    if old == new:
        return False
    case.assigned_to_id = user.id if user else None
    audit.record(session, actor, "case assigned", case.first_report.id, "assigned_to", old, new)
    return True


@bp.post("/reports/<reference>/assign")
@role_required("reviewer", "admin")
def assign_case(reference: str) -> Response:
    report = find_report(reference)
    user, known = assignee_from(request.form.get("assignee", ""))
    if not known:
        flash(_("Choose an active member of staff."))
    else:
        with write_transaction() as session:
            case = session.get(Case, report.case_id, with_for_update=True)
            assert case is not None
            changed = assign(session, case, user, current_user.email)
        flash(_("Assigned.") if changed else _("Nothing changed."))
    return redirect(url_for("review.case", reference=report.reference), 303)


@dataclass
class Bulk:
    """A bulk action as posted, and what refused it, by row reference ("" for the form)."""

    action: str
    references: list[str]
    assignee: str
    sent_on: str
    numbers: dict[str, str]
    errors: dict[str, str]

    @classmethod
    def posted(cls) -> Bulk:
        form = request.form
        references = list(dict.fromkeys(form.getlist("selected")))
        return cls(
            action=form.get("bulk_action", ""),
            references=references,
            assignee=form.get("assignee", ""),
            sent_on=form.get("sent_on", "").strip()[:10],
            numbers={r: form.get(f"national_case_number-{r}", "").strip()[:50] for r in references},
            errors={},
        )


def bulk_changes(bulk: Bulk) -> list[tuple[Case, Any]]:
    """Check the selection and return each case with its change; fill `bulk.errors` if any."""
    if bulk.action not in BULK_ACTIONS:
        bulk.errors[""] = _("Choose what to do with the selected cases.")
    if not bulk.references:
        bulk.errors[""] = _("Select at least one case.")
    elif len(bulk.references) > MAX_SELECTED:
        bulk.errors[""] = _("Select at most %(count)s rows at once.", count=MAX_SELECTED)
    sent_on: date | None = None
    if bulk.action == "sent":
        try:
            sent_on = date.fromisoformat(bulk.sent_on)
        except ValueError:
            bulk.errors["sent_on"] = _("Give the date the cases went to the national system.")
    user, known = assignee_from(bulk.assignee)
    if bulk.action == "assign" and not known:
        bulk.errors["assignee"] = _("Choose an active member of staff.")
    if bulk.errors:
        return []
    reports = db.session.scalars(sa.select(Report).where(Report.reference.in_(bulk.references)))
    found = {report.reference: report for report in reports}
    changes: list[tuple[Case, Any]] = []
    numbers: dict[int, set[str]] = {}  # typed for each case, by any of its rows
    for reference in bulk.references:
        if reference in found and bulk.numbers.get(reference):
            numbers.setdefault(found[reference].case_id, set()).add(bulk.numbers[reference])
    seen: set[int] = set()
    for reference in bulk.references:
        report = found.get(reference)
        if report is None:
            bulk.errors[reference] = _("No report has this reference.")
            continue
        case = report.case
        if case.id in seen:
            continue
        seen.add(case.id)
        if bulk.action == "assign":
            changes.append((case, user))
            continue
        if bulk.action == "sent":
            typed = numbers.get(case.id, set())
            if len(typed) > 1:
                bulk.errors[reference] = _("Rows of this case give different national numbers.")
                continue
            if not unsent(case):
                bulk.errors[reference] = _("Every report of this case was sent already.")
                continue
            number = next(iter(typed), None) or case.national_case_number
            status = "submitted" if case.status != "closed" else case.status
            change = Assessment.of(
                case, status=status, submitted_to_regulator_on=sent_on, national_case_number=number
            )
        else:
            change = Assessment.of(case, status="closed")
        found_problems = problems(case, change, None)
        if found_problems:
            bulk.errors[reference] = " ".join(found_problems.values())
        else:
            changes.append((case, change))
    return [] if bulk.errors else changes


@bp.post("/reports/bulk")
@role_required("reviewer", "admin")
def bulk_action() -> Response | tuple[str, int]:
    from adr.review.views import render_queue

    bulk = Bulk.posted()
    changes = bulk_changes(bulk)
    back = request.form.get("back", "")
    list_path = url_for("review.reports")
    back = back if back.startswith(list_path + "?") else list_path
    if bulk.errors:
        return render_queue(bulk, back.partition("?")[2]), 422
    if bulk.action == "assign":
        with write_transaction() as session:
            changed = 0
            for case, user in changes:
                locked = session.get(Case, case.id, with_for_update=True)
                assert locked is not None
                changed += assign(session, locked, user, current_user.email)
        flash(_("Assigned: %(count)s cases.", count=changed))
    else:
        done = Applied()
        for case, change in changes:
            applied = apply(case, change, current_user.email)
            done.changed += applied.changed
            done.awaiting += applied.awaiting
        done.awaiting = list(dict.fromkeys(done.awaiting))
        flash(_("Applied to %(count)s cases:", count=len(changes)))
        flash_applied(done)
    return redirect(back, 303)


def list_query(query: str) -> str:
    """Return the list's query string kept of a saved filter: its filters, not its page."""
    pairs = [(k, v) for k, v in parse_qsl(query.lstrip("?")) if k != "page" and v][:20]
    return urlencode(pairs)


@bp.post("/filters")
@role_required("reviewer", "admin")
def save_filter() -> Response:
    name = request.form.get("name", "").strip()
    query = list_query(request.form.get("query", ""))
    kept = db.session.scalars(sa.select(SavedFilter).where(SavedFilter.user_id == current_user.id))
    named = {saved.name: saved for saved in kept}
    if not name:
        flash(_("Name the filter to save it."))
    elif len(name) > 60 or len(query) > 1000:
        flash(_("This filter is too long to keep: shorten its name or its search."))
    elif name not in named and len(named) >= MAX_SAVED_FILTERS:
        flash(_("You keep %(count)s filters already: delete one first.", count=len(named)))
    else:
        with write_transaction() as session:
            if name in named:
                session.get(SavedFilter, named[name].id).query = query  # type: ignore[union-attr]
            else:
                session.add(SavedFilter(user_id=current_user.id, name=name, query=query))
        flash(_("Filter saved: %(name)s.", name=name))
    return redirect(url_for("review.reports") + ("?" + query if query else ""), 303)


MAX_ID = 2_147_483_647  # the largest id either engine keeps


@bp.post(f"/filters/<int(max={MAX_ID}):filter_id>/delete")
@role_required("reviewer", "admin")
def delete_filter(filter_id: int) -> Response:
    with write_transaction() as session:
        saved = session.get(SavedFilter, filter_id)
        if saved is not None and saved.user_id == current_user.id:
            session.delete(saved)
            flash(_("Filter deleted: %(name)s.", name=saved.name))
    return redirect(url_for("review.reports"), 303)


@dataclass(frozen=True)
class Workload:
    """A reviewer's open cases and the nearest deadline among their reports (None: no one's)."""

    user: User | None
    open_cases: int
    nearest_due: datetime | None


def workloads() -> list[Workload]:
    """Return each active reviewer's open cases and nearest deadline, the unassigned last."""
    counted = db.session.execute(sa.select(OpenCaseCount.assignee_id, OpenCaseCount.cases))
    counts = {assignee or None: cases for assignee, cases in counted}  # 0: nobody

    def nearest(user: User | None) -> datetime | None:
        """Return the soonest deadline of the open cases assigned to `user` (None: nobody)."""
        assignee = Report.case_assigned_to_id
        mine = assignee.is_(None) if user is None else assignee == user.id
        query = sa.select(Report.due_at).where(
            mine, OWES, Report.case_status.in_(regulatory.OPEN_STATUSES)
        )
        return db.session.scalar(query.order_by(Report.due_at).limit(1))

    rows = [Workload(user, counts.get(user.id, 0), nearest(user)) for user in staff_for_filters()]
    rows.append(Workload(None, counts.get(None, 0), nearest(None)))
    return rows
