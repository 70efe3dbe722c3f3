"""Migration 0023: the batch tally, filled from the reports' suspect drugs. Every row is kept;
the tally holds what the join counts; a downgrade takes its tables away."""

from __future__ import annotations

import sqlalchemy as sa

from adr import batch_tally, products
from adr.extensions import db
from tests import test_migration_cases
from tests.test_migration_cases import fill_0008, upgrade
from tests.test_migration_follow_up_links import downgrade

app = test_migration_cases.app  # a fixture: an app on an empty database, no schema yet
pytestmark = test_migration_cases.pytestmark  # the test makes the schema

PREVIOUS = "0022"  # the revision 0023 follows
NEW_TABLES = {"batch_case", "batch_tally", "batch_window", "batch_variant"}


def snapshot() -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table but the new ones, in an order that does not depend on the engine."""
    tables = sa.MetaData()
    tables.reflect(db.engine)
    return {
        name: sorted((tuple(row) for row in db.session.execute(sa.select(table))), key=repr)
        for name, table in tables.tables.items()
        if name not in NEW_TABLES | {"alembic_version"}
    }


def tally() -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """The tally's rows as stored, and as the join of reports, drugs and cases makes them."""
    cases = db.session.execute(sa.select(batch_tally.cases_t)).all()
    counts = db.session.execute(sa.select(batch_tally.tally_t)).all()
    return sorted(map(tuple, cases)) + sorted(map(tuple, counts)), sorted(
        map(tuple, db.session.execute(batch_tally.case_rows(None)))
    ) + sorted(map(tuple, db.session.execute(batch_tally.tally_rows(None, None))))


def test_the_upgrade_keeps_every_row_and_fills_the_tally_from_the_drugs(app):
    upgrade(app, "0008")
    fill_0008(app)
    upgrade(app, PREVIOUS)
    with app.app_context():
        db.session.execute(
            sa.text(
                "INSERT INTO product (id, generic_name, approval_number, manufacturer,"
                " listed_reactions, aliases, strengths, listed_pt_codes) VALUES (1,"
                " '阿莫西林胶囊', '国药准字H61020123', '天宁制药', '[]', '[]', '[]', '{}')"
            )
        )
        db.session.execute(
            sa.text("UPDATE drug SET product_id = 1 WHERE role = 'suspect' AND id <> 3")
        )
        db.session.execute(sa.text("UPDATE drug SET batch_number = '20261001B' WHERE id = 5"))
        db.session.execute(
            sa.text(
                "INSERT INTO batch (id, product_id, batch_number) VALUES (1, 1, '20261001B'),"
                " (2, 1, 'A1'), (3, 1, '20260315A')"
            )
        )
        db.session.commit()
        before = snapshot()
    upgrade(app, "0023")
    with app.app_context():
        assert snapshot() == before
        stored, joined = tally()
        named = db.session.execute(sa.text("SELECT count(*) FROM batch_case")).scalar_one()
        assert stored == joined and named >= 3
        batches = db.session.execute(sa.text("SELECT count(*) FROM batch_tally")).scalar_one()
        assert batches == 2
        variants = db.session.execute(sa.text("SELECT batch_id, variant FROM batch_variant"))
        numbers = {1: "20261001B", 2: "A1", 3: "20260315A"}
        assert sorted(variants) == sorted(
            (id_, variant)
            for id_, number in numbers.items()
            for variant in products.deletions(number)
        )
    downgrade(app, PREVIOUS)
    with app.app_context():
        assert snapshot() == before
        assert not NEW_TABLES & set(sa.inspect(db.engine).get_table_names())
    upgrade(app)  # and up again
    with app.app_context():
        stored, joined = tally()
        assert stored == joined
