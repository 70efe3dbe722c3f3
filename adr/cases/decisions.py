"""Staff decisions on a case's clock, effective-dated (ICH E2D 5.3, report-form.md §5).

A decision on seriousness, outcome or expectedness rests on a report of the case: it applies
to that report and the later ones, never to an earlier one. A report sent to the national system
before a decision keeps the deadline it had, unless the decision is a correction that says the
report was misjudged. Between decisions in force, the latest made wins, except that a decision
resting on an earlier report does not override one resting on a later report unless it is a
correction: in a case a duplicate was merged into, the original's decisions made afterwards do
not undo what staff decided on the duplicate's reports.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Protocol

from adr import regulatory

DECIDED = ("assessed_serious", "assessed_outcome", "expectedness")
LONG_AGO = datetime(1900, 1, 1, tzinfo=UTC)


class DecisionLike(Protocol):
    @property
    def report_id(self) -> int | None: ...
    @property
    def field(self) -> str: ...
    @property
    def value(self) -> Any: ...
    @property
    def made_at(self) -> datetime: ...
    @property
    def correction(self) -> bool: ...


@dataclass(frozen=True)
class CaseWide:
    """A decision read from a case's own columns, for every report (cases before decisions)."""

    report_id: int | None
    field: str
    value: Any
    made_at: datetime = LONG_AGO
    correction: bool = True


def case_wide(case: Any, reports: Sequence[Any]) -> list[CaseWide]:
    """Return the case's assessment as decisions in force from its first report on."""
    if not reports:
        return []
    return [
        CaseWide(getattr(reports[0], "id", None), name, getattr(case, name, None))
        for name in DECIDED
        if getattr(case, name, None) not in (None, [])
    ]


def in_force(
    decisions: Iterable[DecisionLike],
    positions: Mapping[int | None, int],
    position: int,
    sent_at: datetime | None,
) -> dict[str, Any]:
    """Return the decisions that apply to the report at `position` of its case, by field.

    `positions` gives each report id's place in the case. A report whose date sent was recorded
    at `sent_at` takes only the decisions made by then, and corrections.
    """
    chosen: dict[str, Any] = {}
    resting: dict[str, int] = {}  # the place of the report each chosen decision rests on
    for decision in sorted(decisions, key=lambda d: d.made_at):
        at = positions.get(decision.report_id)
        if at is None or at > position:
            continue
        if sent_at and not decision.correction and decision.made_at > sent_at:
            continue
        if not decision.correction and resting.get(decision.field, -1) > at:
            continue
        chosen[decision.field], resting[decision.field] = decision.value, at
    return chosen


def sent_at(report: Any) -> datetime | None:
    """Return when the report's date sent was recorded (the end of that day for a report that
    does not say)."""
    sent_on: date | None = getattr(report, "submitted_to_regulator_on", None)
    if sent_on is None:
        return None
    return getattr(report, "sent_recorded_at", None) or regulatory.end_of_china_day(sent_on)
