"""E2B(R3) files: the time to build one case's file and check it (the ICH schemas and the rules).

Demo reports fill a temporary SQLite database; the synthetic MedDRA dictionary of the tests is
imported and every reaction coded. Each case that can give a file is built and checked once per
pass, nothing stored (storing is one row insert); `--repeat` passes, the median pass is printed:
per case, per 1,000 cases, and the share spent on the checks alone.
Run: `make bench` (or `.venv/bin/python -m bench.e2b --reports 2000 --repeat 3`).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from adr import create_app, demo, meddra
from adr.extensions import db
from adr.models import Case, Reaction, Report, write_transaction
from adr.regulator import e2b
from tests import meddra_fixture
from tests.conftest import app_config

IDS = {"E2B_SENDER_ID": "TN-SENDER", "E2B_RECEIVER_ID": "CN-NMPA", "MAH_ID": "TN0001"}


def fill(folder: Path, count: int) -> None:
    """Fill the database with demo reports, each reaction coded to the synthetic dictionary."""
    month = f"{date.today().replace(day=1) - timedelta(days=1):%Y-%m}"
    demo.make_demo_data(count, month, seed=7)
    meddra.import_release(meddra_fixture.write_release(folder / "meddra", "zh"), "bench")
    with write_transaction() as session:
        for term, llt in meddra_fixture.DEMO_CODES.items():
            session.execute(
                sa.update(Reaction)
                .where(Reaction.reported_term == term)
                .values(meddra_version=meddra_fixture.VERSION, llt_code=llt, coded_by="bench")
            )
        # As staff would: the company's causality, and which reaction of a death led to it.
        session.execute(sa.update(Case).values(company_causality="possible"))
        died = sa.select(Case.id).where(Case.death)
        session.execute(
            sa.update(Reaction)
            .where(Reaction.position == 1, Reaction.case_id.in_(died))
            .values(outcome="death")
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reports", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        os.environ["ADR_INSTANCE_PATH"] = scratch
        app = create_app(app_config(folder, TESTING=False, LOG_LEVEL="WARNING", **IDS))
        with app.app_context():
            db.create_all()
            fill(folder, args.reports)
            loaded = sa.select(Case).options(
                selectinload(Case.reports).selectinload(Report.drugs),
                selectinload(Case.reactions).selectinload(Reaction.assessments),
                selectinload(Case.term_codings),
                selectinload(Case.submissions),
            )
            every = list(db.session.scalars(loaded))
            ready = [case for case in every if not e2b.problems(case)]
            e2b.schema()  # loaded once per process: measured apart
            started = time.perf_counter()
            e2b.schema.cache_clear()
            e2b.schema()
            schema_load = time.perf_counter() - started
            passes, checks, sizes = [], [], []
            for _ in range(args.repeat):
                started = time.perf_counter()
                checking = 0.0
                for case in ready:
                    built = e2b.build(case)
                    sizes.append(len(built.xml))
                    before = time.perf_counter()
                    e2b.check(built.xml)
                    checking += time.perf_counter() - before
                passes.append(time.perf_counter() - started)
                checks.append(checking / 2)  # build() checks once itself; this was a second
            per_case = statistics.median(passes) / len(ready)
            print("== E2B(R3) ==")
            print(f"{len(every)} cases from {args.reports} demo reports; {len(ready)} give a file")
            print(f"schema load (once per process): {schema_load * 1000:.0f} ms")
            print(f"build + check, per case: {per_case * 1000:.1f} ms (median of {args.repeat})")
            print(f"build + check, per 1,000 cases: {per_case * 1000:.1f} s")
            share = statistics.median(checks) / statistics.median(passes)
            print(f"of which checking (XSD + rules): {share:.0%}")
            print(f"file size: median {statistics.median(sizes) / 1024:.1f} KiB")


if __name__ == "__main__":
    main()
