"""The case: its reports and current view, each report's clock, the staff decisions it rests
on, corrections of what was received, duplicates merged into their original, and the steps that
wait for a second person.

`adr.cases` gives the view and the clock; the rest live in their modules (`assessment`,
`decisions`, `corrections`, `merges`, `approvals`).
"""

from adr.cases.clock import (
    AUDITED_CASE_FIELDS,
    REPORT_DERIVED,
    Clock,
    clocks,
    derive,
    lock,
    recompute,
)
from adr.cases.view import VIEW_COLUMNS, CurrentView, current_view

__all__ = [
    "AUDITED_CASE_FIELDS",
    "REPORT_DERIVED",
    "VIEW_COLUMNS",
    "Clock",
    "CurrentView",
    "clocks",
    "current_view",
    "derive",
    "lock",
    "recompute",
]
