"""Migration 0015: each case's reactions become rows, from the terms its reports name."""

from __future__ import annotations

import sqlalchemy as sa

from adr.extensions import db
from adr.models import Reaction
from tests import test_migration_cases
from tests.test_migration_cases import fill_0008, upgrade
from tests.test_migration_follow_up_links import downgrade, snapshot

app = test_migration_cases.app  # a fixture: an app on an empty database, no schema yet
pytestmark = test_migration_cases.pytestmark  # the test makes the schema


def reactions_by_case() -> dict[int, list[tuple[str, str, int]]]:
    rows = db.session.scalars(sa.select(Reaction).order_by(Reaction.case_id, Reaction.position))
    found: dict[int, list[tuple[str, str, int]]] = {}
    for row in rows:
        found.setdefault(row.case_id, []).append((row.reported_term, row.language, row.report_id))
        assert row.llt_code is None and row.outcome is None and row.serious is None
    return found


def test_each_case_gets_a_reaction_for_each_term_its_reports_name(app):
    upgrade(app, "0008")
    fill_0008(app)
    upgrade(app, "0014")
    with app.app_context():
        report = db.metadata.tables["report"]
        db.session.execute(  # a follow-up naming one reaction again and a new one
            sa.update(report).where(report.c.id == 2).values(event_name="皮疹；发热 ")
        )
        db.session.execute(  # a placeholder names no reaction; English is English
            sa.update(report).where(report.c.id == 6).values(event_name="不详")
        )
        db.session.execute(
            sa.update(report).where(report.c.id == 8).values(event_name="Rash, itching")
        )
        db.session.commit()
        case_of = dict(db.session.execute(sa.select(report.c.id, report.c.case_id)).all())
        before = snapshot()
    upgrade(app, "0015")
    with app.app_context():
        assert snapshot() == before  # no report, drug, note or audit line changes
        found = reactions_by_case()
        assert found[case_of[1]] == [("皮疹", "chi", 1), ("瘙痒", "chi", 1), ("发热", "chi", 2)]
        assert found[case_of[3]] == [("过敏性休克", "chi", 3)]
        assert case_of[6] not in found
        assert found[case_of[8]] == [("Rash", "eng", 8), ("itching", "eng", 8)]
        assert len(found) == len(set(case_of.values())) - 1
    downgrade(app, "0014")
    with app.app_context():
        assert snapshot() == before
        assert "reaction" not in sa.inspect(db.engine).get_table_names()
    upgrade(app, "0015")  # and up again: the same reactions
    with app.app_context():
        assert reactions_by_case()[case_of[1]][2] == ("发热", "chi", 2)
