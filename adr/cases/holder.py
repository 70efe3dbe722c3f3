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

import sqlalchemy as sa
from sqlalchemy.orm import Session

from adr import reactions, regulatory
from adr.cases import literature
from adr.cases.view import merged
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
    action_taken: str  # staff's, else not_changed or unknown (see drug_details)
    own: frozenset[str]


def drug_row(case: Case, drug: Drug) -> CaseDrug | None:
    """Return what staff stored of `drug` on the case, if anything."""
    key = reactions.drug_key(drug)
    return next((row for row in case.drug_details if row.drug_key == key), None)


def drug_details(case: Case, drug: Drug, dechallenge: str | None = None) -> DrugDetails:
    """Return the drug's details: staff's where set, else the reports' (`drug`: the current
    view's); the duration, unless staff gave one, counts the days from its start to its end.

    The action taken is staff's; else, when the reporter said the drug was neither stopped nor
    reduced (`dechallenge`, the case's 停药或减量后 answer: 未停药或未减量), the dose was not
    changed; else unknown. Nothing is guessed from the dates (a course may end by itself).
    """
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
    if "action_taken" in own:
        values["action_taken"] = row.action_taken  # type: ignore[union-attr]
    else:
        values["action_taken"] = "not_changed" if dechallenge == "not_applicable" else "unknown"
    return DrugDetails(**values, own=frozenset(own))


def packs(case: Case, drug: Drug) -> list[Drug]:
    """Return the packs of a drug of the current view: when its mentions across the reports name
    more than one batch, one drug a batch (each batch's mentions merged, later values winning,
    as the view merges them); else the view's drug itself. Two packs of one product, each with
    its batch, expiry and dates, are never printed as one."""
    key = (drug.role, reactions.drug_key(drug))
    by_batch: dict[str, Drug] = {}
    for report in case.reports:
        for mention in report.drugs:
            batch = mention.batch_number
            if batch and (mention.role, reactions.drug_key(mention)) == key:
                by_batch[batch] = merged(by_batch[batch], mention) if batch in by_batch else mention
    return list(by_batch.values()) if len(by_batch) > 1 else [drug]


def is_overseas(case: Case) -> bool:
    """Tell whether the case is a 境外报告: its reaction happened outside China mainland."""
    return regulatory.is_overseas(case.occurrence_country)


# A province the public form offers that is outside China mainland: the country it names.
OVERSEAS_PROVINCES = {
    "香港": "HK", "澳门": "MO", "澳門": "MO", "台湾": "TW", "臺灣": "TW",
    "hong kong": "HK", "hongkong": "HK", "macao": "MO", "macau": "MO", "taiwan": "TW",
}  # fmt: skip


def named_region(place: str | None) -> str | None:
    """Return the region outside China mainland a typed place names (中国香港, 九龙 aside)."""
    text = (place or "").strip().casefold()
    return next((code for name, code in OVERSEAS_PROVINCES.items() if name in text), None)


def reported_overseas(case: Case, view: Any) -> str | None:
    """Return the country a report's place names when it is outside China mainland and staff
    have not set the case's country: 香港 is HK. Staff decide; a deadline moves with it."""
    return None if case.occurrence_country is not None else named_region(view.event_province)


def place_disagrees(case: Case, view: Any) -> bool:
    """Tell whether the case is overseas while its reports place the reaction in China mainland
    (a province that names no region outside it): a country set by mistake moves deadlines."""
    province = (view.event_province or "").strip()
    return is_overseas(case) and bool(province) and named_region(province) is None


PARENT_ITEMS = (  # the parent of a parent-child report (E2B D.10)
    "parent_initials",
    "parent_age_years",
    "parent_sex",
    "parent_weight_kg",
    "parent_height_cm",
    "parent_history",
)
PREGNANCY_ITEMS = (
    "pregnancy_lmp",
    "gestation_exposure_weeks",
    "gestation_reaction_weeks",
    "pregnancy_outcome",
    "pregnancy_detail",
)


def is_pregnancy(case: Case, view: Any) -> bool:
    """Tell whether the case tells of a pregnancy, the patient's or a parent's: the reports say
    so (是否妊娠, or 妊娠期 in the relevant history), or staff gave a pregnancy item."""
    return (
        view.patient_pregnant == "yes"
        or "pregnancy" in (view.patient_history or [])
        or case.parent_child
        or any(getattr(case, name) not in (None, "") for name in PREGNANCY_ITEMS)
    )


def disease_named(text: str | None) -> str | None:
    """Return the disease a 原患疾病 names, as typed; None for nothing or a placeholder (不详)."""
    name = (text or "").strip()
    return name if regulatory.identifies(name) else None


def add_reported_disease(case: Case, report: Report) -> CaseDisease | None:
    """Add the report's 原患疾病 to the case's related diseases, unless the case holds it."""
    name = disease_named(report.patient_disease)
    if name is None or any(row.name.casefold() == name.casefold() for row in case.diseases):
        return None
    position = max((row.position for row in case.diseases), default=0) + 1
    row = CaseDisease(report=report, position=position, name=name)
    case.diseases.append(row)  # inserted with the case, as `reactions.add_reported` does
    return row


