"""Migration 0025: the periodic page's stored figures. Every row is kept; the new tables start
empty, take a year's figures, and a downgrade takes them away."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from adr.extensions import db
from tests import test_migration_cases
from tests.test_migration_cases import fill_0008, upgrade, verify_chain
from tests.test_migration_follow_up_links import downgrade
from tests.test_migration_signals import snapshot

app = test_migration_cases.app  # a fixture: an app on an empty database, no schema yet
pytestmark = test_migration_cases.pytestmark  # the test makes the schema

PREVIOUS = "0024"  # the revision this one follows (re-chained when issue 26's parts merge)
NEW_TABLES = {"periodic_figures", "periodic_month"}


def test_the_upgrade_keeps_every_row_and_the_new_tables_take_a_years_figures(app):
    upgrade(app, "0008")
    fill_0008(app)
    upgrade(app, PREVIOUS)
    with app.app_context():
        db.session.execute(
            sa.text(
                "INSERT INTO product (id, generic_name, approval_number, manufacturer,"
                " listed_reactions, aliases, strengths) VALUES (1, '阿莫西林胶囊',"
                " '国药准字H61020123', '天宁制药', '[]', '[]', '[]')"
            )
        )
        db.session.commit()
        before = snapshot()
        assert before["report"] and before["product"]
    upgrade(app, "0025")
    with app.app_context():
        assert snapshot() == before
        newest = db.session.execute(sa.text("SELECT max(id) FROM report")).scalar_one()
        values = {"now": datetime.now(UTC).replace(tzinfo=None), "newest": newest}
        db.session.execute(
            sa.text(
                "INSERT INTO periodic_figures (year, computed_at, computed_by, newest_report_id)"
                " VALUES (2026, :now, 'command', :newest)"
            ),
            values,
        )
        db.session.execute(
            sa.text(
                "INSERT INTO periodic_month (year, product_id, month, cases)"
                " VALUES (2026, 1, 11, 3)"
            )
        )
        db.session.commit()
    verify_chain(app)
    downgrade(app, PREVIOUS)
    with app.app_context():
        assert snapshot() == before
        assert not NEW_TABLES & set(sa.inspect(db.engine).get_table_names())
    upgrade(app)  # and up again: empty new tables
    with app.app_context():
        assert db.session.execute(sa.text("SELECT count(*) FROM periodic_month")).scalar() == 0
