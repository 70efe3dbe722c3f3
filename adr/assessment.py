"""Staff assessment of a case: each change checked, audited, and the deadline kept right."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from adr import audit, cases, regulatory, vocab
from adr.i18n import current_language
from adr.models import Case, CaseNote, Report, write_transaction


@dataclass
class Assessment:
    """What a member of staff set on the assessment form."""

    status: str
    status_reason: str | None
    duplicate_of: Report | None
    assessed_serious: list[str]
    assessed_outcome: str | None
    expectedness: str | None
    company_causality: str | None
    naranjo_answers: list[str] | None
    submitted_to_regulator_on: date | None
    national_case_number: str | None
    investigation_reported_on: date | None
    note: str | None


def unsent(case: Case) -> list[Report]:
    """Return the case's reports that have not gone to the national system yet."""
    return [report for report in case.reports if report.submitted_to_regulator_on is None]


def problems(case: Case, change: Assessment, duplicate_typed: str | None) -> dict[str, str]:
    """Return what stops the change, by form field; empty when it can be saved."""
    found: dict[str, str] = {}
    today = regulatory.china_today()
    if not regulatory.can_move(case.status, change.status):
        language = current_language()
        found["status"] = _(
            "A case cannot go from %(old)s to %(new)s.",
            old=vocab.label(vocab.STATUS, case.status, language),
            new=vocab.label(vocab.STATUS, change.status, language),
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
        elif change.duplicate_of.case_id == case.id:
            found["duplicate_of"] = _("A report cannot duplicate its own case.")
        elif change.duplicate_of.case.status == "duplicate":
            found["duplicate_of"] = _(
                "That case is itself a duplicate: give the reference of its original."
            )
    pending = unsent(case)
    if change.status == "submitted":
        if pending and not change.submitted_to_regulator_on:
            found["submitted_to_regulator_on"] = _(
                "Give the date the case went to the national system."
            )
        if not change.national_case_number:
            found["national_case_number"] = _("Give the national system's case number.")
    sent = change.submitted_to_regulator_on
    if sent and (sent > today or any(sent < report.aware_on for report in pending)):
        found["submitted_to_regulator_on"] = _(
            "This date is before the report arrived, or in the future."
        )
    outcome = change.assessed_outcome or cases.current_view(case.reports).event_outcome
    if "death" in change.assessed_serious and outcome != "death":
        found["assessed_outcome"] = _(
            "'Lead to death' needs the outcome 'death': correct the outcome here, or untick it."
        )
    investigated = change.investigation_reported_on
    if investigated and (investigated > today or investigated < case.first_report.aware_on):
        found["investigation_reported_on"] = _(
            "This date is before we knew of the case, or in the future."
        )
    return found


def apply(
    case: Case, change: Assessment, actor: str, also: Callable[[Session], None] | None = None
) -> list[str]:
    """Save the change, the deadlines it moves and its audit rows in one transaction.

    Return the names of what changed. A date sent to the national system applies to every
    report of the case not sent yet. `also` writes what goes with the change, in its transaction.
    """
    new: dict[str, Any] = {
        "status": change.status,
        "status_reason": change.status_reason if change.status == "invalid" else None,
        "duplicate_of_id": change.duplicate_of.case_id
        if change.status == "duplicate" and change.duplicate_of
        else None,
        "assessed_serious": change.assessed_serious or None,  # None: not judged
        "assessed_outcome": change.assessed_outcome,
        "expectedness": change.expectedness,
        "company_causality": change.company_causality,
        "naranjo_answers": change.naranjo_answers,
        "naranjo_score": regulatory.naranjo_score(change.naranjo_answers)
        if change.naranjo_answers
        else None,
        "national_case_number": change.national_case_number,
        "investigation_reported_on": change.investigation_reported_on,
    }
    changed: list[str] = []
    with write_transaction() as session:
        case = cases.lock(session, case.id)
        first = case.first_report
        for name, value in new.items():
            if audit.record_change(
                session, actor, "assessment", first.id, name, getattr(case, name), value
            ):
                setattr(case, name, value)
                changed.append(name)
        if change.submitted_to_regulator_on:
            for report in unsent(case):
                report.submitted_to_regulator_on = change.submitted_to_regulator_on
                audit.record(
                    session,
                    actor,
                    "assessment",
                    report.id,
                    "submitted_to_regulator_on",
                    None,
                    change.submitted_to_regulator_on,
                )
                changed.append("submitted_to_regulator_on")
        cases.recompute(session, case, actor)
        if change.note:
            session.add(
                CaseNote(case_id=case.id, at=datetime.now(UTC), author=actor, text=change.note)
            )
            audit.record(session, actor, "note added", first.id, "note", None, change.note)
            changed.append("note")
        if also:
            also(session)
    return list(dict.fromkeys(changed))
