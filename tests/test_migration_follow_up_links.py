"""Migration 0010: a table of follow-up links beside the reports, which stay as they were."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from adr.extensions import db
from tests import test_migration_cases
from tests.test_migration_cases import fill_0008, upgrade

app = test_migration_cases.app  # a fixture: an app on an empty database, no schema yet
pytestmark = test_migration_cases.pytestmark  # the test makes the schema

TABLES = ("safety_case", "report", "drug", "case_note", "outbox_mail", "audit_entry")


def snapshot() -> dict[str, list[tuple[object, ...]]]:
    """Return every row of the tables 0009 holds reports in, in id order."""
    tables = sa.MetaData()
    tables.reflect(db.engine, only=TABLES)
    return {
        name: db.session.execute(sa.select(table).order_by(table.c.id)).all()
        for name, table in tables.tables.items()
    }


def downgrade(app, revision: str) -> None:
    result = app.test_cli_runner().invoke(args=["db", "downgrade", revision])
    assert result.exit_code == 0, result.output


def test_the_upgrade_keeps_every_report_and_gives_none_a_link(app):
    upgrade(app, "0008")
    fill_0008(app)
    upgrade(app, "0009")
    with app.app_context():
        before = snapshot()
        assert len(before["report"]) == 8 and len(before["audit_entry"]) > 11
    upgrade(app, "0010")
    with app.app_context():
        assert snapshot() == before
        links = sa.table("follow_up_link", *map(sa.column, ("report_id", "token_hash")))
        assert db.session.execute(sa.select(links)).all() == []  # old mails had no link
        values = {"report_id": 1, "token_hash": "0" * 64, "expires_at": datetime(2027, 5, 1)}
        db.session.execute(sa.insert(sa.table("follow_up_link", *map(sa.column, values))), values)
        db.session.commit()
    downgrade(app, "0009")
    with app.app_context():
        assert snapshot() == before
        assert not sa.inspect(db.engine).has_table("follow_up_link")
