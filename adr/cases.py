"""The case: its current view across reports, and each report's clock (GVP 2021, Order 81).

A case groups a first report and its follow-ups; the reports stay as received. Each report's
day 0 is the date the company first knew of it, once the case as it then stood held the four
minimum elements; its category is the case's as it stood once the report was added, with the
staff assessment applied.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from adr import audit, regulatory, vocab
from adr.models import Case, Drug, Report

# The report's own columns, section by section, in the national form's order.
VIEW_COLUMNS = (
    *tuple(
        name.replace("-", "_")
        for name in vocab.FIELDS
        if name.split("-")[0] in ("reporter", "patient", "event")
    ),
    "remarks",
)


def is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value is False


REPORTER_COLUMNS = tuple(column for column in VIEW_COLUMNS if column.startswith("reporter_"))
NAME_COLUMNS = ("patient_name", "event_name")  # a placeholder here never hides a real value
DRUG_COLUMNS = tuple(c.key for c in Drug.__table__.columns if c.key not in ("id", "report_id"))


@dataclass
class CurrentView:
    """Each field's latest value across a case's reports, and the report it came from."""

    values: dict[str, Any]
    sources: dict[str, Report]
    drugs: list[Drug]
    drug_sources: list[Report]

    def __getattr__(self, name: str) -> Any:
        if name in VIEW_COLUMNS:
            return self.values.get(name)
        raise AttributeError(name)


def current_view(reports: Sequence[Report]) -> CurrentView:
    """Return the case as its reports, oldest first, tell it now: later values win.

    The reporter is taken whole from the latest report that identifies one, so one person's
    name never sits beside another's phone; a placeholder (不详) never hides a name given
    before; drugs add up, a later mention of the same drug in the same role adding to the
    earlier one (its values win where it gives one).
    """
    values: dict[str, Any] = {}
    sources: dict[str, Report] = {}
    drugs: dict[tuple[str, str], tuple[Drug, Report]] = {}
    for report in reports:
        reporter_given = regulatory.identifies(getattr(report, "reporter_name", None)) or any(
            getattr(report, column, None) for column in ("reporter_phone", "reporter_email")
        )
        for column in VIEW_COLUMNS:
            value = getattr(report, column, None)
            if column in REPORTER_COLUMNS:
                if reporter_given:
                    values[column], sources[column] = value, report
            elif column in NAME_COLUMNS and not regulatory.identifies(value):
                continue
            elif not is_empty(value):
                values[column], sources[column] = value, report
        for drug in report.drugs:
            key = (drug.role, (drug.generic_name or drug.brand_name or "").casefold())
            if key in drugs:  # a new batch named again: the dose and dates given before stay
                drug = merged(drugs[key][0], drug)
            drugs[key] = (drug, report)
    for column in REPORTER_COLUMNS:
        if is_empty(values.get(column)):
            values.pop(column, None)
            sources.pop(column, None)
    return CurrentView(
        values, sources, [drug for drug, _ in drugs.values()], [rep for _, rep in drugs.values()]
    )


def merged(earlier: Drug, later: Drug) -> Drug:
    """Return a drug, not stored, holding the later mention's values over the earlier's."""
    values = {column: getattr(later, column, None) for column in DRUG_COLUMNS}
    return Drug(
        **{
            column: getattr(earlier, column, None) if is_empty(value) else value
            for column, value in values.items()
        }
    )


@dataclass(frozen=True)
class Clock:
    """What the rules derive for one report of a case."""

    serious: bool
    death: bool
    category: str
    valid_case: bool
    completeness: int
    day_zero: date | None
    due_at: datetime | None

    def for_report(self) -> dict[str, Any]:
        """Return what the clock sets on its report, by column (`REPORT_DERIVED`)."""
        values = (self.serious, self.category, self.valid_case, self.completeness)
        return dict(zip(REPORT_DERIVED, (*values, self.day_zero, self.due_at), strict=True))


def clocks(reports: Sequence[Report], case: Case) -> list[Clock]:
    """Return each report's clock, the case as it stood once that report was added."""
    result = []
    reported_serious = False
    for count, report in enumerate(reports, 1):
        view = cast(regulatory.CaseFacts, current_view(reports[:count]))
        reported_serious |= regulatory.is_serious(report.event_serious or [], report.event_outcome)
        death = "death" in (case.assessed_outcome, view.event_outcome)
        serious = reported_serious or bool(case.assessed_serious) or death
        category = regulatory.report_category(serious, case.expectedness == "new")
        valid = regulatory.is_valid_case(view)
        day_zero = report.aware_on if valid else None
        owed = case.status not in regulatory.NOT_FOR_REGULATOR  # else: no deadline at all
        result.append(
            Clock(
                serious=serious,
                death=death,
                category=category,
                valid_case=valid,
                completeness=regulatory.completeness(view).score,
                day_zero=day_zero,
                due_at=regulatory.due_at(day_zero, category, death) if day_zero and owed else None,
            )
        )
    return result


REPORT_DERIVED = ("serious", "report_category", "valid_case", "completeness", "day_zero", "due_at")
AUDITED_REPORT_FIELDS = ("report_category", "day_zero", "due_at")


def derive(reports: Sequence[Report], case: Case) -> list[tuple[Report | Case, str, Any, Any]]:
    """Set what the rules derive on each report and on the case; return what changed.

    `reports` are the case's, oldest first. Each change is (object, field, old, new).
    """
    changes: list[tuple[Report | Case, str, Any, Any]] = []

    def put(target: Report | Case, name: str, value: Any) -> None:
        old = getattr(target, name, None)
        if old != value:
            changes.append((target, name, old, value))
            setattr(target, name, value)

    report_clocks = clocks(reports, case)
    for report, clock in zip(reports, report_clocks, strict=True):
        for name, value in clock.for_report().items():
            put(report, name, value)
    last = report_clocks[-1]
    put(case, "serious", last.serious)
    put(case, "death", last.death)
    put(case, "report_category", last.category)
    put(case, "valid_case", last.valid_case)
    death_day = next((c.day_zero for c in report_clocks if c.death and c.day_zero), None)
    put(
        case,
        "investigation_due_at",
        regulatory.investigation_due_at(death_day) if death_day else None,
    )
    return changes


AUDITED_CASE_FIELDS = ("serious", "report_category", "valid_case", "investigation_due_at")


def recompute(session: Session, case: Case, actor: str, received: Report | None = None) -> None:
    """Derive the case's clocks again inside a write transaction, auditing what moved.

    `received`, a report being added, is audited as received: only the changes its arrival
    makes to earlier reports and to an existing case are recorded.
    """
    first = case.reports[0]
    new_case = received is first
    for target, name, old, new in derive(case.reports, case):
        if isinstance(target, Report):
            if name in AUDITED_REPORT_FIELDS and target is not received:
                audit.record_change(session, actor, "deadline", target.id, name, old, new)
        elif name in AUDITED_CASE_FIELDS and not new_case:
            audit.record_change(session, actor, "deadline", first.id, name, old, new)


def lock(session: Session, case_id: int) -> Case:
    """Return the case with its row locked until the transaction ends, fresh from the database.

    Two follow-ups of one case then never derive the clock without each other (on SQLite,
    BEGIN IMMEDIATE already serialises writers).
    """
    case = session.scalar(
        sa.select(Case)
        .where(Case.id == case_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if case is None:
        raise LookupError(f"no case {case_id}")
    return case
