"""Staff assessment of a case: each change checked, audited, and the deadline kept right."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from adr import audit, regulatory
from adr.models import CaseNote, Report, write_transaction

AUDITED = (
    "status",
    "status_reason",
    "duplicate_of_id",
    "assessed_serious",
    "expectedness",
    "company_causality",
    "naranjo_answers",
    "naranjo_score",
    "submitted_to_regulator_on",
    "national_case_number",
    "serious",
    "report_category",
    "due_at",
)


@dataclass
class Assessment:
    """What a member of staff set on the assessment form."""

    status: str
    status_reason: str | None
    duplicate_of: Report | None
    assessed_serious: list[str]
    expectedness: str | None
    company_causality: str | None
    naranjo_answers: list[str] | None
    submitted_to_regulator_on: date | None
    national_case_number: str | None
    note: str | None


def problems(report: Report, change: Assessment, duplicate_typed: str | None) -> dict[str, str]:
    """Return what stops the change, by form field; empty when it can be saved."""
    found: dict[str, str] = {}
    if not regulatory.can_move(report.status, change.status):
        found["status"] = _(
            "A case cannot go from %(old)s to %(new)s.", old=report.status, new=change.status
        )
    if change.status == "invalid" and not change.status_reason:
        found["status_reason"] = _("Say why the report is invalid.")
    if change.status == "duplicate":
        if change.duplicate_of is None:
            found["duplicate_of"] = (
                _("No report has this reference.")
                if duplicate_typed
                else _("Give the original report's reference.")
            )
        elif change.duplicate_of.id == report.id:
            found["duplicate_of"] = _("A report cannot duplicate itself.")
    if change.status == "submitted":
        if not change.submitted_to_regulator_on:
            found["submitted_to_regulator_on"] = _(
                "Give the date the case went to the national system."
            )
        if not change.national_case_number:
            found["national_case_number"] = _("Give the national system's case number.")
    sent = change.submitted_to_regulator_on
    if sent and (
        sent > regulatory.china_today() or sent < regulatory.china_date(report.received_at)
    ):
        found["submitted_to_regulator_on"] = _(
            "This date is before the report arrived, or in the future."
        )
    return found


def apply(report: Report, change: Assessment, actor: str) -> list[str]:
    """Save the change and its audit rows in one transaction; return the names of what changed."""
    new: dict[str, Any] = {
        "status": change.status,
        "status_reason": change.status_reason if change.status == "invalid" else None,
        "duplicate_of_id": change.duplicate_of.id
        if change.status == "duplicate" and change.duplicate_of
        else None,
        "assessed_serious": change.assessed_serious,
        "expectedness": change.expectedness,
        "company_causality": change.company_causality,
        "naranjo_answers": change.naranjo_answers,
        "naranjo_score": regulatory.naranjo_score(change.naranjo_answers)
        if change.naranjo_answers
        else None,
        "submitted_to_regulator_on": change.submitted_to_regulator_on,
        "national_case_number": change.national_case_number,
    }
    serious, category, due = regulatory.assessed_deadline(
        report.received_at,
        new["assessed_serious"],
        report.event_outcome,
        new["expectedness"] == "new",
    )
    new |= {"serious": serious, "report_category": category, "due_at": due}
    old = {name: getattr(report, name) for name in new}
    changed = {name: value for name, value in new.items() if old[name] != value}
    with write_transaction() as session:
        if changed:
            session.execute(
                sa.update(Report)
                .where(Report.id == report.id)
                .values(**changed)
                .execution_options(synchronize_session=False)
            )
        for name in AUDITED:
            if name in changed:
                audit.record(
                    session, actor, "assessment", report.id, name, old[name], changed[name]
                )
        if change.note:
            session.add(
                CaseNote(report_id=report.id, at=datetime.now(UTC), author=actor, text=change.note)
            )
            audit.record(session, actor, "note added", report.id, "note", None, change.note)
    return list(changed) + (["note"] if change.note else [])
