"""The batch tally: the cases each batch of a product counts, kept in the writer's transaction.

`BatchCase` holds one row per case that counts for a batch (see `adr.batches`), `BatchTally` a
batch's counts, ever and within the alert window, so that the batch table and the dashboard
rank batches by an index instead of joining every drug. A transaction that adds, changes or
deletes what they copy (a drug's role, product or batch, a report's case or day known, a case's
status, seriousness or death) recounts the cases it touched just before it commits, whatever
the path: the public form, staff entry, triage, follow-ups, corrections, relinks, merges and
markings all change them through the ORM, whose flushes note the cases. A case new to the
tally adds its counts to its batches' instead (a new report's case: no batch counted again).
The window moves with the days: the first reader of a new day (or of changed settings)
recounts the batches whose cases entered or left it. A bulk statement that goes round the ORM
must call `recount_cases` (or `rebuild`) itself, as the demo data does.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from itertools import chain
from typing import Any, TypeAlias

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from adr import regulatory
from adr.models import (
    BatchCase,
    BatchTally,
    BatchWindow,
    Case,
    Drug,
    Product,
    Report,
    at_hand,
    chunks,
    transaction_notes,
)

COPIED = {Case: ("status", "serious", "death"), Report: ("case_id", "aware_on")}
COPIED_DRUG = ("role", "product_id", "batch_number", "report_id")
Pairs: TypeAlias = "list[tuple[int, str]] | sa.Select[*tuple[Any, ...]]"

cases_t: sa.Table = BatchCase.__table__  # type: ignore[assignment]
tally_t: sa.Table = BatchTally.__table__  # type: ignore[assignment]
window_t: sa.Table = BatchWindow.__table__  # type: ignore[assignment]


def case_rows(case_ids: sa.ColumnElement[bool] | None) -> sa.Select[*tuple[Any, ...]]:
    """Return the `BatchCase` rows of the cases chosen (all: None), from the reports' drugs."""
    query = (
        sa.select(
            Drug.product_id,
            Drug.batch_number,
            Report.case_id,
            sa.func.max(Report.aware_on),
            Case.serious,
            Case.death,
        )
        .join(Drug, Drug.report_id == Report.id)
        .join(Case, Case.id == Report.case_id)
        .where(
            Drug.role == "suspect",
            Drug.product_id.is_not(None),
            Drug.batch_number.is_not(None),
            Case.status.not_in(regulatory.NOT_FOR_REGULATOR),
        )
        .group_by(Drug.product_id, Drug.batch_number, Report.case_id, Case.serious, Case.death)
    )
    return query if case_ids is None else query.where(case_ids)


def tally_rows(since: date | Any | None, pairs: Pairs | Any | None) -> sa.Select[*tuple[Any, ...]]:
    """Return the `BatchTally` rows of the batches chosen (all: None), counted from `BatchCase`."""
    c = cases_t.c
    in_window = c.known_on >= since if since is not None else sa.false()

    def count(*conditions: Any) -> Any:
        return sa.func.coalesce(sa.func.sum(sa.case((sa.and_(*conditions), 1), else_=0)), 0)

    query = sa.select(
        c.product_id,
        c.batch_number,
        sa.func.count(),
        count(c.serious),
        count(c.death),
        sa.func.max(c.known_on),
        count(in_window),
        count(in_window, c.serious),
        count(in_window, c.death),
        sa.func.max(sa.case((in_window, c.known_on))),
    ).group_by(c.product_id, c.batch_number)
    return query if pairs is None else query.where(chosen(c, pairs))


def chosen(columns: Any, pairs: Pairs | Any) -> sa.ColumnElement[bool]:
    return sa.tuple_(columns.product_id, columns.batch_number).in_(pairs)


