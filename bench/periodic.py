"""Periodic reports: `adr periodic` for a product with up to 100,000 cases, time and peak memory.

For each size, demo reports fill a fresh SQLite database; a MedDRA-size synthetic release
(`bench.meddra`: 80,000 LLTs) is imported; every reaction is coded to one of its LLTs (one in
twenty left uncoded), the cases' dates spread over 2021-01 … 2026-10, and every suspect drug
linked to one catalogue product, so that all the cases that count are that product's. Then
`adr periodic` runs as its own process over the last twelve months (the interval) with the
data lock point at its end: wall time and peak RSS (`wait4`), to show memory stays flat as
cases grow. The tabulations alone (the counting queries, no workbook) are timed in process, and
so are the year's figures of the page's cases chart and the annual report, which read every
catalogue product's (19 more products, without cases, stand beside the one).
Run: `.venv/bin/python -m bench.periodic` (sizes in demo reports: `--sizes 31000 62000 125000`).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from adr import create_app
from adr.extensions import db
from adr.models import Drug, Product
from adr.regulator import periodic
from bench.export import ADR, MONTH, run
from bench.meddra import write_release
from tests.conftest import COMPANY, app_config

INTERVAL = ("2025-11-01", "2026-10-31")
FIRST_DAY, DAYS = "2021-01-01", 2130  # to 2026-10-31
CODED_LLTS = (50_025_000, 55_000)  # bench.meddra's LLT codes beyond the PTs' own
OTHER_PRODUCTS = 19  # catalogue products besides the one every case names


def prepare(folder: str) -> None:
    """Link every suspect drug to one product, code the reactions, spread the dates."""
    os.environ["ADR_INSTANCE_PATH"] = folder
    app = create_app(app_config(Path(folder), TESTING=False, LOG_LEVEL="WARNING"))
    with app.app_context():
        product = Product(
            generic_name="替硝唑片",
            approval_number="国药准字H61099001",
            manufacturer=COMPANY,
        )
        db.session.add(product)
        others = [  # the page's chart and the annual report read every product's figures
            Product(
                generic_name=f"产品{number}",
                approval_number=f"国药准字H610991{number:02d}",
                manufacturer=COMPANY,
            )
            for number in range(1, OTHER_PRODUCTS + 1)
        ]
        db.session.add_all(others)
        db.session.flush()
        db.session.execute(
            sa.update(Drug).where(Drug.role == "suspect").values(product_id=product.id)
        )
        first, count = CODED_LLTS
        db.session.execute(
            sa.text(
                "UPDATE reaction SET meddra_version = '27.1',"
                " llt_code = :first + (id * 7919) % :count WHERE id % 20 != 0"
            ),
            {"first": first, "count": count},
        )
        db.session.execute(
            sa.text(
                "UPDATE report SET aware_on = date(:first_day,"
                " '+' || ((case_id * 2654435761) % :days) || ' days')"
            ),
            {"first_day": FIRST_DAY, "days": DAYS},
        )
        db.session.commit()
        db.engine.dispose()


def tabulate_in_process(folder: str) -> tuple[float, int, int, float]:
    """Time the tabulations alone, then the year's figures by product (the page's cases chart
    and the annual report); return seconds, counted cases, PT lines and seconds."""
    app = create_app(app_config(Path(folder), TESTING=False, LOG_LEVEL="WARNING"))
    with app.app_context():
        product = periodic.find_product("H61099001")
        started = time.perf_counter()
        result = periodic.tabulate(product, periodic.parse_interval(*INTERVAL))
        elapsed = time.perf_counter() - started
        lines = sum(len(block.lines) for block in result.socs)
        started = time.perf_counter()
        periodic.cases_per_month(2026)
        periodic.annual(2026, datetime(2026, 11, 1, tzinfo=UTC))
        yearly = time.perf_counter() - started
        db.engine.dispose()
    return elapsed, result.cases.cumulative, lines, yearly


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[31_000, 62_000, 125_000])
    args = parser.parse_args()
    print("== periodic ==")
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    print("reports  cases  PT lines  tabulate s  chart+annual s  periodic s  peak RSS MB  output")
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as folder:
            env = os.environ | {"ADR_INSTANCE_PATH": folder, "ADR_MAIL_BACKGROUND": "false"}
            run([ADR, "db", "upgrade"], env)
            run([ADR, "demo-data", "--reports", str(size), "--month", MONTH, "--seed", "7"], env)
            write_release(Path(folder, "meddra"), "en")
            run([ADR, "import-meddra", str(Path(folder, "meddra"))], env)
            prepare(folder)
            tabulated, cases, lines, yearly = tabulate_in_process(folder)
            path = Path(folder) / "periodic.xlsx"
            command = [ADR, "periodic", "--product", "H61099001", "--from", INTERVAL[0]]
            command += ["--to", INTERVAL[1], "-o", str(path)]
            elapsed, rss, output = run(command, env)
            print(
                f"{size:>7}  {cases:>6}  {lines:>8}  {tabulated:>10.1f}  {yearly:>14.1f}"
                f"  {elapsed:>10.1f}"
                f"  {rss:>11}  {output.split(': ', 1)[1]}"
            )


if __name__ == "__main__":
    main()
