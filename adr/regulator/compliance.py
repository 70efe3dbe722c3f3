"""Compliance with the reporting deadlines: each month's reports by due date, on time or late.

The cohort of a month is the reports whose due date (China time) falls in it: that is the date
"sent on time" is judged against. Reports without a deadline (a case lacking a minimum element,
a copy of a report the case held) are in no cohort, nor those of a case found invalid before its
deadline; a deadline that passed unsent before the case was found invalid stays in its month as
"closed invalid after the deadline", counted as not on time. A report is sent on time when the
date it went to the national system is on or before its due date; late when after; open past
due when not sent and the deadline has passed; not yet due otherwise. The on-time rate is sent on
time / (sent on time + sent late + open past due + closed invalid after the deadline): reports
not yet due and unsent are left out until they are.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import astuple, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any, cast

import sqlalchemy as sa
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from adr import regulatory, vocab
from adr.extensions import db
from adr.models import Case, ComplianceTally, Report
from adr.regulator.workbook import end_sheet, parse_month, row_of, start_sheet
from adr.vocab import Term

MAX_MONTHS = 60
# The three clocks: immediately (a death), 15 days (serious), 30 days (any other; a new
# non-serious reaction too, unless NEW_REACTION_DAYS gives it 15).
CLOCKS = {
    "death": Term("死亡(立即报告)", "Death (at once)"),
    "serious_new": Term("严重(15日)", "Serious (15 days)"),
    "other": Term("其他(30日)", "Other (30 days)"),
}
OUTCOMES = ("on_time", "late", "open_past_due", "not_yet_due", "closed_invalid")


def clock_of(report_category: str, day_zero: date | None, due: datetime) -> str:
    """Return the clock a report ran on: `death`, `serious_new` (15 days) or `other` (30).

    A death's deadline is the day after day 0 (`regulatory.is_death_clock`); a serious report
    has 15 days, a general one 30; a new non-serious one 30, or 15 where the SOP says so, as its
    deadline tells.
    """
    if day_zero is not None and regulatory.is_death_clock(day_zero, due):
        return "death"
    if report_category == "new" and day_zero is not None:
        days = (regulatory.china_date(due) - day_zero).days
        return "serious_new" if days <= regulatory.DAYS_TO_REPORT["serious"] else "other"
    return "other" if report_category in ("general", "new") else "serious_new"


def timeliness(due: datetime, sent_on: date | None, now: datetime) -> str:
    """Return how a report stands against its deadline: one of `OUTCOMES`.

    Sending counts by the China date of the due moment: a report sent on its due date is on time.
    """
    if sent_on is not None:
        return "on_time" if sent_on <= regulatory.china_date(due) else "late"
    return "open_past_due" if now > due else "not_yet_due"


def days_late(due: datetime, sent_on: date | None, now: datetime) -> int:
    """Return the whole days from the due date to the day sent, or to today if still unsent."""
    until = sent_on if sent_on is not None else regulatory.china_today(now)
    return (until - regulatory.china_date(due)).days


@dataclass
class Figures:
    """The counts of one cohort: due, and how each stands."""

    due: int = 0
    on_time: int = 0
    late: int = 0
    open_past_due: int = 0
    not_yet_due: int = 0
    closed_invalid: int = 0  # found invalid after the deadline had passed unsent

    def add(self, outcome: str, count: int) -> None:
        self.due += count
        setattr(self, outcome, getattr(self, outcome) + count)

    def __add__(self, other: Figures) -> Figures:
        return Figures(
            self.due + other.due,
            self.on_time + other.on_time,
            self.late + other.late,
            self.open_past_due + other.open_past_due,
            self.not_yet_due + other.not_yet_due,
            self.closed_invalid + other.closed_invalid,
        )

    @property
    def rate(self) -> float | None:
        """Return sent on time / (sent + open past due + closed invalid after the deadline), or
        None when nothing was owed yet."""
        owed = self.on_time + self.late + self.open_past_due + self.closed_invalid
        return self.on_time / owed if owed else None


@dataclass
class Compliance:
    """The figures of a range of months by month and clock, and the due moments of late ones."""

    months: list[str]
    now: datetime
    cells: dict[tuple[str, str], Figures] = field(default_factory=dict)
    # Each exact due moment holding a late or open past-due report: where the list looks.
    late_due: set[datetime] = field(default_factory=set)
    lapsed_due: set[datetime] = field(default_factory=set)  # of cases found invalid after them

    def figures(self, month: str | None = None, clock: str | None = None) -> Figures:
        """Return the figures of a month (every month: None) on a clock (all three: None)."""
        return sum(
            (
                figures
                for (m, c), figures in self.cells.items()
                if month in (None, m) and clock in (None, c)
            ),
            Figures(),
        )


@dataclass(frozen=True)
class LateReport:
    """A report sent after its deadline, or still unsent past it."""

    reference: str
    follow_up: bool
    clock: str
    day_zero: date | None
    due: date
    sent_on: date | None
    days_late: int  # to the day sent, to the day found invalid, or to today while unsent
    state: str = "late"  # late, open_past_due, or closed_invalid


def months_between(first: str, last: str) -> list[str]:
    """Return the months from `first` to `last` (YYYY-MM, both included).

    Raises ValueError saying what is wrong: a malformed month, `first` after `last`, or more
    than `MAX_MONTHS` months.
    """
    parse_month(first)
    parse_month(last)
    if first > last:
        raise ValueError(f"the first month, {first}, is after the last, {last}")
    year, month = int(first[:4]), int(first[5:])
    months = []
    while (current := f"{year:04d}-{month:02d}") <= last:
        months.append(current)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        if len(months) > MAX_MONTHS:
            raise ValueError(f"choose at most {MAX_MONTHS} months")
    return months


def last_months(now: datetime, count: int = 12) -> tuple[str, str]:
    """Return the first and last of the `count` months ending with `now`'s month in China."""
    today = regulatory.china_today(now)
    index = today.year * 12 + today.month - 1 - (count - 1)
    return f"{index // 12:04d}-{index % 12 + 1:02d}", f"{today:%Y-%m}"


