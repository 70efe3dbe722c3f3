"""The case list's filters and the dashboard's counts, as SQLAlchemy queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from flask import abort
from flask_sqlalchemy.pagination import SelectPagination
from sqlalchemy.orm import selectinload

from adr import cases, mailer, regulatory, search
from adr.cases import holder
from adr.extensions import db
from adr.models import ApprovalRequest, Case, Drug, OutboxMail, Reaction, Report
from adr.regulator.workbook import parse_month

PAGE_SIZE = 50
MAX_PAGE = 1_000_000  # beyond any list; larger numbers overflow the engines' OFFSET


def case_among(*conditions: sa.ColumnElement[bool]) -> sa.ColumnElement[bool]:
    """Select reports of the few cases that meet the conditions (found by a case index)."""
    return Report.case_id.in_(sa.select(Case.id).where(*conditions))


# A report that still owes the regulator: not sent yet (invalid and duplicate cases have no
# deadline, and a case is closed only once all its reports were sent), so the deadline index
# `ix_report_unsent_due` answers alone.
OWING = Report.submitted_to_regulator_on.is_(None)
ANSWERABLE = Case.status.not_in(regulatory.NOT_FOR_REGULATOR)


@dataclass(frozen=True)
class Filters:
    """What the list is narrowed to; every field comes from, and goes back to, the URL."""

    q: str = ""
    status: str = ""
    serious: bool = False
    overdue: bool = False
    due_today: bool = False
    due_soon: bool = False
    investigation: bool = False
    incomplete: bool = False
    received_today: bool = False
    deaths: bool = False
    mail_failed: bool = False
    month: str = ""
    batch: str = ""
    source: str = ""
    open: bool = False  # cases not closed, invalid or duplicate (regulatory.OPEN_STATUSES)
    assigned: str = ""  # "me", "none" or a staff account's id
    sort: str = ""  # one of SORTS; "" newest first

    def as_args(self) -> dict[str, str]:
        return {k: ("1" if v is True else v) for k, v in vars(self).items() if v}


# The queue's orders. By due date: the reports that owe the regulator first, soonest (so
# overdue) on top, then the rest newest first.
OWES = sa.and_(Report.due_at.is_not(None), OWING)
WORKFLOW = ("received", "in_review", "assessed", "submitted", "closed", "invalid", "duplicate")
BY_DUE = (sa.case((OWES, 0), else_=1), sa.case((OWES, Report.due_at)), *search.NEWEST_FIRST)
SORTS: dict[str, tuple[sa.ColumnElement[Any], ...]] = {
    "due": BY_DUE,
    "received": search.NEWEST_FIRST,
    "status": (
        sa.case({s: rank for rank, s in enumerate(WORKFLOW)}, value=Report.case_status),
        *BY_DUE,
    ),
}


def report_query(filters: Filters, now: datetime, me: int | None = None) -> sa.Select[Any]:
    """Return the reports the filters select, in the order `filters.sort` names (search
    results and no order: newest first). `me` is the account "assigned to me" means."""
    query = sa.select(Report)
    if filters.open:
        query = query.where(Report.case_status.in_(regulatory.OPEN_STATUSES))
    if filters.assigned == "none":
        query = query.where(Report.case_assigned_to_id.is_(None))
    elif filters.assigned:
        assignee = me if filters.assigned == "me" else int(filters.assigned)
        query = query.where(Report.case_assigned_to_id == assignee)
    if filters.status:
        query = query.where(Report.case_status == filters.status)
    if filters.source:
        query = query.where(Report.source == filters.source)
    if filters.serious:
        query = query.where(Report.case_serious == sa.true())
    if filters.deaths:
        query = query.where(Report.case_death == sa.true())
    if (filters.serious or filters.deaths) and not filters.status:
        query = query.where(Report.case_status.not_in(regulatory.NOT_FOR_REGULATOR))
    if filters.mail_failed:
        failed = sa.select(OutboxMail.report_id).where(OutboxMail.status == "failed")
        query = query.where(Report.id.in_(failed))
    if filters.overdue:
        query = query.where(OWING, Report.due_at < now)
    if filters.due_today:
        end = regulatory.end_of_china_day(regulatory.china_today(now))
        query = query.where(OWING, Report.due_at >= now, Report.due_at <= end)
    if filters.due_soon:
        query = query.where(OWING, Report.due_at >= now, Report.due_at < now + timedelta(days=3))
    if filters.investigation:
        pending = [Case.investigation_due_at.is_not(None), Case.investigation_reported_on.is_(None)]
        query = query.where(
            case_among(*pending, ANSWERABLE),
            # The first report; not `IS NULL`, which SQLite answers from the follow-up index
            # (nearly every report) instead of from the few cases pending.
            sa.func.coalesce(Report.follow_up_of_id, 0) == 0,
        )
    if filters.incomplete:
        query = query.where(case_among(Case.valid_case.is_(False), ANSWERABLE))
    since: datetime | None = None
    until: datetime | None = None
    if filters.received_today:
        since = datetime.combine(regulatory.china_today(now), time(), regulatory.CHINA)
        query = query.where(Report.received_at >= since)
    if filters.month:
        try:
            start, until = parse_month(filters.month)
        except ValueError:
            start, until = now, now  # a malformed month selects nothing
        since = max(since, start) if since else start
        query = query.where(Report.received_at >= start, Report.received_at < until)
    if filters.batch:
        batch = filters.batch.strip().upper()
        query = query.where(
            Report.id.in_(sa.select(Drug.report_id).where(Drug.batch_number == batch))
        )
    if filters.q:
        query = search.matching(query, filters.q.strip(), since, until)
        return query.order_by(None).order_by(*SORTS[filters.sort]) if filters.sort else query
    return query.order_by(*SORTS.get(filters.sort, search.NEWEST_FIRST))


class QueuePagination(SelectPagination):
    """A page of the list; in the due order (`BY_DUE`), read off two indexes instead of sorting
    every report: those owing the regulator by deadline (`ix_report_unsent_due`), then the
    rest newest first (`ix_report_received_at`)."""

    def _query_items(self) -> list[Any]:
        query: sa.Select[Any] = self._query_args["select"]
        if not self._query_args["due_order"]:
            return super()._query_items()
        session, offset, size = self._query_args["session"], self._query_offset, self.per_page
        owing = query.where(OWES).order_by(None).order_by(Report.due_at, *search.NEWEST_FIRST)
        rest = query.where(sa.not_(OWES)).order_by(None).order_by(*search.NEWEST_FIRST)
        before = search.count_up_to(owing, offset) if offset else 0  # on the earlier pages
        items = []
        if before == offset:
            items = list(session.scalars(owing.offset(offset).limit(size)))
        if len(items) < size:
            more = rest.offset(offset - before).limit(size - len(items))
            items += session.scalars(more)
        return items


def paginate(query: sa.Select[Any], filters: Filters, number: int) -> QueuePagination:
    """Return the list's page `number` of the reports `report_query` selects for `filters`."""
    return QueuePagination(
        select=query,
        session=db.session(),
        due_order=filters.sort == "due" and not filters.q,
        page=number,
        per_page=PAGE_SIZE,
        max_per_page=PAGE_SIZE,
        count=not filters.q,
    )  # a page past the last one is a 404


