"""What the compliance tally's triggers add to a report's write: the same writes with and without.

In one transaction (rolled back), `--count` reports with a deadline are sent (their date sent
set: the tally's -1 and +1) and each is copied as a new report (an insert: +1), one statement a
report as the app writes them; then again with the triggers dropped in the transaction. The
difference divided by the reports is the upkeep per report. Best of `--repeat`.
Run: `.venv/bin/python -m bench.tally --instance FOLDER` (a SQLite database at 0024 or later),
`--url postgresql+psycopg://…`, or `--engine postgresql` (a throwaway cluster holding
`--reports` demo reports).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.review import ADR
from tests.postgres import Cluster

TRIGGERS = {
    "sqlite": ["DROP TRIGGER report_tally_insert", "DROP TRIGGER report_tally_update"],
    "postgresql": [
        "DROP TRIGGER report_tally ON report",
        "DROP TRIGGER report_tally_update ON report",
    ],
}


def writes(connection: sa.Connection, ids: list[int], columns: list[str]) -> tuple[float, float]:
    """Return the seconds the updates and the inserts took."""
    started = time.perf_counter()
    update = sa.text("UPDATE report SET submitted_to_regulator_on = :day WHERE id = :id")
    for report_id in ids:
        connection.execute(update, {"day": date(2099, 1, 1), "id": report_id})
    updated = time.perf_counter()
    kept = ", ".join(columns)
    copied = ", ".join(
        ":reference" if c in ("reference", "submission_token") else c for c in columns
    )
    insert = sa.text(f"INSERT INTO report ({kept}) SELECT {copied} FROM report WHERE id = :id")  # noqa: S608
    for number, report_id in enumerate(ids):
        connection.execute(insert, {"reference": f"ADR-209901-{number:06d}", "id": report_id})
    return updated - started, time.perf_counter() - updated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--instance", help="a folder holding adr.sqlite3")
    parser.add_argument("--url", help="a database URL instead")
    parser.add_argument("--engine", choices=("postgresql",), help="a throwaway cluster instead")
    parser.add_argument("--reports", type=int, default=20000, help="in the throwaway cluster")
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if args.engine:
        cluster = Cluster()
        try:
            with tempfile.TemporaryDirectory() as folder:
                url = cluster.create_database("tally")
                env = os.environ | {
                    "ADR_INSTANCE_PATH": folder,
                    "ADR_SQLALCHEMY_DATABASE_URI": url,
                    "ADR_MAIL_BACKGROUND": "false",
                }
                for command in (["db", "upgrade"], ["demo-data", "--reports", str(args.reports)]):
                    subprocess.run([ADR, *command], env=env, check=True, capture_output=True)  # noqa: S603
                measure(url, args.count, args.repeat)
        finally:
            cluster.destroy()
    else:
        measure(
            args.url or f"sqlite:///{Path(args.instance, 'adr.sqlite3')}", args.count, args.repeat
        )


def measure(url: str, count: int, repeat: int) -> None:
    """Print what the triggers add to `count` updates and inserts, best of `repeat`."""
    engine = sa.create_engine(url)
    if engine.dialect.name == "sqlite":  # pysqlite would commit the DROP TRIGGER at once

        @sa.event.listens_for(engine, "connect")
        def no_driver_transactions(dbapi_connection: Any, record: Any) -> None:
            dbapi_connection.isolation_level = None

        @sa.event.listens_for(engine, "begin")
        def begin(connection: sa.Connection) -> None:
            connection.exec_driver_sql("BEGIN")

    with engine.connect() as connection:
        ids = list(
            connection.scalars(
                sa.text("SELECT id FROM report WHERE due_at IS NOT NULL ORDER BY id DESC LIMIT :n"),
                {"n": count},
            )
        )
        columns = [
            c["name"] for c in sa.inspect(connection).get_columns("report") if c["name"] != "id"
        ]
    best: dict[bool, tuple[float, float]] = {}
    for _ in range(repeat):
        for triggers in (True, False):
            with engine.connect() as connection:
                transaction = connection.begin()
                if not triggers:
                    for statement in TRIGGERS[engine.dialect.name]:
                        connection.execute(sa.text(statement))
                took = writes(connection, ids, columns)
                transaction.rollback()
            best[triggers] = min(best.get(triggers, took), took, key=sum)
    engine.dispose()
    print(f"== compliance tally upkeep ({engine.dialect.name}, {len(ids)} reports) ==")
    for name, index in (("date sent set (update)", 0), ("report added (insert)", 1)):
        with_, without = best[True][index], best[False][index]
        extra = (with_ - without) / len(ids) * 1e6
        print(
            f"{name:<24} {with_ / len(ids) * 1e6:8.0f} µs with the triggers,"
            f" {without / len(ids) * 1e6:8.0f} µs without: {extra:+.0f} µs a report"
        )


if __name__ == "__main__":
    main()
