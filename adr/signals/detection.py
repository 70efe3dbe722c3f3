"""Signal detection (`adr signals run`): each catalogue product × PT, its figures and triggers.

Over the cases that count (`adr.signals.counted`), for a period (a month or a quarter, China
dates, cases dated by the day the company first knew):

- disproportionality, cumulative up to the period's end: a case counts once for each of the
  catalogue's products it suspects, and the 2×2 tables' universe is the cases that name at least
  one catalogue product and have at least one coded reaction (a case nothing is coded in says
  nothing of any PT);
- the period's count against the four periods of the same length before it;
- qualitative triggers from every case known by the period's end (and since the first run's
  period began) that is not yet behind a signal of the product × PT (open or decided), so that
  a case coded late, or made fatal or serious by a follow-up, is raised by the next run: a
  fatal case (each of its product × PT), a serious reaction whose PT is not among the
  product's coded listed reactions (the reaction's own seriousness where staff set it, else the
  case's; a product whose listed reactions are not coded yet cannot call any PT listed, so its
  serious cases all raise one), and a PT of the designated medical events.

All counting is SQL aggregates (one statement for the tables, one anti-join for the cases with a
qualitative trigger not linked yet, one for the cases behind the pairs raised): nothing walks
every case.

A run stores its figures for every pair with a case in the period or a trigger (a pair whose
last case is older, and raises nothing, is left out: the table grows with each period's
cases, not with the whole database). Each pair raised opens a signal, or joins the open one of
that pair (its new cases linked, new triggers added). A pair decided before (its latest signal
refuted, or closed whatever the conclusion) is raised again only on news: a qualitative trigger
from a case not linked to that signal, a quantitative trigger that signal never had, or one it
had that was not firing in a run of a period after the one it was decided on (it fell below its
threshold and crossed it anew). Running an old period again raises only cases not linked yet.
A second run of a period adds nothing: no signal, case link or step twice.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from adr import audit, meddra, regulatory
from adr.extensions import db
from adr.models import (
    DesignatedMedicalEvent,
    Product,
    Signal,
    SignalCase,
    SignalFigure,
    SignalRun,
    SignalStep,
    advisory_lock,
    chunks,
    write_transaction,
)
from adr.signals import statistics
from adr.signals.counted import case_products, case_pts, counted_cases

PERIOD_RE = re.compile(r"(\d{4})-(?:Q(\d)|(\d{2}))")
QUANTITATIVE = ("prr", "ror", "ic", "trend")
QUALITATIVE = ("fatal", "dme", "unlisted")
# The trigger a case is linked by, when it stands behind several: its own before the pair's.
CASE_TRIGGER_ORDER = ("fatal", "dme", "unlisted", "trend", "prr", "ror", "ic")
DECIDED = ("refuted", "closed")
CHUNK = 500  # pairs per IN list
RUN_LOCK = 0x41445253  # "ADRS": two runs at once open or join signals one after the other
LOCK_RUN = sa.select(sa.func.pg_advisory_xact_lock(RUN_LOCK))


@dataclass(frozen=True)
class Period:
    """A calendar month or quarter, in China dates."""

    name: str  # 2026-11 or 2026-Q4
    start: date
    end: date  # its last day
    months: int  # 1 or 3

    def earlier(self, periods: int) -> date:
        """Return the first day of the period `periods` periods before this one."""
        index = self.start.year * 12 + self.start.month - 1 - periods * self.months
        return date(index // 12, index % 12 + 1, 1)


def parse_period(text: str) -> Period:
    """Return the period of `YYYY-QN` or `YYYY-MM`; ValueError saying how to write it."""
    match = PERIOD_RE.fullmatch(text.strip())
    quarter = int(match[2]) if match and match[2] else None
    month = int(match[3]) if match and match[3] else None
    if not match or not (quarter in (1, 2, 3, 4) or month in range(1, 13)):
        raise ValueError(
            f"not a period: {text!r}; write a quarter as YYYY-QN (2026-Q3) "
            "or a month as YYYY-MM (2026-11)"
        )
    year = int(match[1])
    if year < 1900:
        raise ValueError(f"not a period the calendar holds: {text!r}")
    first, months = ((quarter - 1) * 3 + 1, 3) if quarter else (month or 1, 1)
    start = date(year, first, 1)
    after = year * 12 + first - 1 + months
    end = date(after // 12, after % 12 + 1, 1) - timedelta(days=1)
    if start > regulatory.china_today():
        raise ValueError(f"the period {text.strip()} has not begun")
    return Period(f"{year}-Q{quarter}" if quarter else f"{year}-{first:02d}", start, end, months)


def last_complete_month(today: date | None = None) -> Period:
    """Return the last calendar month that has ended (China dates)."""
    last = (today or regulatory.china_today()).replace(day=1) - timedelta(days=1)
    return parse_period(f"{last:%Y-%m}")


@dataclass
class Pair:
    """One product × PT's counts, figures and triggers."""

    product_id: int
    pt_code: int
    soc_code: int | None
    a: int
    b: int
    c: int
    d: int
    period_count: int
    figures: dict[str, float | None]
    triggers: list[str]
    cases: dict[int, str] = field(default_factory=dict)  # case → the trigger it stands behind
    figure_id: int | None = None

    @property
    def key(self) -> tuple[int, int]:
        return self.product_id, self.pt_code

    def detail(self, period: Period) -> dict[str, Any]:
        """Return what a tracking log's line keeps of the figures."""
        return {
            "period": period.name,
            "a": self.a,
            "b": self.b,
            "c": self.c,
            "d": self.d,
            **self.figures,
            "period_count": self.period_count,
            "triggers": self.triggers,
        }


