"""Migration 0014: the deadline index grows the columns compliance counts by; no row changes."""

from __future__ import annotations

import sqlalchemy as sa

from adr.extensions import db
from adr.models import Report
from tests import test_migration_cases
from tests.test_migration_cases import fill_0008, upgrade
from tests.test_migration_follow_up_links import downgrade, snapshot

app = test_migration_cases.app  # a fixture: an app on an empty database, no schema yet
pytestmark = test_migration_cases.pytestmark  # the test makes the schema


def due_groups() -> list[tuple]:
    """Return the reports counted by what judges their timeliness (what compliance groups by)."""
    columns = (Report.due_at, Report.report_category, Report.day_zero)
    query = sa.select(*columns, Report.submitted_to_regulator_on, sa.func.count()).group_by(
        *columns, Report.submitted_to_regulator_on
    )
    return sorted(db.session.execute(query).all(), key=repr)


def report_indexes() -> set[str]:
    return {index["name"] for index in sa.inspect(db.engine).get_indexes("report")}


def test_the_migration_swaps_the_deadline_index_and_keeps_every_report(app):
    upgrade(app, "0008")
    fill_0008(app)
    upgrade(app, "0013")
    with app.app_context():
        before = snapshot()
        figures = due_groups()
        assert figures and "ix_report_due_at" in report_indexes()
    upgrade(app, "0014")
    with app.app_context():
        assert snapshot() == before
        indexes = report_indexes()
        assert "ix_report_due_clock" in indexes and "ix_report_due_at" not in indexes
        assert due_groups() == figures
    downgrade(app, "0013")
    with app.app_context():
        assert snapshot() == before
        indexes = report_indexes()
        assert "ix_report_due_at" in indexes and "ix_report_due_clock" not in indexes
