"""The holder's form (上市许可持有人药品不良反应报告表, 2020): what a case holds beyond its reports.

Staff complete the form per case: the patient's nationality and height, related diseases and
lab results as rows, pregnancy and the parent of a parent-child report, the autopsy, the
country where the reaction happened, and per drug its dosage form, strength, expiry date,
duration and the action taken. A drug's value left unset is its reports' own (the latest that
gives one), as the reporter typed it or the catalogue filled it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from adr import reactions, regulatory
from adr.models import Case, CaseDisease, CaseDrug, Drug, Report

DRUG_DETAILS = (
    "dosage_form",
    "strength",
    "expiry_date",
    "duration_value",
    "duration_unit",
    "action_taken",
)
REPORTED_DETAILS = ("dosage_form", "strength", "expiry_date")  # a report's drug may give these


@dataclass(frozen=True)
class DrugDetails:
    """A drug's details on the holder's form as they stand, and which staff set on the case."""

    dosage_form: str | None
    strength: str | None
    expiry_date: date | None
    duration_value: int | None
    duration_unit: str | None
    action_taken: str | None
    own: frozenset[str]


def drug_row(case: Case, drug: Drug) -> CaseDrug | None:
    """Return what staff stored of `drug` on the case, if anything."""
    key = reactions.drug_key(drug)
    return next((row for row in case.drug_details if row.drug_key == key), None)


def drug_details(case: Case, drug: Drug) -> DrugDetails:
    """Return the drug's details: staff's where set, else the reports' (`drug`: the current
    view's); the duration, unless staff gave one, counts the days from its start to its end."""
    row = drug_row(case, drug)
    own = {name for name in DRUG_DETAILS if row is not None and getattr(row, name) is not None}
    values: dict[str, Any] = {
        name: getattr(row, name) if name in own else getattr(drug, name, None)
        for name in REPORTED_DETAILS
    }
    if "duration_value" in own:
        values["duration_value"], values["duration_unit"] = row.duration_value, row.duration_unit  # type: ignore[union-attr]
    elif drug.start_date and drug.end_date and drug.end_date >= drug.start_date:
        values["duration_value"] = (drug.end_date - drug.start_date).days + 1
        values["duration_unit"] = "d"
    else:
        values["duration_value"] = values["duration_unit"] = None
    values["action_taken"] = row.action_taken if row is not None else None
    return DrugDetails(**values, own=frozenset(own))


def is_overseas(case: Case) -> bool:
    """Tell whether the case is a 境外报告: its reaction happened outside China mainland."""
    return regulatory.is_overseas(case.occurrence_country)


def add_reported_disease(session: Session, case: Case, report: Report) -> CaseDisease | None:
    """Add the report's 原患疾病 to the case's related diseases, unless the case holds it."""
    name = (report.patient_disease or "").strip()[:250]
    if not regulatory.identifies(name):
        return None
    if any(row.name.casefold() == name.casefold() for row in case.diseases):
        return None
    position = max((row.position for row in case.diseases), default=0) + 1
    row = CaseDisease(case_id=case.id, report_id=report.id, position=position, name=name)
    session.add(row)
    case.diseases.append(row)
    return row
