"""Migration 0009: a database of 0008 becomes cases, every clock recomputed and audited.

The rows are inserted as 0008 stored them (status and assessment on the report, notes on a
report), through table clauses of that shape, never through today's models.
"""

from __future__ import annotations

import traceback
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from adr import audit, create_app, regulatory
from adr.extensions import db
from adr.models import AuditEntry, Case, CaseNote, Drug, Report, write_transaction
from adr.review.queries import Filters, report_query
from tests.conftest import COMPANY, app_config

ACTOR = "migration 0009"
STAFF = "anna@tianning.example"
MOVED = (
    "status", "status_reason", "assessed_serious", "expectedness", "company_causality",
    "naranjo_answers", "naranjo_score", "national_case_number",
)  # fmt: skip
DERIVED = ("serious", "report_category", "due_at", "valid_case", "completeness")
TYPES = {
    bool: sa.Boolean, int: sa.Integer, float: sa.Float, str: sa.String, list: sa.JSON,
    datetime: sa.DateTime, date: sa.Date,
}  # fmt: skip
NARANJO = ["yes", "yes", "yes", "unknown", "unknown", "unknown", "unknown", "unknown",
           "unknown", "yes"]  # fmt: skip


pytestmark = pytest.mark.empty_database  # the migrations make the schema


@pytest.fixture
def app(tmp_path, monkeypatch):
    """An app on an empty database: no schema until a test upgrades it."""
    monkeypatch.setenv("ADR_INSTANCE_PATH", str(tmp_path))
    app = create_app(app_config(tmp_path))
    yield app
    with app.app_context():
        db.engine.dispose()


def upgrade(app, revision: str = "head") -> None:
    result = app.test_cli_runner().invoke(args=["db", "upgrade", revision])
    error = "".join(traceback.format_exception(result.exception)) if result.exception else ""
    assert result.exit_code == 0, result.output + error


def verify_chain(app) -> str:
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    return result.output


def insert_old(name: str, row: dict[str, object]) -> None:
    """Insert a row into the table as 0008 made it: only the columns named, typed by value."""
    columns = [sa.column(key, TYPES[type(value)]()) for key, value in row.items()]
    db.session.execute(sa.insert(sa.table(name, *columns)).values(**row))


def naive(moment: datetime) -> datetime:
    """Return an aware moment as 0008 stored it: naive UTC."""
    return moment.astimezone(UTC).replace(tzinfo=None)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def old_due(received_at: datetime, days: int) -> datetime:
    """Return the deadline 0008 stored: N days after the China date of receipt."""
    return naive(regulatory.end_of_china_day(regulatory.china_date(received_at) + timedelta(days)))


def old_report(number: int, received_at: datetime, **fields: object) -> dict[str, object]:
    """Return a report as 0008 stored it: a pharmacist reporting a rash, with `fields` over it."""
    row: dict[str, object] = {
        "id": number,
        "reference": f"ADR-202611-A0000{number}",
        "submission_token": f"old-token-{number:04d}-abcdefghijkl",
        "received_at": naive(received_at),
        "language": "zh_CN",
        "reporter_kind": "pharmacist",
        "reporter_organization_type": "pharmacy",
        "reporter_organization": "榆林市天宁大药房",
        "reporter_name": "王丽",
        "reporter_phone": "139 1234 5678",
        "reporter_phone_e164": "+8613912345678",
        "reporter_email": "wangli@example.com",
        "reporter_consent_contact": True,
        "reporter_consent_privacy": True,
        "patient_name": "张某某",
        "patient_sex": "female",
        "patient_birth_date": date(1958, 3, 14),
        "patient_age": 68,
        "patient_age_unit": "year",
        "patient_weight_kg": 62.5,
        "patient_disease": "急性支气管炎",
        "patient_past_adr": "yes",
        "patient_past_adr_detail": "青霉素皮疹",
        "patient_family_adr": "no",
        "patient_history": ["smoking", "allergy"],
        "event_name": "皮疹、瘙痒",
        "event_onset_date": date(2026, 10, 30),
        "event_description": "服药第二天躯干出现红色皮疹伴瘙痒。",
        "event_outcome": "improving",
        "event_dechallenge": "yes",
        "event_rechallenge": "not_applicable",
        "event_serious": [],
        "event_causality": "probable",
        "serious": False,
        "report_category": "general",
        "due_at": old_due(received_at, 30),
        "valid_case": True,
        "completeness": 88,
        "status": "received",
    }
    row.update(fields)
    return {key: value for key, value in row.items() if value is not None}


