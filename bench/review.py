"""Review: the staff list, its searches and the case pages with a million reports.

Demo reports are spread over 24 months; a reviewer signs in; each page is asked for
repeatedly through the app (Flask's test client, a real SQLite file or, with
`--engine postgresql`, a throwaway PostgreSQL cluster) and timed. The size of the search
index is printed beside the database's.
Run: `make bench` (or `.venv/bin/python -m bench.review --reports 1000000 [--engine postgresql]`;
`--folder DIR` keeps a SQLite database there and reuses it on the next run;
`--engine postgresql --from-sqlite DIR` copies that SQLite database's rows into the cluster
instead of generating reports, much faster at a million; `--url URL` times an existing
database, upgraded first, and generates reports only if it has none; `--pages list search`
times only the pages whose names start so).
The signal list needs a detection run: when no run is stored, the last complete month's runs once;
the periodic page its stored figures: when none are stored, `adr periodic figures` runs once.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import sqlalchemy as sa

from adr import accounts, create_app, regulatory, search
from adr.extensions import db
from adr.models import Drug, PeriodicFigures, Report, SignalRun
from adr.review.queries import Filters, report_query
from bench.load import database
from tests.conftest import app_config, hidden_inputs

ADR = str(Path(sys.executable).with_name("adr"))
MONTHS = 24
PASSWORD = "benchmark password"  # noqa: S105 - a throwaway account in a temporary database


def months_back(count: int) -> list[str]:
    now = datetime.now(regulatory.CHINA)
    year, month = now.year, now.month
    result = []
    for _ in range(count):
        result.append(f"{year}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return result


def timed(client, path: str, repeat: int) -> tuple[float, float]:
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(path)
        timings.append(time.perf_counter() - started)
        assert response.status_code == 200, (path, response.status_code)
    timings.sort()
    return statistics.median(timings) * 1000, timings[int(len(timings) * 0.95) - 1] * 1000


def search_terms() -> dict[str, str]:
    """Return the searches to time, by name; the terms depend on the demo data generated."""
    two = db.session.scalar(
        sa.select(Report.patient_name)
        .where(sa.func.length(Report.patient_name) == 2)
        .order_by(Report.id.desc())
        .limit(1)
    )
    batch = db.session.scalar(
        sa.select(Drug.batch_number).where(Drug.batch_number.is_not(None)).limit(1)
    )
    return {
        "皮疹": "皮疹",
        "王": "王",
        f"two-char name {two}": two or "",
        "three chars, no match": "王伟芳",  # its pairs are common, the three together rare
        "rare char 缩": "缩",  # only in a few hostile names
        "Latin HYPERLINK": "HYPERLINK",  # Latin text in the demo data: hostile names only
        "Latin Amoxicillin": "Amoxicillin",  # demo drugs are named in Chinese: matches nothing
        f"batch {batch}": batch or "",
        "nothing: 无此反应": "无此反应",
    }


def database_size(engine: str, folder: str) -> str:
    """Return the database's size and the search index's share of it."""
    if engine == "postgresql":
        total, index = db.session.execute(
            sa.text(
                "SELECT pg_database_size(current_database()), pg_total_relation_size('search_gram')"
            )
        ).one()
    else:
        total = os.path.getsize(Path(folder, "adr.sqlite3"))
        index = db.session.scalar(
            sa.text("SELECT SUM(pgsize) FROM dbstat WHERE name LIKE '%search_gram%'")
        )
    rows = db.session.scalar(sa.text("SELECT COUNT(*) FROM search_gram"))
    mib = 1024 * 1024
    return (
        f"database {total / mib:.0f} MiB, of which the search index {index / mib:.0f} MiB"
        f" ({rows} rows)"
    )


def fill(env: dict[str, str], count: int, months: list[str]) -> None:
    for month in months:
        subprocess.run(  # noqa: S603
            [ADR, "demo-data", "--reports", str(count // MONTHS), "--month", month],
            env=env,
            check=True,
            capture_output=True,
        )


def copy_from_sqlite(folder: str, uri: str) -> None:
    """Copy every table's rows from `folder`'s SQLite database (same migration) into `uri`."""
    import psycopg

    source = sqlite3.connect(f"file:{Path(folder, 'adr.sqlite3')}?mode=ro", uri=True)
    target = sa.make_url(uri).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(target) as connection:
        # The rows come from a consistent database: no foreign-key check for each of them.
        connection.execute("SET session_replication_role = replica")
        for table in db.metadata.sorted_tables:  # foreign-key order
            columns = ", ".join(f'"{column.name}"' for column in table.columns)
            booleans = [isinstance(column.type, sa.Boolean) for column in table.columns]
            # A plain scan reads in key order (search_gram has no rowid), so are the indexes fed.
            rows = source.execute(f"SELECT {columns} FROM {table.name}")  # noqa: S608
            connection.execute(f"DELETE FROM {table.name}")  # noqa: S608 - rows a migration seeded
            with connection.cursor().copy(f"COPY {table.name} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    if any(booleans):  # SQLite stores booleans as 0 and 1
                        row = [
                            bool(v) if boolean and v is not None else v
                            for v, boolean in zip(row, booleans, strict=True)
                        ]
                    copy.write_row(row)
            if "id" in table.c:
                connection.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), max(id))"  # noqa: S608
                    f" FROM {table.name}"
                )
    source.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--folder", help="keep the SQLite database here, and reuse it")
    parser.add_argument(
        "--from-sqlite", metavar="FOLDER", help="with postgresql: copy this SQLite database"
    )
    parser.add_argument("--url", help="an existing database to time (upgraded first)")
    parser.add_argument(
        "--before", action="store_true", help="also time the LIKE scan the index replaced"
    )
    parser.add_argument(
        "--pages", nargs="+", metavar="START", help="time only the pages whose names start so"
    )
    args = parser.parse_args()
    if args.from_sqlite and args.engine != "postgresql":
        parser.error("--from-sqlite needs --engine postgresql")
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.folder or scratch
        if args.url:
            run(args, folder, args.url)
            return
        with database(args.engine, Path(folder)) as where:
            run(args, folder, where.uri)


def run(args: argparse.Namespace, folder: str, uri: str) -> None:
    env = os.environ | {
        "ADR_INSTANCE_PATH": folder,
        "ADR_SQLALCHEMY_DATABASE_URI": uri,
        "ADR_MAIL_BACKGROUND": "false",
    }
    months = months_back(MONTHS)
    print(f"== review ({args.engine}) ==")
    subprocess.run([ADR, "db", "upgrade"], env=env, check=True, capture_output=True)  # noqa: S603
    if not has_row(uri, Report):
        started = time.perf_counter()
        if args.from_sqlite:
            copy_from_sqlite(args.from_sqlite, uri)
            took = time.perf_counter() - started
            print(f"copied {args.from_sqlite}/adr.sqlite3 in {took:.0f} s")
        else:
            fill(env, args.reports, months)
            took = time.perf_counter() - started
            print(f"{args.reports} demo reports over {MONTHS} months in {took:.0f} s")
    os.environ["ADR_INSTANCE_PATH"] = folder
    config = app_config(Path(folder), TESTING=False, LOG_LEVEL="WARNING")
    app = create_app(config | {"SQLALCHEMY_DATABASE_URI": uri})
    with app.app_context():
        if args.engine == "postgresql":  # the statistics autovacuum would gather in a while
            started = time.perf_counter()
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.execute(sa.text("VACUUM ANALYZE"))
            print(f"VACUUM ANALYZE in {time.perf_counter() - started:.0f} s")
        if not accounts.find_user("bench@tianning.example"):
            accounts.create_user("bench@tianning.example", "bench", "reviewer", PASSWORD, "bench")
        reference = db.session.scalar(
            sa.select(Report.reference).order_by(Report.id.desc()).limit(1)
        )
        batch = db.session.scalar(
            sa.select(Drug.batch_number).where(Drug.batch_number.is_not(None)).limit(1)
        )
        searches = search_terms()
        deep = min(100, db.session.scalar(sa.select(sa.func.count(Report.id))) // 50 or 1)
        print(database_size(args.engine, folder))
    if not has_row(uri, SignalRun):
        started = time.perf_counter()
        subprocess.run([ADR, "signals", "run"], env=env, check=True, capture_output=True)  # noqa: S603
        print(f"adr signals run (last complete month) in {time.perf_counter() - started:.0f} s")
    if not has_row(uri, PeriodicFigures):  # the periodic page reads the stored figures
        started = time.perf_counter()
        subprocess.run([ADR, "periodic", "figures"], env=env, check=True, capture_output=True)  # noqa: S603
        print(f"adr periodic figures (this year) in {time.perf_counter() - started:.0f} s")
    client = app.test_client()
    token = hidden_inputs(client.get("/login").get_data(as_text=True))["csrf_token"]
    client.post(
        "/login",
        data={"email": "bench@tianning.example", "password": PASSWORD, "csrf_token": token},
    )
    pages = {
        "list, unfiltered": "/staff/reports",
        "list, month + serious": f"/staff/reports?month={months[1]}&serious=1",
        "list, batch number": f"/staff/reports?batch={batch}",
        f"list, page {deep}": f"/staff/reports?page={deep}",
        "case page": f"/staff/reports/{reference}",
        "dashboard": "/staff/",
        "compliance, 12 months": "/staff/compliance",
        "batches, 90 days": "/staff/batches",
        "batches, all time": "/staff/batches?period=all",
        "signals": "/staff/signals",
        "group events": "/staff/group-events",
        "line listing form": "/staff/listing",
        "periodic reports": "/staff/periodic",
    }
    pages |= {
        f"search {name}": f"/staff/reports?q={quote(term)}" for name, term in searches.items()
    }
    pages |= {
        "search 皮疹, page 2": f"/staff/reports?q={quote('皮疹')}&page=2",
        "search 王 + closed": f"/staff/reports?q={quote('王')}&status=closed",
        "search 王 + month": f"/staff/reports?q={quote('王')}&month={months[1]}",
        "search reference": f"/staff/reports?q={reference}",
    }
    if args.pages:
        pages = {name: path for name, path in pages.items() if name.startswith(tuple(args.pages))}
    print(f"{'page':<32} {'median ms':>10} {'p95 ms':>8}")
    for name, path in pages.items():
        median, p95 = timed(client, path, args.repeat)
        print(f"{name:<32} {median:>10.1f} {p95:>8.1f}")
    if args.before:
        with app.app_context():
            for term in ("皮疹", "王", "无此反应"):
                median, p95 = timed_scan(term, max(args.repeat // 8, 3))
                print(f"{'LIKE scan ' + term + ' (query)':<32} {median:>10.1f} {p95:>8.1f}")


def has_row(uri: str, model: type[Report] | type[SignalRun] | type[PeriodicFigures]) -> bool:
    engine = sa.create_engine(uri)
    try:
        with engine.connect() as connection:
            return (
                connection.scalar(sa.select(sa.literal(1)).select_from(model).limit(1)) is not None
            )
    finally:
        engine.dispose()


def timed_scan(term: str, repeat: int) -> tuple[float, float]:
    """Time the search as it was: a LIKE scan for the first page and the exact count."""
    query = report_query(Filters(), datetime.now(UTC)).where(search.like_scan(term))
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        db.session.scalars(query.limit(50)).all()
        db.session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery()))
        timings.append(time.perf_counter() - started)
    timings.sort()
    return statistics.median(timings) * 1000, timings[max(int(len(timings) * 0.95) - 1, 0)] * 1000


if __name__ == "__main__":
    main()