@dataclass
class RunResult:
    run_id: int
    period: Period
    cases: int  # the 2×2 tables' universe
    pairs: int  # figures stored
    opened: int = 0
    joined: int = 0  # open signals that gained a case or a trigger

    @property
    def raised(self) -> int:
        return self.opened + self.joined


def run(period: Period, actor: str) -> RunResult:
    """Detect the period's signals, store the run and its figures, open or join signals."""
    started_at = datetime.now(UTC)
    if db.session().in_transaction():
        db.session.commit()  # count what is committed now, not an older snapshot's
    version = meddra.current_version()
    first = db.session.scalar(sa.select(sa.func.min(SignalRun.period_start)))
    since = min(first, period.start) if first else period.start
    with known_cases(period, version) as known:
        pending_cases(known, since)
        pairs, universe = tally(known, period)
        qualitative_triggers(known, pairs)
        stored = [pair for pair in pairs.values() if pair.period_count or pair.triggers]
        raised = [pair for pair in stored if pair.triggers]
        link_cases(known, raised, period)
    with write_transaction() as session:
        advisory_lock(session, LOCK_RUN)
        signal_run = SignalRun(
            period=period.name,
            period_start=period.start,
            period_end=period.end,
            meddra_version=version,
            started_at=started_at,
            run_by=actor,
            cases=universe,
            pairs=len(stored),
        )
        session.add(signal_run)
        session.flush()
        store_figures(session, signal_run.id, stored)
        result = RunResult(signal_run.id, period, universe, len(stored))
        open_or_join(session, signal_run, period, raised, result, actor)
        signal_run.raised = result.raised
        signal_run.finished_at = datetime.now(UTC)
        audit.record(
            session,
            actor,
            "signals run",
            field="signal",
            new=f"{period.name}: {result.raised} signals raised ({result.opened} opened, "
            f"{result.joined} joined); {universe} cases, {len(stored)} product × PT figures",
        )
    return result


