"""Batch clusters: the batch table and the dashboard with many demo reports in SQLite.

Demo reports are spread over 24 months; their suspect drugs are then matched to the demo
products by an UPDATE (the demo data does not set `drug.product_id` yet), a batch register
holds every other batch, and each page is asked for repeatedly through the app and timed,
as is the count the alert check makes for one batch when a report is stored.
Run: `.venv/bin/python -m bench.batches --reports 200000`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from datetime import date
from pathlib import Path

import sqlalchemy as sa

from adr import accounts, batch_tally, create_app, demo
from adr.batches import alert_settings, cases_naming, window_start
from adr.extensions import db
from adr.models import Batch, Drug, Product
from bench.review import ADR, MONTHS, PASSWORD, months_back, timed
from tests.conftest import app_config, hidden_inputs


def match_demo_products() -> None:
    """Add the demo products to the catalogue, match their drugs, register half the batches."""
    for generic, brand, approval, *_rest in demo.PRODUCTS:
        db.session.add(
            Product(
                generic_name=generic,
                brand_name=brand,
                approval_number=approval,
                manufacturer=demo.MANUFACTURER,
            )
        )
    db.session.flush()
    products = sa.select(Product.id).where(Product.approval_number == Drug.approval_number)
    db.session.execute(
        sa.update(Drug).where(Drug.role == "suspect").values(product_id=products.scalar_subquery())
    )
    batch_tally.rebuild(db.session.connection())  # the UPDATE went round the ORM's flush
    batches = db.session.execute(
        sa.select(Drug.product_id, Drug.batch_number)
        .where(Drug.product_id.is_not(None), Drug.batch_number.is_not(None))
        .distinct()
    ).all()
    db.session.execute(
        sa.insert(Batch),
        [
            {
                "product_id": product_id,
                "batch_number": batch,
                "manufactured_on": date(2025, 1, 1),
                "expires_on": date(2027, 12, 31),
            }
            for index, (product_id, batch) in enumerate(batches)
            if index % 2 == 0
        ],
    )
    db.session.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reports", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        env = os.environ | {"ADR_INSTANCE_PATH": folder, "ADR_MAIL_BACKGROUND": "false"}
        subprocess.run([ADR, "db", "upgrade"], env=env, check=True, capture_output=True)  # noqa: S603
        started = time.perf_counter()
        for month in months_back(MONTHS):
            subprocess.run(  # noqa: S603
                [ADR, "demo-data", "--reports", str(args.reports // MONTHS), "--month", month],
                env=env,
                check=True,
                capture_output=True,
            )
        print("== batches ==")
        took = time.perf_counter() - started
        print(f"{args.reports} demo reports over {MONTHS} months in {took:.0f} s")
        os.environ["ADR_INSTANCE_PATH"] = folder
        app = create_app(app_config(Path(folder), TESTING=False, LOG_LEVEL="WARNING"))
        with app.app_context():
            started = time.perf_counter()
            match_demo_products()
            print(f"products matched, register filled in {time.perf_counter() - started:.0f} s")
            accounts.create_user("bench@tianning.example", "bench", "reviewer", PASSWORD, "bench")
            named = db.session.execute(
                sa.select(Drug.product_id, Drug.batch_number, sa.func.count())
                .where(Drug.product_id.is_not(None))
                .group_by(Drug.product_id, Drug.batch_number)
                .order_by(sa.func.count().desc())
                .limit(1)
            ).one()
            _threshold, days = alert_settings()
            timings = []
            for _ in range(args.repeat):
                begun = time.perf_counter()
                found = cases_naming(named[0], named[1], window_start(days))
                timings.append((time.perf_counter() - begun) * 1000)
            print(
                f"the alert's count for the busiest batch ({named[2]} drug rows, "
                f"{len(found)} cases in the window): median {statistics.median(timings):.1f} ms"
            )
        client = app.test_client()
        token = hidden_inputs(client.get("/login").get_data(as_text=True))["csrf_token"]
        client.post(
            "/login",
            data={"email": "bench@tianning.example", "password": PASSWORD, "csrf_token": token},
        )
        pages = {
            "batches, window": "/staff/batches",
            "batches, window, page 5": "/staff/batches?page=5",
            "batches, all time": "/staff/batches?period=all",
            "dashboard": "/staff/",
        }
        print(f"{'page':<26} {'median ms':>10} {'p95 ms':>8}")
        for name, path in pages.items():
            median, p95 = timed(client, path, args.repeat)
            print(f"{name:<26} {median:>10.1f} {p95:>8.1f}")


if __name__ == "__main__":
    main()
