"""Substring search of reports through an index of the characters and pairs in their text.

Each report stores, once, every character and every pair of adjacent characters of its
searchable texts (patient and reporter names, reaction, the drugs' generic and brand names),
ASCII letters lower-cased, in `search_gram`, keyed to list newest first. A term of one or two
characters is a gram itself, read off the index in the list's order; a longer term needs all
its pairs, and its rarest pair leads to the few reports checked for the whole term. Two-
character Chinese names work, which trigram indexes (pg_trgm, SQLite FTS5) cannot do. A
batch number matches exactly, through the drug's own index; a reference, the report's.
"""

from __future__ import annotations

import string
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from adr import regulatory
from adr.extensions import db
from adr.models import Drug, Report, SearchGram

COUNT_LIMIT = 2000  # a search counts its matches up to here, then says "more than"
RARITY_LIMIT = 10_000  # postings counted to find a term's rarest pair; beyond, all are common
COUNTED_PAIRS = 12  # a long term's rarest pair is looked for among this many
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
NEWEST_FIRST = (Report.received_at.desc(), Report.id.desc())


def fold(text: str) -> str:
    """Lower-case ASCII letters only, as LIKE and lower() do on SQLite."""
    return text.translate(ASCII_LOWER)


def grams(text: str) -> set[str]:
    """Return the characters and the pairs of adjacent characters of `text`, folded."""
    folded = fold(text)
    return set(folded) | {folded[i : i + 2] for i in range(len(folded) - 1)}


def received_key(received_at: datetime) -> int:
    """Return the receipt time in microseconds since 1970: it sorts as received_at does."""
    return (received_at - EPOCH) // timedelta(microseconds=1)


def report_texts(report: Report) -> list[str | None]:
    """Return the texts a search looks into: names, reaction, the drugs' names."""
    drugs = [name for drug in report.drugs for name in (drug.generic_name, drug.brand_name)]
    return [report.patient_name, report.reporter_name, report.event_name, *drugs]


def index_rows(
    report_id: int, received_at: datetime, texts: Iterable[str | None]
) -> list[tuple[str, int, int]]:
    """Return the index rows of one report: (gram, received_key, report_id)."""
    key = received_key(received_at)
    found = set().union(*(grams(text) for text in texts if text))
    return [(gram, key, report_id) for gram in found]


INSERT_GRAMS = "INSERT INTO search_gram (gram, received_key, report_id)"
# PostgreSQL takes a report's forty rows as three arrays, in one statement, not forty.
GRAM_ARRAYS = " SELECT * FROM unnest(%s::varchar[], %s::bigint[], %s::integer[])"


def insert_rows(connection: sa.Connection, rows: list[tuple[str, int, int]]) -> None:
    """Insert index rows through the driver: SQLAlchemy's parameter handling would double the
    time demo data and the migration take, at some forty rows a report."""
    if not rows:
        return
    if connection.dialect.name == "postgresql":
        grams, keys, report_ids = (list(column) for column in zip(*rows, strict=True))
        connection.exec_driver_sql(INSERT_GRAMS + GRAM_ARRAYS, (grams, keys, report_ids))
    else:
        connection.exec_driver_sql(INSERT_GRAMS + " VALUES (?, ?, ?)", rows)


def index_report(session: Session, report: Report) -> None:
    """Index a report just flushed, inside the transaction that stores it."""
    insert_rows(
        session.connection(), index_rows(report.id, report.received_at, report_texts(report))
    )


def plain_term(text: str) -> str:
    """Return the term without the characters LIKE would read as wildcards or escapes."""
    return text.replace("\\", "").replace("%", "").replace("_", "")


def substring(term: str) -> sa.ColumnElement[bool]:
    """Match the term inside a name, a reaction or a drug's name, checked row by row."""
    like = f"%{term}%"
    drugs = sa.exists().where(  # correlated: the report's own drugs, by their index
        Drug.report_id == Report.id,
        sa.or_(Drug.generic_name.ilike(like), Drug.brand_name.ilike(like)),
    )
    return sa.or_(
        Report.patient_name.ilike(like),
        Report.reporter_name.ilike(like),
        Report.event_name.ilike(like),
        drugs,
    )


def postings(gram: str) -> int:
    """Return how many reports hold the gram, counted up to RARITY_LIMIT."""
    some = sa.select(SearchGram.report_id).where(SearchGram.gram == gram).limit(RARITY_LIMIT)
    return db.session.scalar(sa.select(sa.func.count()).select_from(some.subquery())) or 0