@dataclass(frozen=True)
class Known:
    """The cases known by the period's end, their products and their PTs, as temporary tables;
    the universe is the cases with both."""

    case: sa.Table
    case_product: sa.Table
    case_pt: sa.Table
    universe: sa.Table
    listed: sa.Table  # the products' coded listed reactions
    pending: sa.Table  # case × product × PT with a qualitative trigger, not behind a signal


@contextmanager
def known_cases(period: Period, version: str | None) -> Iterator[Known]:
    """Write the cases that count up to the period's end into indexed temporary tables, for
    the run's queries to join (the counted subqueries, joined to each other as they are, make
    the engines loop over every case for every case); drop them after."""
    metadata = sa.MetaData()

    def temporary(name: str, *columns: sa.Column[Any] | sa.Index) -> sa.Table:
        return sa.Table(name, metadata, *columns, prefixes=["TEMPORARY"])

    known = Known(
        temporary(
            "signal_known_case",
            sa.Column("case_id", sa.Integer, primary_key=True),
            sa.Column("aware_on", sa.Date),
            sa.Column("serious", sa.Boolean),
            sa.Column("death", sa.Boolean),
        ),
        temporary(
            "signal_known_product",
            sa.Column("case_id", sa.Integer, index=True),
            sa.Column("product_id", sa.Integer),
            sa.Column("aware_on", sa.Date),
        ),
        temporary(
            "signal_known_pt",
            sa.Column("case_id", sa.Integer, index=True),
            sa.Column("pt_code", sa.Integer),
            sa.Column("soc_code", sa.Integer),
            sa.Column("serious", sa.Integer),  # counted.case_pts': 1 when the PT is serious
        ),
        temporary("signal_universe", sa.Column("case_id", sa.Integer, primary_key=True)),
        temporary(
            "signal_listed",
            sa.Column("product_id", sa.Integer, primary_key=True),
            sa.Column("pt_code", sa.Integer, primary_key=True),
        ),
        temporary(
            "signal_pending",
            sa.Column("case_id", sa.Integer),
            sa.Column("product_id", sa.Integer),
            sa.Column("pt_code", sa.Integer),
            sa.Column("fatal", sa.Boolean),
            sa.Column("dme", sa.Boolean),
            sa.Column("unlisted", sa.Boolean),
            sa.Index("signal_pending_pair", "product_id", "pt_code"),
        ),
    )
    connection = db.session.connection()
    metadata.drop_all(connection)  # checkfirst: what a run that crashed on this connection left
    metadata.create_all(connection)
    try:
        counted, products, pts = counted_cases(), case_products(), case_pts(version)
        columns = ["case_id", "aware_on", "serious", "death"]
        connection.execute(
            known.case.insert().from_select(
                columns,
                sa.select(*(counted.c[name] for name in columns)).where(
                    counted.c.aware_on <= period.end
                ),
            )
        )
        case = known.case
        connection.execute(
            known.case_product.insert().from_select(
                ["case_id", "product_id", "aware_on"],
                sa.select(products.c.case_id, products.c.product_id, case.c.aware_on).join(
                    case, case.c.case_id == products.c.case_id
                ),
            )
        )
        connection.execute(
            known.case_pt.insert().from_select(
                ["case_id", "pt_code", "soc_code", "serious"],
                sa.select(pts.c.case_id, pts.c.pt_code, pts.c.soc_code, pts.c.serious).join(
                    case, case.c.case_id == pts.c.case_id
                ),
            )
        )
        connection.execute(
            known.universe.insert().from_select(
                ["case_id"],
                sa.select(known.case_product.c.case_id).intersect(
                    sa.select(known.case_pt.c.case_id)
                ),
            )
        )
        yield known
    finally:
        metadata.drop_all(connection)