def find_report(reference: str) -> Report:
    """Return the report of a reference as typed or linked, or answer 404."""
    normalized = regulatory.normalize_reference(reference)
    report = normalized and db.session.scalar(
        sa.select(Report).where(Report.reference == normalized)
    )
    if not report:
        abort(404)
    return report


def dashboard_counts(now: datetime) -> dict[str, int]:
    """Return the dashboard's numbers; each matches a filter of the list."""
    month = f"{now.astimezone(regulatory.CHINA):%Y-%m}"

    def count(filters: Filters) -> int:
        query = report_query(filters, now).order_by(None)
        return db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0

    counts = {
        "received_today": count(Filters(received_today=True)),
        "due_today": count(Filters(due_today=True)),
        "due_soon": count(Filters(due_soon=True)),
        "overdue": count(Filters(overdue=True)),
        "investigations": count(Filters(investigation=True)),
        "incomplete": count(Filters(incomplete=True)),
        "serious": count(Filters(serious=True, month=month)),
        "deaths": count(Filters(deaths=True, month=month)),
    }
    counts["mail_failures"] = count(Filters(mail_failed=True))
    awaiting = sa.select(sa.func.count()).where(ApprovalRequest.status == "pending")
    counts["awaiting_approval"] = db.session.scalar(awaiting) or 0
    return counts


