"""Batch clusters (批号聚集): one batch of a product named by several cases, a quality signal (a
defect, a counterfeit). Not a group adverse event (药品群体不良事件, Order 81 Art. 27–28), which
`adr.signals.group_events` opens from one product's cases in one area within days.

A case counts for a batch when one of its reports names the batch on a suspect drug matched to
the company's product, and the company knew of that report (its `aware_on`, day 0's date)
within the last `BATCH_ALERT_DAYS` China days, today included. Cases, not reports: a follow-up
is the same patient. Cases staff marked duplicate or invalid do not count. The date the company
knew, not the onset, because it is the date a signal can be seen: it is always there, set by
the company, never changed by a later report, and a late report of an old reaction is news
when it arrives (an onset window would file it in a past no alert can reach any more).

When a stored report brings a batch's count to `BATCH_ALERT_COUNT`, the safety inbox gets one
mail, and one more each time the count doubles (3, 6, 12, …); a `BatchAlert` row per level,
unique, says it was sent, in the report's own transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from adr import batch_tally, mailer, regulatory
from adr.extensions import db
from adr.models import (
    Batch,
    BatchAlert,
    BatchTally,
    BatchWindow,
    Drug,
    OutboxMail,
    Product,
    Report,
    lock_products,
    write_transaction,
)
from adr.products import RegisteredBatch, registered_batch

DASHBOARD_CLUSTERS = 10  # batches the dashboard lists; the batch table has them all


def alert_settings() -> tuple[int, int]:
    """Return the threshold and the window in days (`create_app` checked both are at least 1)."""
    config = current_app.config
    return int(config["BATCH_ALERT_COUNT"]), int(config["BATCH_ALERT_DAYS"])


def window_start(days: int, today: date | None = None) -> date:
    """Return the first day of a window of `days` China days ending today."""
    return (today or regulatory.china_today()) - timedelta(days=days - 1)


def alert_level(count: int, threshold: int) -> int | None:
    """Return the highest of threshold, twice it, four times… that `count` reached, if any."""
    if count < threshold:
        return None
    level = threshold
    while level * 2 <= count:
        level *= 2
    return level


@dataclass(frozen=True)
class BatchCase:
    """A case naming the batch: the report that named it first in the window."""

    reference: str
    aware_on: date
    serious: bool
    death: bool


@dataclass(frozen=True)
class Cluster:
    """The cases naming one batch of a product within the window, earliest first."""

    product: Product
    batch_number: str
    registered: RegisteredBatch | None
    since: date
    days: int
    cases: list[BatchCase]

    @property
    def serious(self) -> int:
        return sum(case.serious for case in self.cases)

    @property
    def deaths(self) -> int:
        return sum(case.death for case in self.cases)


# A batch's copied cases known in the window (a case is copied with the last day the company
# knew of a report of it naming the batch), by its key: the statements below, built once, take
# the batch's product_id, batch_number and the window's first day, since.
_COPIED = batch_tally.cases_t.c
IN_WINDOW = (
    _COPIED.product_id == sa.bindparam("product_id"),
    _COPIED.batch_number == sa.bindparam("batch_number"),
    _COPIED.known_on >= sa.bindparam("since"),
)
COUNTED = sa.select(sa.func.count()).where(*IN_WINDOW)
_TALLIED = batch_tally.tally_t.c
TALLIED = sa.select(_TALLIED.window_cases).where(  # the same, kept by the tally
    _TALLIED.product_id == sa.bindparam("product_id"),
    _TALLIED.batch_number == sa.bindparam("batch_number"),
)
NAMING = (  # each case's reports in the window that name the batch, the first first
    sa.select(Report.case_id, Report.reference, Report.aware_on, _COPIED.serious, _COPIED.death)
    .select_from(batch_tally.cases_t)
    .join(Report, Report.case_id == _COPIED.case_id)
    .join(Drug, Drug.report_id == Report.id)
    .where(
        *IN_WINDOW,
        Drug.role == "suspect",
        Drug.product_id == sa.bindparam("product_id"),
        Drug.batch_number == sa.bindparam("batch_number"),
        Report.aware_on >= sa.bindparam("since"),
    )
    .order_by(Report.aware_on, Report.id)
)
ALERTED = sa.select(BatchAlert.id).where(
    BatchAlert.product_id == sa.bindparam("product_id"),
    BatchAlert.batch_number == sa.bindparam("batch_number"),
    BatchAlert.level == sa.bindparam("level"),
)


def cases_naming(product_id: int, batch_number: str, since: date) -> list[BatchCase]:
    """Return the cases that count for one batch in the window, each once, by the report that
    named it first there: from the batch's copied cases (`adr.batch_tally`), by its key."""
    rows = db.session.execute(
        NAMING, {"product_id": product_id, "batch_number": batch_number, "since": since}
    )
    first: dict[int, BatchCase] = {}
    for case_id, reference, aware_on, serious, death in rows:
        first.setdefault(case_id, BatchCase(reference, aware_on, serious, death))
    return list(first.values())