def suspect(report_id: int, drug_id: int, **fields: object) -> dict[str, object]:
    row = {
        "id": drug_id, "report_id": report_id, "position": 0, "role": "suspect",
        "approval_number": "国药准字H61020123", "brand_name": "天宁",
        "generic_name": "阿莫西林胶囊", "manufacturer": COMPANY, "batch_number": "20260315A",
        "dose": 0.5, "dose_unit": "g", "route": "oral", "frequency": "每日3次",
        "start_date": date(2026, 10, 29), "indication": "急性支气管炎", **fields,
    }  # fmt: skip
    return {key: value for key, value in row.items() if value is not None}


# When each report came: (a) a first report and its follow-up, received late on 5 November in
# UTC, already 6 November in China; (b) a death, received on 10 November in China; (c) a patient
# named 不详; (d) a duplicate of (a)'s follow-up; (f) an invalid report; (g) a submitted report;
# (h) a report the reporter called serious and staff did not.
RECEIVED = {
    1: utc(2026, 11, 1, 2, 0),  # (a) 10:00 on 1 November in China
    2: utc(2026, 11, 5, 18, 30),  # (a)'s follow-up: 02:30 on 6 November in China
    3: utc(2026, 11, 9, 17, 0),  # (b) 01:00 on 10 November in China
    4: utc(2026, 11, 12, 6, 0),  # (c)
    5: utc(2026, 11, 6, 3, 0),  # (d)
    6: utc(2026, 11, 15, 8, 0),  # (f)
    7: utc(2026, 11, 3, 4, 0),  # (g)
    8: utc(2026, 11, 8, 1, 0),  # (h)
}


# fmt: off
def old_reports() -> list[dict[str, object]]:
    return [
        old_report(  # (a) general, assessed by staff
            1, RECEIVED[1], status="assessed", company_causality="probable",
            expectedness="listed", assessed_serious=[], naranjo_answers=NARANJO,
            naranjo_score=5,
        ),
        old_report(  # (a)'s follow-up: the patient went to hospital; 0008 judged it alone
            2, RECEIVED[2], follow_up_of_id=1, patient_name=None, patient_sex=None,
            patient_birth_date=None, patient_age=None, patient_age_unit=None,
            patient_weight_kg=None, patient_disease=None, patient_past_adr=None,
            patient_past_adr_detail=None, patient_family_adr=None, patient_history=[],
            event_name=None, event_outcome="not_recovered", event_serious=["hospitalization"],
            event_description="皮疹加重伴发热,11月4日入院治疗。", serious=True,
            report_category="serious", due_at=old_due(RECEIVED[2], 15), valid_case=False,
            completeness=40, status="in_review", company_causality="certain",
            assessed_serious=["hospitalization"],  # 0008's form offered the reporter's criteria
        ),
        old_report(  # (b) a death
            3, RECEIVED[3], patient_name="刘某", patient_sex="male", patient_age=81,
            patient_birth_date=None, event_name="过敏性休克", event_outcome="death",
            event_death_date=date(2026, 11, 9), event_death_cause="过敏性休克",
            event_serious=["death", "life_threatening"], serious=True,
            report_category="serious", due_at=old_due(RECEIVED[3], 1), status="in_review",
        ),
        old_report(  # (c) 不详 identifies nobody; 0008 took it for a name
            4, RECEIVED[4], patient_name="不详", patient_sex=None, patient_birth_date=None,
            patient_age=None, patient_age_unit=None, reporter_kind="patient",
        ),
        old_report(  # (d) the hospital's report of (a)'s follow-up
            5, RECEIVED[5], reporter_kind="doctor", reporter_organization_type="hospital",
            reporter_organization="绥德县医院", reporter_name="李明", reporter_phone="0912-5647000",
            reporter_phone_e164="+869125647000", reporter_email=None,
            event_serious=["hospitalization"], serious=True, report_category="serious",
            due_at=old_due(RECEIVED[5], 15), status="duplicate", duplicate_of_id=2,
            status_reason="与 ADR-202611-A00002 为同一病例",
        ),
        old_report(  # (f) no suspect drug named: invalid
            6, RECEIVED[6], valid_case=False, status="invalid",
            status_reason="未提供怀疑药品,报告人无法联系",
        ),
        old_report(  # (g) staff judged it serious and new, which set its clock; submitted
            7, RECEIVED[7], status="submitted", assessed_serious=["hospitalization"],
            expectedness="new", company_causality="possible", serious=True,
            report_category="new_serious", due_at=old_due(RECEIVED[7], 15),
            submitted_to_regulator_on=date(2026, 11, 17), national_case_number="6120261100123",
        ),
        old_report(  # (h) staff judged the hospitalisation not serious: 0008 gave it 30 days
            8, RECEIVED[8], event_serious=["hospitalization"], status="assessed",
            assessed_serious=[], expectedness="listed", company_causality="possible",
        ),
    ]


