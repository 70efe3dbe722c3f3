"""Migration 0027: each group event keeps the last member it mailed (`mailed_through`), from its
last member already there, so the sender's first pass mails no join twice, and each member its
reference; every row kept, and down and up again."""

from __future__ import annotations

from datetime import UTC, date, datetime

import sqlalchemy as sa

from adr.extensions import db
from adr.signals import group_events
from tests import test_migration_cases
from tests.test_migration_case_copies import snapshot as case_copies_snapshot
from tests.test_migration_cases import fill_0008, upgrade, verify_chain
from tests.test_migration_follow_up_links import downgrade

app = test_migration_cases.app  # a fixture: an app on an empty database, no schema yet
pytestmark = test_migration_cases.pytestmark  # the test makes the schema

EVENTS = (  # the columns 0026 has
    "SELECT id, product_id, province, city, kind, opened_at, known_on, investigation_due_on,"
    " outbox_mail_id FROM group_event ORDER BY id"
)
MEMBERS = "SELECT id, group_event_id, case_id, added_at FROM group_event_case ORDER BY id"


def snapshot() -> dict[str, list[tuple[object, ...]]]:
    rows = case_copies_snapshot()
    rows["group_event"] = [tuple(row) for row in db.session.execute(sa.text(EVENTS))]
    rows["group_event_case"] = [tuple(row) for row in db.session.execute(sa.text(MEMBERS))]
    return rows


def mailed_through() -> list[object] | None:
    """Each event's last member mailed, or None when the column is not there."""
    if "mailed_through" not in {
        c["name"] for c in sa.inspect(db.engine).get_columns("group_event")
    }:
        return None
    return list(db.session.scalars(sa.text("SELECT mailed_through FROM group_event ORDER BY id")))


def member_columns() -> set[str]:
    return {c["name"] for c in sa.inspect(db.engine).get_columns("group_event_case")}


def member_indexes() -> set[str]:
    return {index["name"] for index in sa.inspect(db.engine).get_indexes("group_event_case")}


def test_the_upgrade_counts_every_member_there_as_mailed_and_keeps_every_row(app):
    upgrade(app, "0008")
    fill_0008(app)
    upgrade(app, "0026")
    with app.app_context():
        first, last = db.session.execute(sa.text("SELECT min(id), max(id) FROM safety_case")).one()
        assert first != last
        values = {"now": datetime.now(UTC).replace(tzinfo=None), "today": date(2026, 12, 6)}
        db.session.execute(
            sa.text(
                "INSERT INTO product (id, generic_name, approval_number, manufacturer,"
                " listed_reactions, aliases, strengths, listed_pt_codes) VALUES (1, '阿莫西林胶囊',"
                " '国药准字H61020123', '天宁制药', '[]', '[]', '[]', '{}')"
            )
        )
        for event in (1, 2):  # the second without a member
            db.session.execute(
                sa.text(
                    "INSERT INTO group_event (id, product_id, province, city, kind, opened_at,"
                    " known_on, investigation_due_on) VALUES (:event, 1, '陕西省', '榆林市',"
                    " 'cluster', :now, :today, :today)"
                ),
                values | {"event": event},
            )
        for case in (first, last):  # the second joined after the opening
            db.session.execute(
                sa.text(
                    "INSERT INTO group_event_case (group_event_id, case_id, added_at)"
                    " VALUES (1, :case, :now)"
                ),
                values | {"case": case},
            )
        db.session.commit()
        before = snapshot()
        assert before["report"] and len(before["group_event_case"]) == 2
        assert mailed_through() is None
        last_member = before["group_event_case"][-1][0]
    upgrade(app, "0027")
    with app.app_context():
        assert snapshot() == before
        assert mailed_through() == [last_member, None]
        assert "ix_group_event_case_joined" in member_indexes()
        assert "reference" in member_columns()
    verify_chain(app)
    downgrade(app, "0026")
    with app.app_context():
        assert snapshot() == before
        assert mailed_through() is None and "ix_group_event_case_joined" not in member_indexes()
        assert "reference" not in member_columns()
    upgrade(app)  # and up again: the sender's pass finds no join to mail
    with app.app_context():
        assert snapshot() == before
        mails = sa.text("SELECT count(*) FROM outbox_mail")
        queued = db.session.execute(mails).scalar_one()
        group_events.queue_join_notices()
        assert db.session.execute(mails).scalar_one() == queued
