"""Periodic reports: the PSUR/PBRER tabulations of a product (ICH E2C(R2)) and the annual report.

Everything is counted from `adr.signals.counted`: the cases that count (valid, neither invalid
nor a duplicate), dated by the day the company first knew (`aware_on`), naming the product
among their suspected or interacting drugs, with the PTs and primary SOCs of their coded
reactions as of the newest MedDRA version. The interval runs from its first day to its last or
to the data lock point (DLP), whichever comes first; cumulative figures count every case known
up to the DLP.

The summary tabulations count, for each PT, the cases whose reactions include it; a SOC's
subtotal and the total are the sums of their PT lines (reactions, as E2C(R2) tabulations count
them), and the number of cases is given beside. A case with a reaction not coded yet (or none
coded) is counted on the line "not coded", never dropped. Sources come from the case's first
report (`source_of`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from openpyxl import Workbook
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from sqlalchemy.orm import Session, aliased

from adr import audit, meddra, regulatory, vocab
from adr.extensions import db
from adr.models import (
    FIRST_REPORT_ORDER,
    Case,
    Drug,
    GroupEvent,
    MeddraTerm,
    PeriodicFigures,
    PeriodicMonth,
    Product,
    ProductExposure,
    Reaction,
    Report,
    Signal,
    SignalStep,
    write_transaction,
)
from adr.regulator import compliance, listing
from adr.regulator.workbook import (
    BATCH_SIZE,
    end_sheet,
    heading,
    row_of,
    small_page_cache,
    start_sheet,
)
from adr.signals.counted import (
    ASSESSED_ROLES,
    case_counts,
    case_products,
    case_pts,
    counted_cases,
)
from adr.vocab import Term

SOURCES = vocab.PERIODIC_SOURCE  # from the first report: see `source_of`
CONSUMERS = frozenset({"patient", "relative"})
# Reporting rates: cases per this many units of exposure.
RATE_PER = {"packs": 10_000, "patient_days": 1_000}
MAX_PER_DAY = 10**8  # more packs or patient-days than this a day is a typing mistake
MAX_EXPOSURE_DAYS = 366 * 5
FIRST_YEAR, LAST_YEAR = 1900, 2100  # an interval's years: far from the calendar's limits


def source_of(source: str | None, reporter_kind: str | None) -> str:
    """Return a first report's line of the tabulation by source (a key of `SOURCES`).

    Source `literature` and `study` decide first (a doctor's published case is literature);
    then physicians, pharmacists, nurses and other health professionals are health
    professionals; patients and relatives consumers; anyone else (kind `other` or unknown,
    a regulator's feedback) other.
    """
    if source in ("literature", "study"):
        return source
    if reporter_kind in vocab.HEALTH_PROFESSIONALS:
        return "health_professional"
    if reporter_kind in CONSUMERS:
        return "consumer"
    return "other"


@dataclass(frozen=True)
class Interval:
    """The reporting interval and its data lock point."""

    first: date
    last: date
    dlp: date

    @property
    def end(self) -> date:
        """Return the interval's last counted day: its last, or the DLP if earlier."""
        return min(self.last, self.dlp)

    @property
    def days(self) -> int:
        return (self.end - self.first).days + 1


def parse_interval(first: str, last: str, dlp: str | None = None) -> Interval:
    """Return the interval of two dates (YYYY-MM-DD) and a DLP (the last day by default).

    Raises ValueError saying what is wrong: a malformed date, a start after the end, a DLP
    before the start or after the end, or a year outside FIRST_YEAR..LAST_YEAR.
    """
    first_day, last_day = listing.parse_period(first, last)
    lock = last_day
    if dlp is not None and dlp.strip():
        lock = listing.parse_period(dlp, dlp)[0]
        if lock < first_day:
            raise ValueError(f"the data lock point ({lock}) is before the interval ({first_day})")
        if lock > last_day:
            raise ValueError(f"the data lock point ({lock}) is after the interval ({last_day})")
    for day in (first_day, last_day):
        if not FIRST_YEAR <= day.year <= LAST_YEAR:
            raise ValueError(f"{day} is not a year from {FIRST_YEAR} to {LAST_YEAR}")
    return Interval(first_day, last_day, lock)


def find_product(typed: str) -> Product:
    """Return the catalogue product of an approval number (with or without 国药准字), a
    generic or brand name as `listing.find_product` matches them, or its id (digits only).

    Raises LookupError when none is found: only catalogue products have counted cases.
    """
    typed = typed.strip()
    if is_id(typed):
        found = db.session.get(Product, int(typed))
        if found is None:
            raise LookupError(f"no product of id {typed} in the catalogue")
        return found
    choice = listing.find_product(typed)
    if choice.product is None:
        raise LookupError(f"{typed!r} is not a product of the catalogue")
    return choice.product


def is_id(typed: str) -> bool:
    """Tell whether text is a row id: digits only, few enough for a database integer."""
    return typed.isascii() and typed.isdigit() and len(typed) <= 9


@dataclass
class Counts:
    """Interval and cumulative counts, serious and non-serious."""

    interval_serious: int = 0
    interval_non_serious: int = 0
    cumulative_serious: int = 0
    cumulative_non_serious: int = 0

    def __iadd__(self, other: Counts) -> Counts:
        self.interval_serious += other.interval_serious
        self.interval_non_serious += other.interval_non_serious
        self.cumulative_serious += other.cumulative_serious
        self.cumulative_non_serious += other.cumulative_non_serious
        return self

    @property
    def interval(self) -> int:
        return self.interval_serious + self.interval_non_serious

    @property
    def cumulative(self) -> int:
        return self.cumulative_serious + self.cumulative_non_serious

    def add(self, within: bool, serious: bool) -> None:
        """Count one case (or reaction): cumulatively, and in the interval if `within`."""
        if serious:
            self.cumulative_serious += 1
            self.interval_serious += within
        else:
            self.cumulative_non_serious += 1
            self.interval_non_serious += within

    def cells(self) -> list[int]:
        """Return the six figures of a line, in the tabulation's column order."""
        return [
            self.interval_serious,
            self.interval_non_serious,
            self.interval,
            self.cumulative_serious,
            self.cumulative_non_serious,
            self.cumulative,
        ]


@dataclass
class PtLine:
    code: int
    name: str
    counts: Counts


@dataclass
class SocBlock:
    code: int | None
    name: str
    lines: list[PtLine] = field(default_factory=list)
    subtotal: Counts = field(default_factory=Counts)


@dataclass(frozen=True)
class Death:
    reference: str
    aware_on: date
    pts: list[str]
    follow_up: bool  # the death learnt from a follow-up


@dataclass(frozen=True)
class ExposureLine:
    """A period of exposure staff typed, and the cases of the product known in it."""

    unit: str
    start: date
    end: date
    amount: int
    cases: int
    used: bool  # inside the interval: counted in its rate
    id: int = 0
    note: str | None = None
    entered_by: str = ""

    @property
    def rate(self) -> float | None:
        """Return the period's rate, None unless it is used (its amount spans days outside)."""
        if not self.used or not self.amount:
            return None
        return self.cases / self.amount * RATE_PER[self.unit]


@dataclass(frozen=True)
class ExposureRate:
    """An exposure unit's reporting rate over the part of the interval its periods cover."""

    unit: str
    amount: int
    cases: int
    covered_days: int
    interval_days: int

    @property
    def rate(self) -> float | None:
        return self.cases / self.amount * RATE_PER[self.unit] if self.amount else None

    @property
    def partial(self) -> bool:
        return self.covered_days < self.interval_days


@dataclass(frozen=True)
class SignalLine:
    id: int
    pt_code: int
    pt_name: str
    status: str
    detected_on: date
    last_step: str | None
    last_step_on: date | None


@dataclass
class Tabulation:
    """What a periodic report of one product tabulates."""

    product: Product
    interval: Interval
    meddra_version: str | None
    socs: list[SocBlock] = field(default_factory=list)
    uncoded: Counts = field(default_factory=Counts)
    reactions: Counts = field(default_factory=Counts)  # the PT lines and "not coded" summed
    cases: Counts = field(default_factory=Counts)
    left_out: int = 0  # cases of the product known by the DLP that do not count
    by_source: dict[str, Counts] = field(default_factory=dict)
    deaths: list[Death] = field(default_factory=list)
    exposure: list[ExposureLine] = field(default_factory=list)
    rates: list[ExposureRate] = field(default_factory=list)
    signals: list[SignalLine] = field(default_factory=list)


def counted_of(product_id: int) -> sa.Subquery:
    """Return (case_id, aware_on, serious, death) of the product's counted cases.

    The product's cases are a semi-join (`IN`), not a join: SQLite would join the two grouped
    subqueries row by row (50 s at 27,000 cases), while it builds the `IN` list once; and only
    they are grouped, not every case of the database.
    """
    return sa.select(counted_cases(product_case_ids(product_id))).subquery("product_case")


def product_case_ids(product_id: int) -> sa.Select[tuple[int]]:
    """Return the ids of the cases naming the product (`case_products`), counted or not."""
    named = case_products()
    return sa.select(named.c.case_id).where(named.c.product_id == product_id)


def product_cases(product_id: int, dlp: date) -> sa.Subquery:
    """Return (case_id, aware_on, serious, death) of the product's cases known by the DLP."""
    cases = counted_of(product_id)
    return sa.select(cases).where(cases.c.aware_on <= dlp).subquery("known_case")


NOT_CODED = Term("未编码", "Not coded")


def tabulate(product: Product, interval: Interval, language: str = "zh") -> Tabulation:
    """Count a product's cases for its periodic report (see the module's docstring)."""
    language = "en" if language.startswith("en") else "zh"
    version = meddra.current_version()
    result = Tabulation(product, interval, version)
    cases, pts = product_cases(product.id, interval.dlp), case_pts(version)
    with small_page_cache():  # read once, in order: a large cache would only hold memory
        by_pt = count_cases(result, cases, pts)
    result.socs = soc_blocks(by_pt, language)
    for block in result.socs:
        result.reactions += block.subtotal
    result.reactions += result.uncoded
    result.left_out = left_out(product.id, interval.dlp)
    result.deaths = deaths(cases, pts, interval, language)
    result.exposure, result.rates = exposure(product.id, interval)
    result.signals = signals(product.id, interval, language)
    db.session.rollback()  # end the long read
    return result


def count_cases(
    result: Tabulation, cases: sa.Subquery, pts: sa.Subquery
) -> dict[tuple[int | None, int], Counts]:
    """Count the cases in total, by source and uncoded into `result`; return the counts by
    (SOC, PT).

    The product's cases, their PTs, their uncoded reactions and their first reports are read as
    four streams ordered by case and walked together (`Follower`), so memory holds one case at
    a time and the counters (one per PT), however many cases the product has.
    """
    interval, theirs = result.interval, product_case_ids(result.product.id)
    first = first_reports()
    pts_of = Follower(
        sa.select(pts.c.case_id, pts.c.soc_code, pts.c.pt_code, pts.c.serious)
        .where(pts.c.case_id.in_(theirs))
        .order_by(pts.c.case_id)
    )
    uncoded_of = Follower(
        sa.select(Reaction.case_id)
        .where(
            Reaction.case_id.in_(theirs),
            sa.or_(Reaction.llt_code.is_(None), ~code_found(result.meddra_version)),
            Reaction.excluded_reason.is_(None),
        )
        .distinct()
        .order_by(Reaction.case_id)
    )
    first_of = Follower(
        sa.select(first.c.case_id, first.c.source, first.c.reporter_kind)
        .where(first.c.case_id.in_(theirs))
        .order_by(first.c.case_id)
    )
    by_pt: dict[tuple[int | None, int], Counts] = {}
    result.by_source = {key: Counts() for key in SOURCES}
    streamed = stream(
        sa.select(cases.c.case_id, cases.c.aware_on, cases.c.serious).order_by(cases.c.case_id)
    )
    try:
        for case_id, aware_on, serious in streamed:
            within = interval.first <= aware_on <= interval.end
            result.cases.add(within, serious)
            coded = pts_of.take(case_id)
            for _, soc_code, pt_code, pt_serious in coded:
                by_pt.setdefault((soc_code, pt_code), Counts()).add(within, bool(pt_serious))
            if uncoded_of.take(case_id) or not coded:
                result.uncoded.add(within, serious)
            first_report = first_of.take(case_id)
            source = "other"
            if first_report:
                source = source_of(first_report[0].source, first_report[0].reporter_kind)
            result.by_source[source].add(within, serious)
    finally:
        for rows in (streamed, pts_of, uncoded_of, first_of):
            rows.close()
    return by_pt


def code_found(version: str | None) -> sa.ColumnElement[bool]:
    """Tell whether a reaction's LLT is in the newest version or its own (else its PT is
    unknown: `case_pts` leaves it out, and it counts as not coded)."""
    return (
        sa.select(MeddraTerm.code)
        .where(
            MeddraTerm.level == "llt",
            MeddraTerm.code == Reaction.llt_code,
            sa.or_(
                MeddraTerm.version == (version or ""),
                MeddraTerm.version == Reaction.meddra_version,
            ),
        )
        .exists()
    )


def stream(query: sa.Select[Any]) -> sa.Result[*tuple[Any, ...]]:
    """Return a query's rows, fetched a batch at a time (a server-side cursor on PostgreSQL)."""
    return db.session.execute(query.execution_options(yield_per=BATCH_SIZE))


class Follower:
    """Rows of a query ordered by case id, handed out case by case as a walk over the cases
    in the same order asks for them."""

    def __init__(self, query: sa.Select[Any]) -> None:
        self.rows = stream(query)
        self.walk = iter(self.rows)
        self.next: Any = next(self.walk, None)

    def close(self) -> None:
        self.rows.close()  # its cursor, with rows left of cases after the last one asked for

    def take(self, case_id: int) -> list[Any]:
        """Return the rows of `case_id`, skipping those of cases before it."""
        found = []
        while self.next is not None and self.next[0] <= case_id:
            if self.next[0] == case_id:
                found.append(self.next)
            self.next = next(self.walk, None)
        return found


def soc_blocks(by_pt: dict[tuple[int | None, int], Counts], language: str) -> list[SocBlock]:
    """Return the PT lines grouped by primary SOC with subtotals: SOCs by name, PTs by
    cumulative count (most first), then name."""
    pt_names = meddra.term_names({pt for _, pt in by_pt}, "pt", language)
    soc_names = meddra.term_names({soc for soc, _ in by_pt if soc is not None}, "soc", language)
    socs: dict[int | None, SocBlock] = {}
    for (soc_code, pt_code), counts in by_pt.items():
        block = socs.setdefault(soc_code, SocBlock(soc_code, soc_names.get(soc_code or 0, "")))
        block.lines.append(PtLine(pt_code, pt_names.get(pt_code, ""), counts))
        block.subtotal += counts
    for block in socs.values():
        block.lines.sort(key=lambda line: (-line.counts.cumulative, line.name, line.code))
    return sorted(socs.values(), key=lambda b: (b.code is None, b.name, b.code or 0))


def left_out(product_id: int, dlp: date) -> int:
    """Return how many cases of the product known by the DLP do not count (invalid,
    duplicate, or lacking a minimum element)."""
    products, theirs = case_products(), product_case_ids(product_id)
    counted = counted_cases(theirs)
    known = (
        sa.select(Report.case_id)
        .where(Report.case_id.in_(theirs))
        .group_by(Report.case_id)
        .having(sa.func.min(Report.aware_on) <= dlp)
    )
    query = (
        sa.select(sa.func.count())
        .select_from(products)
        .where(
            products.c.product_id == product_id,
            products.c.case_id.in_(known),
            products.c.case_id.not_in(sa.select(counted.c.case_id)),
        )
    )
    return db.session.scalar(query) or 0


def first_reports() -> sa.Subquery:
    """Return (case_id, report_id, reference, source, reporter_kind) of each case's first
    report, in the case's order of reports (`Case.reports`)."""
    order = sa.func.row_number().over(partition_by=Report.case_id, order_by=FIRST_REPORT_ORDER)
    numbered = sa.select(
        Report.case_id,
        Report.reference,
        Report.source,
        Report.reporter_kind,
        order.label("position"),
    ).subquery("numbered_report")
    return sa.select(numbered).where(numbered.c.position == 1).subquery("first_report")


def says_death(outcome: str | None, criteria: list[str] | None) -> bool:
    return outcome == "death" or "death" in (criteria or [])


def deaths(cases: sa.Subquery, pts: sa.Subquery, interval: Interval, language: str) -> list[Death]:
    """Return the fatal cases with a report (first or follow-up) received in the interval:
    reference, date first known, PTs, and whether the death was learnt from a follow-up (the
    first report does not say the patient died)."""
    received = sa.select(Report.case_id).where(
        Report.aware_on >= interval.first, Report.aware_on <= interval.end
    )
    fatal = sa.select(cases.c.case_id).where(cases.c.death.is_(True), cases.c.case_id.in_(received))
    known_on = dict(
        db.session.execute(
            sa.select(cases.c.case_id, cases.c.aware_on).where(cases.c.case_id.in_(fatal))
        ).all()
    )
    first_of: dict[int, tuple[str, bool]] = {}
    for case_id, reference, outcome, criteria in db.session.execute(
        sa.select(Report.case_id, Report.reference, Report.event_outcome, Report.event_serious)
        .where(Report.case_id.in_(fatal))
        .order_by(Report.case_id, *FIRST_REPORT_ORDER)
    ):
        # the first report, as `Case.reports`
        first_of.setdefault(case_id, (reference, not says_death(outcome, criteria)))
    pts_of: dict[int, list[int]] = {}
    for case_id, pt_code in db.session.execute(
        sa.select(pts.c.case_id, pts.c.pt_code).where(pts.c.case_id.in_(fatal))
    ):
        pts_of.setdefault(case_id, []).append(pt_code)
    names = meddra.term_names({code for codes in pts_of.values() for code in codes}, "pt", language)
    found = [
        Death(
            first_of[case_id][0],
            day,
            sorted(f"{code} {names.get(code, '')}".strip() for code in pts_of.get(case_id, [])),
            first_of[case_id][1],
        )
        for case_id, day in known_on.items()
    ]
    return sorted(found, key=lambda death: (death.aware_on, death.reference))


def exposure(product_id: int, interval: Interval) -> tuple[list[ExposureLine], list[ExposureRate]]:
    """Return the exposure periods touching the interval, and each unit's reporting rate.

    A period counts in the rate when it lies wholly inside the interval; its cases are those
    known within it, and within the interval up to the DLP. A period reaching outside the
    interval is listed but not used, and has no rate (its amount cannot be split fairly), so
    the rate says how much of the interval it covers.
    """
    rows = db.session.scalars(
        sa.select(ProductExposure)
        .where(
            ProductExposure.product_id == product_id,
            ProductExposure.period_start <= interval.end,
            ProductExposure.period_end >= interval.first,
        )
        .order_by(ProductExposure.unit, ProductExposure.period_start)
    ).all()
    cases = counted_of(product_id)
    lines = []
    for row in rows:
        known = db.session.scalar(  # only what the interval and the DLP let in
            sa.select(sa.func.count()).where(
                cases.c.aware_on >= max(row.period_start, interval.first),
                cases.c.aware_on <= min(row.period_end, interval.end),
            )
        )
        used = row.period_start >= interval.first and row.period_end <= interval.end
        lines.append(
            ExposureLine(
                row.unit,
                row.period_start,
                row.period_end,
                row.amount,
                known or 0,
                used,
                row.id,
                row.note,
                row.entered_by,
            )
        )
    rates = []
    for unit in vocab.EXPOSURE_UNIT:
        used_lines = [line for line in lines if line.unit == unit and line.used]
        if used_lines:
            rates.append(
                ExposureRate(
                    unit,
                    sum(line.amount for line in used_lines),
                    sum(line.cases for line in used_lines),
                    sum((line.end - line.start).days + 1 for line in used_lines),
                    interval.days,
                )
            )
    return lines, rates


def china_midnight(day: date) -> datetime:
    """Return the moment a China day begins, in UTC."""
    return datetime.combine(day, time(), regulatory.CHINA).astimezone(UTC)


def status_after(steps: list[SignalStep]) -> str:
    """Return a signal's status after its steps (oldest first), as the tracking log moves it:
    a reopened signal goes back to evaluated if it was evaluated, else to new."""
    status, evaluated = "new", False
    for step in steps:
        if step.step in vocab.SIGNAL_STATUS:
            status = step.step
            evaluated = evaluated or step.step == "evaluated"
        elif step.step == "reopened":
            status = "evaluated" if evaluated else "new"
    return status


def signals(product_id: int, interval: Interval, language: str) -> list[SignalLine]:
    """Return the product's signals of the interval: detected by its end (the DLP at the
    latest) and not closed or refuted before its start, with their status at the DLP (from
    the tracking log's steps up to then, not today's)."""
    start = china_midnight(interval.first)
    end = china_midnight(interval.end + timedelta(days=1))
    found = db.session.scalars(
        sa.select(Signal)
        .where(Signal.product_id == product_id, Signal.detected_at < end)
        .order_by(Signal.detected_at, Signal.id)
    ).all()
    steps: dict[int, list[SignalStep]] = {}
    for step in db.session.scalars(
        sa.select(SignalStep)
        .where(SignalStep.signal_id.in_([signal.id for signal in found]), SignalStep.at < end)
        .order_by(SignalStep.at, SignalStep.id)
    ):
        steps.setdefault(step.signal_id, []).append(step)
    names = meddra.term_names({signal.pt_code for signal in found}, "pt", language)
    lines = []
    for signal in found:
        taken = steps.get(signal.id, [])
        before = [step for step in taken if step.at < start]
        if status_after(before) in ("closed", "refuted"):
            continue
        last = taken[-1] if taken else None
        lines.append(
            SignalLine(
                signal.id,
                signal.pt_code,
                names.get(signal.pt_code, ""),
                status_after(taken),
                regulatory.china_date(signal.detected_at),
                last.step if last else None,
                regulatory.china_date(last.at) if last else None,
            )
        )
    return lines


class ExposureRefused(ValueError):
    """Exposure that cannot be recorded: the form's field at fault and why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


def parse_amount(typed: str, days: int) -> int:
    """Return an amount of exposure over `days` days; raise ExposureRefused unless it is a
    positive whole number (thousands separators allowed) of at most MAX_PER_DAY a day."""
    text = re.sub(r"[\s,，]", "", typed)
    if not text.isascii() or not text.isdigit() or int(text) <= 0:
        raise ExposureRefused("amount", "amount")
    if int(text) > MAX_PER_DAY * days:
        raise ExposureRefused("amount", "absurd")
    return int(text)


def exposure_text(row: ProductExposure) -> str:
    """Return an exposure row as the audit trail keeps it."""
    text = f"{row.product_id} {row.unit} {row.period_start}..{row.period_end}: {row.amount}"
    return f"{text} ({row.note})" if row.note else text


def correct_exposure(session: Session, exposure_id: int, typed: dict[str, str], actor: str) -> None:
    """Correct an exposure row's amount (`typed["action"]` "correct") or remove it ("remove")
    with a reason, in the caller's transaction, audited ("exposure corrected": the old values
    and the new, with the reason); raise ExposureRefused for an unknown row, no reason, or an
    amount `parse_amount` refuses."""
    row = session.get(ProductExposure, exposure_id, with_for_update=True)
    if row is None or typed.get("action") not in ("correct", "remove"):
        raise ExposureRefused("correction", "gone")
    reason = typed.get("reason", "").strip()
    if not reason:
        raise ExposureRefused("correction", "reason")
    old = exposure_text(row)
    if typed["action"] == "remove":
        session.delete(row)
        new = f"removed: {reason}"
    else:
        days = (row.period_end - row.period_start).days + 1
        row.amount = parse_amount(typed.get("amount", ""), days)
        new = f"{exposure_text(row)}: {reason}"
    audit.record(session, actor, "exposure corrected", old=old, new=new)
    session.flush()


def add_exposure(session: Session, typed: dict[str, str], actor: str) -> ProductExposure:
    """Add the exposure staff typed (product, unit, from, to, amount, note) in the caller's
    transaction; raise ExposureRefused for an unknown product or unit, malformed dates or
    dates in the wrong order, a period over five years, an amount not a positive whole number
    or over a hundred million a day, or a period overlapping one of the same product and unit.
    """
    # The product's row locked (PostgreSQL; SQLite's write transaction is one at a time): two
    # entries of one product wait for each other, so the overlap check below holds.
    product = None
    if is_id(typed["product"]):
        product = session.get(Product, int(typed["product"]), with_for_update=True)
    if product is None:
        raise ExposureRefused("product", "product")
    if typed["unit"] not in vocab.EXPOSURE_UNIT:
        raise ExposureRefused("unit", "unit")
    try:
        start, end = (date.fromisoformat(typed[name]) for name in ("from", "to"))
    except ValueError:
        raise ExposureRefused("period", "dates") from None
    if start > end:
        raise ExposureRefused("period", "order")
    days = (end - start).days + 1
    if days > MAX_EXPOSURE_DAYS:
        raise ExposureRefused("period", "long")
    amount = parse_amount(typed["amount"], days)
    overlapping = sa.select(ProductExposure.id).where(
        ProductExposure.product_id == product.id,
        ProductExposure.unit == typed["unit"],
        ProductExposure.period_start <= end,
        ProductExposure.period_end >= start,
    )
    if session.scalar(overlapping.limit(1)) is not None:
        raise ExposureRefused("period", "overlap")
    row = ProductExposure(
        product_id=product.id,
        period_start=start,
        period_end=end,
        unit=typed["unit"],
        amount=amount,
        entered_at=datetime.now(UTC),
        entered_by=actor,
        note=typed.get("note") or None,
    )
    session.add(row)
    session.flush()
    return row


# The workbook.

SHEETS = {
    "tabulation": Term("汇总表(按SOC和PT)", "Summary tabulations"),
    "source": Term("按报告来源", "By source"),
    "deaths": Term("死亡病例", "Deaths"),
    "exposure": Term("暴露量与报告率", "Exposure and rates"),
    "listing": Term("病例列表", "Line listing"),
    "signals": Term("本期信号", "Signals"),
}
FIGURES = [
    Term("本期严重", "Interval serious"),
    Term("本期非严重", "Interval non-serious"),
    Term("本期合计", "Interval total"),
    Term("累计严重", "Cumulative serious"),
    Term("累计非严重", "Cumulative non-serious"),
    Term("累计合计", "Cumulative total"),
]
TABULATION_COLUMNS = [
    Term("系统器官分类(SOC)", "System organ class (SOC)"),
    Term("SOC代码", "SOC code"),
    Term("首选语(PT)", "Preferred term (PT)"),
    Term("PT代码", "PT code"),
    *FIGURES,
]
SOURCE_COLUMNS = [Term("报告来源", "Source"), *FIGURES]
DEATH_COLUMNS = [
    Term("病例编码(首次报告)", "Case reference (first report)"),
    Term("首次获知日期", "Date first known"),
    Term("首选语(PT)", "Preferred terms (PT)"),
    Term("死亡由随访获知", "Death learnt from a follow-up"),
]
EXPOSURE_COLUMNS = [
    Term("暴露量单位", "Unit"),
    Term("期间起", "Period from"),
    Term("期间止", "Period to"),
    Term("暴露量", "Amount"),
    Term("期间内获知病例数(限报告期间)", "Cases known in the period (within the interval)"),
    Term("报告率", "Reporting rate"),
    Term("计入本期报告率", "Used for the interval's rate"),
    Term("备注", "Note"),
    Term("录入人", "Entered by"),
]
SIGNAL_COLUMNS = [
    Term("信号编号", "Signal"),
    Term("首选语(PT)", "Preferred term (PT)"),
    Term("PT代码", "PT code"),
    Term("状态", "Status"),
    Term("检出日期", "Detected on"),
    Term("最近步骤", "Last step"),
    Term("最近步骤日期", "Last step on"),
]
WORDS = {
    "subtotal": Term("小计", "Subtotal"),
    "reactions": Term("合计(不良反应数)", "Total (reactions)"),
    "cases": Term("病例数", "Cases"),
    "left_out": Term(
        "未计入的病例(无效、重复或缺少最低要素)", "Cases left out (invalid, duplicate, incomplete)"
    ),
    "about": Term("说明", "About"),
    "product": Term("产品", "Product"),
    "interval": Term("报告期间", "Reporting interval"),
    "dlp": Term("数据锁定点", "Data lock point"),
    "version": Term("MedDRA版本", "MedDRA version"),
    "none": Term("无", "None"),
    "counted": Term(
        "计数对象为有效病例(不含无效和重复病例),按公司首次获知日期归期,产品为怀疑或相互作用药品;"
        "PT及其主SOC按最新MedDRA版本。每个PT计其病例数;SOC小计和合计为各PT行之和(按不良反应计),"
        "病例数另列。PT行的严重性按不良反应:病例中到达该PT的任一不良反应为严重即计为严重(审核人员标为非严重的"
        "不良反应不计),病例数行按病例的严重性。含未编码不良反应(或编码在各版本中均未找到)的病例计入“未编码”行。",
        "Valid cases (invalid and duplicate cases left out), dated by the day the company first "
        "knew, naming the product as a suspected or interacting drug; PTs and their primary SOC "
        "as of the newest MedDRA version. Each PT counts its cases; a SOC's subtotal and the "
        "total sum the PT lines (reactions), the number of cases is given beside. A case with a "
        "reaction not coded yet (or coded to an LLT found in no version) counts on the line 'Not "
        "coded'. A PT line is serious where any reaction of the case reaching the PT is (one staff "
        "set not serious is not); the cases line keeps the case's seriousness.",
    ),
    "sources": Term(
        "报告来源按首次报告:信息来源为文献报道或上市后研究者归入该项;其余按报告人:医生、药师、护士、"
        "其他医务人员为医务人员,患者本人及亲友为消费者,其他为其他。",
        "Source from the first report: a literature report or a post-marketing study is that; "
        "otherwise by the reporter: doctors, pharmacists, nurses and other health professionals "
        "are health professionals, patients and relatives consumers, anyone else other.",
    ),
    "rates": Term(
        "报告率:销售量按每10,000盒病例数,患者用药天数按每1,000患者日病例数;只计完全落在报告期间内的暴露期间。",
        "Reporting rate: cases per 10,000 packs sold, or per 1,000 patient-days; only exposure "
        "periods wholly inside the interval are used.",
    ),
    "partial": Term("仅覆盖报告期间的部分天数", "covers only part of the interval"),
    "covered": Term("覆盖天数", "Days covered"),
    "rate_total": Term("本期报告率", "Interval's reporting rate"),
    "no_exposure": Term(
        "本期无暴露量数据,无法计算报告率。", "No exposure for the interval: no rate."
    ),
}
PER = {
    "packs": Term("每10,000盒病例数", "cases per 10,000 packs"),
    "patient_days": Term("每1,000患者日病例数", "cases per 1,000 patient-days"),
}


def rate_text(rate: float | None, unit: str, language: str) -> str | None:
    return None if rate is None else f"{rate:.2f} {PER[unit].text(language)}"


def write_periodic(
    tabulation: Tabulation, target: str | Path | IO[bytes], language: str = "zh"
) -> int:
    """Write the tabulation workbook to a path or binary stream; return the cases listed."""
    language = "en" if language.startswith("en") else "zh_CN"
    book = Workbook(write_only=True)
    sheets = {key: book.create_sheet(term.text(language)) for key, term in SHEETS.items()}
    write_tabulation(sheets["tabulation"], tabulation, language)
    write_sources(sheets["source"], tabulation, language)
    write_deaths(sheets["deaths"], tabulation, language)
    write_exposure(sheets["exposure"], tabulation, language)
    listed = write_listing(sheets["listing"], tabulation, language)
    write_signals(sheets["signals"], tabulation, language)
    book.save(target)
    db.session.rollback()  # end the long read
    return listed


def tabulation_rows(tabulation: Tabulation, language: str) -> Iterator[list[Any]]:
    """Yield the rows of the summary tabulation: PT lines, SOC subtotals, totals."""
    words = {key: term.text(language) for key, term in WORDS.items()}
    for block in tabulation.socs:
        for line in block.lines:
            yield [block.name, block.code, line.name, line.code, *line.counts.cells()]
        yield [block.name, block.code, words["subtotal"], None, *block.subtotal.cells()]
    yield [NOT_CODED.text(language), None, NOT_CODED.text(language), None,
           *tabulation.uncoded.cells()]  # fmt: skip
    yield [words["reactions"], None, None, None, *tabulation.reactions.cells()]
    yield [words["cases"], None, None, None, *tabulation.cases.cells()]


def about_rows(tabulation: Tabulation, language: str) -> list[list[Any]]:
    words = {key: term.text(language) for key, term in WORDS.items()}
    product, interval = tabulation.product, tabulation.interval
    return [
        [words["product"], f"{product.generic_name} {product.approval_number}"],
        [words["interval"], f"{interval.first} – {interval.end}"],
        [words["dlp"], interval.dlp],
        [words["version"], tabulation.meddra_version or words["none"]],
        [words["left_out"], tabulation.left_out],
        [words["counted"]],
    ]


def write_tabulation(sheet: WriteOnlyWorksheet, tabulation: Tabulation, language: str) -> None:
    start_sheet(sheet, TABULATION_COLUMNS, language)
    rows = 0
    for row in tabulation_rows(tabulation, language):
        sheet.append(row_of(sheet, row))
        rows += 1
    end_sheet(sheet, len(TABULATION_COLUMNS), rows)
    sheet.append([])
    heading(sheet, WORDS["about"].text(language))
    for row in about_rows(tabulation, language):
        sheet.append(row_of(sheet, row))


def write_sources(sheet: WriteOnlyWorksheet, tabulation: Tabulation, language: str) -> None:
    start_sheet(sheet, SOURCE_COLUMNS, language)
    for key, counts in tabulation.by_source.items():
        sheet.append([SOURCES[key].text(language), *counts.cells()])
    sheet.append([WORDS["cases"].text(language), *tabulation.cases.cells()])
    end_sheet(sheet, len(SOURCE_COLUMNS), len(tabulation.by_source) + 1)
    sheet.append([])
    sheet.append([WORDS["sources"].text(language)])


def write_deaths(sheet: WriteOnlyWorksheet, tabulation: Tabulation, language: str) -> None:
    start_sheet(sheet, DEATH_COLUMNS, language)
    for death in tabulation.deaths:
        learnt = vocab.YES_NO["yes" if death.follow_up else "no"].text(language)
        row = [death.reference, death.aware_on, "\n".join(death.pts), learnt]
        sheet.append(row_of(sheet, row))
    end_sheet(sheet, len(DEATH_COLUMNS), len(tabulation.deaths))


def write_exposure(sheet: WriteOnlyWorksheet, tabulation: Tabulation, language: str) -> None:
    start_sheet(sheet, EXPOSURE_COLUMNS, language)
    yes_no = vocab.YES_NO
    for line in tabulation.exposure:
        row = [
            vocab.EXPOSURE_UNIT[line.unit].text(language),
            line.start,
            line.end,
            line.amount,
            line.cases,
            rate_text(line.rate, line.unit, language),
            yes_no["yes" if line.used else "no"].text(language),
            line.note,
            line.entered_by,
        ]
        sheet.append(row_of(sheet, row))  # the note as typed: never a formula
    end_sheet(sheet, len(EXPOSURE_COLUMNS), len(tabulation.exposure))
    sheet.append([])
    words = {key: term.text(language) for key, term in WORDS.items()}
    heading(sheet, words["rate_total"])
    for rate in tabulation.rates:
        coverage = f"{rate.covered_days}/{rate.interval_days}"
        if rate.partial:
            coverage += f" ({words['partial']})"
        sheet.append(
            [
                vocab.EXPOSURE_UNIT[rate.unit].text(language),
                rate.amount,
                rate.cases,
                rate_text(rate.rate, rate.unit, language),
                f"{words['covered']}: {coverage}",
            ]
        )
    if not tabulation.rates:
        sheet.append([words["no_exposure"]])
    sheet.append([words["rates"]])


def periodic_cases(tabulation: Tabulation) -> sa.Select[Any]:
    """Return (case id, day 0) of the product's cases known in the interval or with a follow-up
    received in it (known by the DLP), oldest first; day 0 is the earliest of its reports'."""
    interval = tabulation.interval
    cases = product_cases(tabulation.product.id, interval.dlp)
    followed = sa.select(Report.case_id).where(
        Report.aware_on >= interval.first, Report.aware_on <= interval.end
    )
    day_zero = (
        sa.select(sa.func.min(Report.day_zero))
        .where(Report.case_id == cases.c.case_id)
        .scalar_subquery()
    )
    return (
        sa.select(cases.c.case_id, sa.func.coalesce(day_zero, cases.c.aware_on))
        .where(
            sa.or_(
                sa.and_(cases.c.aware_on >= interval.first, cases.c.aware_on <= interval.end),
                cases.c.case_id.in_(followed),
            )
        )
        .order_by(cases.c.aware_on, cases.c.case_id)
    )


FOLLOW_UP_COLUMN = Term("本期收到随访", "Follow-up received in the interval")


def write_listing(sheet: WriteOnlyWorksheet, tabulation: Tabulation, language: str) -> int:
    """Write the line listing (`adr.regulator.listing`) of the interval's counted cases, and
    of earlier ones with a follow-up received in it (flagged in a last column)."""
    choice = listing.ProductChoice(tabulation.product.approval_number, tabulation.product)
    writer = listing.ListingWriter(choice, language)
    start_sheet(sheet, [*listing.COLUMNS, FOLLOW_UP_COLUMN], language)
    tally = listing.Tally()
    first, end = tabulation.interval.first, tabulation.interval.end
    for case, day_zero in listing.cases_of(periodic_cases(tabulation), writer):
        followed = any(first <= report.aware_on <= end for report in case.reports[1:])
        flag = vocab.YES_NO["yes" if followed else "no"].text(language)
        sheet.append(row_of(sheet, [*writer.row(case, day_zero, tally), flag]))
    end_sheet(sheet, len(listing.COLUMNS) + 1, tally.cases)
    return tally.cases


def write_signals(sheet: WriteOnlyWorksheet, tabulation: Tabulation, language: str) -> None:
    start_sheet(sheet, SIGNAL_COLUMNS, language)
    for signal in tabulation.signals:
        step = vocab.SIGNAL_STEP.get(signal.last_step or "")
        row = [
            signal.id,
            signal.pt_name,
            signal.pt_code,
            vocab.SIGNAL_STATUS[signal.status].text(language),
            signal.detected_on,
            step.text(language) if step else None,
            signal.last_step_on,
        ]
        sheet.append(row_of(sheet, row))
    end_sheet(sheet, len(SIGNAL_COLUMNS), len(tabulation.signals))


def file_name(product: Product, interval: Interval) -> str:
    """Return periodic-<approval number>-<first>-<DLP>.xlsx."""
    safe = re.sub(r"[^\w.-]+", "_", product.approval_number).strip("_.") or "product"
    return f"periodic-{safe}-{interval.first}-{interval.dlp}.xlsx"


# The annual report (年度报告): a year's figures by product.


@dataclass
class AnnualLine:
    """One product's figures of a year."""

    product: Product
    reports: int = 0  # cases first known in the year
    serious: int = 0
    deaths: int = 0
    new: int = 0  # unexpected: new or new and serious (Case.report_category)
    signals_opened: int = 0
    signals_closed: int = 0
    group_events: int = 0


@dataclass
class Annual:
    year: int
    lines: list[AnnualLine]
    on_time: compliance.Compliance

    totals: dict[str, int] = field(default_factory=dict)  # distinct cases: see `annual`

    def total(self, name: str) -> int:
        if name in self.totals:
            return self.totals[name]
        return sum(getattr(line, name) for line in self.lines)


ANNUAL_FIGURES = (
    "reports",
    "serious",
    "deaths",
    "new",
    "signals_opened",
    "signals_closed",
    "group_events",
)


@dataclass(frozen=True)
class KnownCase:
    """A counted case first known in a range of days, and the catalogue products it names."""

    aware_on: date
    serious: bool
    death: bool
    new: bool  # unexpected: new or new and serious (Case.report_category)
    products: tuple[int, ...]


def cases_known(first: date, last: date) -> list[KnownCase]:
    """Return the counted cases first known from `first` to `last` that name a catalogue
    product: one grouping of the counted cases for every product (the page's chart and the
    annual report), and their products a semi-join (`IN`) rather than a join of two grouped
    subqueries, which SQLite would join row by row (see `counted_of`)."""
    counted, named = counted_cases(), case_products()
    new = Case.report_category.in_(("new", "new_serious"))
    known = (
        sa.select(counted.c.case_id, counted.c.aware_on, counted.c.serious, counted.c.death, new)
        .join(Case, Case.id == counted.c.case_id)
        .where(counted.c.aware_on >= first, counted.c.aware_on <= last)
    ).subquery("known")
    products: dict[int, list[int]] = {}
    for case_id, product_id in db.session.execute(
        sa.select(named.c.case_id, named.c.product_id).where(
            named.c.case_id.in_(sa.select(known.c.case_id))
        )
    ):
        products.setdefault(case_id, []).append(product_id)
    return [
        KnownCase(aware_on, bool(serious), bool(death), bool(is_new), tuple(products[case_id]))
        for case_id, aware_on, serious, death, is_new in db.session.execute(sa.select(known))
        if case_id in products
    ]


def annual(year: int, now: datetime) -> Annual:
    """Count a year's figures by product from the counted cases, signals and group events,
    and the on-time rate by month as `adr.regulator.compliance` measures it. The totals of
    cases count each case once, however many of the company's products it names."""
    first, last = date(year, 1, 1), date(year, 12, 31)
    start, end = china_midnight(first), china_midnight(last + timedelta(days=1))
    products = db.session.scalars(sa.select(Product).order_by(Product.generic_name, Product.id))
    lines = {product.id: AnnualLine(product) for product in products}
    known = cases_known(first, last)
    for case in known:
        for product_id in case.products:
            line = lines[product_id]
            line.reports += 1
            line.serious += case.serious
            line.deaths += case.death
            line.new += case.new
    totals = {  # each case once, however many of the company's products it names
        "reports": len(known),
        "serious": sum(case.serious for case in known),
        "deaths": sum(case.death for case in known),
        "new": sum(case.new for case in known),
    }
    for column, name in (
        (Signal.detected_at, "signals_opened"),
        (Signal.closed_at, "signals_closed"),
    ):
        for product_id, number in db.session.execute(
            sa.select(Signal.product_id, sa.func.count())
            .where(column >= start, column < end)
            .group_by(Signal.product_id)
        ):
            setattr(lines[product_id], name, number)
    for product_id, number in db.session.execute(
        sa.select(GroupEvent.product_id, sa.func.count())
        .where(GroupEvent.known_on >= first, GroupEvent.known_on <= last)
        .group_by(GroupEvent.product_id)
    ):
        lines[product_id].group_events = number
    measured = compliance.measure(f"{year:04d}-01", f"{year:04d}-12", now)
    return Annual(year, list(lines.values()), measured, totals)


ANNUAL_SHEETS = (Term("年度报告", "Annual report"), Term("按时报告率", "On-time rate"))
ANNUAL_COLUMNS = [
    Term("产品", "Product"),
    Term("批准文号", "Approval number"),
    Term("报告数", "Reports"),
    Term("严重", "Serious"),
    Term("死亡", "Deaths"),
    Term("新的", "New (unexpected)"),
    Term("新开信号", "Signals opened"),
    Term("关闭信号", "Signals closed"),
    Term("群体不良事件", "Group adverse events"),
]
ON_TIME_COLUMNS = [
    Term("月份(报告时限)", "Month (due)"),
    Term("应报告数", "Reports due"),
    Term("按时", "On time"),
    Term("逾期报告", "Late"),
    Term("逾期未报", "Open past due"),
    Term("未到期", "Not yet due"),
    Term("逾期后判为无效", "Invalid after the deadline"),
    Term("按时报告率", "On-time rate"),
]
ANNUAL_NOTES = Term(
    "报告数为当年首次获知的有效病例(不含无效和重复病例),一个病例涉及多个本公司产品时分别计入,"
    "合计行每个病例只计一次;死亡为其中患者死亡的病例(含随访获知的死亡,按病例首次获知日期归年);"
    "新的为新的或新的严重病例;应报告数与按时报告率同“报告时限合规”页:按报告时限所在月份,"
    "应报告数含未到期的报告,按时报告率为按时上报数/(按时+逾期上报+逾期未报+逾期后判为无效)。",
    "Reports are the valid cases first known in the year (invalid and duplicate cases left "
    "out); a case naming several of the company's products counts under each, once in the "
    "total. Deaths: those of these cases whose patient died (a death learnt from a follow-up "
    "included, in the year the case was first known). New: cases new or new and serious. "
    "Reports due and the on-time rate are the compliance page's: by the month of the "
    "deadline, reports due include those not yet due; the rate is on time / (on time + late + "
    "open past due + invalid after the deadline).",
)
TOTAL = Term("合计", "Total")


def write_annual(report: Annual, target: str | Path | IO[bytes], language: str = "zh") -> None:
    """Write the annual report's figures to a path or binary stream."""
    language = "en" if language.startswith("en") else "zh_CN"
    book = Workbook(write_only=True)
    by_product, on_time = (book.create_sheet(term.text(language)) for term in ANNUAL_SHEETS)
    start_sheet(by_product, ANNUAL_COLUMNS, language)
    for line in report.lines:
        counts = [getattr(line, name) for name in ANNUAL_FIGURES]
        name, number = line.product.generic_name, line.product.approval_number
        by_product.append(row_of(by_product, [name, number, *counts]))
    totals = [report.total(name) for name in ANNUAL_FIGURES]
    by_product.append([TOTAL.text(language), None, *totals])
    end_sheet(by_product, len(ANNUAL_COLUMNS), len(report.lines) + 1)
    by_product.append([])
    by_product.append([ANNUAL_NOTES.text(language)])
    start_sheet(on_time, ON_TIME_COLUMNS, language)
    for month in [*report.on_time.months, None]:
        figures = report.on_time.figures(month)
        on_time.append(
            [
                month or TOTAL.text(language),
                figures.due,
                figures.on_time,
                figures.late,
                figures.open_past_due,
                figures.not_yet_due,
                figures.closed_invalid,
                compliance.rate_cell(on_time, figures.rate),
            ]
        )
    end_sheet(on_time, len(ON_TIME_COLUMNS), len(report.on_time.months) + 1)
    book.save(target)
    db.session.rollback()


# Charts' figures: the counted cases first known each month of a year, by product. Counting a
# year takes seconds at a million reports (half a million cases), so the page and its chart read
# the figures as last stored (`compute_figures`: `adr periodic figures`, or staff's "Recompute
# now"), saying when they were computed and how many reports were added since.


def year_cases(first: date, last: date) -> sa.Subquery:
    """Return (case_id, aware_on) of the counted cases first known from `first` to `last`.

    The cases of `counted_cases` whose `aware_on` is in the range, found from the reports known
    in it (their index) less the cases with a report known before it, so that no other case of
    the database is grouped."""
    earlier = aliased(Report)
    known_before = sa.exists().where(earlier.case_id == Report.case_id, earlier.aware_on < first)
    return (
        sa.select(Report.case_id.label("case_id"), sa.func.min(Report.aware_on).label("aware_on"))
        .join(Case, Case.id == Report.case_id)
        .where(Report.aware_on >= first, Report.aware_on <= last, case_counts(), ~known_before)
        .group_by(Report.case_id)
        .subquery("year_case")
    )


def count_per_month(year: int) -> dict[tuple[int, int], int]:
    """Return, by (product id, month), the counted cases first known in each month of a year
    that name the product as `case_products` does (suspected or interacting, in any of their
    reports): one grouping in SQL, each case once per product."""
    cases = year_cases(date(year, 1, 1), date(year, 12, 31))
    month = sa.extract("month", cases.c.aware_on)
    query = (
        sa.select(Drug.product_id, month, sa.func.count(sa.distinct(cases.c.case_id)))
        .select_from(cases)
        .join(Report, Report.case_id == cases.c.case_id)
        .join(Drug, Drug.report_id == Report.id)
        .where(Drug.product_id.is_not(None), Drug.role.in_(ASSESSED_ROLES))
        .group_by(Drug.product_id, month)
    )
    rows = db.session.execute(query)
    return {(product, int(number)): total for product, number, total in rows if product}


def months_of(year: int) -> list[str]:
    return [f"{year:04d}-{month:02d}" for month in range(1, 13)]


def series_of(counts: dict[tuple[int, int], int]) -> dict[str, list[int]]:
    """Return the figures by product label (generic name and approval number), in label order."""
    names = {
        product.id: f"{product.generic_name} {product.approval_number}"
        for product in db.session.scalars(sa.select(Product))
    }
    series: dict[str, list[int]] = {}
    for (product_id, month), cases in counts.items():
        series.setdefault(names[product_id], [0] * 12)[month - 1] += cases
    return dict(sorted(series.items()))


def cases_per_month(year: int) -> tuple[list[str], dict[str, list[int]]]:
    """Return the year's months and, by product label, the counted cases first known in each,
    counted now."""
    return months_of(year), series_of(count_per_month(year))


@dataclass(frozen=True)
class StoredFigures:
    """A year's cases per month by product as last computed, and what arrived since."""

    months: list[str]
    series: dict[str, list[int]]
    computed_at: datetime
    computed_by: str
    added_since: int  # reports added after the figures were computed
    latest_added_at: datetime | None  # when the newest of them was added


def stored_figures(year: int) -> StoredFigures | None:
    """Return the year's stored figures, None when they were never computed."""
    stored = db.session.get(PeriodicFigures, year)
    if stored is None:
        return None
    rows = db.session.execute(
        sa.select(PeriodicMonth.product_id, PeriodicMonth.month, PeriodicMonth.cases).where(
            PeriodicMonth.year == year
        )
    )
    since = Report.id > (stored.newest_report_id or 0)
    added = db.session.scalar(sa.select(sa.func.count(Report.id)).where(since)) or 0
    latest = db.session.scalar(
        sa.select(Report.added_at).where(since).order_by(Report.id.desc()).limit(1)
    )
    return StoredFigures(
        months_of(year),
        series_of({(product, month): cases for product, month, cases in rows}),
        stored.computed_at,
        stored.computed_by,
        added,
        latest,
    )


def compute_figures(year: int, actor: str) -> int:
    """Count a year's cases per month by product and store them in place of the last ones
    (audited: "periodic figures computed"); return the cases counted (a case naming two
    products counts under each). The counting reads before the write transaction opens, so
    that intake does not wait for it; reports added from the moment it began are "since"."""
    started = datetime.now(UTC)
    newest = db.session.scalar(sa.select(sa.func.max(Report.id)))
    counts = count_per_month(year)
    total = sum(counts.values())
    with write_transaction() as session:
        # First: the audit chain's lock makes two computations of a year store one by one.
        audit.record(
            session, actor, "periodic figures computed", new=f"{year}: {total} cases by product"
        )
        session.execute(sa.delete(PeriodicMonth).where(PeriodicMonth.year == year))
        session.execute(sa.delete(PeriodicFigures).where(PeriodicFigures.year == year))
        session.add(PeriodicFigures(year=year, computed_at=started, computed_by=actor,
                                    newest_report_id=newest))  # fmt: skip
        session.flush()
        session.add_all(
            PeriodicMonth(year=year, product_id=product, month=month, cases=cases)
            for (product, month), cases in counts.items()
        )
    return total
