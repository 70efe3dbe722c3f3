"""Migration 0017: every case starts unassigned and no one has saved a filter; nothing else
changes, and a downgrade takes both away."""

from __future__ import annotations

import sqlalchemy as sa

from adr.extensions import db
from tests import test_migration_cases
from tests.test_migration_cases import fill_0008, upgrade, verify_chain
from tests.test_migration_follow_up_links import downgrade

app = test_migration_cases.app  # a fixture: an app on an empty database, no schema yet
pytestmark = test_migration_cases.pytestmark  # the test makes the schema

KEPT = ("safety_case", "report", "drug", "case_note", "audit_entry", "assessment_decision",
        "case_merge", "staff_user")  # fmt: skip


def snapshot() -> dict[str, list[tuple[object, ...]]]:
    """Every row of the tables 0016 holds cases in; of a case, the columns 0016 has."""
    tables = sa.MetaData()
    tables.reflect(db.engine, only=KEPT)
    result = {}
    for name, table in tables.tables.items():
        columns = [c for c in table.c if c.name != "assigned_to_id"]
        query = sa.select(*columns).order_by(table.c.id)
        result[name] = [tuple(row) for row in db.session.execute(query)]
    return result


def test_the_upgrade_leaves_every_case_unassigned_and_keeps_every_row(app):
    upgrade(app, "0008")
    fill_0008(app)
    upgrade(app, "0016")
    with app.app_context():
        before = snapshot()
        assert before["report"] and before["safety_case"]
    upgrade(app, "0017")
    with app.app_context():
        assert snapshot() == before
        assigned = db.session.execute(sa.text("SELECT assigned_to_id FROM safety_case")).all()
        assert {row[0] for row in assigned} == {None}
        assert db.session.execute(sa.text("SELECT count(*) FROM saved_filter")).scalar() == 0
    verify_chain(app)
    downgrade(app, "0016")
    with app.app_context():
        assert snapshot() == before
        assert "saved_filter" not in sa.inspect(db.engine).get_table_names()
    upgrade(app)