def measure(first: str, last: str, now: datetime) -> Compliance:
    """Count the reports due in each month from `first` to `last` by clock and timeliness.

    Read from the tally the database keeps (`ComplianceTally`): one row a deadline, day 0,
    category and outcome, so a year is a few thousand rows however many reports it holds. An
    unsent report is open past due or not yet due by `now`; the rules of `clock_of` judge each
    row. The reports found invalid after their deadline are counted from their own index.
    """
    months = months_between(first, last)
    start, end = parse_month(months[0])[0], parse_month(months[-1])[1]
    result = Compliance(months, now)
    counted = sa.func.sum(ComplianceTally.reports)
    groups = (
        sa.select(
            ComplianceTally.due_at,
            ComplianceTally.day_zero,
            ComplianceTally.report_category,
            ComplianceTally.outcome,
            counted,
        )
        .where(ComplianceTally.due_at >= start, ComplianceTally.due_at < end)
        .group_by(  # the unique key's order: read off its index
            ComplianceTally.due_at,
            ComplianceTally.report_category,
            ComplianceTally.outcome,
            ComplianceTally.day_zero,
        )
        .having(counted != 0)
    )
    rows = cast(Iterable[tuple[datetime, date | None, str, str, int]], db.session.execute(groups))
    for due, day_zero, category, stands, count in rows:
        month = f"{due.astimezone(regulatory.CHINA):%Y-%m}"
        key = (month, clock_of(category, day_zero, due))
        outcome = stands if stands != "open" else timeliness(due, None, now)
        result.cells.setdefault(key, Figures()).add(outcome, count)
        if outcome in ("late", "open_past_due"):
            result.late_due.add(due)
    lapsed = (
        sa.select(Report.lapsed_due_at, Report.day_zero, Report.report_category, sa.func.count())
        .where(Report.lapsed_due_at >= start, Report.lapsed_due_at < end)
        .group_by(Report.lapsed_due_at, Report.day_zero, Report.report_category)
    )
    lapsed_rows = cast(Iterable[tuple[datetime, date | None, str, int]], db.session.execute(lapsed))
    for lapsed_due, day_zero, category, count in lapsed_rows:
        month = f"{lapsed_due.astimezone(regulatory.CHINA):%Y-%m}"
        key = (month, clock_of(category, day_zero, lapsed_due))
        result.cells.setdefault(key, Figures()).add("closed_invalid", count)
        result.lapsed_due.add(lapsed_due)
    return result


