"""Signal pages: the list of signals, the dashboard and a signal's page with many signals stored.

A MedDRA-sized set of PTs (27,000, names in both languages), 30 products, 20,000 signals as
detection stores them (a quarter open, the rest refuted or closed; each with its figure and
5 of 2,000 cases) on a SQLite file; a reviewer signs in and each page is asked for repeatedly
through the app (Flask's test client) and timed. Target: the list under 150 ms p95.
Run: `.venv/bin/python -m bench.signal_pages [--signals 20000] [--repeat 50]`.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

sys.path.append(str(Path(__file__).resolve().parent.parent))  # bench, tests: run as a file

from adr import accounts, regulatory
from adr.extensions import db
from adr.models import (
    Case,
    MeddraRelease,
    MeddraTerm,
    Product,
    Signal,
    SignalCase,
    SignalFigure,
    SignalRun,
    SignalStep,
)
from bench.pages import scratch_app
from tests.test_review import PASSWORD, REVIEWER, signed_in

VERSION, PTS, SOCS, PRODUCTS, CASES = "27.1", 27_000, 27, 30, 2_000
STATUSES = ["new", "validated", "prioritised", "evaluated"] + ["refuted", "closed"] * 6


def fill(signals: int) -> None:
    """Store the PTs, products, cases and signals (fixed seed)."""
    rng = random.Random(25)
    now = datetime.now(UTC)
    today = regulatory.china_today()
    session = db.session
    accounts.create_user(REVIEWER, "审核员", "reviewer", PASSWORD, "bench")
    session.add(
        MeddraRelease(version=VERSION, language="zh", imported_at=now, imported_by="b", llt_count=0)
    )
    session.execute(
        sa.insert(MeddraTerm),
        [
            {
                "version": VERSION,
                "level": "soc",
                "code": 80_000_000 + s,
                "name_en": f"SOC {s}",
                "name_zh": f"系统器官分类{s}",
            }
            for s in range(SOCS)
        ]
        + [
            {
                "version": VERSION,
                "level": "pt",
                "code": 10_000_000 + p,
                "name_en": f"Term {p}",
                "name_zh": f"术语{p}",
                "soc_code": 80_000_000 + p % SOCS,
            }
            for p in range(PTS)
        ],
    )
    session.execute(
        sa.insert(Product),
        [
            {
                "generic_name": f"产品{n}",
                "approval_number": f"国药准字H{61000000 + n}",
                "manufacturer": "天宁制药",
                "listed_reactions": [],
            }
            for n in range(PRODUCTS)
        ],
    )
    session.execute(sa.insert(Case), [{} for _ in range(CASES)])
    run = SignalRun(
        period="2026-11",
        period_start=date(2026, 11, 1),
        period_end=date(2026, 11, 30),
        meddra_version=VERSION,
        started_at=now,
        finished_at=now,
        run_by="command",
    )
    session.add(run)
    session.flush()
    products = list(session.scalars(sa.select(Product.id)))
    cases = list(session.scalars(sa.select(Case.id)))
    pairs = rng.sample([(p, t) for p in products for t in range(PTS)], signals)
    figures = [
        {
            "run_id": run.id,
            "product_id": p,
            "pt_code": 10_000_000 + t,
            "soc_code": 80_000_000 + t % SOCS,
            "a": 5,
            "b": 100,
            "c": 3,
            "d": 900,
            "prr": 2.9,
            "chi2": 5.1,
            "ror": 3.0,
            "ror_lower": 1.1,
            "ror_upper": 8.0,
            "ic": 0.9,
            "ic025": 0.1,
            "period_count": 3,
            "triggers": ["prr"],
        }
        for p, t in pairs
    ]
    session.execute(sa.insert(SignalFigure), figures)
    figure_ids = list(session.scalars(sa.select(SignalFigure.id).order_by(SignalFigure.id)))
    rows = []
    for (product, pt), figure_id in zip(pairs, figure_ids, strict=True):
        detected = now - timedelta(days=rng.randrange(400))
        rows.append(
            {
                "product_id": product,
                "pt_code": 10_000_000 + pt,
                "soc_code": 80_000_000 + pt % SOCS,
                "meddra_version": VERSION,
                "status": rng.choice(STATUSES),
                "triggers": ["prr", "ror"],
                "detected_at": detected,
                "detected_by_run_id": run.id,
                "latest_figure_id": figure_id,
                "validation_due_on": regulatory.china_date(detected) + timedelta(days=30),
                "evaluation_due_on": today + timedelta(days=rng.randrange(-30, 60)),
            }
        )
    session.execute(sa.insert(Signal), rows)
    ids = list(session.scalars(sa.select(Signal.id)))
    session.execute(
        sa.insert(SignalCase),
        [
            {"signal_id": s, "case_id": c, "trigger": "prr", "added_at": now}
            for s in ids
            for c in rng.sample(cases, 5)
        ],
    )
    session.execute(
        sa.insert(SignalStep),
        [{"signal_id": s, "step": "detected", "at": now, "by": "command"} for s in ids],
    )
    session.commit()


def timed(client, path: str, repeat: int) -> tuple[float, float]:
    client.get(path)  # once untimed: the template compiled, the first query planned
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
    parser.add_argument("--signals", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    print(f"== signal pages ({args.signals} signals, SQLite, {args.repeat} loads each) ==")
    with scratch_app(lambda: fill(args.signals)) as (app, _reference):
        client = signed_in(app, REVIEWER)
        with app.app_context():
            product = db.session.scalar(sa.select(Product.id).limit(1))
            signal = db.session.scalar(sa.select(Signal.id).where(Signal.status == "new").limit(1))
        paths = {
            "list (open, newest first)": "/staff/signals",
            "list, page 20": "/staff/signals?page=20",
            "list, awaiting validation by due date": "/staff/signals?status=new&sort=due",
            "list, one product": f"/staff/signals?product={product}",
            "list, overdue": "/staff/signals?overdue=1&sort=due",
            "list, closed": "/staff/signals?status=closed",
            "dashboard": "/staff/",
            "a signal's page": f"/staff/signals/{signal}",
        }
        print(f"{'page':<40} {'median ms':>9} {'p95 ms':>8}")
        for name, path in paths.items():
            median, p95 = timed(client, path, args.repeat)
            print(f"{name:<40} {median:9.1f} {p95:8.1f}")


if __name__ == "__main__":
    main()
