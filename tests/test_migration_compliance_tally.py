"""Migration 0024: the compliance tally. It is filled from the reports as they stand, its triggers
keep it as reports are added, changed and taken away, and a downgrade takes both away."""

from __future__ import annotations

from datetime import UTC, date

import sqlalchemy as sa

from adr import regulatory
from adr.extensions import db
from tests import test_migration_cases
from tests.test_compliance import tally_matches_reports
from tests.test_migration_cases import fill_0008, upgrade
from tests.test_migration_follow_up_links import downgrade
from tests.test_migration_signals import snapshot

app = test_migration_cases.app  # a fixture: an app on an empty database, no schema yet
pytestmark = test_migration_cases.pytestmark  # the test makes the schema

PREVIOUS = "0023"  # the revision 0024 follows
COPY = "ADR-209901-COPY01"  # a report's reference (and token) for a copy of another


def tally() -> list[tuple[object, ...]]:
    query = "SELECT due_at, report_category, outcome, day_zero, reports FROM compliance_tally"
    return sorted(db.session.execute(sa.text(query)).all(), key=repr)


def test_the_tally_counts_the_reports_and_its_triggers_keep_it(app):
    upgrade(app, "0008")
    fill_0008(app)
    upgrade(app, PREVIOUS)
    with app.app_context():
        ids = db.session.scalars(
            sa.text("SELECT id FROM report WHERE due_at IS NOT NULL ORDER BY id")
        ).all()
        assert len(ids) >= 3
        # Sent on its due date (on time), the day after (late), and a deadline without a day 0.
        query = sa.text("SELECT due_at FROM report WHERE id = :id").columns(due_at=sa.DateTime)
        due = db.session.execute(query, {"id": ids[0]}).scalar_one().replace(tzinfo=UTC)
        db.session.execute(
            sa.text("UPDATE report SET submitted_to_regulator_on = :day WHERE id = :id"),
            {"id": ids[0], "day": regulatory.china_date(due)},
        )
        db.session.execute(
            sa.text("UPDATE report SET submitted_to_regulator_on = :day WHERE id = :id"),
            {"id": ids[1], "day": date(2099, 1, 1)},
        )
        db.session.execute(
            sa.text("UPDATE report SET day_zero = NULL WHERE id = :id"), {"id": ids[2]}
        )
        db.session.commit()
        before = snapshot()
    upgrade(app, "0024")
    with app.app_context():
        assert snapshot() == before
        outcomes = {row[2] for row in tally()}
        assert outcomes == {"on_time", "late", "open"}
        tally_matches_reports()
        columns = [c["name"] for c in sa.inspect(db.engine).get_columns("report")]
        copied = ", ".join(
            f"'{COPY}'" if name in ("reference", "submission_token") else name
            for name in columns
            if name != "id"
        )
        kept = ", ".join(name for name in columns if name != "id")
        db.session.execute(
            sa.text(f"INSERT INTO report ({kept}) SELECT {copied} FROM report WHERE id = :id"),  # noqa: S608
            {"id": ids[2]},  # the one without a day 0, again
        )
        for day in (None, date(2099, 1, 1)):  # sent, then unsent again
            db.session.execute(
                sa.text("UPDATE report SET submitted_to_regulator_on = :day WHERE id = :id"),
                {"id": ids[0], "day": day},
            )
        db.session.commit()
        tally_matches_reports()
        db.session.execute(sa.text("DELETE FROM report WHERE reference = :copy"), {"copy": COPY})
        db.session.commit()
        tally_matches_reports()
        counted = tally()
    downgrade(app, PREVIOUS)
    with app.app_context():
        assert "compliance_tally" not in sa.inspect(db.engine).get_table_names()
        db.session.execute(sa.text("UPDATE report SET submitted_to_regulator_on = NULL"))
        db.session.commit()  # no trigger is left behind
    upgrade(app)
    with app.app_context():
        tally_matches_reports()
        assert tally() != counted  # counted again, as the reports now stand
