"""Each report's clock (GVP 2021, NMPA 2018 No. 66, Order 81), derived again whenever a case moves.

A case groups a first report and its follow-ups; the reports stay as received. Each report's
day 0 is the date the company first knew of it, once the case as it then stood held the four
minimum elements; its category is the case's as it stood once the report was added, with the
staff decisions in force for it (`adr.cases.decisions`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, cast

import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy.orm import Session

from adr import audit, regulatory
from adr.cases.decisions import DECIDED, DecisionLike, case_wide, in_force, sent_at
from adr.cases.view import current_view
from adr.models import Case, Decision, Report
from adr.signals import group_events


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
    lapsed_due_at: datetime | None = None  # a deadline passed unsent before the case was invalid
    decided: dict[str, Any] = field(default_factory=dict, compare=False)

    def for_report(self) -> dict[str, Any]:
        """Return what the clock sets on its report, by column (`REPORT_DERIVED`)."""
        values = (self.serious, self.category, self.valid_case, self.completeness)
        dates = (self.day_zero, self.due_at, self.lapsed_due_at)
        decided = (self.decided.get("assessed_serious"), self.decided.get("assessed_outcome"))
        return dict(zip(REPORT_DERIVED, (*values, *dates, *decided), strict=True))


REPORT_DERIVED = (
    "serious",
    "report_category",
    "valid_case",
    "completeness",
    "day_zero",
    "due_at",
    "lapsed_due_at",
    "decided_serious",
    "decided_outcome",
)
AUDITED_REPORT_FIELDS = ("report_category", "day_zero", "due_at")
# A legal deadline a change moves: the report's reference, "due" (its deadline) or
# "investigation" (its case's death investigation, named by the case's first report), the
# deadline before and after.
Move = tuple[str, str, datetime | None, datetime | None]


def deadlines(cases: Iterable[Case]) -> dict[tuple[str, str], datetime | None]:
    """Return the cases' legal deadlines by (reference, what), as `Move` names them."""
    found: dict[tuple[str, str], datetime | None] = {}
    for case in cases:
        for report in case.reports:
            found[(report.reference, "due")] = report.due_at
        if case.reports:
            found[(case.reports[0].reference, "investigation")] = case.investigation_due_at
    return found


def moves(
    before: dict[tuple[str, str], datetime | None], after: dict[tuple[str, str], datetime | None]
) -> list[Move]:
    """Return the deadlines that differ between two `deadlines` readings."""
    return [
        (key[0], key[1], before.get(key), after.get(key))
        for key in dict.fromkeys([*before, *after])
        if before.get(key) != after.get(key)
    ]


def stored_moves(moves: Iterable[Move]) -> list[list[str | None]]:
    """Return deadline moves as a request for approval stores them (ISO times)."""

    def iso(moment: datetime | None) -> str | None:
        return moment.isoformat() if moment else None

    return [[ref, what, iso(old), iso(new)] for ref, what, old, new in moves]


def new_reaction_days() -> int:
    """Return the days a new non-serious reaction has: 30 (the holder's rule) or the SOP's."""
    return int(current_app.config["NEW_REACTION_DAYS"]) if has_app_context() else 30


def decisions_of(reports: Sequence[Report]) -> list[Decision]:
    """Return the staff decisions resting on the reports (stored ones), oldest first."""
    return sorted(
        (decision for report in reports for decision in report.decisions),
        key=lambda d: (d.made_at, d.id),
    )


def clocks(
    reports: Sequence[Any],
    case: Any,
    decisions: Sequence[DecisionLike] | None = None,
    frozen: bool = True,
) -> list[Clock]:
    """Return each report's clock, the case as it stood once that report was added.

    `decisions` default to the reports' own (`Report.decisions`); a case without them
    (`case_wide`) applies its assessment columns from the first report on. With `frozen`, a
    report sent to the national system keeps the decisions made by the day it was sent.
    """
    if decisions is None:
        stored = all(isinstance(report, Report) for report in reports)
        decisions = decisions_of(reports) if stored else case_wide(case, reports)
    positions: dict[int | None, int] = {}
    for index, report in enumerate(reports):
        positions.setdefault(getattr(report, "id", None), index)
    new_days = new_reaction_days()
    status = getattr(case, "status", None)
    invalid_since = getattr(case, "invalid_since", None)
    overseas = regulatory.is_overseas(getattr(case, "occurrence_country", None))
    result = []
    reported_serious = False
    for index, report in enumerate(reports):
        view = cast(regulatory.CaseFacts, current_view(reports[: index + 1]))
        reported_serious |= regulatory.is_serious(report.event_serious or [], report.event_outcome)
        sent_on = getattr(report, "submitted_to_regulator_on", None)
        decided = in_force(decisions, positions, index, sent_at(report) if frozen else None)
        death = "death" in (decided.get("assessed_outcome"), view.event_outcome)
        serious = reported_serious or bool(decided.get("assessed_serious")) or death
        category = regulatory.report_category(serious, decided.get("expectedness") == "new")
        valid = regulatory.is_valid_case(view)
        day_zero = report.aware_on if valid else None
        due = regulatory.due_at(day_zero, category, death, new_days, overseas) if day_zero else None
        # A copy of a report the case held already owes nothing; invalid and duplicate cases
        # owe nothing, but a deadline passed unsent before the case was found invalid stays.
        copy = getattr(report, "duplicate_copy", False)
        owed = status not in regulatory.NOT_FOR_REGULATOR and not copy
        lapsed = None
        if due and status == "invalid" and not sent_on and invalid_since and due < invalid_since:
            lapsed = due
        result.append(
            Clock(
                serious=serious,
                death=death,
                category=category,
                valid_case=valid,
                completeness=regulatory.completeness(view).score,
                day_zero=day_zero,
                due_at=due if owed else None,
                lapsed_due_at=lapsed,
                decided=decided,
            )
        )
    return result


