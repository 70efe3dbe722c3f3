"""The case as its reports tell it now: each field's latest value, and where it came from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from adr import regulatory, vocab
from adr.models import Drug, Report

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


REPORTER_COLUMNS = frozenset(column for column in VIEW_COLUMNS if column.startswith("reporter_"))
NAME_COLUMNS = frozenset(("patient_name", "event_name"))  # a placeholder never hides a value
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


def current_view(reports: Sequence[Any], columns: Sequence[str] = VIEW_COLUMNS) -> CurrentView:
    """Return the case as its reports, oldest first, tell it now: later values win.

    The reporter is taken whole from the latest report that identifies one, so one person's
    name never sits beside another's phone; a placeholder (不详) never hides a name given
    before; drugs add up, a later mention of the same drug in the same role adding to the
    earlier one (its values win where it gives one). `columns` (of `VIEW_COLUMNS`) are those
    worked out, for a reader that needs a few: the reports may then be plain rows holding
    those and `drugs`.
    """
    values: dict[str, Any] = {}
    sources: dict[str, Report] = {}
    drugs: dict[tuple[str, str], tuple[Drug, Report]] = {}
    reporter_asked, plan = plan_of(tuple(columns))
    for report in reports:
        reporter_given = reporter_asked and (
            regulatory.identifies(getattr(report, "reporter_name", None))
            or any(getattr(report, column, None) for column in ("reporter_phone", "reporter_email"))
        )
        for column, kind in plan:
            value = getattr(report, column, None)
            if kind is REPORTER:
                if reporter_given:
                    values[column], sources[column] = value, report
            elif kind is NAME and not regulatory.identifies(value):
                continue
            elif not is_empty(value):
                values[column], sources[column] = value, report
        for drug in report.drugs:
            key = (drug.role, (drug.generic_name or drug.brand_name or "").casefold())
            if key in drugs:  # a new batch named again: the dose and dates given before stay
                drug = merged(drugs[key][0], drug)
            drugs[key] = (drug, report)
    for column in REPORTER_COLUMNS if reporter_asked else ():
        if is_empty(values.get(column)):
            values.pop(column, None)
            sources.pop(column, None)
    return CurrentView(
        values, sources, [drug for drug, _ in drugs.values()], [rep for _, rep in drugs.values()]
    )


REPORTER, NAME, OTHER = "reporter", "name", "other"


@lru_cache(maxsize=16)
def plan_of(columns: tuple[str, ...]) -> tuple[bool, tuple[tuple[str, str], ...]]:
    """Return whether any of the columns is the reporter's, and each column with its kind."""
    plan = tuple(
        (
            column,
            REPORTER if column in REPORTER_COLUMNS else NAME if column in NAME_COLUMNS else OTHER,
        )
        for column in columns
    )
    return not REPORTER_COLUMNS.isdisjoint(columns), plan


def merged(earlier: Drug, later: Drug) -> Drug:
    """Return a drug, not stored, holding the later mention's values over the earlier's."""
    values = {column: getattr(later, column, None) for column in DRUG_COLUMNS}
    return Drug(
        **{
            column: getattr(earlier, column, None) if is_empty(value) else value
            for column, value in values.items()
        }
    )
