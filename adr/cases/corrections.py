"""Corrections of received data: the report holds the corrected value, the original stays.

Any field of a received report can be corrected with a reason (as report-form.md names it:
`case-awareness_date`, `drugs-0-batch_number`, `patient-age`, …), and so can the date a report
went to the national system and the case's national number. Each correction keeps the value as
received, the new one, who, when and why; every clock is derived again. A correction that moves
a deadline, a day 0 or a date sent waits for a second person under four-eyes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict
from wtforms import DateField, Form

from adr import audit, duplicates, products, reactions, regulatory, search, vocab
from adr.cases import approvals, clock, literature, merges
from adr.cases.holder import add_reported_disease, correct_reported_disease
from adr.intake.forms import (
    CaseForm,
    Choice,
    Date,
    DrugForm,
    EventForm,
    KnownCode,
    LiteratureForm,
    LongText,
    PatientForm,
    ReporterForm,
    Section,
    Text,
    phone_e164,
)
from adr.models import Case, Correction, DuplicateKey, Report, SearchGram, write_transaction
from adr.signals import group_events


class RecordForm(Section):
    """What a report and its case hold beside the form's sections."""

    remarks = LongText("remarks", 2000)
    submitted_to_regulator_on = Date("submitted_to_regulator_on")
    national_case_number = Text("national_case_number", 50)
    investigation_reported_on = Date("investigation_reported_on")
    occurrence_country = Choice("occurrence_country", vocab.COUNTRIES)


SECTIONS: dict[str, type[Form]] = {
    "reporter": ReporterForm,
    "patient": PatientForm,
    "event": EventForm,
    "drugs": DrugForm,
    "case": CaseForm,
    "literature": LiteratureForm,
    "record": RecordForm,
}
CASE_COLUMNS = {"awareness_date": "aware_on", "source": "source"}
ON_THE_CASE = ("national_case_number", "investigation_reported_on", "occurrence_country")
# What a column's correction also sets.
DERIVED = {"reporter_phone": "reporter_phone_e164", "patient_phone": "patient_phone_e164"}
# What decides whether a case makes or joins a group event, beside its drugs.
GROUP_EVENT_COLUMNS = ("event_province", "event_city", "aware_on")
# What decides a report's deadline, or says it was met: a change here waits for approval.
CLOCK_COLUMNS = ("aware_on", "day_zero", "due_at", "lapsed_due_at", "submitted_to_regulator_on")


class CorrectionError(ValueError):
    """A correction that cannot be made, with the form field to show the message at."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Target:
    """Where a posted field's value lives: a report's column, one of its drugs', or the case's."""

    name: str  # patient-age, drugs-0-batch_number, case-awareness_date, national_case_number
    section: str
    field: str  # the field's name inside its section's form
    drug_index: int | None = None

    @property
    def column(self) -> str:
        if self.section in ("record", "drugs"):
            return self.field
        return CASE_COLUMNS.get(self.field) or f"{self.section}_{self.field}"

    def label(self, language: str) -> str:
        return vocab.field_label(self.name, language)


def target(name: str) -> Target:
    """Return where a posted field name's value lives; raise CorrectionError if nowhere."""
    parts = name.split("-")
    if len(parts) == 1:
        section, field, index = "record", name, None
    elif len(parts) == 3 and parts[0] == "drugs" and re.fullmatch(r"[0-9]{1,2}", parts[1]):
        section, field, index = "drugs", parts[2], int(parts[1])
    elif len(parts) == 2 and parts[0] not in ("drugs", "record"):
        section, field, index = parts[0], parts[1], None
    else:
        section, field, index = "", "", None
    form = SECTIONS.get(section)
    if form is None or field not in form()._fields:
        raise CorrectionError("field", _("Choose a field of the report to correct."))
    if (section, field) in (("reporter", "consent_privacy"), ("reporter", "consent_contact")):
        raise CorrectionError("field", _("A reporter's consent is theirs: it is not corrected."))
    return Target(name, section, field, index)


