"""Each report's copy of its case's status, seriousness, death and assignee (`CASE_COPIES`)
follows the case through every path that changes it, and the dashboard and the list count
from the copies what the case join counted; so do the open cases counted by assignee
(`OpenCaseCount`)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from adr import regulatory
from adr.extensions import db
from adr.models import CASE_COPIES, Case, CaseMerge, OpenCaseCount, Report, User
from adr.regulator.workbook import parse_month
from adr.review.queries import dashboard_counts, utcnow
from adr.review.queue import workloads
from tests.conftest import ReportSender, hidden_inputs, reference_of, valid_report
from tests.test_integrity import (
    DEATH,
    assess,
    case_page,
    correct,
    days_ago,
    heard,
    one_person,  # noqa: F401 - a fixture
    sent,
    signed_in,
    undo_merge,
)
from tests.test_queue import SERIOUS, bulk


def drifted(app) -> list[tuple[object, ...]]:
    """Return the reports whose copies differ from their case, with both."""
    with app.app_context():
        copies = [getattr(Report, copy) for copy in CASE_COPIES.values()]
        held = [getattr(Case, name) for name in CASE_COPIES]
        query = (
            sa.select(Report.reference, *copies, *held)
            .join(Case, Case.id == Report.case_id)
            .where(
                sa.or_(
                    *(copy.is_distinct_from(case) for copy, case in zip(copies, held, strict=True))
                )
            )
        )
        return [tuple(row) for row in db.session.execute(query)]


def counted_by_case(now: datetime) -> dict[str, int]:
    """Count the month's serious and fatal reports as the dashboard did: each report's case."""
    start, end = parse_month(f"{now.astimezone(regulatory.CHINA):%Y-%m}")
    answerable = Case.status.not_in(regulatory.NOT_FOR_REGULATOR)
    month = (Report.received_at >= start, Report.received_at < end, answerable)
    joined = sa.select(sa.func.count()).select_from(Report).join(Case, Case.id == Report.case_id)
    return {
        "serious": db.session.scalar(joined.where(*month, Case.serious.is_(True))) or 0,
        "deaths": db.session.scalar(joined.where(*month, Case.death.is_(True))) or 0,
    }


def open_cases_drift() -> tuple[dict[int | None, int], dict[int | None, int]]:
    """Return the open cases by assignee as counted now from the cases, and as kept."""
    open_case = Case.status.in_(regulatory.OPEN_STATUSES)
    counted = sa.select(Case.assigned_to_id, sa.func.count()).where(open_case)
    kept = db.session.execute(sa.select(OpenCaseCount.assignee_id, OpenCaseCount.cases))
    return (
        dict(db.session.execute(counted.group_by(Case.assigned_to_id)).all()),
        {assignee or None: cases for assignee, cases in kept if cases},
    )


def test_the_copies_follow_the_case_through_every_path_that_changes_it(one_person):  # noqa: F811
    app = one_person
    client = signed_in(app)
    steps: list[str] = []

    def check(step: str) -> None:
        steps.append(step)
        assert drifted(app) == [], step
        with app.app_context():
            now = utcnow()
            counts = dashboard_counts(now)
            assert {k: counts[k] for k in ("serious", "deaths")} == counted_by_case(now), step
            counted, kept = open_cases_drift()
            assert counted == kept, step

    public = reference_of(ReportSender(app.test_client()).send(valid_report()))
    rash = heard(client, days_ago(6))
    death = heard(client, days_ago(2), **DEATH)
    check("received: public form and staff entry")
    follow_up = heard(client, days_ago(1), follow_up_of=rash, **SERIOUS)
    check("a serious follow-up")
    assert assess(client, rash, status="in_review").status_code == 303
    check("status changed")
    with app.app_context():
        me = db.session.scalar(sa.select(User.id))
    assert (
        bulk(client, bulk_action="assign", assignee=str(me), selected=[follow_up]).status_code
        == 303
    )
    check("assigned in bulk")
    with app.app_context():
        rows = {row.user.id if row.user else None: row for row in workloads()}
        owed = [r.due_at for r in db.session.scalars(sa.select(Report)) if r.case_assigned_to_id]
        assert (rows[me].open_cases, rows[me].nearest_due) == (1, min(filter(None, owed)))
    token = hidden_inputs(case_page(client, death))["csrf_token"]
    mine = {"csrf_token": token, "assignee": str(me)}
    assert client.post(f"/staff/reports/{death}/assign", data=mine).status_code == 303
    check("assigned on the case page")
    assert assess(client, death, status="duplicate", duplicate_of=rash).status_code == 303
    check("marked duplicate: merged into its original, which becomes fatal")
    with app.app_context():
        merge_id = db.session.scalar(sa.select(CaseMerge.id))
    assert undo_merge(client, rash, merge_id).status_code == 303
    check("merge undone")
    done = correct(client, death, report=death, field="event-outcome", value="recovered",
                   reason="家属来电更正：患者已痊愈")  # fmt: skip
    assert done.status_code == 303, done.get_data(as_text=True)[:2000]
    check("corrected: no longer fatal")
    invalid = assess(client, death, status="invalid", invalid_reason="not_adverse_event")
    assert invalid.status_code == 303
    check("marked invalid")
    fatal_claim = valid_report() | {"follow_up_of": public, "event-outcome": "death"}
    fatal_claim |= {"event-death_cause": "休克", "event-death_date": days_ago(1)}
    claim = reference_of(ReportSender(app.test_client()).send(fatal_claim))
    token = hidden_inputs(case_page(client, claim))["csrf_token"]
    confirm = {"csrf_token": token, "decision": "confirm"}
    assert client.post(f"/staff/reports/{claim}/claim", data=confirm).status_code == 303
    check("a claimed follow-up confirmed: it joins the case it named")
    assert sent(client, rash, days_ago(0)).status_code == 303
    check("sent")
    assert bulk(client, bulk_action="close", selected=[follow_up]).status_code == 303
    check("closed in bulk")
    assert assess(client, follow_up, status="in_review").status_code == 303
    check("reopened")
    with app.app_context():
        statuses = dict(db.session.execute(sa.select(Report.reference, Report.case_status)).all())
        fatal = set(db.session.scalars(sa.select(Report.reference).where(Report.case_death)))
    assert statuses[death] == "invalid" and statuses[rash] == statuses[follow_up] == "in_review"
    assert fatal == {public, claim}
    with app.app_context():  # reopened, its reports all sent: open, nothing owed
        rows = {row.user.id if row.user else None: row for row in workloads()}
        assert (rows[me].open_cases, rows[me].nearest_due) == (1, None)
    assert len(steps) == 13


def test_demo_data_copies_each_case_s_values_follow_ups_linked_included(app):
    result = app.test_cli_runner().invoke(args=["demo-data", "--reports", "300"])
    assert result.exit_code == 0, result.output
    assert drifted(app) == []
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).where(Report.follow_up_of_id > 0))
        now = utcnow()
        counts = dashboard_counts(now)
        assert {k: counts[k] for k in ("serious", "deaths")} == counted_by_case(now)
        counted, kept = open_cases_drift()
        assert counted == kept and sum(kept.values())
        open_case = sa.select(Case).where(Case.status.in_(regulatory.OPEN_STATUSES)).limit(1)
        db.session.scalar(open_case).status = "closed"
        db.session.flush()
        db.session.rollback()  # a write given up: what it counted goes with it
        db.session.commit()
        assert open_cases_drift() == (counted, kept)