def late_reports(compliance: Compliance) -> Iterator[LateReport]:
    """Yield the late and open past-due reports, by due date then reference.

    One indexed query per due moment that holds any (`Report.due_at`'s index).
    """
    for due in sorted(compliance.late_due):
        late = sa.or_(
            Report.submitted_to_regulator_on.is_(None),
            Report.submitted_to_regulator_on > regulatory.china_date(due),
        )
        query = (
            sa.select(
                Report.reference,
                Report.follow_up_of_id,
                Report.report_category,
                Report.day_zero,
                Report.submitted_to_regulator_on,
            )
            .where(Report.due_at == due, late)
            .order_by(Report.reference)
        )
        for reference, first_id, category, day_zero, sent_on in db.session.execute(query):
            state = timeliness(due, sent_on, compliance.now)
            if state == "not_yet_due":
                continue
            yield LateReport(
                reference=reference,
                follow_up=first_id is not None,
                clock=clock_of(category, day_zero, due),
                day_zero=day_zero,
                due=regulatory.china_date(due),
                sent_on=sent_on,
                days_late=days_late(due, sent_on, compliance.now),
                state=state,
            )
    for due in sorted(compliance.lapsed_due):
        closed = (
            sa.select(
                Report.reference,
                Report.follow_up_of_id,
                Report.report_category,
                Report.day_zero,
                Case.invalid_since,
            )
            .join(Case, Case.id == Report.case_id)
            .where(Report.lapsed_due_at == due)
            .order_by(Report.reference)
        )
        for reference, first_id, category, day_zero, since in db.session.execute(closed):
            yield LateReport(
                reference=reference,
                follow_up=first_id is not None,
                clock=clock_of(category, day_zero, due),
                day_zero=day_zero,
                due=regulatory.china_date(due),
                sent_on=None,
                days_late=days_late(due, since and regulatory.china_date(since), compliance.now),
                state="closed_invalid",
            )


