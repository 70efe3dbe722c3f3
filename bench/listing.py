"""Listing: the periodic line listing of one product's 100,000+ cases, time and peak memory.

Demo reports fill one month; every suspect drug is linked to one catalogue product
(so that each case is listed), then `adr listing` runs as its own process: its wall time and
peak RSS (`wait4`) are printed, at two sizes, to show that memory stays flat as cases grow.
Run: `.venv/bin/python -m bench.listing` (sizes with `--sizes 20000 120000`).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import sqlalchemy as sa

from adr import create_app
from adr.extensions import db
from adr.models import Drug, Product
from bench.export import ADR, MONTH, run, run_with_cpu
from tests.conftest import COMPANY, app_config


def link_every_suspect_drug(folder: str) -> None:
    os.environ["ADR_INSTANCE_PATH"] = folder
    app = create_app(app_config(Path(folder), TESTING=False, LOG_LEVEL="WARNING"))
    with app.app_context():
        product = db.session.scalar(
            sa.select(Product).where(Product.approval_number == "国药准字H61020123")
        )
        if product is None:  # the demo data enters its catalogue when the database has none
            product = Product(
                generic_name="阿莫西林胶囊",
                brand_name="天宁",
                approval_number="国药准字H61020123",
                manufacturer=COMPANY,
                listed_reactions=["皮疹"],
            )
            db.session.add(product)
            db.session.flush()
        db.session.execute(
            sa.update(Drug).where(Drug.role == "suspect").values(product_id=product.id)
        )
        db.session.commit()
        db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 120_000])
    args = parser.parse_args()
    period = ["--from", f"{MONTH}-01", "--to", f"{MONTH}-31"]
    print("== listing ==")
    print("reports   listing s  cases/s   CPU s  cases/CPU s  peak RSS MB  output")
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as folder:
            env = os.environ | {"ADR_INSTANCE_PATH": folder, "ADR_MAIL_BACKGROUND": "false"}
            run([ADR, "db", "upgrade"], env)
            run([ADR, "demo-data", "--reports", str(size), "--month", MONTH, "--seed", "7"], env)
            link_every_suspect_drug(folder)
            path = Path(folder) / "listing.xlsx"
            command = [ADR, "listing", "--product", "H61020123", *period, "-o", str(path)]
            elapsed, cpu, rss, output = run_with_cpu(command, env)
            cases = int(output.split(": ")[1].split()[0])
            print(
                f"{size:>7}  {elapsed:>9.1f}  {cases / elapsed:>7.0f}  {cpu:>6.1f}"
                f"  {cases / cpu:>11.0f}  {rss:>11}  {output}"
            )


if __name__ == "__main__":
    main()