def tally(known: Known, period: Period) -> tuple[dict[tuple[int, int], Pair], int]:
    """Return the pairs worth a look (a ≥ 3, or a case in the period) with their figures."""
    case_product, case_pt, universe = known.case_product, known.case_pt, known.universe
    in_period = sa.case((case_product.c.aware_on >= period.start, 1), else_=0)
    in_history = sa.case(
        (
            sa.and_(
                case_product.c.aware_on >= period.earlier(statistics.HISTORY_PERIODS),
                case_product.c.aware_on < period.start,
            ),
            1,
        ),
        else_=0,
    )
    pair_rows = (
        sa.select(
            case_product.c.product_id,
            case_pt.c.pt_code,
            sa.func.max(case_pt.c.soc_code).label("soc_code"),
            sa.func.count().label("total"),
            sa.func.sum(in_period).label("in_period"),
            sa.func.sum(in_history).label("in_history"),
        )
        .join(case_pt, case_pt.c.case_id == case_product.c.case_id)
        .group_by(case_product.c.product_id, case_pt.c.pt_code)
        .having(
            sa.or_(
                sa.func.count() >= statistics.MIN_CASES,
                sa.func.sum(in_period) > 0,
                sa.tuple_(case_product.c.product_id, case_pt.c.pt_code).in_(
                    sa.select(known.pending.c.product_id, known.pending.c.pt_code)
                ),
            )
        )
    )
    found = db.session.execute(pair_rows).all()
    per_product: dict[int, int] = dict(
        db.session.execute(
            sa.select(case_product.c.product_id, sa.func.count())
            .join(universe, universe.c.case_id == case_product.c.case_id)
            .group_by(case_product.c.product_id)
        ).all()
    )
    per_pt: dict[int, int] = dict(
        db.session.execute(
            sa.select(case_pt.c.pt_code, sa.func.count())
            .join(universe, universe.c.case_id == case_pt.c.case_id)
            .group_by(case_pt.c.pt_code)
        ).all()
    )
    total = db.session.scalar(sa.select(sa.func.count()).select_from(universe)) or 0
    a = np.array([row.total for row in found], dtype=np.int64)
    product_total = np.array([per_product.get(row.product_id, 0) for row in found], dtype=np.int64)
    pt_total = np.array([per_pt.get(row.pt_code, 0) for row in found], dtype=np.int64)
    b, c = product_total - a, pt_total - a
    d = total - product_total - pt_total + a
    tables = statistics.disproportion(a, b, c, d)
    counts = np.array([row.in_period for row in found], dtype=np.int64)
    excess = statistics.trend(counts, [row.in_history for row in found])
    pairs = {}
    for i, row in enumerate(found):
        triggers = [
            name
            for name, fired in (
                ("prr", tables.prr_raised[i]),
                ("ror", tables.ror_raised[i]),
                ("ic", tables.ic_raised[i]),
                ("trend", excess.raised[i]),
            )
            if fired
        ]
        figures = {
            name: statistics.value(values[i])
            for name, values in (
                ("prr", tables.prr),
                ("chi2", tables.chi2),
                ("ror", tables.ror),
                ("ror_lower", tables.ror_lower),
                ("ror_upper", tables.ror_upper),
                ("ic", tables.ic),
                ("ic025", tables.ic025),
                ("baseline", excess.baseline),
                ("poisson_p", excess.poisson_p),
            )
        }
        pair = Pair(
            row.product_id,
            row.pt_code,
            row.soc_code,
            int(a[i]),
            int(b[i]),
            int(c[i]),
            int(d[i]),
            int(counts[i]),
            figures,
            triggers,
        )
        pairs[pair.key] = pair
    return pairs, int(total)