FIGURE_HEADERS = [
    Term("月份(报告时限)", "Month due"),
    Term("报告时限类别", "Clock"),
    Term("应报告数", "Due"),
    Term("按时报告", "Sent on time"),
    Term("逾期报告", "Sent late"),
    Term("逾期未报", "Open past due"),
    Term("未到期", "Not yet due"),
    Term("逾期后判为无效", "Found invalid after the deadline"),
    Term("按时率", "On-time rate"),
]
LATE_HEADERS = [
    Term("报告编码", "Reference"),
    Term("首次/跟踪报告", "Initial or follow-up"),
    Term("报告时限类别", "Clock"),
    Term("第0天", "Day 0"),
    Term("报告时限", "Due"),
    Term("上报日期", "Sent to the national system"),
    Term("逾期天数", "Days late"),
    Term("状态", "State"),
]
SHEETS = (
    Term("按时率", "Compliance"),
    Term("逾期报告", "Late reports"),
    Term("说明", "Definitions"),
)
ALL_CLOCKS = Term("合计", "All")
ALL_MONTHS = Term("全部月份", "All months")
LATE_STATES = {
    "late": Term("逾期报告", "Sent late"),
    "open_past_due": Term("逾期未报", "Not sent, past due"),
    "closed_invalid": Term("逾期后判为无效", "Found invalid after the deadline"),
}
DEFINITIONS = [
    Term(
        "统计对象:报告时限(北京时间)落在该月的报告(首次及跟踪报告各自计时);"
        "无报告时限的报告(缺少最低要素、重复报告的复本、在时限前判为无效的病例)不计入;"
        "已逾期未报后才判为无效的报告仍计入该月(逾期后判为无效)。",
        "Cohort: the reports whose due date (China time) falls in the month; the first report "
        "and each follow-up run their own clock. Reports without a deadline (a case lacking a "
        "minimum element, a copy of a report the case held, a case found invalid before its "
        "deadline) are not counted; a report whose deadline passed unsent before its case was "
        "found invalid stays in its month (found invalid after the deadline).",
    ),
    Term(
        "报告时限类别(持有人,国家药监局2018年第66号公告、GVP):死亡病例为获知之日(第0天)"
        "次日内立即报告;严重为15日;其他为30日(新的一般报告亦为30日,除非按企业规程设为15日)。",
        "Clocks (the holder's, NMPA 2018 No. 66 and GVP): a death at once (by the end of the day "
        "after day 0); serious within 15 days; any other within 30 days (a new non-serious "
        "reaction too, unless the company's SOP sets 15).",
    ),
    Term(
        "按时报告:上报日期不晚于报告时限当日(北京时间);逾期报告:晚于报告时限;"
        "逾期未报:尚未上报且已过报告时限;未到期:尚未上报且未到报告时限。",
        "Sent on time: sent to the national system on or before the due date (China time); "
        "sent late: after it; open past due: not sent and the deadline has passed; not yet "
        "due: not sent, deadline still ahead.",
    ),
    Term(
        "按时率 = 按时报告 ÷ (按时报告 + 逾期报告 + 逾期未报 + 逾期后判为无效);"
        "逾期天数按日历日计。",
        "On-time rate = sent on time ÷ (sent on time + sent late + open past due + found "
        "invalid after the deadline); days late are calendar days.",
    ),
]


def write_workbook(compliance: Compliance, target: str | Path | IO[bytes], language: str) -> int:
    """Write the figures, the late reports and the definitions; return how many were late."""
    language = "en" if language.startswith("en") else "zh_CN"
    workbook = Workbook(write_only=True)
    figures_sheet, late_sheet, notes_sheet = (
        workbook.create_sheet(term.text(language)) for term in SHEETS
    )
    start_sheet(figures_sheet, FIGURE_HEADERS, language)
    rows = 0
    for month in [*compliance.months, None]:
        month_label = month or ALL_MONTHS.text(language)
        for clock in [*CLOCKS, None]:
            label = CLOCKS[clock].text(language) if clock else ALL_CLOCKS.text(language)
            figures = compliance.figures(month, clock)
            values = [month_label, label, *astuple(figures)]
            figures_sheet.append([*values, rate_cell(figures_sheet, figures.rate)])
            rows += 1
    end_sheet(figures_sheet, len(FIGURE_HEADERS), rows)

    start_sheet(late_sheet, LATE_HEADERS, language)
    late = 0
    for report in late_reports(compliance):
        kind = vocab.REPORT_KIND["follow_up" if report.follow_up else "initial"]
        state = LATE_STATES[report.state]
        values = [
            report.reference,
            kind.text(language),
            CLOCKS[report.clock].text(language),
            report.day_zero,
            report.due,
            report.sent_on,
            report.days_late,
            state.text(language),
        ]
        late_sheet.append(row_of(late_sheet, values))
        late += 1
    end_sheet(late_sheet, len(LATE_HEADERS), late)

    notes_sheet.column_dimensions["A"].width = 120
    heading = WriteOnlyCell(notes_sheet, SHEETS[2].text(language))
    heading.font = Font(bold=True)
    notes_sheet.append([heading])
    for term in DEFINITIONS:
        notes_sheet.append([term.text(language)])
    workbook.save(target)
    db.session.rollback()  # end the long read
    return late


def rate_cell(sheet: Any, rate: float | None) -> Any:
    """Return the on-time rate as a percentage cell, or an empty one when nothing was owed."""
    cell = WriteOnlyCell(sheet, rate)
    cell.number_format = "0.0%"
    return cell