def check_batches(session: Session, report: Report) -> None:
    """Mail the safety inbox for each batch the new report names that reached a new level.

    Runs in the report's write transaction, after it is flushed and its case derived. The
    products' rows are locked first, so that on PostgreSQL two reports on one product count
    one after the other (the second sees the first once it commits) and neither misses the
    level. The audit chain's advisory lock serialises stored reports today as well; the
    count does not rely on it. SQLite's BEGIN IMMEDIATE serialises writers already.
    """
    named = sorted(
        {
            (drug.product_id, drug.batch_number)
            for drug in report.drugs
            if drug.role == "suspect" and drug.product_id and drug.batch_number
        }
    )
    if not named:
        return
    lock_products(session, (product_id for product_id, _batch in named))
    threshold, days = alert_settings()
    since = window_start(days)
    batch_tally.keep_tally(session)  # this report's case copied among the batches' cases
    # On the connection, without the ORM's execution and autoflush: the cases are counted from
    # Core's rows (the tally's, or the cases' copies), and a batch's alert is looked for before
    # any of its own is added below.
    connection = session.connection()
    # The tally counts the window from the day it was last moved to (by the day's first reader
    # of the batch table or the dashboard): one row, where a scare's cases would be counted one
    # by one. Counted by their copies' key until the window is moved to today.
    counted = TALLIED if batch_tally.stored_since(connection) == since else COUNTED
    for product_id, batch_number in named:
        key = {"product_id": product_id, "batch_number": batch_number, "since": since}
        # The cases are read for a level's mail only.
        level = alert_level(connection.scalar(counted, key) or 0, threshold)
        if level is None or connection.scalar(ALERTED, key | {"level": level}):
            continue
        product = session.get(Product, product_id)
        assert product is not None  # the drug's foreign key, locked above
        registered = registered_batch(session, product_id, batch_number)
        cases = cases_naming(product_id, batch_number, since)
        cluster = Cluster(product, batch_number, registered, since, days, cases)
        mail = alert_mail(cluster, level, threshold)
        session.add(mail)
        session.flush()
        session.add(
            BatchAlert(
                product_id=product_id,
                batch_number=batch_number,
                level=level,
                at=datetime.now(UTC),
                outbox_mail_id=mail.id,
            )
        )


def product_name(product: Product) -> str:
    """Return a product as staff name it: generic name, [brand], approval number."""
    brand = f"[{product.brand_name}]" if product.brand_name else ""
    return " ".join(part for part in (product.generic_name, brand, product.approval_number) if part)


def batch_list_url(batch_number: str) -> str:
    """Return the address of the staff list filtered by a batch, for mails."""
    base = current_app.config["BASE_URL"].rstrip("/")
    return f"{base}/staff/reports?batch={quote(batch_number, safe='')}"


def alert_mail(cluster: Cluster, level: int, threshold: int) -> OutboxMail:
    """Return the safety inbox's alert for a batch that reached `level` cases."""
    config = current_app.config
    language = config["MAIL_LANGUAGE"]
    with force_locale(language):
        colon = ": " if language == "en" else "："
        count = len(cluster.cases)
        context: dict[str, Any] = {
            "subject": _(
                "Batch alert: %(product)s batch %(batch)s, %(count)s cases in %(days)s days",
                product=cluster.product.generic_name,
                batch=cluster.batch_number,
                count=count,
                days=cluster.days,
            ),
            "cluster": cluster,
            "product": product_name(cluster.product),
            "count": count,
            "level": level,
            "doubled": level > threshold,
            "colon": colon,
            "list_url": batch_list_url(cluster.batch_number),
            "batches_url": config["BASE_URL"].rstrip("/") + "/staff/batches",
        }
        return mailer.rendered_mail("batch_alert", config["SAFETY_INBOX"], context)


