"""Migration 0019: the holder's form. Each case's 原患疾病 becomes its first related-disease row
(each text its reports give, once; a placeholder none); every row is kept, and a downgrade takes
the new tables and columns away."""

from __future__ import annotations

import sqlalchemy as sa

from adr.extensions import db
from tests import test_migration_cases
from tests.test_migration_cases import fill_0008, upgrade, verify_chain
from tests.test_migration_follow_up_links import downgrade

app = test_migration_cases.app  # a fixture: an app on an empty database, no schema yet
pytestmark = test_migration_cases.pytestmark  # the test makes the schema

KEPT = ("safety_case", "report", "drug", "product", "reaction", "audit_entry")
NEW_COLUMNS = {
    "safety_case": {
        "occurrence_country", "patient_nationality", "patient_height_cm", "autopsy",
        "autopsy_findings", "pregnancy_lmp", "gestation_exposure_weeks",
        "gestation_reaction_weeks", "pregnancy_outcome", "pregnancy_detail", "parent_child",
        "parent_initials", "parent_age_years", "parent_sex", "parent_weight_kg",
        "parent_height_cm", "parent_history",
    },
    "report": {"patient_pregnant", "event_province", "event_city"},
    "drug": {"expiry_date", "dosage_form", "strength"},
    "product": {"dosage_form", "strengths"},
}  # fmt: skip
NEW_TABLES = {"case_disease", "lab_result", "case_drug"}


def snapshot() -> dict[str, list[tuple[object, ...]]]:
    """Every row of the tables 0018 holds, with the columns 0018 has."""
    tables = sa.MetaData()
    tables.reflect(db.engine, only=KEPT)
    result = {}
    for name, table in tables.tables.items():
        columns = [c for c in table.c if c.name not in NEW_COLUMNS.get(name, ())]
        query = sa.select(*columns).order_by(table.c.id)
        result[name] = [tuple(row) for row in db.session.execute(query)]
    return result


def diseases() -> dict[int, list[tuple[str, int | None, int]]]:
    rows = db.session.execute(
        sa.text(
            "SELECT case_id, name, report_id, position FROM case_disease ORDER BY case_id, position"
        )
    )
    found: dict[int, list[tuple[str, int | None, int]]] = {}
    for case_id, name, report_id, position in rows:
        found.setdefault(case_id, []).append((name, report_id, position))
    return found


def test_the_upgrade_makes_each_reported_disease_a_row_and_keeps_every_row(app):
    upgrade(app, "0008")
    fill_0008(app)
    upgrade(app, "0018")
    with app.app_context():
        report = db.metadata.tables["report"]
        case_of = dict(db.session.execute(sa.select(report.c.id, report.c.case_id)).all())
        values = {
            1: "急性支气管炎 ",  # the first report
            2: "急性支气管炎；高血压",  # its follow-up: a new text, kept whole
            3: "不详",  # a placeholder names no disease
            8: "Hypertension",
        }
        db.session.execute(sa.update(report).values(patient_disease=None))
        for report_id, text in values.items():
            db.session.execute(
                sa.update(report).where(report.c.id == report_id).values(patient_disease=text)
            )
        db.session.commit()
        before = snapshot()
        assert before["report"] and before["drug"]
    upgrade(app, "0019")
    with app.app_context():
        assert snapshot() == before
        found = diseases()
        assert found[case_of[1]] == [("急性支气管炎", 1, 1), ("急性支气管炎；高血压", 2, 2)]
        assert case_of[3] not in found
        assert found[case_of[8]] == [("Hypertension", 8, 1)]
        flags = db.session.execute(sa.text("SELECT DISTINCT parent_child FROM safety_case")).all()
        assert [bool(flag) for (flag,) in flags] == [False]
        strengths = db.session.execute(sa.text("SELECT strengths FROM product")).all()
        assert all(value in ("[]", []) for (value,) in strengths)
        db.session.execute(  # the new columns and tables hold data before the way back
            sa.text("UPDATE safety_case SET occurrence_country = 'HK', patient_height_cm = 160")
        )
        db.session.execute(sa.text("UPDATE report SET event_city = '榆林市'"))
        db.session.commit()
    verify_chain(app)
    downgrade(app, "0018")
    with app.app_context():
        assert snapshot() == before
        inspector = sa.inspect(db.engine)
        assert not NEW_TABLES & set(inspector.get_table_names())
        for table, columns in NEW_COLUMNS.items():
            assert not columns & {c["name"] for c in inspector.get_columns(table)}
    upgrade(app)  # and up again: the same rows
    with app.app_context():
        assert diseases()[case_of[8]] == [("Hypertension", 8, 1)]
