"""The batch tally cannot drift: the batch table and the dashboard, counted from it, say what
the join of every report's drugs says, whichever path changed the reports."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa

from adr import batches, products, regulatory
from adr.extensions import db
from adr.models import BatchAlert, Case, Drug, Report, write_transaction
from tests.test_batches import (  # noqa: F401
    BATCH,
    DEATH,
    TODAY,
    alerting,
    ibuprofen,
    ibuprofen_drug,
    phone_call,
    smtp,
    submit,
)
from tests.test_integrity import correct
from tests.test_review import REVIEWER, assess, signed_in

IBUPROFEN = ibuprofen_drug(0)


def joined(since: date | None) -> list[tuple[Any, ...]]:
    """The batch table's rows as the join of reports, drugs and cases counts them (the oracle)."""
    query = (
        sa.select(
            sa.func.count(sa.distinct(Report.case_id)).label("cases"),
            sa.func.max(Report.aware_on).label("last_known_on"),
            Drug.batch_number,
            Drug.product_id,
            sa.func.count(sa.distinct(sa.case((Case.serious, Report.case_id)))),
            sa.func.count(sa.distinct(sa.case((Case.death, Report.case_id)))),
        )
        .join(Drug, Drug.report_id == Report.id)
        .join(Case, Case.id == Report.case_id)
        .where(
            Drug.role == "suspect",
            Drug.product_id.is_not(None),
            Drug.batch_number.is_not(None),
            Case.status.not_in(regulatory.NOT_FOR_REGULATOR),
        )
        .group_by(Drug.product_id, Drug.batch_number)
    )
    if since:
        query = query.where(Report.aware_on >= since)
    rows = [tuple(row) for row in db.session.execute(query)]
    return sorted(rows, key=lambda r: (-r[0], -r[1].toordinal(), r[2], r[3]))


def assert_no_drift(app) -> None:
    """Compare the batch table, both periods, and the dashboard's clusters with the join."""
    with app.app_context():
        threshold, days = batches.alert_settings()
        since = batches.window_start(days)
        for all_time in (False, True):
            oracle = joined(None if all_time else since)
            rows = batches.batch_rows(since, all_time, 1000)
            counted = [
                (
                    row.all_time if all_time else row.in_window,
                    row.last_known_on,
                    row.batch_number,
                    row.product.id,
                    row.serious,
                    row.deaths,
                )
                for row in rows
            ]
            assert counted == oracle, all_time
            other = {(r[2], r[3]): r[0] for r in joined(since if all_time else None)}
            compared = [row.in_window if all_time else row.all_time for row in rows]
            assert compared == [other.get((r[2], r[3]), 0) for r in oracle]
        alerted = set(db.session.scalars(sa.select(BatchAlert.batch_number)))
        clusters = batches.batches_above_threshold()
        wanted = [r for r in joined(since) if r[0] >= threshold and r[2] in alerted]
        assert [(r.batch_number, r.in_window) for r in clusters.rows] == [
            (r[2], r[0]) for r in wanted[:10]
        ]


def test_a_new_case_adds_its_counts_and_its_day_to_the_batch_counted_already(alerting):  # noqa: F811
    """A new case's counts are added to its batch's, not counted again: the later day is kept,
    in and out of the window, whichever order the cases came in."""
    client = signed_in(alerting, REVIEWER)
    batch = "20250101C"
    for days_ago in (200, 10, 100, 300, 5):  # out of the window first: no day in it yet
        phone_call(client, TODAY - timedelta(days=days_ago), batch=batch)
        assert_no_drift(alerting)
    with alerting.app_context():
        since = batches.window_start(batches.alert_settings()[1])
        (row,) = [r for r in batches.batch_rows(since, True, 1000) if r.batch_number == batch]
        assert (row.all_time, row.in_window, row.last_known_on) == (5, 2, TODAY - timedelta(5))


def test_the_tally_follows_every_path_that_changes_what_it_counts(alerting):  # noqa: F811
    client = signed_in(alerting, REVIEWER)
    first, second, third = submit(alerting), submit(alerting), submit(alerting, **DEATH)
    phone_call(client, TODAY - timedelta(days=200))  # out of the window
    phone_call(client, TODAY - timedelta(days=10), batch="20250101C")
    assert_no_drift(alerting)
    submit(alerting, follow_up_of=first, **{"drugs-0-batch_number": "20260401B"})
    fourth = submit(alerting)
    corrected = correct(
        client,
        fourth,
        report=fourth,
        field="drugs-0-batch_number",
        value="20260402B",
        reason="核对原始记录",
    )
    assert corrected.status_code == 303
    assert_no_drift(alerting)
    assert assess(client, second, status="duplicate", duplicate_of=first).status_code == 303
    invalid = {"status": "invalid", "invalid_reason": "other", "status_reason": "测试提交"}
    assert assess(client, third, **invalid).status_code == 303
    assert_no_drift(alerting)
    assert assess(client, third, status="in_review").status_code == 303  # the mark lifted
    for _ in range(2):
        submit(alerting, **IBUPROFEN)  # not in the catalogue yet
    with alerting.app_context(), write_transaction():
        product = ibuprofen()
        db.session.add(product)
        db.session.flush()
        assert products.relink(product.id, "admin@tianning.example") == 2
    assert_no_drift(alerting)
    alerting.config["BATCH_ALERT_DAYS"] = 365  # the window moves: the phone call of day -200
    assert_no_drift(alerting)
    alerting.config["BATCH_ALERT_COUNT"] = 1
    assert_no_drift(alerting)