@dataclass(frozen=True)
class BatchRow:
    """One line of the batch table: a batch of a product and the cases naming it."""

    product: Product
    batch_number: str
    in_window: int
    all_time: int
    serious: int  # cases, in the period the table is ranked by
    deaths: int
    last_known_on: date  # the last day the company knew of a report naming it
    registered: Batch | None
    alert_levels: list[int]


def count_window(since: date) -> None:
    """Make the tally count the window from `since`, once a day (or when the settings change)."""
    if db.session.scalar(sa.select(BatchWindow.since)) != since:
        with write_transaction() as session:
            batch_tally.move_window(session.connection(), since)


def batch_rows(
    since: date,
    all_time: bool,
    limit: int,
    offset: int = 0,
    at_least: int = 1,
    among: sa.Select[Any] | None = None,
) -> list[BatchRow]:
    """Return the batches with the most cases since `since` (or ever, `all_time`), most first.

    Counted from the tally (`adr.batch_tally`) by its index. `among`, batch numbers, narrows
    the table to them.
    """
    count_window(since)
    tally = BatchTally
    ranked_by = (
        (tally.cases, tally.serious, tally.deaths, tally.last_known_on)
        if all_time
        else (
            tally.window_cases,
            tally.window_serious,
            tally.window_deaths,
            tally.window_last_known_on,
        )
    )
    cases, serious, deaths, last_known_on = ranked_by
    query = (
        sa.select(tally, serious, deaths, last_known_on)
        .where(cases >= max(at_least, 1))
        .order_by(cases.desc(), last_known_on.desc(), tally.batch_number, tally.product_id)
        .limit(limit)
        .offset(offset)
    )
    if among is not None:
        query = query.where(tally.batch_number.in_(among))
    ranked = db.session.execute(query).all()
    if not ranked:
        return []
    pairs = [(row.BatchTally.product_id, row.BatchTally.batch_number) for row in ranked]
    batch_numbers = sorted({batch for _product, batch in pairs})
    products = {
        p.id: p
        for p in db.session.scalars(
            sa.select(Product).where(Product.id.in_({p for p, _b in pairs}))
        )
    }
    registered = {
        (b.product_id, b.batch_number): b
        for b in db.session.scalars(sa.select(Batch).where(Batch.batch_number.in_(batch_numbers)))
    }
    levels: dict[tuple[int, str], list[int]] = {}
    for alert in db.session.scalars(
        sa.select(BatchAlert)
        .where(BatchAlert.batch_number.in_(batch_numbers))
        .order_by(BatchAlert.level)
    ):
        levels.setdefault((alert.product_id, alert.batch_number), []).append(alert.level)
    rows = []
    for (counted, row_serious, row_deaths, row_last), pair in zip(ranked, pairs, strict=True):
        assert row_last is not None  # a batch ranked has a case in the period
        rows.append(
            BatchRow(
                product=products[counted.product_id],
                batch_number=counted.batch_number,
                in_window=counted.window_cases,
                all_time=counted.cases,
                serious=row_serious,
                deaths=row_deaths,
                last_known_on=row_last,
                registered=registered.get(pair),
                alert_levels=levels.get(pair, []),
            )
        )
    return rows


@dataclass(frozen=True)
class Clusters:
    """The batches at or above the alert threshold within the window, for the dashboard."""

    rows: list[BatchRow]
    more: bool  # more than the rows shown
    threshold: int
    days: int
    since: date


def batches_above_threshold(limit: int = DASHBOARD_CLUSTERS) -> Clusters:
    """Return up to `limit` batches at or above the threshold within the window, most first.

    Only batches an alert was ever mailed for are listed: a batch reaches the threshold
    through a stored report, which mails the alert. A batch that is above the
    threshold only because the threshold was lowered, or a duplicate mark lifted, shows here
    once its next report arrives.
    """
    threshold, days = alert_settings()
    since = window_start(days)
    alerted = sa.select(BatchAlert.batch_number)
    rows = batch_rows(since, False, limit + 1, at_least=threshold, among=alerted)
    return Clusters(rows[:limit], len(rows) > limit, threshold, days, since)
