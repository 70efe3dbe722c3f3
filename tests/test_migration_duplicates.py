"""Migration 0012: tables of duplicate candidates and blocking keys beside the reports.

The reports stay as they were; each gets the blocking keys the matcher finds it by.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from adr import duplicates
from adr.extensions import db
from tests import test_migration_cases
from tests.test_migration_cases import fill_0008, upgrade
from tests.test_migration_follow_up_links import downgrade, snapshot

app = test_migration_cases.app  # a fixture: an app on an empty database, no schema yet
pytestmark = test_migration_cases.pytestmark  # the test makes the schema


def test_the_upgrade_keys_every_report_and_the_downgrade_keeps_them_all(app):
    upgrade(app, "0008")
    fill_0008(app)
    upgrade(app, "0011")
    with app.app_context():
        before = snapshot()
        assert len(before["report"]) == 8
    upgrade(app, "0012")
    with app.app_context():
        assert snapshot() == before
        keys = sa.table("duplicate_key", *map(sa.column, ("report_id", "key", "onset")))
        stored = db.session.execute(sa.select(keys.c.report_id, keys.c.key)).all()
        expected = {
            (row["report_id"], row["key"])
            for report in before["report"]
            for row in duplicates.key_rows(report.id, report._mapping)
        }
        assert set(stored) == expected
        # A woman of 68 named 张某某 (no initials to key by); a follow-up gives no patient.
        assert {key for report_id, key in stored if report_id == 1} == {"af68"}
        assert len({report_id for report_id, _ in stored}) == 6
        inspector = sa.inspect(db.engine)
        assert "ix_report_patient_birth_date" in {
            i["name"] for i in inspector.get_indexes("report")
        }
        earlier, later = (case.id for case in before["safety_case"][:2])
        values = {
            "case_id": later, "candidate_case_id": earlier, "score": 9.5, "matched": '["name"]',
            "found_at": datetime(2026, 11, 20), "decision": "none",
        }  # fmt: skip
        db.session.execute(
            sa.insert(sa.table("duplicate_candidate", *map(sa.column, values))), values
        )
        db.session.commit()
    downgrade(app, "0011")
    with app.app_context():
        assert snapshot() == before
        inspector = sa.inspect(db.engine)
        assert not inspector.has_table("duplicate_candidate")
        assert not inspector.has_table("duplicate_key")
        assert "ix_report_patient_birth_date" not in {
            i["name"] for i in inspector.get_indexes("report")
        }
    upgrade(app)  # and up again to the head
