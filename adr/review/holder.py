"""The case page's holder form (上市许可持有人药品不良反应报告表): what staff complete per case.

The patient's nationality and height, the autopsy, pregnancy and the parent of a parent-child
report; related diseases and lab results as rows; each drug's dosage form, strength, expiry date,
duration and the action taken. Each form posts here; every change is audited, old → new, in the
transaction that makes it. The country where the reaction happened moves deadlines: it is set as
a correction, with a reason (`adr.cases.corrections`). A refused form gives the case page back
(422) with what was typed and why.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from flask import abort, flash, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response
from wtforms import BooleanField
from wtforms.validators import NumberRange, Optional

from adr import audit, cases, reactions, regulatory, vocab
from adr.auth.views import role_required
from adr.cases import holder
from adr.i18n import current_language
from adr.intake.forms import (
    Choice,
    Date,
    LongText,
    Number,
    Text,
    WholeNumber,
    clean_text,
    expiry_limit,
    label,
)
from adr.models import Case, CaseDisease, CaseDrug, LabResult, Report, write_transaction
from adr.review import bp
from adr.review.coding import Refusal, back_to, chosen_llt, coding_text, posted_day, posted_id
from adr.review.queries import find_report

WEEKS = NumberRange(0, 45, _l("Enter weeks of pregnancy from 0 to 45."))
ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
MAX_DURATION = 100_000


class HolderForm(FlaskForm):
    """The case's own items of the holder form."""

    patient_nationality = Choice("patient_nationality", vocab.COUNTRIES)
    patient_height_cm = Number("patient_height_cm", Decimal("10"), Decimal("250"))
    autopsy = Choice("autopsy", vocab.CONTINUING)
    autopsy_findings = LongText("autopsy_findings", 250)  # E2B D.9.4.r.2 holds 250
    pregnancy_lmp = Date("pregnancy_lmp")
    gestation_exposure_weeks = WholeNumber(
        label("gestation_exposure_weeks"), validators=[Optional(), WEEKS]
    )
    gestation_reaction_weeks = WholeNumber(
        label("gestation_reaction_weeks"), validators=[Optional(), WEEKS]
    )
    pregnancy_outcome = Choice("pregnancy_outcome", vocab.PREGNANCY_OUTCOME)
    pregnancy_detail = LongText("pregnancy_detail", 2000)
    parent_child = BooleanField(label("parent_child"))
    parent_initials = Text("parent_initials", 60)
    parent_age_years = WholeNumber(
        label("parent_age_years"),
        validators=[Optional(), NumberRange(8, 80, _l("Enter an age from 8 to 80 years."))],
    )
    parent_sex = Choice("parent_sex", vocab.SEX)
    parent_weight_kg = Number("parent_weight_kg", Decimal("20"), Decimal("300"))
    parent_height_cm = Number("parent_height_cm", Decimal("100"), Decimal("250"))
    parent_history = LongText("parent_history", 500)


CASE_FIELDS = (
    "patient_nationality",
    "patient_height_cm",
    "autopsy",
    "autopsy_findings",
    *holder.PREGNANCY_ITEMS,
    "parent_child",
    *holder.PARENT_ITEMS,
)


def stamp(case: Case) -> str:
    """Return what the stored items are, in short: a save from a page showing others refused."""
    values = json.dumps([audit.as_text(getattr(case, name)) for name in CASE_FIELDS])
    return hashlib.sha256(values.encode()).hexdigest()[:16]


def holder_form(case: Case) -> HolderForm:
    """Return the form holding the case's stored values."""
    return HolderForm(formdata=None, obj=case)


def stored(value: Any) -> Any:
    """Return a form's value as the column keeps it: numbers as floats, nothing as None."""
    if isinstance(value, Decimal):
        return float(value)
    return None if value == "" else value