def parse(found: Target, values: list[str]) -> Any:
    """Return the value as its field reads it (a date, a number, codes), or raise CorrectionError.

    Each field's own rules apply (formats, lengths, codes, dates not in the future).
    """
    field = SECTIONS[found.section]()[found.field]
    codes = next((v.codes for v in field.validators if isinstance(v, KnownCode)), None)
    if codes:  # a choice may be typed by its label, as staff read it: 痊愈, Recovered
        labels = {text.casefold(): code for code, term in codes.items() for text in term}
        values = [labels.get(value.strip().casefold(), value.strip()) for value in values]
    form = SECTIONS[found.section](formdata=MultiDict([(found.field, v) for v in values]))
    field = form[found.field]
    if not field.validate(form):
        raise CorrectionError("value", str(field.errors[0]))
    value = field.data
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list):  # ticked codes: none ticked is an empty list
        return value
    return None if value == "" else value


def stored(value: Any) -> Any:
    """Return a value as a correction keeps it in JSON: dates as YYYY-MM-DD."""
    return value.isoformat() if isinstance(value, date) else value


def loaded(found: Target, value: Any) -> Any:
    """Return a kept value as its column holds it: a date field's as a date."""
    if value and isinstance(SECTIONS[found.section]()[found.field], DateField):
        return date.fromisoformat(value)
    return value


def holder(report: Report, found: Target) -> Any:
    """Return the object holding the field: the report, its drug, or its case."""
    if found.section == "drugs":
        drugs = sorted(report.drugs, key=lambda drug: drug.position)
        if found.drug_index is None or found.drug_index >= len(drugs):
            raise CorrectionError("field", _("The report has no drug at this place."))
        return drugs[found.drug_index]
    return report.case if found.column in ON_THE_CASE else report


def check(report: Report, found: Target, value: Any) -> None:
    """Refuse what the field's own rules cannot see: dates out of the report's order, and an
    empty value where the record must hold one."""
    where = holder(report, found)
    if value is None and not type(where).__table__.c[found.column].nullable:
        raise CorrectionError("value", _("This field cannot be empty: give the right value."))
    received = regulatory.china_date(report.received_at)
    if found.column == "aware_on":
        if value is None:
            raise CorrectionError("value", _("Enter the day the company first knew of it."))
        if value > received:
            raise CorrectionError(
                "value", _("We knew of the report by the day it was entered: check the date.")
            )
        if report.submitted_to_regulator_on and value > report.submitted_to_regulator_on:
            raise CorrectionError("value", _("This date is after the report was sent."))
    if found.section == "literature":
        if report.source != "literature":
            raise CorrectionError(
                "field",
                _("A citation belongs to a report from the literature: correct the source first."),
            )
        if value is None and found.field in literature.REQUIRED:
            raise CorrectionError(
                "value", _("A report from the literature keeps this part of its citation.")
            )
    if found.column == "submitted_to_regulator_on" and value and value < report.aware_on:
        raise CorrectionError("value", _("This date is before we knew of the report."))
    if found.column == "investigation_reported_on" and value and value < report.aware_on:
        raise CorrectionError("value", _("This date is before we knew of the report."))


@dataclass
class Outcome:
    """What a correction did: made at once, or waiting for a second person."""

    awaiting: bool
    moved: bool


class NeedsApproval(Exception):
    """Raised inside a trial transaction: the correction moves a legal date (`moves`: the
    deadlines it moves)."""

    def __init__(self, moves: list[clock.Move]) -> None:
        super().__init__()
        self.moves = moves


