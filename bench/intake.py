"""Intake: the weight of the public pages, and how fast reports are stored on SQLite.

The reports are stored twice: naming a drug the catalogue does not hold, then naming one it
holds, every report in one city, so that the batch check and the group-event check run on each
(a group event opens at the third report and every later one joins it, each mailed).
Run: `make bench` (or `.venv/bin/python -m bench.intake --reports 1000`).
"""

from __future__ import annotations

import argparse
import gzip
import os
import statistics
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from adr import create_app
from adr.extensions import db
from adr.models import GroupEvent, Product, Report
from tests.conftest import COMPANY, ReportSender, app_config, valid_report

PAGES = ["/", "/report", "/report?drugs=3", "/static/site.css", "/static/form.js"]


def page_weights(client) -> None:
    print("page                  bytes   gzip")
    total = total_gzip = 0
    for path in PAGES:
        with client.get(path) as response:
            body = response.get_data()
        total += len(body) if path != "/report?drugs=3" else 0
        total_gzip += len(gzip.compress(body)) if path != "/report?drugs=3" else 0
        print(f"{path:<20} {len(body):>7} {len(gzip.compress(body)):>6}")
    print(f"{'form + css + js':<20} {total:>7} {total_gzip:>6}  (landing page included)")


def submissions(app, count: int, fields: dict[str, object] | None = None) -> None:
    client = app.test_client()
    sender = ReportSender(client)
    report = valid_report() | (fields or {})
    timings = []
    started = time.perf_counter()
    for _ in range(count):
        data = {**sender.open(), **report}
        begin = time.perf_counter()
        response = client.post("/report", data=data)
        timings.append(time.perf_counter() - begin)
        assert response.status_code == 303
    elapsed = time.perf_counter() - started
    with app.app_context():
        stored = db.session.scalar(sa.select(sa.func.count()).select_from(Report))
    timings.sort()
    print(f"reports stored        {stored} of {count}")
    print(f"open form + submit    {count / elapsed:.0f} reports/s in one client")
    print(
        "POST /report latency  "
        f"median {statistics.median(timings) * 1000:.1f} ms, "
        f"p95 {timings[int(len(timings) * 0.95)] * 1000:.1f} ms, "
        f"max {timings[-1] * 1000:.1f} ms (validate, BEGIN IMMEDIATE, insert, fsync)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reports", type=int, default=1000)
    args = parser.parse_args()
    print("== intake ==")
    for catalogued in (False, True):
        with tempfile.TemporaryDirectory() as folder:
            os.environ["ADR_INSTANCE_PATH"] = folder
            app = create_app(
                app_config(Path(folder), TESTING=False, WTF_CSRF_ENABLED=True, LOG_LEVEL="WARNING")
            )
            with app.app_context():
                db.create_all()
            if not catalogued:
                page_weights(app.test_client())
                submissions(app, args.reports)
                continue
            with app.app_context():
                db.session.add(
                    Product(
                        generic_name="阿莫西林胶囊",
                        approval_number="国药准字H61020123",
                        manufacturer=COMPANY,
                    )
                )
                db.session.commit()
            print("-- the drug in the catalogue, every report in one city (a group event) --")
            submissions(app, args.reports, {"event-province": "陕西省", "event-city": "榆林市"})
            with app.app_context():
                events = db.session.scalar(sa.select(sa.func.count()).select_from(GroupEvent))
            print(f"group events opened   {events}")


if __name__ == "__main__":
    main()