def matching(
    query: sa.Select[Any],
    text: str,
    since: datetime | None = None,
    until: datetime | None = None,
) -> sa.Select[Any]:
    """Narrow a select of reports to those the search text finds, newest first.

    A reference finds its report; other text, a patient or reporter name, a reaction or a
    drug's generic or brand name holding it (ASCII letters in any case; `%`, `_` and `\\`
    are ignored), and the reports naming it as a batch number (exactly, once upper-cased).
    `since` and `until` repeat the receipt times `query` is narrowed to (a month): the index
    is then read for those times only.
    """
    reference = regulatory.normalize_reference(text)
    if reference:
        return query.where(Report.reference == reference).order_by(*NEWEST_FIRST)
    term = plain_term(text)
    batch = sa.select(Drug.report_id).where(Drug.batch_number == text.upper())
    batch_named = db.session.scalar(batch.limit(1)) is not None
    if not term:  # nothing but wildcards: every report with a name matches, as before
        return query.where(sa.or_(substring(term), Report.id.in_(batch))).order_by(*NEWEST_FIRST)
    needed = term_grams(term)
    if len(needed) == 1 and not batch_named:  # an empty gram ends its scan at once: no count
        wanted = [(RARITY_LIMIT, needed.pop())]
    else:
        counted = sorted(needed)[:COUNTED_PAIRS]  # a long term is checked whole anyway
        wanted = sorted((postings(gram), gram) for gram in counted)
    if wanted[0][0] == 0 and not batch_named:
        return query.where(sa.false()).order_by(*NEWEST_FIRST)
    leading = SearchGram
    candidates = [leading.gram == wanted[0][1]]
    for _count, gram in wanted[1:2]:  # the next rarest pair, checked in the index
        other = aliased(SearchGram)
        candidates.append(
            sa.exists().where(
                other.gram == gram,
                other.received_key == leading.received_key,
                other.report_id == leading.report_id,
            )
        )
    if len(term) > 2:  # the pairs are there; the whole term may not be
        candidates.append(substring(term))
    if batch_named and wanted[0][0] < RARITY_LIMIT:
        # Two sources, each of few reports: the batch's and the term's, gathered here so that
        # the engine sorts them instead of reading every report newest first.
        ids = set(db.session.scalars(batch))
        if wanted[0][0]:
            by_term = sa.select(leading.report_id).join(Report, Report.id == leading.report_id)
            ids |= set(db.session.scalars(by_term.where(*candidates)))
        return query.where(Report.id.in_(ids)).order_by(*NEWEST_FIRST)
    if batch_named:  # a batch named by a common term: its matches fill a page soon enough
        return query.where(sa.or_(Report.id.in_(batch), substring(term))).order_by(*NEWEST_FIRST)
    # Read the rarest gram's reports in the index's order, newest first, until a page is full.
    if since:
        candidates.append(leading.received_key >= received_key(since))
    if until:
        candidates.append(leading.received_key < received_key(until))
    query = query.join(leading, leading.report_id == Report.id).where(*candidates)
    return query.order_by(leading.received_key.desc(), leading.report_id.desc())


def term_grams(term: str) -> set[str]:
    """Return the grams every report holding the term holds: itself if short, else its pairs."""
    folded = fold(term)
    if len(folded) <= 2:
        return {folded}
    return {folded[i : i + 2] for i in range(len(folded) - 1)}


def count_up_to(query: sa.Select[Any], limit: int) -> int:
    """Return how many rows the query selects, counted up to `limit`."""
    some = query.with_only_columns(Report.id).order_by(None).limit(limit).subquery()
    return db.session.scalar(sa.select(sa.func.count()).select_from(some)) or 0


def like_scan(text: str) -> sa.ColumnElement[bool]:
    """Match as the search did before the index, reading every report: the reference the
    tests and the benchmark compare with."""
    reference = regulatory.normalize_reference(text)
    if reference:
        return Report.reference == reference
    like = f"%{plain_term(text)}%"
    drugs = sa.select(Drug.report_id).where(
        sa.or_(
            Drug.generic_name.ilike(like),
            Drug.brand_name.ilike(like),
            Drug.batch_number == text.upper(),
        )
    )
    return sa.or_(
        Report.patient_name.ilike(like),
        Report.reporter_name.ilike(like),
        Report.event_name.ilike(like),
        Report.id.in_(drugs),
    )