@bp.post("/reports/<reference>/holder")
@role_required("reviewer", "admin")
def save_holder(reference: str) -> Response | tuple[str, int]:
    """Save the case's own items of the holder form; each changed one is audited."""
    from adr.review.views import render_case, stored_assessment  # views imports this module

    report = find_report(reference)
    form = HolderForm()
    if form.validate() and form.pregnancy_lmp.data and form.pregnancy_lmp.data > onset(report):
        form.pregnancy_lmp.errors.append(
            _("The last period is after the reaction started: check the date.")
        )
    if form.errors:
        return render_case(report, stored_assessment(report.case), holder=form), 422
    changed = False
    with write_transaction() as session:
        case = cases.lock(session, report.case_id)
        if request.form.get("stamp") != stamp(case):  # another saved since the page was loaded
            form.form_errors.append(
                _(
                    "Someone else saved these items since you opened the page: what you typed "
                    "is below, nothing was saved. Check the case and save again."
                )
            )
            return render_case(report, stored_assessment(case), holder=form), 409
        for name in CASE_FIELDS:
            old, new = getattr(case, name), stored(form[name].data)
            if audit_row(session, case, "holder changed", name, old, new):
                setattr(case, name, new)
                changed = True
    flash(_("Saved.") if changed else _("Nothing changed."))
    return back_to(report, "holder-case")


def onset(report: Report) -> date:
    """Return the case's onset, or today when none is known."""
    view = cases.current_view(report.case.reports)
    return view.event_onset_date or regulatory.china_today()


# Related diseases and lab results: rows staff add, change and remove.


def posted_text(
    form: MultiDict[str, str], name: str, limit: int, errors: dict[str, str]
) -> str | None:
    value = clean_text(form.get(name))
    if value and len(value) > limit:
        errors[name] = _(
            "Shorten this to %(limit)s characters or fewer (now %(length)s).",
            limit=limit,
            length=len(value),
        )
    return value


def posted_code(
    form: MultiDict[str, str], name: str, codes: vocab.CodeList, errors: dict[str, str]
) -> str | None:
    value = form.get(name) or None
    if value is not None and value not in codes:
        errors[name] = _("Choose one of the options shown.")
    return value


def date_order(values: dict[str, Any], start: str, end: str, errors: dict[str, str]) -> None:
    if values[start] and values[end] and values[end] < values[start] and end not in errors:
        errors[end] = _("The end is before the start: check both dates.")