CASE_IDS: Any = sa.bindparam("case_ids", expanding=True)
PAIRS: Any = sa.bindparam("pairs", expanding=True)
# The statements of a stored report's transaction, built once.
NAMED = sa.select(cases_t.c.product_id, cases_t.c.batch_number).where(
    cases_t.c.case_id.in_(CASE_IDS)
)
LOCK_NAMED = (
    sa.select(Product.id)
    .where(
        Product.id.in_(
            sa.union(
                sa.select(cases_t.c.product_id).where(cases_t.c.case_id.in_(CASE_IDS)),
                case_rows(Report.case_id.in_(CASE_IDS)).with_only_columns(Drug.product_id),
            )
        )
    )
    .order_by(Product.id)
    .with_for_update(key_share=True)
)
DROP_CASES = sa.delete(cases_t).where(cases_t.c.case_id.in_(CASE_IDS))
COPY_CASES = (
    sa.insert(cases_t)
    .from_select(list(cases_t.c), case_rows(Report.case_id.in_(CASE_IDS)))
    .returning(cases_t.c.product_id, cases_t.c.batch_number)
)
DROP_COUNTS = sa.delete(tally_t).where(chosen(tally_t.c, PAIRS))
COUNT = sa.insert(tally_t).from_select(
    list(tally_t.c), tally_rows(sa.bindparam("since", type_=sa.Date), PAIRS)
)
STORED_SINCE = sa.select(window_t.c.since)


def adding(insert: Any, greatest: Any) -> Any:
    """Return `insert` (PostgreSQL's or SQLite's) of the tally rows of the chosen cases' copies,
    added to the batches' rows already counted: cases that had no copy, so counted nowhere."""
    new = tally_rows(STORED_SINCE.scalar_subquery(), None).where(cases_t.c.case_id.in_(CASE_IDS))
    insert = insert(tally_t).from_select(list(tally_t.c), new)
    old, more = tally_t.c, insert.excluded

    def later(name: str) -> Any:  # the later day, either NULL (SQLite's max() would be NULL)
        a, b = old[name], more[name]
        return greatest(sa.func.coalesce(a, b), sa.func.coalesce(b, a))

    counts = ("cases", "serious", "deaths", "window_cases", "window_serious", "window_deaths")
    added = {name: old[name] + more[name] for name in counts}
    return insert.on_conflict_do_update(
        index_elements=[old.product_id, old.batch_number],
        set_=added | {name: later(name) for name in ("last_known_on", "window_last_known_on")},
    )


ADD_COUNTS = {
    "postgresql": adding(postgresql_insert, sa.func.greatest),
    "sqlite": adding(sqlite_insert, sa.func.max),
}


def recount(connection: sa.Connection, pairs: Pairs, since: date | None) -> None:
    """Count the batches chosen again from `BatchCase` (one with no case left goes)."""
    if not isinstance(pairs, list):  # rows the delete would take from under the subquery
        pairs = [tuple(row) for row in connection.execute(pairs)]
    for some in chunks(pairs):
        connection.execute(DROP_COUNTS, {"pairs": some})
        connection.execute(COUNT, {"pairs": some, "since": since})


def stored_since(connection: sa.Connection) -> date | None:
    return connection.scalar(STORED_SINCE)


def recount_cases(
    connection: sa.Connection, case_ids: Iterable[int], uncopied: Iterable[int] = ()
) -> None:
    """Copy the cases' rows again and recount the batches they named before or name now.

    `uncopied`: cases known to have no copy yet (inserted in this transaction, not yet
    counted), whose copies are not read.
    """
    uncopied = set(uncopied)
    for chunk in chunks(sorted(set(case_ids))):
        chosen_cases = {"case_ids": chunk}
        if connection.dialect.name == "postgresql":  # SQLite's writers are serialised already
            connection.execute(LOCK_NAMED, chosen_cases).all()
        before = (
            set()
            if uncopied.issuperset(chunk)
            else {tuple(row) for row in connection.execute(NAMED, chosen_cases)}
        )
        if before:
            connection.execute(DROP_CASES, chosen_cases)
        after = {tuple(row) for row in connection.execute(COPY_CASES, chosen_cases)}
        if not before and after:  # new to the tally (a new case): its counts are added
            connection.execute(ADD_COUNTS[connection.dialect.name], chosen_cases)
        elif before or after:
            recount(connection, sorted(before | after), stored_since(connection))


def rebuild(connection: sa.Connection) -> None:
    """Copy every case and count every batch again (the migration's backfill, the demo data)."""
    connection.execute(sa.delete(tally_t))
    connection.execute(sa.delete(cases_t))
    connection.execute(sa.insert(cases_t).from_select(list(cases_t.c), case_rows(None)))
    connection.execute(
        sa.insert(tally_t).from_select(list(tally_t.c), tally_rows(stored_since(connection), None))
    )


