"""Review: the staff list and case pages with a million reports in SQLite.

Demo reports are spread over 24 months; a reviewer signs in; each page is asked for
repeatedly through the app (Flask's test client, real SQLite file) and timed.
Run: `make bench` (or `.venv/bin/python -m bench.review --reports 1000000`).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa

from adr import accounts, create_app, regulatory
from adr.extensions import db
from adr.models import Drug, Report
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        env = os.environ | {"ADR_INSTANCE_PATH": folder, "ADR_MAIL_BACKGROUND": "false"}
        subprocess.run([ADR, "db", "upgrade"], env=env, check=True, capture_output=True)  # noqa: S603
        started = time.perf_counter()
        months = months_back(MONTHS)
        for month in months:
            subprocess.run(  # noqa: S603
                [ADR, "demo-data", "--reports", str(args.reports // MONTHS), "--month", month],
                env=env,
                check=True,
                capture_output=True,
            )
        print("== review ==")
        took = time.perf_counter() - started
        print(f"{args.reports} demo reports over {MONTHS} months in {took:.0f} s")
        os.environ["ADR_INSTANCE_PATH"] = folder
        app = create_app(app_config(Path(folder), TESTING=False, LOG_LEVEL="WARNING"))
        with app.app_context():
            accounts.create_user("bench@tianning.example", "bench", "reviewer", PASSWORD, "bench")
            reference = db.session.scalar(
                sa.select(Report.reference).order_by(Report.id.desc()).limit(1)
            )
            batch = db.session.scalar(
                sa.select(Drug.batch_number).where(Drug.batch_number.is_not(None)).limit(1)
            )
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
            "list, page 100": "/staff/reports?page=100",
            "case page": f"/staff/reports/{reference}",
            "dashboard": "/staff/",
            "compliance, 12 months": "/staff/compliance",
        }
        print(f"{'page':<24} {'median ms':>10} {'p95 ms':>8}")
        for name, path in pages.items():
            median, p95 = timed(client, path, args.repeat)
            print(f"{name:<24} {median:>10.1f} {p95:>8.1f}")


if __name__ == "__main__":
    main()