def old_drugs() -> list[dict[str, object]]:
    return [
        suspect(1, 1),
        {
            "id": 2, "report_id": 1, "position": 1, "role": "concomitant",
            "generic_name": "盐酸氨溴索片", "dose": 30.0, "dose_unit": "mg", "route": "oral",
            "frequency": "每日2次", "start_date": date(2026, 10, 29),
        },
        suspect(2, 3, end_date=date(2026, 11, 2)),
        suspect(3, 4, brand_name=None, generic_name="注射用头孢曲松钠", route="iv"),
        suspect(4, 5),
        suspect(5, 6),
        {"id": 7, "report_id": 6, "position": 0, "role": "concomitant", "generic_name": "维生素C"},
        suspect(7, 8),
        suspect(8, 9),
    ]
# fmt: on


def old_notes() -> list[dict[str, object]]:
    return [
        {"id": 1, "report_id": 1, "at": datetime(2026, 11, 2, 1), "author": STAFF,
         "text": "已电话联系报告人,核实用药时间。"},
        {"id": 2, "report_id": 2, "at": datetime(2026, 11, 6, 2), "author": STAFF,
         "text": "跟踪报告:患者已住院,请重新评价严重性。"},
        {"id": 3, "report_id": 3, "at": datetime(2026, 11, 10, 2), "author": STAFF,
         "text": "死亡病例,立即上报并启动调查。"},
    ]  # fmt: skip


def fill_0008(app) -> list[tuple[int, str]]:
    """Store the reports, drugs and notes as 0008 did; return the audit chain's (id, hash)."""
    with app.app_context():
        for row in old_reports():
            insert_old("report", row)
        for row in old_drugs():
            insert_old("drug", row)
        for row in old_notes():
            insert_old("case_note", row)
        db.session.commit()
        if db.engine.dialect.name == "postgresql":  # ids given: move the sequences past them
            for name in ("report", "drug", "case_note"):
                db.session.execute(
                    sa.text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), 100)")
                )
            db.session.commit()
        for report_id in range(1, 9):
            with write_transaction() as session:
                audit.record(session, audit.PUBLIC_FORM, "report received", report_id)
        with write_transaction() as session:
            audit.record(session, STAFF, "assessment", 1, "status", "in_review", "assessed")
            audit.record(session, STAFF, "assessment", 7, "status", "assessed", "submitted")
            audit.record(session, STAFF, "login")
        query = sa.select(AuditEntry.id, AuditEntry.hash).order_by(AuditEntry.id)
        return [(row.id, row.hash) for row in db.session.execute(query)]


def as_stored(value: object) -> object:
    return value.replace(tzinfo=UTC) if isinstance(value, datetime) else value