def pending_cases(known: Known, since: date) -> None:
    """Write into `known.pending` each case × product × PT with a qualitative trigger (fatal, a
    designated medical event, a serious reaction not listed) that is not linked to any signal of
    that product × PT yet: an anti-join over the cases known `since` the first run's period (a
    case coded late or made fatal by a follow-up is raised by the next run; the cases known before
    detection began were handled one by one, and do not all come back at its first run)."""
    connection = db.session.connection()
    listed = [
        {"product_id": product_id, "pt_code": int(code)}
        for product_id, codes in connection.execute(sa.select(Product.id, Product.listed_pt_codes))
        for code in set((codes or {}).values())
        if code
    ]
    if listed:
        connection.execute(known.listed.insert(), listed)
    case, case_product, case_pt, listed_pt = (
        known.case,
        known.case_product,
        known.case_pt,
        known.listed,
    )
    fatal = case.c.death.is_(True)
    dme = case_pt.c.pt_code.in_(sa.select(DesignatedMedicalEvent.pt_code))
    serious = case_pt.c.serious == 1
    unlisted = sa.and_(
        serious,
        ~sa.exists().where(
            listed_pt.c.product_id == case_product.c.product_id,
            listed_pt.c.pt_code == case_pt.c.pt_code,
        ),
    )
    linked = sa.exists().where(
        SignalCase.case_id == case_product.c.case_id,
        Signal.id == SignalCase.signal_id,
        Signal.product_id == case_product.c.product_id,
        Signal.pt_code == case_pt.c.pt_code,
    )
    connection.execute(
        known.pending.insert().from_select(
            ["case_id", "product_id", "pt_code", "fatal", "dme", "unlisted"],
            sa.select(
                case_product.c.case_id,
                case_product.c.product_id,
                case_pt.c.pt_code,
                fatal,
                dme,
                unlisted,
            )
            .join(case_pt, case_pt.c.case_id == case_product.c.case_id)
            .join(case, case.c.case_id == case_product.c.case_id)
            .where(case_product.c.aware_on >= since, sa.or_(fatal, dme, unlisted), ~linked),
        )
    )


def qualitative_triggers(known: Known, pairs: dict[tuple[int, int], Pair]) -> None:
    """Add the triggers of the cases not linked yet (`known.pending`) to their pairs."""
    pending = known.pending
    rows = db.session.execute(
        sa.select(
            pending.c.case_id,
            pending.c.product_id,
            pending.c.pt_code,
            pending.c.fatal,
            pending.c.dme,
            pending.c.unlisted,
        ).order_by(pending.c.case_id)
    )
    for case_id, product_id, pt_code, *fired in rows:
        pair = pairs[(product_id, pt_code)]  # tally keeps every pair with a pending case
        own = [name for name, on in zip(("fatal", "dme", "unlisted"), fired, strict=True) if on]
        for trigger in own:
            if trigger not in pair.triggers:
                pair.triggers.append(trigger)
        pair.cases.setdefault(case_id, own[0])


def link_cases(known: Known, raised: Sequence[Pair], period: Period) -> None:
    """Find the cases behind each raised pair: all its cases for a disproportion, the period's
    for a trend (those of a qualitative trigger are already found)."""
    wanted = [pair for pair in raised if set(pair.triggers) & set(QUANTITATIVE)]
    if not wanted:
        return
    case_product, case_pt = known.case_product, known.case_pt
    by_key = {pair.key: pair for pair in wanted}
    for chunk in chunks(list(by_key), CHUNK):
        rows = db.session.execute(
            sa.select(
                case_product.c.case_id,
                case_product.c.product_id,
                case_pt.c.pt_code,
                case_product.c.aware_on,
            )
            .join(case_pt, case_pt.c.case_id == case_product.c.case_id)
            .where(sa.tuple_(case_product.c.product_id, case_pt.c.pt_code).in_(chunk))
        )
        for case_id, product_id, pt_code, aware_on in rows:
            pair = by_key[(product_id, pt_code)]
            fired = [
                trigger
                for trigger in pair.triggers
                if trigger in ("prr", "ror", "ic")
                or (trigger == "trend" and aware_on >= period.start)
            ]
            if fired:
                current = pair.cases.get(case_id)
                pair.cases[case_id] = min(
                    [*fired, *([current] if current else [])], key=CASE_TRIGGER_ORDER.index
                )