def correct_reported_disease(
    session: Session, case: Case, report: Report, original: str | None
) -> None:
    """Carry a correction of the report's 原患疾病 to the related disease it became: renamed (its
    coding, of the old text, removed), removed when the correction empties it, or added when
    staff had removed it. The correction itself is audited with its reason."""
    old = (original or "").strip().casefold()
    row = next(
        (r for r in case.diseases if r.report_id == report.id and r.name.casefold() == old), None
    )
    if row is None:
        add_reported_disease(case, report)
        return
    name = disease_named(report.patient_disease)
    if name is None:
        case.diseases.remove(row)
        session.delete(row)
    elif name.casefold() != row.name.casefold():
        row.name, row.llt_code, row.meddra_version = name, None, None


def insert_reported_diseases(connection: Any, case_ids: list[int]) -> int:
    """In bulk, for a migration or demo data: give each case a related disease for each
    原患疾病 its reports give, the first report's first, once (`add_reported_disease` does the
    same for one new report). Return how many were added."""
    # The columns named, not the models: migration 0019 runs this on the schema it makes.
    report = sa.table(
        "report",
        *map(sa.column, ("id", "case_id", "patient_disease", "follow_up_of_id", "added_at")),
    ).c
    query = (
        sa.select(report.id, report.case_id, report.patient_disease)
        .where(report.case_id.in_(case_ids), report.patient_disease.is_not(None))
        .order_by(report.case_id, report.follow_up_of_id.is_not(None), report.added_at, report.id)
    )
    rows: list[dict[str, Any]] = []
    held: dict[int, set[str]] = {}
    for report_id, case_id, text in connection.execute(query).all():
        name = disease_named(text)
        names = held.setdefault(case_id, set())
        if name is not None and name.casefold() not in names:
            names.add(name.casefold())
            rows.append(
                {"case_id": case_id, "report_id": report_id, "position": len(names), "name": name}
            )
    if rows:
        disease = sa.table(
            "case_disease", *map(sa.column, ("case_id", "report_id", "position", "name"))
        )
        connection.execute(sa.insert(disease), rows)
    return len(rows)


# What the national direct-reporting system requires of the holder's form (its * fields, and
# the parts of the 填表说明 that make a field required once another is given).


@dataclass(frozen=True)
class Gap:
    """A field the national system requires that the case lacks, and where to fill it: an
    anchor of the case page, or "follow-up" (the reports' own data: a follow-up or a correction)."""

    field: str  # a key of vocab.FIELDS, vocab.HOLDER_FIELDS or vocab.HOLDER_FORM
    subject: str  # the drug or reaction it is missing for; "" for the case
    where: str


def national_gaps(case: Case, view: Any) -> list[Gap]:
    """Return what the national system requires and the case lacks, in the form's order.

    `view` is the case's current view. Required (the form's * fields): the patient's name or
    initials, sex and birth date (an age stands in: the form's 年龄); for each suspect drug its
    approval number, generic name, dosage form, holder or manufacturer and start of use; for each
    reaction its onset and outcome, and the holder's causality for each suspect drug; for a death
    its date, whether an autopsy was done and, when one was, its findings; for a report from the
    literature its citation (authors, title, journal, year).
    """
    gaps: list[Gap] = []
    if not regulatory.identifies(view.patient_name):
        gaps.append(Gap("patient-name", "", "follow-up"))
    if view.patient_sex not in ("male", "female"):
        gaps.append(Gap("patient-sex", "", "follow-up"))
    if view.patient_birth_date is None and view.patient_age is None:
        gaps.append(Gap("patient-birth_date", "", "follow-up"))
    suspects = [drug for drug in view.drugs if drug.role in reactions.ASSESSED_ROLES]
    if not suspects:
        gaps.append(Gap("drug-generic_name", "", "follow-up"))
    for index, drug in enumerate(view.drugs):
        if drug.role not in reactions.ASSESSED_ROLES:
            continue
        name = drug.generic_name or drug.brand_name or ""
        details = drug_details(case, drug)
        for field, value, where in (
            ("drug-approval_number", drug.approval_number, "follow-up"),
            ("drug-generic_name", drug.generic_name, "follow-up"),
            ("drug-dosage_form", details.dosage_form, f"#holder-drug-{index}"),
            ("drug-manufacturer", drug.manufacturer, "follow-up"),
            ("drug-start_date", drug.start_date, "follow-up"),
        ):
            if not value:
                gaps.append(Gap(field, name, where))
    for reaction in reactions.sent(case):
        facts = reactions.reaction_facts(reaction, case, view)
        term = reaction.reported_term
        if facts.onset_date is None:
            gaps.append(Gap("event-onset_date", term, f"#coding-{reaction.id}"))
        if facts.outcome is None:
            gaps.append(Gap("event-outcome", term, f"#coding-{reaction.id}"))
        for drug in suspects:
            if reactions.pair_facts(reaction, drug, case, view).company_causality is None:
                name = drug.generic_name or drug.brand_name or ""
                gaps.append(Gap("holder_causality", f"{name} × {term}", "#pairs"))
    for report in case.reports:  # a report from the literature: the article it comes from
        if report.source == "literature" or literature.cites(report):
            gaps += [
                Gap(f"literature-{name}", report.reference, "#corrections")
                for name in literature.missing(report)
            ]
    if case.death:
        if view.event_death_date is None:
            gaps.append(Gap("event-death_date", "", "follow-up"))
        if case.autopsy is None:
            gaps.append(Gap("autopsy", "", "#holder-case"))
        elif case.autopsy == "yes" and not case.autopsy_findings:
            gaps.append(Gap("autopsy_findings", "", "#holder-case"))
    return gaps