def test_the_upgrade_makes_cases_and_recomputes_every_clock(app):
    upgrade(app, "0008")
    chain_before = fill_0008(app)
    assert len(chain_before) == 11
    upgrade(app)

    with app.app_context():
        reports = {r.id: r for r in db.session.scalars(sa.select(Report))}
        stored_cases = {c.id: c for c in db.session.scalars(sa.select(Case))}

        # Nothing lost: every report keeps what was received, its references unchanged.
        assert sorted(reports) == list(range(1, 9))
        for row in old_reports():
            report = reports[row["id"]]
            for key, value in row.items():
                if key not in (*MOVED, "duplicate_of_id", *DERIVED):
                    assert getattr(report, key) == as_stored(value), (row["id"], key)
            assert report.source == "web"
        drugs = db.session.execute(sa.select(Drug.__table__).order_by(Drug.id)).mappings().all()
        assert [{k: v for k, v in d.items() if v is not None} for d in drugs] == old_drugs()
        notes = db.session.execute(sa.select(CaseNote.__table__).order_by(CaseNote.id)).all()
        assert [(n.id, n.case_id, n.at, n.author, n.text) for n in notes] == [
            (n["id"], case_id, as_stored(n["at"]), n["author"], n["text"])
            for n, case_id in zip(old_notes(), [1, 1, 3], strict=True)
        ]  # (e) the note on (a)'s follow-up belongs to (a)'s case

        # Each first report is a case of its id; the follow-up joins its first report's case.
        # 0016 merged (d), a duplicate, into (a)'s case: its case stays, holding no report.
        assert sorted(stored_cases) == [1, 3, 4, 5, 6, 7, 8]
        assert {r.id: r.case_id for r in reports.values()} == {
            1: 1, 2: 1, 3: 3, 4: 4, 5: 1, 6: 6, 7: 7, 8: 8
        }  # fmt: skip
        assert [r.id for r in stored_cases[1].reports] == [1, 2, 5]
        assert stored_cases[5].reports == []

        # The status and the assessment moved to the case: the first report's values.
        old = {row["id"]: row for row in old_reports()}
        for case_id, case in stored_cases.items():
            for name in MOVED:  # no criteria, [] or None, the same
                expected = old[case_id].get(name)
                assert getattr(case, name) == (None if expected == [] else expected), (
                    case_id,
                    name,
                )
            assert case.assessed_outcome is None and case.investigation_reported_on is None
        assert stored_cases[5].duplicate_of_id == 1  # (d) a duplicate of (a)'s follow-up
        assert {c.id for c in stored_cases.values() if c.duplicate_of_id} == {5}
        assert stored_cases[6].status_reason == "未提供怀疑药品,报告人无法联系"  # (f)
        assert stored_cases[7].national_case_number == "6120261100123"  # (g)
        assert reports[7].submitted_to_regulator_on == date(2026, 11, 17)

        # Every report's clock by the new rules: (aware_on, day_zero, due_at, category, serious,
        # valid). Deadlines end at 23:59:59 China time, 15:59:59 UTC.
        clocks = {
            r.id: (r.aware_on, r.day_zero, r.due_at, r.report_category, r.serious, r.valid_case)
            for r in reports.values()
        }
        assert clocks == {
            # (a) general, 30 days; its follow-up serious, 15 days from its own China date.
            1: (date(2026, 11, 1), date(2026, 11, 1), utc(2026, 12, 1, 15, 59, 59),
                "general", False, True),
            2: (date(2026, 11, 6), date(2026, 11, 6), utc(2026, 11, 21, 15, 59, 59),
                "serious", True, True),
            # (b) a death: the day after day 0.
            3: (date(2026, 11, 10), date(2026, 11, 10), utc(2026, 11, 11, 15, 59, 59),
                "serious", True, True),
            # (c) 不详 and nothing else of the patient: no valid case, no deadline.
            4: (date(2026, 11, 12), None, None, "general", False, False),
            # (d) merged by 0016: the hospital's report adds to (a)'s case, a follow-up there.
            5: (date(2026, 11, 6), date(2026, 11, 6), utc(2026, 11, 21, 15, 59, 59),
                "serious", True, True),
            6: (date(2026, 11, 15), None, None, "general", False, False),
            # (g) serious by staff and new: 15 days.
            7: (date(2026, 11, 3), date(2026, 11, 3), utc(2026, 11, 18, 15, 59, 59),
                "new_serious", True, True),
            # (h) the reporter's criteria count whatever staff said: 15 days.
            8: (date(2026, 11, 8), date(2026, 11, 8), utc(2026, 11, 23, 15, 59, 59),
                "serious", True, True),
        }  # fmt: skip
        summary = {
            c.id: (c.serious, c.death, c.report_category, c.valid_case, c.investigation_due_at)
            for c in stored_cases.values()
        }
        assert summary == {
            1: (True, False, "serious", True, None),
            3: (True, True, "serious", True, utc(2026, 11, 25, 15, 59, 59)),
            4: (False, False, "general", False, None),
            5: (True, False, "serious", True, None),
            6: (False, False, "general", False, None),
            7: (True, False, "new_serious", True, None),
            8: (True, False, "serious", True, None),
        }

        # The trail: the old entries untouched, the migration's appended after them.
        entries = db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id)).all()
        assert [(e.id, e.hash) for e in entries[: len(chain_before)]] == chain_before
        added = entries[len(chain_before) :]
        assert added[0].prev_hash == chain_before[-1][1]
        assert {e.actor for e in added} == {ACTOR, "migration 0016"}
        moved = sorted(
            (e.action, e.report_id, e.field, e.old_value, e.new_value)
            for e in added
            if e.actor == ACTOR
        )
        assert moved == sorted(
            [
                # (a)'s follow-up's own assessment, dropped for its first report's.
                ("migrated", 2, "status", "in_review", "assessed"),
                ("migrated", 2, "company_causality", "certain", "probable"),
                ("migrated", 2, "assessed_serious", '["hospitalization"]', "[]"),
                # (a)'s case became serious with its follow-up.
                ("deadline", 1, "serious", "False", "True"),
                ("deadline", 1, "report_category", "general", "serious"),
                # (b) a death's investigation is due 15 days after day 0.
                ("deadline", 3, "investigation_due_at", None, "2026-11-25 15:59:59+00:00"),
                # (c) and (f) lost the deadline 0008 gave them.
                ("deadline", 4, "due_at", "2026-12-12 15:59:59+00:00", None),
                ("deadline", 4, "valid_case", "True", "False"),
                ("deadline", 6, "due_at", "2026-12-15 15:59:59+00:00", None),
                # (d) a duplicate owes the regulator nothing.
                ("deadline", 5, "due_at", "2026-11-21 15:59:59+00:00", None),
                # (h) serious again, 15 days: the report's clock, then the case's.
                ("deadline", 8, "report_category", "general", "serious"),
                ("deadline", 8, "due_at", "2026-12-08 15:59:59+00:00",
                 "2026-11-23 15:59:59+00:00"),
                ("deadline", 8, "serious", "False", "True"),
                ("deadline", 8, "report_category", "general", "serious"),
            ]
        )  # fmt: skip

        merged = [
            (e.action, e.report_id, e.field, e.old_value, e.new_value)
            for e in added
            if e.actor == "migration 0016"
        ]
        assert merged == [
            ("merged", 5, "case", "ADR-202611-A00005", "ADR-202611-A00001"),
            ("deadline", 5, "due_at", None, "2026-11-21 15:59:59+00:00"),
        ]

        if db.engine.dialect.name == "sqlite":  # batch migrations turned foreign keys off
            assert db.session.execute(sa.text("PRAGMA foreign_key_check")).all() == []
            assert db.session.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1

    assert f"{len(entries)} entries" in verify_chain(app)

    with app.app_context(), write_transaction() as session:  # the next case follows the last
        case = Case()
        session.add(case)
        session.flush()
        assert case.id == 9


