"""Migration 0027: a group event's last notice of joins (`join_mail_id`); every row kept, no
event pointing at a notice yet, and down and up again."""

from __future__ import annotations

from datetime import UTC, date, datetime

import sqlalchemy as sa

from adr.extensions import db
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


def snapshot() -> dict[str, list[tuple[object, ...]]]:
    rows = case_copies_snapshot()
    rows["group_event"] = [tuple(row) for row in db.session.execute(sa.text(EVENTS))]
    members = sa.text("SELECT group_event_id, case_id, added_at FROM group_event_case ORDER BY id")
    rows["group_event_case"] = [tuple(row) for row in db.session.execute(members)]
    return rows


def join_mail_ids() -> list[object] | None:
    """Each event's join_mail_id, or None when the column is not there."""
    if "join_mail_id" not in {c["name"] for c in sa.inspect(db.engine).get_columns("group_event")}:
        return None
    return list(db.session.scalars(sa.text("SELECT join_mail_id FROM group_event ORDER BY id")))


def test_the_upgrade_keeps_every_event_and_points_none_at_a_notice_of_joins(app):
    upgrade(app, "0008")
    fill_0008(app)
    upgrade(app, "0026")
    with app.app_context():
        case_id = db.session.execute(sa.text("SELECT min(id) FROM safety_case")).scalar_one()
        values = {
            "now": datetime.now(UTC).replace(tzinfo=None),
            "today": date(2026, 12, 6),
            "case": case_id,
        }
        for statement in (
            "INSERT INTO product (id, generic_name, approval_number, manufacturer,"
            " listed_reactions, aliases, strengths, listed_pt_codes) VALUES (1, '阿莫西林胶囊',"
            " '国药准字H61020123', '天宁制药', '[]', '[]', '[]', '{}')",
            "INSERT INTO group_event (id, product_id, province, city, kind, opened_at, known_on,"
            " investigation_due_on) VALUES (1, 1, '陕西省', '榆林市', 'cluster', :now, :today,"
            " :today)",
            "INSERT INTO group_event_case (group_event_id, case_id, added_at)"
            " VALUES (1, :case, :now)",
        ):
            db.session.execute(sa.text(statement), values)
        db.session.commit()
        before = snapshot()
        assert before["report"] and before["group_event"] and before["group_event_case"]
        assert join_mail_ids() is None
    upgrade(app, "0027")
    with app.app_context():
        assert snapshot() == before
        assert join_mail_ids() == [None]
        [key] = [
            k
            for k in sa.inspect(db.engine).get_foreign_keys("group_event")
            if k["constrained_columns"] == ["join_mail_id"]
        ]
        assert key["referred_table"] == "outbox_mail"
    verify_chain(app)
    downgrade(app, "0026")
    with app.app_context():
        assert snapshot() == before
        assert join_mail_ids() is None
    upgrade(app)  # and up again
    with app.app_context():
        assert snapshot() == before
        assert join_mail_ids() == [None]
