"""Compliance: the page and its workbook over demo reports in SQLite.

Demo reports are spread over the last months; a reviewer signs in; the page (the last 12
months, the default) is asked for repeatedly through the app and timed, then the workbook.
Run: `.venv/bin/python -m bench.compliance --reports 1000000 --months 24`, or point
`--instance` at a folder already filled (bench/review.py's way) to skip the filling.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from adr import accounts, create_app
from adr.extensions import db
from adr.models import Report
from bench.review import ADR, PASSWORD, months_back, timed
from tests.conftest import app_config, hidden_inputs


def fill(folder: str, reports: int, months: int) -> None:
    env = os.environ | {"ADR_INSTANCE_PATH": folder, "ADR_MAIL_BACKGROUND": "false"}
    subprocess.run([ADR, "db", "upgrade"], env=env, check=True, capture_output=True)  # noqa: S603
    for month in months_back(months):
        subprocess.run(  # noqa: S603
            [ADR, "demo-data", "--reports", str(reports // months), "--month", month],
            env=env,
            check=True,
            capture_output=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--instance", help="a folder whose adr.sqlite3 is already filled")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.instance or scratch
        if not args.instance:
            fill(folder, args.reports, args.months)
        os.environ["ADR_INSTANCE_PATH"] = folder
        app = create_app(app_config(Path(folder), TESTING=False, LOG_LEVEL="WARNING"))
        with app.app_context():
            if not accounts.find_user("bench@tianning.example"):
                accounts.create_user("bench@tianning.example", "b", "reviewer", PASSWORD, "bench")
            total = db.session.scalar(sa.select(sa.func.count(Report.id)))
        client = app.test_client()
        token = hidden_inputs(client.get("/login").get_data(as_text=True))["csrf_token"]
        client.post(
            "/login",
            data={"email": "bench@tianning.example", "password": PASSWORD, "csrf_token": token},
        )
        print("== compliance ==")
        print(f"{total} reports in the database")
        print(f"{'request':<28} {'median ms':>10} {'p95 ms':>8}")
        for name, path in {
            "page, last 12 months": "/staff/compliance",
            "page, one month": f"/staff/compliance?from={months_back(2)[1]}&to={months_back(2)[1]}",
        }.items():
            median, p95 = timed(client, path, args.repeat)
            print(f"{name:<28} {median:>10.1f} {p95:>8.1f}")
        started = time.perf_counter()
        response = client.get("/staff/compliance.xlsx")
        size = len(response.data)
        response.close()
        took = (time.perf_counter() - started) * 1000
        print(f"{'workbook, last 12 months':<28} {took:>10.1f}          ({size:,} bytes)")


if __name__ == "__main__":
    main()