def move_window(connection: sa.Connection, since: date) -> None:
    """Count the window from `since`: recount the batches whose cases entered or left it.

    The window's row is locked first, then every product: a reader that waited finds the
    window moved, and a report being stored counts its batches before or after, never during.
    """
    connection.execute(sa.select(window_t.c.since).with_for_update()).all()
    lock_products(connection)
    before = stored_since(connection)
    if before == since:
        return
    known_on = cases_t.c.known_on
    if before is None:
        moved = sa.or_(known_on >= since, chosen(cases_t.c, window_pairs()))
    else:
        moved = sa.and_(known_on >= min(before, since), known_on < max(before, since))
    pairs = sa.select(cases_t.c.product_id, cases_t.c.batch_number).where(moved).distinct()
    if not connection.execute(sa.update(window_t).values(since=since)).rowcount:
        connection.execute(sa.insert(window_t).values(id=1, since=since))
    recount(connection, pairs, since)


def window_pairs() -> sa.Select[*tuple[Any, ...]]:
    return sa.select(tally_t.c.product_id, tally_t.c.batch_number).where(tally_t.c.window_cases > 0)


def lock_products(connection: sa.Connection) -> None:
    """Lock every product's row, in id order, before their batches are counted again.

    On PostgreSQL two writers counting one batch would each delete its row and insert their
    own; the second waits here instead, and counts once the first committed. FOR NO KEY
    UPDATE, as `adr.batches.check_batches` does: the drugs' foreign keys hold key-share locks.
    SQLite's BEGIN IMMEDIATE serialises writers already.
    """
    connection.execute(
        sa.select(Product.id).order_by(Product.id).with_for_update(key_share=True)
    ).all()


# transaction_notes: the cases and reports flushed since the last count, and the cases among them
# inserted since (none of their rows is copied yet)
PENDING = "batch_tally"


@sa.event.listens_for(Session, "after_flush")
def note_touched(session: Session, _context: Any) -> None:
    """Note the cases (or the reports of the drugs) whose batch rows the flush may change."""
    case_ids, report_ids, inserted = pending(session)
    created = set(chain(session.new, session.deleted))
    for obj in chain(created, session.dirty):
        state = sa.inspect(obj)
        if isinstance(obj, Drug):
            if obj in created or changed(state, COPIED_DRUG):
                report = at_hand(obj, "report")  # its case at hand, or to be read
                if report is None:
                    report_ids.add(obj.report_id)
                else:
                    case_ids.add(report.case_id)
                report_ids.update(state.attrs.report_id.history.deleted or ())
        elif isinstance(obj, Report | Case) and (
            obj in created or changed(state, COPIED[type(obj)])
        ):
            if isinstance(obj, Case):
                case_ids.add(obj.id)
                if obj in session.new:
                    inserted.add(obj.id)
            else:
                case_ids.add(obj.case_id)
                case_ids.update(state.attrs.case_id.history.deleted or ())
    if not (case_ids or report_ids):
        del transaction_notes(session)[PENDING]


def pending(session: Session) -> tuple[set[int], set[int], set[int]]:
    """Return what the transaction noted since the last count: cases, reports, new cases."""
    return transaction_notes(session).setdefault(PENDING, (set(), set(), set()))


def note_inserted_case(session: Session, case_id: int) -> None:
    """Note a new case inserted with its report without the flush (`models.insert_new`)."""
    case_ids, _report_ids, inserted = pending(session)
    case_ids.add(case_id)
    inserted.add(case_id)


def changed(state: Any, names: Iterable[str]) -> bool:
    return any(state.attrs[name].history.has_changes() for name in names)


@sa.event.listens_for(Session, "before_commit", insert=True)
def keep_tally(session: Session) -> None:
    """Recount, in the transaction about to commit, the batches of every case it touched.

    At the commit, not at each flush: the last changes are flushed first. Before the audit
    trail's entries are chained (`audit.append_pending`), which locks the chain to the commit.
    The batch alert calls it earlier as well, to count a stored report's case
    (`adr.batches.check_batches`); the commit then recounts only what changed since.
    """
    notes = transaction_notes(session)
    if PENDING not in notes:
        return
    session.flush()
    case_ids, report_ids, inserted = notes.pop(PENDING)
    connection = session.connection()
    report_ids.discard(None)
    if report_ids:
        by_report = sa.select(Report.case_id).where(Report.id.in_(sorted(report_ids)))
        case_ids.update(connection.scalars(by_report))
    case_ids.discard(None)
    if case_ids:
        recount_cases(connection, case_ids, uncopied=inserted)