def correct(report: Report, name: str, values: list[str], reason: str, actor: str) -> Outcome:
    """Correct one field of a received report, or ask a second person when it moves a deadline.

    Raises CorrectionError saying what to put right.
    """
    reason = reason.strip()
    if not reason:
        raise CorrectionError("reason", _("Say why the report is corrected."))
    if len(reason) > 500:
        raise CorrectionError("reason", _("Shorten the reason to 500 characters or fewer."))
    found = target(name)
    value = parse(found, values)
    check(report, found, value)
    current = getattr(holder(report, found), found.column)
    if stored(current) == stored(value):
        raise CorrectionError("value", _("This is the value the report holds already."))
    payload = {
        "report": report.reference,
        "field": name,
        "original": stored(current),
        "value": stored(value),
        "reason": reason,
    }
    try:
        with write_transaction() as session:
            case = clock.lock(session, report.case_id)
            moved, moves = carry_out(session, case, payload, actor)
            if moved and current_app.config["FOUR_EYES"]:
                raise NeedsApproval(moves)
    except NeedsApproval as trial:
        with write_transaction() as session:
            case = clock.lock(session, report.case_id)
            payload["moves"] = clock.stored_moves(trial.moves)
            approvals.request(session, case, actor, "correction", payload, reason)
        return Outcome(awaiting=True, moved=True)
    return Outcome(awaiting=False, moved=moved)


def carry_out(
    session: Session,
    case: Case,
    payload: dict[str, Any],
    actor: str,
    approved_by: str | None = None,
) -> tuple[bool, list[clock.Move]]:
    """Make the correction on the locked case and derive its clocks; return whether a report's
    day 0, deadline or date sent moved, and each deadline that moved."""
    report = next((r for r in case.reports if r.reference == payload["report"]), None)
    if report is None:
        raise approvals.Stale(_("The report corrected is no longer in this case."))
    found = target(payload["field"])
    value = loaded(found, payload["value"])
    where = holder(report, found)
    original = getattr(where, found.column)
    if stored(original) != payload["original"]:
        raise approvals.Stale(_("The field was changed since the correction was asked for."))
    try:
        check(report, found, value)
    except CorrectionError as error:
        raise approvals.Stale(str(error)) from None

    def legal_dates() -> list[Any]:
        reports = [tuple(getattr(r, c) for c in CLOCK_COLUMNS) for r in case.reports]
        return [*reports, case.investigation_reported_on]

    before, deadlines = legal_dates(), clock.deadlines([case])
    setattr(where, found.column, value)
    if found.column in DERIVED:
        setattr(where, DERIVED[found.column], phone_e164(value))
    if found.column == "submitted_to_regulator_on":  # when it was recorded, if it was not
        report.sent_recorded_at = (report.sent_recorded_at or datetime.now(UTC)) if value else None
    why = payload["reason"]
    session.add(
        Correction(
            report_id=report.id,
            field=found.name,
            original=stored(original),
            value=stored(value),
            reason=why,
            made_at=datetime.now(UTC),
            made_by=actor,
            approved_by=approved_by,
        )
    )
    audit.record(session, actor, "corrected", report.id, found.name, original, value)
    audit.record(session, actor, "reason", report.id, found.name, None, why)
    if found.section == "drugs":
        products.link([where])
    if found.column == "patient_disease":
        correct_reported_disease(session, case, report, original)
    if report.duplicate_copy:  # a copy corrected may now add something, or be known earlier
        report.duplicate_copy = merges.is_copy(report, case.reports[: case.reports.index(report)])
        if not report.duplicate_copy:
            reactions.add_reported(case, report)
            add_reported_disease(case, report)
    session.flush()
    reindex(session, report)
    clock.recompute(session, case, actor)
    if found.column in GROUP_EVENT_COLUMNS or found.section == "drugs":
        group_events.check_case(session, case.id, actor, report.id)  # it may count now
    return before != legal_dates(), clock.moves(deadlines, clock.deadlines([case]))


def reindex(session: Session, report: Report) -> None:
    """Index the corrected report again for search and for the duplicate matcher."""
    session.execute(sa.delete(SearchGram).where(SearchGram.report_id == report.id))
    search.index_report(session, report)
    session.execute(sa.delete(DuplicateKey).where(DuplicateKey.report_id == report.id))
    keyed = {name: getattr(report, name) for name in duplicates.KEYED_COLUMNS}
    rows = duplicates.key_rows(report.id, keyed)
    if rows:
        session.execute(sa.insert(DuplicateKey), rows)