def store_figures(session: Session, run_id: int, stored: Sequence[Pair]) -> None:
    """Insert the run's figures; those of raised pairs get their ids (signals point to them)."""
    columns = ("prr", "chi2", "ror", "ror_lower", "ror_upper", "ic", "ic025")

    def row(pair: Pair) -> dict[str, Any]:
        return {
            "run_id": run_id,
            "product_id": pair.product_id,
            "pt_code": pair.pt_code,
            "soc_code": pair.soc_code,
            "a": pair.a,
            "b": pair.b,
            "c": pair.c,
            "d": pair.d,
            **{name: pair.figures[name] for name in columns},
            "period_count": pair.period_count,
            "baseline": pair.figures["baseline"],
            "poisson_p": pair.figures["poisson_p"],
            "triggers": pair.triggers,
        }

    quiet = [row(pair) for pair in stored if not pair.triggers]
    for first in range(0, len(quiet), 5000):
        session.execute(sa.insert(SignalFigure), quiet[first : first + 5000])
    for pair in stored:
        if pair.triggers:
            figure = SignalFigure(**row(pair))
            session.add(figure)
            session.flush()
            pair.figure_id = figure.id


def open_or_join(
    session: Session,
    signal_run: SignalRun,
    period: Period,
    raised: Sequence[Pair],
    result: RunResult,
    actor: str,
) -> None:
    """Open a signal for each raised pair, join its open one, or raise a decided one on news."""
    if not raised:
        return
    latest = latest_signals(session, [pair.key for pair in raised])
    linked = linked_cases(session, [signal.id for signal in latest.values()])
    decided = {key: signal for key, signal in latest.items() if signal.status in DECIDED}
    since = runs_since(session, decided, period)
    now = signal_run.started_at
    for pair in raised:
        signal = latest.get(pair.key)
        if signal is not None and signal.status not in DECIDED:
            if join(session, signal, pair, linked[signal.id], period, now, actor):
                result.joined += 1
            continue
        anew = pair.triggers
        if signal is not None:
            anew = news(pair, signal, linked[signal.id], since[pair.key])
            if not anew:
                continue
        days = int(current_app.config["SIGNAL_VALIDATION_DAYS"])
        opened = Signal(
            product_id=pair.product_id,
            pt_code=pair.pt_code,
            soc_code=pair.soc_code,
            meddra_version=signal_run.meddra_version,
            status="new",
            triggers=list(pair.triggers),
            detected_at=now,
            detected_by_run_id=signal_run.id,
            latest_figure_id=pair.figure_id,
            validation_due_on=regulatory.china_date(now) + timedelta(days=days),
        )
        session.add(opened)
        session.flush()
        detail = pair.detail(period) | {"cases": len(pair.cases)}
        if signal is not None:
            detail |= {"raised_anew_by": anew, "previous_signal": signal.id}
        session.add(
            SignalStep(signal_id=opened.id, step="detected", at=now, by=actor, detail=detail)
        )
        add_cases(session, opened.id, pair.cases, now)
        result.opened += 1


def join(
    session: Session,
    signal: Signal,
    pair: Pair,
    linked: set[int],
    period: Period,
    now: datetime,
    actor: str,
) -> bool:
    """Add a pair's new cases and triggers to its open signal; return whether any was new."""
    signal.latest_figure_id = pair.figure_id
    new_cases = {case: trigger for case, trigger in pair.cases.items() if case not in linked}
    new_triggers = [trigger for trigger in pair.triggers if trigger not in signal.triggers]
    if not new_cases and not new_triggers:
        return False
    signal.triggers = [*signal.triggers, *new_triggers]
    detail = pair.detail(period) | {
        "cases_added": len(new_cases),
        "new_triggers": new_triggers,
    }
    session.add(
        SignalStep(signal_id=signal.id, step="cases_added", at=now, by=actor, detail=detail)
    )
    add_cases(session, signal.id, new_cases, now)
    return True


