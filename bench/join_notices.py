"""The sender's notice of cases that joined a group event, while a scare fills the event.

Each pass of a sender asks which events have members not mailed yet, locks each such event and
reads its new members (`adr.signals.group_events.queue_join_notices`). Here one event holds
`--members` cases, the last 10 not mailed yet, beside 39 events of 50 cases all mailed and one
opened before events kept a marker (migration 0027); the pass's three statements are timed
(median of `--repeat`) on a SQLite file and on a PostgreSQL cluster of their own. Their cost
should follow the members not mailed, not the members.
Run: `.venv/bin/python -m bench.join_notices [--members 1000 30000 100000] [--repeat 30]`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

sys.path.append(str(Path(__file__).resolve().parent.parent))  # bench, tests: run as a file

from adr import create_app
from adr.extensions import db
from adr.models import Case, GroupEvent, GroupEventCase, Product
from adr.signals.group_events import (
    JOINED_UNMAILED,
    LAST_JOINED,
    UNMAILED_EVENT,
    WITH_JOINS_UNMAILED,
)
from tests.conftest import amoxicillin
from tests.postgres import Cluster, server_binaries

EVENTS, SMALL, NEW_MEMBERS = 40, 50, 10
OPENED = datetime(2026, 11, 1, tzinfo=UTC)


def fill(members: int) -> None:
    """Store the events and their cases: the scare's first, the old event without a marker last."""
    session = db.session
    session.add(amoxicillin())
    session.flush()
    product_id = session.scalar(sa.select(Product.id))
    sizes = [members] + [SMALL] * (EVENTS - 1)
    session.execute(sa.insert(Case), [{"status": "received"}] * sum(sizes))
    session.execute(
        sa.insert(GroupEvent),
        [
            {
                "product_id": product_id,
                "kind": "batch",
                "opened_at": OPENED,
                "known_on": date(2026, 11, 1),
                "investigation_due_on": date(2026, 11, 8),
            }
            for _ in sizes
        ],
    )
    case_ids = iter(session.scalars(sa.select(Case.id).order_by(Case.id)).all())
    event_ids = session.scalars(sa.select(GroupEvent.id).order_by(GroupEvent.id)).all()
    rows = []
    for event_id, size in zip(event_ids, sizes, strict=True):
        old = event_id == event_ids[-1]  # all its cases joined at the opening
        rows += [
            {
                "group_event_id": event_id,
                "case_id": next(case_ids),
                "added_at": OPENED if old else OPENED + timedelta(seconds=n + 1),
            }
            for n in range(size)
        ]
    session.execute(sa.insert(GroupEventCase), rows)
    session.execute(  # every event mailed through its last member, but the old one
        sa.update(GroupEvent)
        .where(GroupEvent.id != event_ids[-1])
        .values(mailed_through=LAST_JOINED)
    )
    session.execute(
        sa.update(GroupEvent)
        .where(GroupEvent.id == event_ids[0])
        .values(mailed_through=GroupEvent.mailed_through - NEW_MEMBERS)
    )
    session.commit()
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")


def timed_pass(event_id: int) -> tuple[float, float, float]:
    """Return the milliseconds of each of the pass's statements, the event locked and released."""
    took = []
    session = db.session
    for statement, params in (
        (WITH_JOINS_UNMAILED, {}),
        (UNMAILED_EVENT, {"event_id": event_id}),
        (JOINED_UNMAILED, {"event_id": event_id}),
    ):
        started = time.perf_counter()
        rows = session.execute(statement, params).all()
        took.append((time.perf_counter() - started) * 1000)
        assert rows, "every statement finds the scare's event or its new members"
    session.rollback()
    return took[0], took[1], took[2]


def measure(uri: str, members: int, repeat: int) -> list[float]:
    """Fill a database at `uri` and return the median milliseconds of the three statements."""
    with tempfile.TemporaryDirectory() as folder:
        os.environ["ADR_INSTANCE_PATH"] = folder
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": uri.format(folder=folder),
                "SECRET_KEY": "the benchmark's secret key, long enough for production",
                "MAIL_BACKGROUND": False,
                "LOG_LEVEL": "WARNING",
            }
        )
        with app.app_context():
            db.create_all()
            fill(members)
            event_id = db.session.scalar(sa.select(sa.func.min(GroupEvent.id)))
            timed_pass(event_id)  # statements prepared, pages cached
            runs = [timed_pass(event_id) for _ in range(repeat)]
            db.engine.dispose()
    return [statistics.median(run[n] for run in runs) for n in range(3)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, nargs="+", default=[1_000, 30_000, 100_000])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    print(
        "== a sender's pass over group events, ms (median): the events with joins not mailed "
        "+ the event locked + its members not mailed =="
    )
    engines = {"sqlite": "sqlite:///{folder}/adr.sqlite3"}
    cluster = Cluster() if server_binaries() else None
    try:
        for members in args.members:
            if cluster:
                engines["postgresql"] = cluster.create_database(f"adr_joins_{members}")
            for engine, uri in engines.items():
                events, event, joined = measure(uri, members, args.repeat)
                print(
                    f"{engine:<10} {members:>7} members: {events:6.2f} + {event:6.2f} + "
                    f"{joined:6.2f} = {events + event + joined:6.2f} ms",
                    flush=True,
                )
    finally:
        if cluster:
            cluster.destroy()
    if not cluster:
        print("postgresql SKIPPED: initdb and pg_ctl were not found")


if __name__ == "__main__":
    main()