NOT_READY_SHOWN = 20  # the dashboard lists the soonest; the rest are said to be more


@dataclass(frozen=True)
class NotReady:
    """The serious cases due soon that the national form would refuse: each case's first
    report, how many required items it lacks and its deadline, soonest first; `more`: other
    cases are not ready too, beyond those listed."""

    cases: list[tuple[Report, int, datetime]]
    more: bool


def not_ready_soon(now: datetime, shown: int = NOT_READY_SHOWN, limit: int = 200) -> NotReady:
    """Return the serious cases due within 3 days, or overdue, that the national system's form
    would refuse (`NotReady`): the `shown` soonest, checked in the deadline order of their
    reports, a few cases at a time, up to `limit` reports."""
    soon = sa.and_(OWING, Report.due_at < now + timedelta(days=3))
    # All owe the regulator, so the due order is by deadline: read off the deadline index.
    by_due = (Report.due_at, *search.NEWEST_FIRST)
    query = report_query(Filters(serious=True), now).where(soon).order_by(None).order_by(*by_due)
    query = query.options(  # what the national form's check reads, for a few cases at once
        selectinload(Report.case).options(
            selectinload(Case.reports).selectinload(Report.drugs),
            selectinload(Case.drug_details),
            selectinload(Case.reactions).selectinload(Reaction.assessments),
        )
    )
    checked: set[int] = set()
    listed: list[tuple[Report, int, datetime]] = []
    step = shown + 5  # most serious cases due soon lack something: one read is usually enough
    for offset in range(0, limit, step):
        reports = list(db.session.scalars(query.offset(offset).limit(min(step, limit - offset))))
        for report in reports:
            case = report.case
            if case.id in checked or not report.due_at:
                continue
            checked.add(case.id)
            gaps = holder.national_gaps(case, cases.current_view(case.reports))
            if gaps and len(listed) == shown:
                return NotReady(listed, more=True)
            if gaps:
                listed.append((case.first_report, len(gaps), report.due_at))
        if len(reports) < step:
            break
    return NotReady(listed, more=False)


@dataclass(frozen=True)
class MailTrouble:
    """Mails tried and not delivered: how many, since when, the latest error (no addresses)."""

    count: int
    oldest: datetime
    last_error: str


def mail_trouble() -> MailTrouble | None:
    """Return the mails a delivery attempt failed for and that are still not sent, if any."""
    undelivered = sa.and_(
        OutboxMail.status.in_(("pending", "sending", "failed")), OutboxMail.last_error.is_not(None)
    )
    count, oldest = db.session.execute(
        sa.select(sa.func.count(), sa.func.min(OutboxMail.created_at)).where(undelivered)
    ).one()
    if not count:
        return None
    last_error = db.session.scalar(
        sa.select(OutboxMail.last_error).where(undelivered).order_by(OutboxMail.id.desc()).limit(1)
    )
    return MailTrouble(count, oldest, mailer.without_addresses(last_error or ""))


def utcnow() -> datetime:
    return datetime.now(UTC)