def derive(
    reports: Sequence[Any], case: Any, decisions: Sequence[DecisionLike] | None = None
) -> list[tuple[Any, str, Any, Any]]:
    """Set what the rules derive on each report and on the case; return what changed.

    `reports` are the case's, oldest first. Each change is (object, field, old, new). The case
    takes the decisions in force now, a report sent before them included.
    """
    changes: list[tuple[Any, str, Any, Any]] = []

    def put(target: Any, name: str, value: Any) -> None:
        old = getattr(target, name, None)
        if old != value:
            changes.append((target, name, old, value))
            setattr(target, name, value)

    for report, clock in zip(reports, clocks(reports, case, decisions), strict=True):
        for name, value in clock.for_report().items():
            put(report, name, value)
    now = clocks(reports, case, decisions, frozen=False)
    last = now[-1]
    put(case, "serious", last.serious)
    put(case, "death", last.death)
    put(case, "report_category", last.category)
    put(case, "valid_case", last.valid_case)
    for name in DECIDED:
        put(case, name, last.decided.get(name))
    # The investigation runs from the earliest day 0 of a report that brought the death: the
    # first with it, or one that reports it itself (a duplicate merged in, known earlier). A
    # death overseas is reported in 15 days; the holder investigates the deaths in China.
    overseas = regulatory.is_overseas(getattr(case, "occurrence_country", None))
    death_day = min(
        (
            c.day_zero
            for i, (report, c) in enumerate(zip(reports, now, strict=True))
            if c.death
            and c.day_zero
            and (i == 0 or not now[i - 1].death or report.event_outcome == "death")
        ),
        default=None,
    )
    put(
        case,
        "investigation_due_at",
        regulatory.investigation_due_at(death_day) if death_day and not overseas else None,
    )
    return changes


AUDITED_CASE_FIELDS = ("serious", "report_category", "valid_case", "investigation_due_at")


def recompute(session: Session, case: Case, actor: str, received: Report | None = None) -> None:
    """Derive the case's clocks again inside a write transaction, auditing what moved.

    `received`, a report being added, is audited as received: only the changes its arrival
    makes to earlier reports and to an existing case are recorded.
    """
    if not case.reports:  # a duplicate whose reports joined its original
        return
    first = case.reports[0]
    new_case = received is first
    became_fatal = False
    for target, name, old, new in derive(case.reports, case):
        if isinstance(target, Report):
            if name in AUDITED_REPORT_FIELDS and target is not received:
                audit.record_change(session, actor, "deadline", target.id, name, old, new)
        elif name in AUDITED_CASE_FIELDS and not new_case:
            audit.record_change(session, actor, "deadline", first.id, name, old, new)
        became_fatal |= target is case and name == "death" and bool(new)
    if became_fatal and received is None:  # a stored report is checked by `store_report`
        group_events.check_case(session, case.id, actor, first.id)


def lock(session: Session, case_id: int) -> Case:
    """Return the case with its row locked until the transaction ends, fresh from the database.

    Two follow-ups of one case then never derive the clock without each other (on SQLite,
    BEGIN IMMEDIATE already serialises writers). FOR NO KEY UPDATE: a row that names the case
    (a duplicate candidate, a group event's member) holds a key-share lock on it, which FOR
    UPDATE would wait for, so a report proposing the case while holding its products could
    wait for a writer of the case waiting for those products.
    """
    case = session.scalar(
        sa.select(Case)
        .where(Case.id == case_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )
    if case is None:
        raise LookupError(f"no case {case_id}")
    return case