def disease_values(form: MultiDict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    errors: dict[str, str] = {}
    values = {
        "name": posted_text(form, "name", 500, errors),  # as long as a report's 原患疾病
        "start_date": posted_day(form, "start_date", errors),
        "end_date": posted_day(form, "end_date", errors),
        "continuing": posted_code(form, "continuing", vocab.CONTINUING, errors),
        "note": posted_text(form, "note", 200, errors),
    }
    if not values["name"]:
        errors["name"] = _("Name the disease.")
    date_order(values, "start_date", "end_date", errors)
    if values["end_date"] and values["continuing"] == "yes" and "continuing" not in errors:
        errors["continuing"] = _("A disease that ended is not still present: check both.")
    return values, errors


# A result read as a number: digits with a point, thousands grouped by commas (150,000) or not.
# A comma is never a decimal point (Chinese lab sheets group thousands with it); anything else
# (<0.5, 2+, 1e3, 阳性) is kept as text.
NUMBER = re.compile(r"-?(\d{1,3}(,\d{3})+|\d{1,12})(\.\d{1,6})?")


def lab_number(result: str | None) -> float | None:
    """Return the result as a number when it is written as one, else None."""
    text = unicodedata.normalize("NFKC", result or "").strip()
    return float(text.replace(",", "")) if NUMBER.fullmatch(text) else None


def lab_values(form: MultiDict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """Read a lab result; its result is a number when it is written as one (7.2, 150,000),
    else text."""
    errors: dict[str, str] = {}
    result = posted_text(form, "result", 2000, errors)
    number = lab_number(result)
    values = {
        "test_name": posted_text(form, "test_name", 250, errors),
        "test_date": posted_day(form, "test_date", errors),
        "result_value": number,
        "result_text": None if number is not None else result,
        "unit": posted_text(form, "unit", 50, errors),
        "normal_low": posted_text(form, "normal_low", 50, errors),
        "normal_high": posted_text(form, "normal_high", 50, errors),
        "more_info": posted_text(form, "more_info", 2000, errors),
    }
    if not values["test_name"]:
        errors["test_name"] = _("Name the test.")
    if not result and "result" not in errors:
        errors["result"] = _("Give the result: a number, or in words (阳性, 2+).")
    return values, errors


@dataclass(frozen=True)
class RowKind:
    """One kind of the holder form's rows: how it is read, stored and audited."""

    model: type[CaseDisease] | type[LabResult]
    collection: str  # the case's relationship
    title: str  # the column that names a row in the audit trail
    read: Callable[[MultiDict[str, str]], tuple[dict[str, Any], dict[str, str]]]
    noun: str  # the audit actions: "<noun> added", "changed", "removed", "coded"


ROWS = {
    "diseases": RowKind(CaseDisease, "diseases", "name", disease_values, "disease"),
    "labs": RowKind(LabResult, "lab_results", "test_name", lab_values, "lab result"),
}


ROW_KEYS = ("id", "case_id", "report_id", "position")


def row_kind(kind: str) -> RowKind:
    return ROWS.get(kind) or abort(404)


def row_of(case: Case, kind: RowKind, row_id: int) -> Any:
    found = next((row for row in getattr(case, kind.collection) if row.id == row_id), None)
    return found or abort(404)


def row_text(row: Any) -> str:
    """Return a row's values as the audit trail keeps an added or removed row."""
    names = [c.key for c in row.__table__.columns if c.key not in ROW_KEYS]
    return "; ".join(str(getattr(row, name)) for name in names if getattr(row, name) is not None)


def refused_row(report: Report, anchor: str, errors: dict[str, str]) -> tuple[str, int]:
    from adr.review.views import render_case, stored_assessment  # views imports this module

    refusal = Refusal(anchor, request.form.copy(), errors)
    return render_case(report, stored_assessment(report.case), refusal), 422


def audit_row(session: Session, case: Case, action: str, field: str, old: Any, new: Any) -> bool:
    return audit.record_change(
        session, current_user.email, action, case.first_report.id, field[:60], old, new
    )


@bp.post("/reports/<reference>/holder/<kind>")
@role_required("reviewer", "admin")
def add_row(reference: str, kind: str) -> Response | tuple[str, int]:
    """Add a related disease or a lab result to the case."""
    report, rows = find_report(reference), row_kind(kind)
    values, errors = rows.read(request.form)
    if errors:
        return refused_row(report, f"add-{kind}", errors)
    with write_transaction() as session:
        case = cases.lock(session, report.case_id)
        held = getattr(case, rows.collection)
        position = max((row.position for row in held), default=0) + 1
        row = rows.model(case_id=case.id, position=position, **values)
        session.add(row)
        held.append(row)
        audit_row(session, case, f"{rows.noun} added", values[rows.title], None, row_text(row))
        session.flush()
        row_id = row.id
    flash(_("Added."))
    return back_to(report, f"{kind}-{row_id}")


@bp.post("/reports/<reference>/holder/<kind>/<row_id>")
@role_required("reviewer", "admin")
def change_row(reference: str, kind: str, row_id: str) -> Response | tuple[str, int]:
    """Change a row's values, or remove it (its values stay in the audit trail)."""
    report, rows = find_report(reference), row_kind(kind)
    row_of(report.case, rows, posted_id(row_id))
    remove = "remove" in request.form
    values, errors = ({}, {}) if remove else rows.read(request.form)
    reason = posted_text(request.form, "reason", 500, errors) if remove else None
    if remove and not reason and "reason" not in errors:
        errors["reason"] = _("Say why it is removed: it changes what the case sends.")
    if errors:
        return refused_row(report, f"{kind}-{row_id}", errors)
    changed = False
    with write_transaction() as session:
        case = cases.lock(session, report.case_id)
        row = row_of(case, rows, int(row_id))
        title = getattr(row, rows.title)
        if remove:
            audit_row(session, case, f"{rows.noun} removed", title, row_text(row), None)
            audit_row(session, case, "reason", title, None, reason)
            getattr(case, rows.collection).remove(row)
            session.delete(row)
            changed = True
        for name, value in values.items():
            if audit_row(
                session, case, f"{rows.noun} changed", f"{name}: {title}", getattr(row, name), value
            ):
                setattr(row, name, value)
                changed = True
    flash(_("Removed.") if remove else (_("Saved.") if changed else _("Nothing changed.")))
    return back_to(report, kind if remove else f"{kind}-{row_id}")


@bp.post("/reports/<reference>/holder/<kind>/<row_id>/coding")
@role_required("reviewer", "admin")
def code_row(reference: str, kind: str, row_id: str) -> Response | tuple[str, int]:
    """Code a related disease or a lab test to a current LLT, or remove its coding."""
    report, rows = find_report(reference), row_kind(kind)
    row_of(report.case, rows, posted_id(row_id))
    hit = None
    if "uncode" not in request.form:
        hit, problem = chosen_llt(request.form)
        if problem:
            return refused_row(report, f"coding-{kind}-{row_id}", {"llt_code": problem})
    with write_transaction() as session:
        case = cases.lock(session, report.case_id)
        row = row_of(case, rows, int(row_id))
        old = coding_text(row.llt_code, row.meddra_version)
        new = coding_text(hit.llt_code, hit.version) if hit else None
        field = f"meddra: {getattr(row, rows.title)}"
        changed = audit_row(session, case, f"{rows.noun} coded", field, old, new)
        if changed:
            row.meddra_version = hit.version if hit else None
            row.llt_code = hit.llt_code if hit else None
    flash(_("Saved.") if changed else _("Nothing changed."))
    return back_to(report, f"{kind}-{row_id}")


# Each drug's details: staff's values over the reports'.


def drug_values(form: MultiDict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    errors: dict[str, str] = {}
    values: dict[str, Any] = {
        "dosage_form": posted_text(form, "dosage_form", 60, errors),
        "strength": posted_text(form, "strength", 60, errors),
        "expiry_date": None,
        "duration_value": None,
        "duration_unit": posted_code(form, "duration_unit", vocab.DURATION_UNIT, errors),
        "action_taken": posted_code(form, "action_taken", vocab.ACTION_TAKEN, errors),
    }
    typed = form.get("expiry_date", "").strip()
    with suppress(ValueError):  # YYYY-MM-DD only: fromisoformat also reads 20280229, 2028-W01-1
        values["expiry_date"] = date.fromisoformat(typed) if ISO_DAY.fullmatch(typed) else None
    if typed and values["expiry_date"] is None:
        errors["expiry_date"] = _("Write the date as YYYY-MM-DD, e.g. 2026-03-01.")
    expiry = values["expiry_date"]
    if expiry and not (date(1900, 1, 1) <= expiry <= expiry_limit()):
        errors["expiry_date"] = _("An expiry date is at most ten years ahead: check the date.")
    duration = form.get("duration_value", "").strip()
    if duration:
        if duration.isascii() and duration.isdigit() and 0 < int(duration) <= MAX_DURATION:
            values["duration_value"] = int(duration)
        else:
            errors["duration_value"] = _("Enter a whole number, for example 45.")
    if values["duration_value"] and not values["duration_unit"] and "duration_unit" not in errors:
        errors["duration_unit"] = _("Choose the unit of the duration.")
    if not values["duration_value"]:
        values["duration_unit"] = None
    return values, errors


@bp.post("/reports/<reference>/holder/drugs/<index>")
@role_required("reviewer", "admin")
def change_drug(reference: str, index: str) -> Response | tuple[str, int]:
    """Set a drug's dosage form, strength, expiry, duration and action; empty: the reports'."""
    report = find_report(reference)
    drugs = cases.current_view(report.case.reports).drugs
    number = posted_id(index)
    if number >= len(drugs):
        abort(404)
    key = reactions.drug_key(drugs[number])
    if request.form.get("drug") != key:
        flash(_("The case's drugs changed since the page was loaded: check and save again."))
        return back_to(report, "holder-drugs")
    values, errors = drug_values(request.form)
    if errors:
        return refused_row(report, f"holder-drug-{number}", errors)
    changed = False
    with write_transaction() as session:
        case = cases.lock(session, report.case_id)
        row = next((row for row in case.drug_details if row.drug_key == key), None)
        if row is None:
            row = CaseDrug(case_id=case.id, drug_key=key)
        for name, value in values.items():
            field = f"{name}: {key}"
            if audit_row(session, case, "drug details changed", field, getattr(row, name), value):
                setattr(row, name, value)
                changed = True
        if changed and row.id is None:
            session.add(row)
    flash(_("Saved.") if changed else _("Nothing changed."))
    return back_to(report, f"holder-drug-{number}")


# What the case page shows.


@dataclass
class DrugRow:
    index: int
    key: str  # adr.reactions.drug_key
    drug: Any  # the current view's drug
    details: holder.DrugDetails
    stored: CaseDrug | None


@dataclass
class HolderSection:
    form: HolderForm
    stamp: str  # the stored items' stamp, sent back with the form
    overseas: bool
    reported_country: str | None  # a report places the reaction outside China mainland
    place_disagrees: bool  # overseas, while the reports place it in a province of the mainland
    place: str  # where the reports place the reaction: province and city
    pregnancy: bool  # a report says the patient was pregnant, or staff began the section
    # The pregnancy ended with a congenital anomaly the case's seriousness does not count yet.
    anomaly_not_serious: bool
    drugs: list[DrugRow]
    gaps: list[tuple[str, str]]  # what the national system requires and the case lacks: where
    refused: Refusal | None
    countries: list[tuple[str, str]]


def holder_section(
    report: Report, view: cases.CurrentView, form: HolderForm | None, refused: Refusal | None
) -> HolderSection:
    case = report.case
    return HolderSection(
        form=form or holder_form(case),
        stamp=stamp(case),
        overseas=holder.is_overseas(case),
        reported_country=holder.reported_overseas(case, view),
        place_disagrees=holder.place_disagrees(case, view),
        place=" ".join(part for part in (view.event_province, view.event_city) if part),
        pregnancy=holder.is_pregnancy(case, view),
        anomaly_not_serious=case.pregnancy_outcome == "live_birth_anomaly"
        and "congenital_anomaly" not in reactions.case_criteria(case),
        drugs=[
            DrugRow(
                index,
                reactions.drug_key(drug),
                drug,
                holder.drug_details(case, drug),
                holder.drug_row(case, drug),
            )
            for index, drug in enumerate(view.drugs)
        ],
        gaps=[
            (
                gap_label(gap.field, current_language())
                + (f"（{gap.subject}）" if gap.subject else ""),
                gap.where,
            )
            for gap in holder.national_gaps(case, view)
        ],
        refused=refused,
        countries=vocab.countries(current_language()),
    )


def gap_label(field: str, language: str) -> str:
    """Return the label of a field the national system requires, as staff read it."""
    term = vocab.HOLDER_FIELDS.get(field) or vocab.HOLDER_FORM.get(field)
    return term.text(language) if term else vocab.field_label(field, language)
