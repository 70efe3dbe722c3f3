"""Migration 0016: assessments become decisions in force from a report, duplicates merge.

The data is made through the app as it stands, the database taken back to 0015 (where a case's
assessment applied to every report and a duplicate kept its reports), then upgraded again.
"""

from __future__ import annotations

import sqlalchemy as sa

from adr import accounts, regulatory
from adr.extensions import db
from adr.models import AuditEntry, CaseMerge, Decision, Report
from tests import test_migration_cases
from tests.conftest import ReportSender, hidden_inputs, reference_of, valid_report
from tests.test_integrity import assess, days_ago, heard
from tests.test_migration_cases import upgrade, verify_chain
from tests.test_migration_follow_up_links import downgrade

app = test_migration_cases.app  # a fixture: an app on an empty database, no schema yet
pytestmark = test_migration_cases.pytestmark  # the test makes the schema

REVIEWER, PASSWORD = "anna@tianning.example", "correct horse battery"
TODAY = regulatory.china_today()


def staff(app):
    with app.app_context():
        accounts.create_user(REVIEWER, "安娜", "reviewer", PASSWORD, "test")
    client = app.test_client()
    token = hidden_inputs(client.get("/login").get_data(as_text=True))["csrf_token"]
    client.post("/login", data={"email": REVIEWER, "password": PASSWORD, "csrf_token": token})
    return client


def reports_by_reference() -> dict[str, tuple[int, int, int | None]]:
    """Return each report's (id, case, first report) by reference, read as any revision holds."""
    rows = db.session.execute(
        sa.text("SELECT reference, id, case_id, follow_up_of_id FROM report ORDER BY id")
    )
    return {row.reference: (row.id, row.case_id, row.follow_up_of_id) for row in rows}


def test_the_upgrade_dates_each_assessment_and_merges_duplicates_keeping_everything(app):
    upgrade(app)
    client = staff(app)
    send = ReportSender(app.test_client()).send
    first = reference_of(send(valid_report()))
    page = client.get(f"/staff/reports/{first}").get_data(as_text=True)
    assessed = {"csrf_token": hidden_inputs(page)["csrf_token"], "status": "in_review",
                "assessed_serious": ["hospitalization"]}  # fmt: skip
    assert client.post(f"/staff/reports/{first}/assessment", data=assessed).status_code == 303
    form = hidden_inputs(
        client.get(f"/staff/reports/new?follow_up_of={first}").get_data(as_text=True)
    )
    follow_up_fields = {
        "follow_up_of": first, "case-source": "phone", "case-awareness_date": TODAY.isoformat(),
        "event-name": "皮疹加重", "event-outcome": "not_recovered",
    }  # fmt: skip
    entered = client.post("/staff/reports/new", data=form | follow_up_fields)
    follow_up = entered.location.rsplit("/", 1)[1]
    original = reference_of(send(valid_report() | {"patient-name": "赵某"}))
    duplicate = reference_of(send(valid_report() | {"patient-name": "赵某"}))  # sent twice
    assess(client, duplicate, assessed_serious=["hospitalization"])  # staff assessed it first
    late = heard(client, days_ago(50), **{"event-serious": ["hospitalization"]})  # overdue
    assess(client, late, status="invalid", invalid_reason="not_our_product")
    with app.app_context():
        made_invalid = db.session.scalar(
            sa.select(AuditEntry.at).where(
                AuditEntry.field == "status", AuditEntry.new_value == "invalid"
            )
        )
        lapsed = db.session.scalar(sa.select(Report.lapsed_due_at).where(Report.reference == late))

    downgrade(app, "0015")
    with app.app_context():
        before = reports_by_reference()
        duplicate_case, original_case = before[duplicate][1], before[original][1]
        db.session.execute(
            sa.text("UPDATE safety_case SET status = 'duplicate', duplicate_of_id = :original "
                    "WHERE id = :duplicate"),
            {"original": original_case, "duplicate": duplicate_case},
        )  # fmt: skip
        db.session.commit()
        trail = [
            (e.id, e.hash)
            for e in db.session.execute(sa.text("SELECT id, hash FROM audit_entry ORDER BY id"))
        ]
        notes = db.session.execute(sa.text("SELECT * FROM case_note ORDER BY id")).all()
        drugs = db.session.execute(
            sa.text("SELECT id, report_id, generic_name FROM drug ORDER BY id")
        ).all()

    upgrade(app)
    with app.app_context():
        after = reports_by_reference()
        assert set(after) == set(before)  # no report lost, every reference kept
        assert {ref: ids[0] for ref, ids in after.items()} == {
            ref: ids[0] for ref, ids in before.items()
        }
        # The assessment was made before the follow-up came: it rests on the first report.
        # The duplicate's own assessment stays with its report, merged.
        decided = {
            d.report_id: (d.field, d.value, d.made_by)
            for d in db.session.scalars(sa.select(Decision))
        }
        assert decided == {
            before[first][0]: ("assessed_serious", ["hospitalization"], REVIEWER),
            before[duplicate][0]: ("assessed_serious", ["hospitalization"], REVIEWER),
        }
        # Made invalid after its deadline: the trail dates it, the deadline it missed stays.
        invalid = db.session.scalar(sa.select(Report).where(Report.reference == late))
        assert (invalid.case.invalid_since, invalid.lapsed_due_at) == (made_invalid, lapsed)
        assert lapsed is not None
        later = db.session.scalar(sa.select(Report).where(Report.reference == follow_up))
        assert later.report_category == "serious" and later.case.assessed_serious == [
            "hospitalization"
        ]
        # The duplicate joined its original, a copy owing nothing; its case stays, empty.
        moved = db.session.scalar(sa.select(Report).where(Report.reference == duplicate))
        assert moved.case_id == original_case and moved.duplicate_copy and moved.due_at is None
        assert moved.follow_up_of_id == after[original][0]
        record = db.session.scalar(sa.select(CaseMerge))
        assert (record.duplicate_case_id, record.original_case_id, record.merged_by) == (
            duplicate_case,
            original_case,
            "migration 0016",
        )
        entries = db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id)).all()
        assert [(e.id, e.hash) for e in entries[: len(trail)]] == trail  # the old trail untouched
        assert ("merged", moved.id) in {(e.action, e.report_id) for e in entries[len(trail) :]}
        assert db.session.execute(sa.text("SELECT * FROM case_note ORDER BY id")).all() == notes
        assert (
            db.session.execute(
                sa.text("SELECT id, report_id, generic_name FROM drug ORDER BY id")
            ).all()
            == drugs
        )
    verify_chain(app)

    downgrade(app, "0015")  # the merge put back, for a database going back to 0015's code
    with app.app_context():
        assert reports_by_reference()[duplicate][1] == duplicate_case
        assert {ref: ids[:2] for ref, ids in reports_by_reference().items()} == {
            ref: ids[:2] for ref, ids in before.items()
        }
    upgrade(app)  # and up again
    verify_chain(app)