def news(pair: Pair, signal: Signal, linked: set[int], since: list[set[str]]) -> list[str]:
    """Return the triggers that raise a decided pair again: a qualitative one from a case not
    linked to its signal; a quantitative one the signal never had, or one that was not firing
    in a run of a period between the decision's and this one (it fell back and crossed anew)."""
    fresh = {trigger for case, trigger in pair.cases.items() if case not in linked}
    return [
        trigger
        for trigger in pair.triggers
        if (trigger in QUALITATIVE and trigger in fresh)
        or (
            trigger in QUANTITATIVE
            and (trigger not in signal.triggers or any(trigger not in run for run in since))
        )
    ]


def add_cases(session: Session, signal_id: int, cases: dict[int, str], at: datetime) -> None:
    if cases:
        session.execute(
            sa.insert(SignalCase),
            [
                {"signal_id": signal_id, "case_id": case, "trigger": trigger, "added_at": at}
                for case, trigger in sorted(cases.items())
            ],
        )


def latest_signals(session: Session, keys: list[tuple[int, int]]) -> dict[tuple[int, int], Signal]:
    """Return the newest signal of each product × PT that has one."""
    latest: dict[tuple[int, int], Signal] = {}
    for chunk in chunks(keys, CHUNK):
        query = (
            sa.select(Signal)
            .where(sa.tuple_(Signal.product_id, Signal.pt_code).in_(chunk))
            .order_by(Signal.id)
            .with_for_update()
        )
        for signal in session.scalars(query):
            latest[(signal.product_id, signal.pt_code)] = signal
    return latest


def linked_cases(session: Session, signal_ids: list[int]) -> defaultdict[int, set[int]]:
    linked: defaultdict[int, set[int]] = defaultdict(set)
    for chunk in chunks(signal_ids, CHUNK):
        rows = session.execute(
            sa.select(SignalCase.signal_id, SignalCase.case_id).where(
                SignalCase.signal_id.in_(chunk)
            )
        )
        for signal_id, case_id in rows:
            linked[signal_id].add(case_id)
    return linked


def runs_since(
    session: Session, decided: dict[tuple[int, int], Signal], period: Period
) -> dict[tuple[int, int], list[set[str]]]:
    """Return, for each decided pair, the triggers it had in each run of a period after the
    one its signal was decided on and before `period` (a pair a run did not store had none)."""
    decided_on = dict(
        session.execute(
            sa.select(SignalFigure.id, SignalRun.period_end)
            .join(SignalRun, SignalRun.id == SignalFigure.run_id)
            .where(SignalFigure.id.in_([s.latest_figure_id for s in decided.values()]))
        ).all()
    )
    runs = session.execute(
        sa.select(SignalRun.id, SignalRun.period_end).where(
            SignalRun.finished_at.is_not(None), SignalRun.period_end < period.end
        )
    ).all()
    between = {
        key: [
            run_id
            for run_id, period_end in runs
            if period_end > decided_on.get(signal.latest_figure_id or 0, date.min)
        ]
        for key, signal in decided.items()
    }
    wanted = sorted({run_id for run_ids in between.values() for run_id in run_ids})
    fired: dict[tuple[int, tuple[int, int]], set[str]] = {}
    for chunk in chunks(list(decided), CHUNK):
        rows = session.execute(
            sa.select(
                SignalFigure.run_id,
                SignalFigure.product_id,
                SignalFigure.pt_code,
                SignalFigure.triggers,
            ).where(
                SignalFigure.run_id.in_(wanted),
                sa.tuple_(SignalFigure.product_id, SignalFigure.pt_code).in_(chunk),
            )
        )
        for run_id, product_id, pt_code, triggers in rows:
            fired[(run_id, (product_id, pt_code))] = set(triggers or [])
    return {
        key: [fired.get((run_id, key), set()) for run_id in run_ids]
        for key, run_ids in between.items()
    }
