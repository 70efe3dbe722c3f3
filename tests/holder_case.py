"""A case completed for the holder's form, as staff would complete it, for the workbook and PDF.

The staff pages that edit these items come with the case page; until then the values are stored
the way those pages store them: on the case, its reports and the holder form's own rows.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import sqlalchemy as sa

from adr import meddra
from adr.extensions import db
from adr.models import (
    CaseDisease,
    CaseDrug,
    DrugReaction,
    LabResult,
    Report,
    write_transaction,
)
from tests.meddra_fixture import HYPERTENSION, PRURITUS, RASH, VERSION, write_release

EXPIRY = date(2028, 3, 31)
PROVINCE, CITY = "陕西省", "榆林市"
LABS = [
    {
        "test_name": "谷丙转氨酶",
        "test_date": date(2026, 11, 21),
        "result_value": 88.0,
        "unit": "U/L",
        "normal_low": "0",
        "normal_high": "40",
        "more_info": "复查",
    },
    {"test_name": "嗜酸性粒细胞计数", "test_date": date(2026, 11, 22), "result_text": "升高"},
]


def import_meddra(app, folder: Path) -> None:
    """Import the synthetic MedDRA release, English then Chinese names."""
    with app.app_context():
        meddra.import_release(write_release(folder / "en", "en"), "test")
        meddra.import_release(write_release(folder / "zh", "zh"), "test")


def complete(app, reference: str, **case_values: object) -> None:
    """Complete the case of `reference`: the patient, a related disease, two lab results, the
    suspect drug's details, the reactions coded and judged, where it happened."""
    with app.app_context(), write_transaction() as session:
        report = session.scalar(sa.select(Report).where(Report.reference == reference))
        case = report.case
        report.event_province, report.event_city = PROVINCE, CITY
        case.patient_nationality = "CN"
        case.patient_height_cm = 158.5
        for name, value in case_values.items():
            setattr(case, name, value)
        session.add(
            CaseDisease(
                case_id=case.id,
                position=len(case.diseases) + 1,
                name="高血压",
                meddra_version=VERSION,
                llt_code=HYPERTENSION,
                start_date=date(2015, 6, 1),
                continuing="yes",
            )
        )
        for position, values in enumerate(LABS, 1):
            session.add(LabResult(case_id=case.id, position=position, **values))
        session.add(
            CaseDrug(
                case_id=case.id,
                drug_key="阿莫西林胶囊",
                dosage_form="胶囊",
                strength="0.25g",
                expiry_date=EXPIRY,
                action_taken="withdrawn",
            )
        )
        for reaction in case.reactions:
            code = {"皮疹": RASH, "瘙痒": PRURITUS}.get(reaction.reported_term)
            if code:
                reaction.meddra_version, reaction.llt_code = VERSION, code
                reaction.coded_by, reaction.coded_at = "test", datetime.now(UTC)
        rash = next(r for r in case.reactions if r.reported_term == "皮疹")
        rash.end_date = date(2026, 11, 25)
        rash.assessments.append(DrugReaction(drug_key="阿莫西林胶囊", company_causality="certain"))


def case_id(app, reference: str) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(Report.case_id).where(Report.reference == reference))
