"""Migration 0021: signals, group events and periodic reports. Every row is kept; each product's
listed reactions keep their text and start with no PT coded; a downgrade takes the tables away."""

from __future__ import annotations

from datetime import UTC, date, datetime

import sqlalchemy as sa

from adr.extensions import db
from tests import test_migration_cases
from tests.test_migration_cases import fill_0008, upgrade, verify_chain
from tests.test_migration_follow_up_links import downgrade
from tests.test_migration_source_documents import snapshot as documents_snapshot

app = test_migration_cases.app  # a fixture: an app on an empty database, no schema yet
pytestmark = test_migration_cases.pytestmark  # the test makes the schema

NEW_TABLES = {
    "signal_run", "signal_figure", "safety_signal", "signal_case", "signal_step",
    "signal_action", "designated_medical_event", "group_event", "group_event_case",
    "product_exposure",
}  # fmt: skip


def snapshot() -> dict[str, list[tuple[object, ...]]]:
    """Every row of the tables 0020 holds, with the columns 0020 has."""
    rows = documents_snapshot()
    product = sa.Table("product", sa.MetaData(), autoload_with=db.engine)
    columns = [c for c in product.c if c.name != "listed_pt_codes"]
    rows["product"] = [tuple(row) for row in db.session.execute(sa.select(*columns))]
    return rows


def test_the_upgrade_keeps_every_row_and_the_new_tables_take_a_signals_life(app):
    upgrade(app, "0008")
    fill_0008(app)
    upgrade(app, "0020")
    with app.app_context():
        db.session.execute(
            sa.text(
                "INSERT INTO product (id, generic_name, approval_number, manufacturer,"
                " listed_reactions, aliases, strengths) VALUES (1, '阿莫西林胶囊',"
                " '国药准字H61020123', '天宁制药', :listed, '[]', '[]')"
            ),
            {"listed": '["皮疹", "恶心"]'},
        )
        db.session.commit()
        before = snapshot()
        assert before["report"] and before["product"]
    upgrade(app, "0021")
    with app.app_context():
        assert snapshot() == before
        codes = db.session.execute(sa.text("SELECT listed_pt_codes FROM product")).scalar_one()
        assert codes in ({}, "{}")
        case_id = db.session.execute(sa.text("SELECT min(id) FROM safety_case")).scalar_one()
        now = datetime.now(UTC).replace(tzinfo=None)
        today = date(2026, 12, 5)
        insert = [
            "INSERT INTO signal_run (id, period, period_start, period_end, started_at, run_by,"
            " cases, pairs, raised) VALUES (1, '2026-Q4', :start, :today, :now, 'command', 9, 1,"
            " 1)",
            "INSERT INTO signal_figure (id, run_id, product_id, pt_code, a, b, c, d, prr,"
            " period_count, triggers) VALUES (1, 1, 1, 10037844, 3, 6, 1, 30, 4.5, 3, '[\"prr\"]')",
            "INSERT INTO safety_signal (id, product_id, pt_code, status, triggers, detected_at,"
            " detected_by_run_id, latest_figure_id, validation_due_on) VALUES (1, 1, 10037844,"
            " 'new', '[\"prr\"]', :now, 1, 1, :today)",
            "INSERT INTO signal_case (signal_id, case_id, trigger, added_at)"
            " VALUES (1, :case, 'prr', :now)",
            "INSERT INTO signal_step (signal_id, step, at, by) VALUES (1, 'detected', :now,"
            " 'command')",
            "INSERT INTO signal_action (signal_id, kind, description, created_at, created_by)"
            " VALUES (1, 'dhpc', '致医务人员的函', :now, 'a@b')",
            "INSERT INTO designated_medical_event (pt_code, added_at, added_by)"
            " VALUES (10002198, :now, 'a@b')",
            "INSERT INTO group_event (id, product_id, province, city, kind, opened_at, known_on,"
            " investigation_due_on) VALUES (1, 1, '陕西省', '榆林市', 'cluster', :now, :today,"
            " :today)",
            "INSERT INTO group_event_case (group_event_id, case_id, added_at)"
            " VALUES (1, :case, :now)",
            "INSERT INTO product_exposure (product_id, period_start, period_end, unit, amount,"
            " entered_at, entered_by) VALUES (1, :start, :today, 'packs', 120000, :now, 'a@b')",
        ]
        values = {"now": now, "today": today, "start": date(2026, 10, 1), "case": case_id}
        for statement in insert:
            db.session.execute(sa.text(statement), values)
        db.session.commit()
    verify_chain(app)
    downgrade(app, "0020")
    with app.app_context():
        assert snapshot() == before
        inspector = sa.inspect(db.engine)
        assert not NEW_TABLES & set(inspector.get_table_names())
        assert "listed_pt_codes" not in {c["name"] for c in inspector.get_columns("product")}
    upgrade(app)  # and up again: empty new tables
    with app.app_context():
        count = db.session.execute(sa.text("SELECT count(*) FROM safety_signal")).scalar_one()
        assert count == 0