@pytest.mark.parametrize("start", ["empty", "0008"])
def test_an_empty_database_upgrades(app, start):
    if start == "0008":
        upgrade(app, "0008")
    upgrade(app)
    with app.app_context():
        for model in (Case, Report, CaseNote, AuditEntry):
            assert db.session.scalar(sa.select(sa.func.count()).select_from(model)) == 0
    assert "0 entries" in verify_chain(app)


def test_reports_without_an_audit_trail_start_the_chain(app):
    upgrade(app, "0008")
    with app.app_context():
        for row in old_reports()[:2]:
            insert_old("report", row)
        for row in old_drugs()[:3]:
            insert_old("drug", row)
        db.session.commit()
    upgrade(app)
    with app.app_context():
        entries = db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id)).all()
        assert entries and entries[0].prev_hash == audit.GENESIS
        assert {e.actor for e in entries} == {ACTOR}
        assert db.session.get(Report, 2).case_id == 1
        assert db.session.get(Case, 1).report_category == "serious"
    assert f"{len(entries)} entries" in verify_chain(app)


def test_a_follow_up_of_a_follow_up_joins_the_first_reports_case(app):
    """0008's demo data linked follow-ups to any earlier report, follow-ups included."""
    upgrade(app, "0008")
    with app.app_context():
        for row in old_reports()[:2]:
            insert_old("report", row)
        insert_old("report", old_report(8, utc(2026, 11, 20, 2), follow_up_of_id=2))
        duplicate = old_report(9, utc(2026, 11, 21, 2), status="duplicate", duplicate_of_id=8)
        insert_old("report", duplicate)
        insert_old("drug", suspect(1, 1))
        db.session.commit()
    upgrade(app)
    with app.app_context():
        reports = db.session.scalars(sa.select(Report)).all()
        assert {r.id: (r.case_id, r.follow_up_of_id) for r in reports} == {
            1: (1, None), 2: (1, 1), 8: (1, 2), 9: (1, 1)  # 9 merged into its original by 0016
        }  # fmt: skip
        assert db.session.get(Case, 9).duplicate_of_id == 1
        third = db.session.get(Report, 8)  # the case as it stood: serious since the follow-up
        assert (third.report_category, third.due_at) == ("serious", utc(2026, 12, 5, 15, 59, 59))
    verify_chain(app)


