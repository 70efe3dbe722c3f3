"""Migration 0026: each assignee's open cases counted into `open_case_count`, the drug's batch
index holding the report too; every row kept, and down and up again."""

from __future__ import annotations

import sqlalchemy as sa

from adr.extensions import db
from tests import test_migration_cases
from tests.test_migration_case_copies import snapshot
from tests.test_migration_cases import fill_0008, upgrade, verify_chain
from tests.test_migration_follow_up_links import downgrade

app = test_migration_cases.app  # a fixture: an app on an empty database, no schema yet
pytestmark = test_migration_cases.pytestmark  # the test makes the schema


def counted() -> dict[int, int]:
    """Each assignee's open cases (0: nobody), counted from the cases."""
    query = sa.text(
        "SELECT coalesce(assigned_to_id, 0), count(*) FROM safety_case"
        " WHERE status IN ('received', 'in_review', 'assessed', 'submitted')"
        " GROUP BY coalesce(assigned_to_id, 0)"
    )
    return dict(db.session.execute(query).all())


def kept() -> dict[int, int]:
    return dict(db.session.execute(sa.text("SELECT assignee_id, cases FROM open_case_count")).all())


def drug_indexes() -> set[str]:
    return {index["name"] for index in sa.inspect(db.engine).get_indexes("drug")}


def test_the_upgrade_counts_each_assignee_s_open_cases_and_keeps_every_row(app):
    upgrade(app, "0008")
    fill_0008(app)
    upgrade(app, "0025")
    with app.app_context():
        first, last = db.session.execute(sa.text("SELECT min(id), max(id) FROM safety_case")).one()
        db.session.execute(
            sa.text("UPDATE safety_case SET status = 'closed' WHERE id = :first"), {"first": first}
        )
        db.session.execute(
            sa.text(
                "INSERT INTO staff_user (email, name, role, active, password_hash, created_at)"
                " VALUES ('r@example.com', '审核员', 'reviewer', :yes, 'x', '2026-12-01')"
            ),
            {"yes": True},
        )
        db.session.execute(
            sa.text(
                "UPDATE safety_case SET assigned_to_id = (SELECT min(id) FROM staff_user)"
                " WHERE id = :last"
            ),
            {"last": last},
        )
        db.session.commit()
        before = snapshot()
        expected = counted()
        assert len(expected) == 2 and sum(expected.values()) >= 2
    upgrade(app, "0026")
    with app.app_context():
        assert snapshot() == before
        assert kept() == expected
        assert "ix_drug_batch_report" in drug_indexes() - {"ix_drug_batch_number"}
    verify_chain(app)
    downgrade(app, "0025")
    with app.app_context():
        assert snapshot() == before
        assert "open_case_count" not in sa.inspect(db.engine).get_table_names()
        assert "ix_drug_batch_number" in drug_indexes() - {"ix_drug_batch_report"}
    upgrade(app)  # and up again
    with app.app_context():
        assert snapshot() == before
        assert kept() == expected
