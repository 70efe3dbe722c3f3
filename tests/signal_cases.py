"""Cases for signal detection written straight into the tables, many at once.

Enough of each row for the cases that count (`adr.signals.counted`): a case, one report (its
day the company knew), suspected drugs matched to catalogue products, and reactions coded to
an LLT. The tests of detection use it for the planted tables they need by the dozen; the
benchmark for a million reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

import sqlalchemy as sa

from adr.models import Case, Drug, Reaction, Report


@dataclass(frozen=True)
class Planted:
    """A case as detection sees it."""

    aware_on: date
    products: Sequence[int]
    llts: Sequence[int]
    serious: bool = False
    death: bool = False
    status: str = "received"  # invalid, duplicate: left out
    valid: bool = True


def insert_cases(connection: sa.Connection, cases: Sequence[Planted], version: str) -> list[int]:
    """Insert the cases with ids of their own after the highest, and return those ids."""
    start = (connection.scalar(sa.select(sa.func.max(Case.id))) or 0) + 1
    report_start = (connection.scalar(sa.select(sa.func.max(Report.id))) or 0) + 1
    case_rows: list[dict[str, Any]] = []
    report_rows: list[dict[str, Any]] = []
    drug_rows: list[dict[str, Any]] = []
    reaction_rows: list[dict[str, Any]] = []
    for offset, case in enumerate(cases):
        case_id, report_id = start + offset, report_start + offset
        at = datetime.combine(case.aware_on, time(4), tzinfo=UTC)
        case_rows.append(
            {
                "id": case_id,
                "status": case.status,
                "serious": case.serious,
                "death": case.death,
                "valid_case": case.valid,
                "report_category": "serious" if case.serious else "general",
            }
        )
        report_rows.append(
            {
                "id": report_id,
                "reference": f"ADR-{case.aware_on:%Y%m}-{report_id:06X}",
                "submission_token": f"signal-{report_id}",
                "received_at": at,
                "added_at": at,
                "language": "zh",
                "case_id": case_id,
                "aware_on": case.aware_on,
                "serious": case.serious,
                "report_category": "serious" if case.serious else "general",
                "valid_case": case.valid,
                "completeness": 100,
            }
        )
        drug_rows += [
            {"report_id": report_id, "position": n, "role": "suspect", "product_id": product}
            for n, product in enumerate(case.products, 1)
        ]
        reaction_rows += [
            {
                "case_id": case_id,
                "report_id": report_id,
                "position": n,
                "reported_term": f"反应{llt}",
                "language": "chi",
                "meddra_version": version,
                "llt_code": llt,
            }
            for n, llt in enumerate(case.llts, 1)
        ]
    for table, rows in (
        (Case, case_rows),
        (Report, report_rows),
        (Drug, drug_rows),
        (Reaction, reaction_rows),
    ):
        for first in range(0, len(rows), 5000):
            connection.execute(sa.insert(table), rows[first : first + 5000])
    if cases and connection.dialect.name == "postgresql":  # the app's next rows follow these
        for table, first in (("safety_case", start), ("report", report_start)):
            connection.execute(
                sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), :last)"),
                {"last": first + len(cases) - 1},
            )
    return list(range(start, start + len(cases)))