def test_duplicate_marks_that_no_case_can_hold_are_kept_in_the_trail(app):
    """0008 let staff mark any report a duplicate of any other but itself."""
    upgrade(app, "0008")
    with app.app_context():
        for row in (
            old_report(1, RECEIVED[1], status="in_review"),
            # sent again as a follow-up of itself
            old_report(2, RECEIVED[2], follow_up_of_id=1, status="duplicate", duplicate_of_id=1),
            old_report(3, RECEIVED[3], status="assessed"),
            # a follow-up of 3 found to repeat 1
            old_report(4, RECEIVED[4], follow_up_of_id=3, status="duplicate", duplicate_of_id=1),
            old_report(5, RECEIVED[5]),
            old_report(6, RECEIVED[6], follow_up_of_id=5),
        ):
            insert_old("report", row)
        marked = {"id": 5, "status": "duplicate", "duplicate_of_id": 6}  # of its own follow-up
        table = sa.table("report", *map(sa.column, marked))
        db.session.execute(sa.update(table).where(table.c.id == 5).values(**marked))
        db.session.commit()
    upgrade(app)
    with app.app_context():
        cases = {c.id: (c.status, c.duplicate_of_id) for c in db.session.scalars(sa.select(Case))}
        assert cases == {1: ("in_review", None), 3: ("assessed", None), 5: ("duplicate", None)}
        entries = db.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.action == "migrated")
        ).all()
        assert sorted((e.report_id, e.field, e.old_value, e.new_value) for e in entries) == [
            (2, "duplicate_of_id", "1", None),
            (2, "status", "duplicate", "in_review"),
            (4, "duplicate_of_id", "1", None),
            (4, "status", "duplicate", "assessed"),
            (5, "duplicate_of_id", "6", None),
            (6, "status", "received", "duplicate"),
        ]
    verify_chain(app)


def test_a_closed_case_with_a_follow_up_still_owed_is_reopened(app):
    """0008 kept a status per report: a follow-up not yet sent keeps its case open."""
    upgrade(app, "0008")
    with app.app_context():
        first, follow_up = old_reports()[:2]
        sent = {"status": "closed", "submitted_to_regulator_on": date(2026, 11, 3)}
        insert_old("report", first | sent)
        insert_old("report", follow_up | {"status": "received"})
        insert_old("drug", suspect(1, 1))
        db.session.commit()
    upgrade(app)
    with app.app_context():
        assert db.session.get(Case, 1).status == "in_review"
        entry = db.session.scalar(
            sa.select(AuditEntry).where(AuditEntry.field == "status", AuditEntry.report_id == 1)
        )
        assert (entry.action, entry.old_value, entry.new_value) == (
            "migrated",
            "closed",
            "in_review",
        )
        owed = db.session.scalars(report_query(Filters(overdue=True), utc(2027, 1, 1))).all()
        assert [report.id for report in owed] == [2]
    verify_chain(app)
