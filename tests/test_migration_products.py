"""Migration 0011: products, batches and batch alerts beside the reports, which stay as is."""

from __future__ import annotations

import sqlalchemy as sa

from adr.extensions import db
from tests import test_migration_cases
from tests.test_migration_cases import fill_0008, upgrade
from tests.test_migration_follow_up_links import downgrade, snapshot

app = test_migration_cases.app  # a fixture: an app on an empty database, no schema yet
pytestmark = test_migration_cases.pytestmark  # the test makes the schema

NEW_TABLES = ("product", "batch", "batch_alert")


def test_the_upgrade_keeps_every_report_and_links_no_drug(app):
    upgrade(app, "0008")
    fill_0008(app)
    upgrade(app, "0010")
    with app.app_context():
        before = snapshot()
        assert len(before["report"]) == 8 and len(before["drug"]) > 0
    upgrade(app, "0011")
    with app.app_context():
        after = snapshot()
        # Every old row is kept, drugs with no product and cases with no suggestion.
        assert after["report"] == before["report"]
        assert [row[:-1] for row in after["drug"]] == before["drug"]
        assert {row[-1] for row in after["drug"]} == {None}
        assert [row[:-1] for row in after["safety_case"]] == before["safety_case"]
        assert {row[-1] for row in after["safety_case"]} == {None}
        product = {
            "generic_name": "阿莫西林胶囊",
            "approval_number": "国药准字H61020123",
            "manufacturer": "天宁",
            "listed_reactions": "[]",
        }
        db.session.execute(sa.insert(sa.table("product", *map(sa.column, product))), product)
        db.session.execute(sa.text("UPDATE drug SET product_id = 1"))
        db.session.commit()
    downgrade(app, "0010")
    with app.app_context():
        assert snapshot() == before
        inspector = sa.inspect(db.engine)
        assert not any(inspector.has_table(name) for name in NEW_TABLES)
    upgrade(app, "0011")  # and up again
