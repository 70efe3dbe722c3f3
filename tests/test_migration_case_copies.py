"""Migration 0022: each report gets its case's status, seriousness and death, every row kept;
a downgrade takes the copies away, and upgrading again fills them again."""

from __future__ import annotations

import sqlalchemy as sa

from adr.extensions import db
from tests import test_migration_cases
from tests.test_migration_cases import fill_0008, upgrade, verify_chain
from tests.test_migration_follow_up_links import downgrade
from tests.test_migration_signals import snapshot as signals_snapshot
from tests.test_migration_source_documents import CITATION

app = test_migration_cases.app  # a fixture: an app on an empty database, no schema yet
pytestmark = test_migration_cases.pytestmark  # the test makes the schema

COPIES = ("case_status", "case_serious", "case_death", "case_assigned_to_id")


def snapshot() -> dict[str, list[tuple[object, ...]]]:
    """Every row of the tables 0021 holds, with the columns 0021 has."""
    rows = signals_snapshot()
    names = [c["name"] for c in sa.inspect(db.engine).get_columns("report")]
    kept = [name for name in names if name not in (*CITATION, *COPIES)]
    query = sa.text(f"SELECT {', '.join(kept)} FROM report ORDER BY id")  # noqa: S608
    rows["report"] = [tuple(row) for row in db.session.execute(query)]
    return rows


def copies_and_cases() -> list[tuple[tuple[object, ...], tuple[object, ...]]]:
    """Each report's copies and its case's values, booleans as booleans on both engines."""
    query = sa.text(
        "SELECT r.case_status, r.case_serious, r.case_death, r.case_assigned_to_id,"
        " c.status, c.serious, c.death, c.assigned_to_id"
        " FROM report AS r JOIN safety_case AS c ON c.id = r.case_id ORDER BY r.id"
    )
    rows = db.session.execute(query)
    return [((a, bool(b), bool(c), d), (e, bool(f), bool(g), h)) for a, b, c, d, e, f, g, h in rows]


def test_the_upgrade_copies_each_case_s_values_onto_its_reports_and_keeps_every_row(app):
    upgrade(app, "0008")
    fill_0008(app)
    upgrade(app, "0021")
    with app.app_context():
        closed_fatal = db.session.execute(sa.text("SELECT min(id) FROM safety_case")).scalar_one()
        db.session.execute(
            sa.text(
                "UPDATE safety_case SET status = 'closed', serious = :yes, death = :yes,"
                " assigned_to_id = (SELECT min(id) FROM staff_user) WHERE id = :id"
            ),
            {"yes": True, "id": closed_fatal},
        )
        db.session.commit()
        before = snapshot()
        assert len(before["report"]) > 2
    upgrade(app, "0022")
    with app.app_context():
        assert snapshot() == before
        pairs = copies_and_cases()
        assert len(pairs) == len(before["report"])
        assert all(copy == case for copy, case in pairs)
        assert ("received", False, False, None) in {copy for copy, _ in pairs}
        assert {copy[:3] for copy, _ in pairs} >= {("closed", True, True)}
    verify_chain(app)
    downgrade(app, "0021")
    with app.app_context():
        assert snapshot() == before
        columns = {c["name"] for c in sa.inspect(db.engine).get_columns("report")}
        assert not set(COPIES) & columns
    upgrade(app)  # and up again
    with app.app_context():
        assert snapshot() == before
        assert all(copy == case for copy, case in copies_and_cases())
