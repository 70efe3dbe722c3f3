"""Signals: a full detection run over 1,000,000 reports, and whether it finds what was planted.

A synthetic MedDRA release of MedDRA's size (`bench.meddra`'s writer) is imported; 20 catalogue
products get one report (one case) each of 1,000,000, spread over the 36 months up to the last
complete month, each naming one product (one in ten two) and one to three PTs drawn from the
same skewed distribution for every product (rank r with weight 1/r over 2,000 PTs), so that no
pair is disproportionate by design; 5 % of cases are serious and 0.2 % fatal; each product's
label lists the 300 commonest PTs. Planted from a fixed seed: product 1 × a rare PT in 40 more
cases over the years (a disproportion), and product 2 × another in 12 more cases in the last
month (a burst). The rows are bulk-inserted; then `adr signals run` runs as its own process
(wall time and peak RSS, `wait4`), and the bench prints each planted signal found or missed,
and the signals raised for any other pair (the false alarms) by trigger. Last, GET
/staff/signals is timed from the stored results if this tree has the page.
Run: `.venv/bin/python -m bench.signals` (`--reports 200000` to try it quickly).
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa

from adr import accounts, create_app, regulatory
from adr.extensions import db
from adr.models import Product, Signal
from adr.signals.detection import last_complete_month
from bench.export import ADR, run
from bench.meddra import SIZES, write_release
from bench.review import PASSWORD, timed
from tests.conftest import COMPANY, app_config, hidden_inputs
from tests.signal_cases import Planted, insert_cases

PRODUCTS = 20
COMMON_PTS = 2_000
LISTED = 300
FIRST_PT = 40_000_000  # bench.meddra numbers PTs from here (each is its own LLT too)
VERSION = "27.1"
MONTHS = 36
CHUNK = 20_000
DISPROPORTION = (1, FIRST_PT + 1_500)  # product 1 × the PT of rank 1,500
BURST = (2, FIRST_PT + 800)  # product 2 × the PT of rank 800


def months_back(first: date, months: int) -> date:
    index = first.year * 12 + first.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


class Corpus:
    """The cases of a fixed seed: the background, chunk by chunk, then the planted ones."""

    def __init__(self, products: list[int], period_start: date, period_end: date) -> None:
        self.rng = random.Random(25)
        self.products = products
        self.start = months_back(period_start, MONTHS - 1)
        self.span = (period_end - self.start).days + 1
        self.period_start, self.period_days = period_start, (period_end - period_start).days + 1
        self.pts = [FIRST_PT + rank for rank in range(COMMON_PTS)]
        self.weights = [1 / (rank + 1) for rank in range(COMMON_PTS)]

    def background(self, count: int) -> list[Planted]:
        rng = self.rng
        draws = iter(rng.choices(self.pts, self.weights, k=count * 3))
        cases = []
        for _ in range(count):
            named = (
                rng.sample(self.products, 2) if rng.random() < 0.1 else [rng.choice(self.products)]
            )
            death = rng.random() < 0.002
            serious = death or rng.random() < 0.05
            llts = list({next(draws) for _ in range(rng.randint(1, 3))})
            aware_on = self.start + timedelta(days=rng.randrange(self.span))
            cases.append(Planted(aware_on, named, llts, serious, death))
        return cases

    def planted(self) -> list[Planted]:
        rng = self.rng
        product, pt = DISPROPORTION
        cases = [
            Planted(
                self.start + timedelta(days=rng.randrange(self.span)),
                [self.products[product]],
                [pt],
            )
            for _ in range(40)
        ]
        product, pt = BURST
        return cases + [
            Planted(
                self.period_start + timedelta(days=rng.randrange(self.period_days)),
                [self.products[product]],
                [pt],
            )
            for _ in range(12)
        ]


def fill(folder: str, count: int) -> list[int]:
    """Enter the catalogue and the cases; return the products' ids."""
    period = last_complete_month()
    app = create_app(app_config(Path(folder), TESTING=False, LOG_LEVEL="WARNING"))
    with app.app_context():
        listed = {f"常见{rank}": FIRST_PT + rank for rank in range(LISTED)}
        catalogue = [
            Product(
                generic_name=f"产品{n}",
                approval_number=f"国药准字H6102{n:04d}",
                manufacturer=COMPANY,
                listed_reactions=list(listed),
                listed_pt_codes=listed,
            )
            for n in range(PRODUCTS)
        ]
        db.session.add_all(catalogue)
        db.session.commit()
        products = [product.id for product in catalogue]
        db.session.close()  # no reader holding an old snapshot: SQLite's log can be checkpointed
        corpus = Corpus(products, period.start, period.end)
        started = time.perf_counter()
        for first in range(0, count, CHUNK):
            with db.engine.begin() as connection:
                insert_cases(connection, corpus.background(min(CHUNK, count - first)), VERSION)
        with db.engine.begin() as connection:
            insert_cases(connection, corpus.planted(), VERSION)
        print(f"{count:,} cases and 52 planted inserted in {time.perf_counter() - started:.0f} s")
        accounts.create_user("bench@tianning.example", "bench", "reviewer", PASSWORD, "bench")
        db.engine.dispose()
    return products


def report(folder: str, products: list[int], repeat: int) -> None:
    """Print the planted signals found or missed, the false alarms, and the page's time."""
    app = create_app(app_config(Path(folder), TESTING=False, LOG_LEVEL="WARNING"))
    with app.app_context():
        signals = db.session.execute(sa.select(Signal.product_id, Signal.pt_code, Signal.triggers))
        raised = {(product, pt): triggers for product, pt, triggers in signals}
        for name, (product, pt), wanted in (
            ("disproportion", DISPROPORTION, {"prr", "ror", "ic"}),
            ("burst", BURST, {"trend"}),
        ):
            triggers = raised.pop((products[product], pt), [])
            found = "found" if wanted & set(triggers) else "MISSED"
            print(f"planted {name} (product {product} × PT {pt}): {found}, triggers {triggers}")
        quantitative = [t for t in raised.values() if {"prr", "ror", "ic", "trend"} & set(t)]
        print(
            f"false alarms: {len(raised)} signals for other pairs, {len(quantitative)} of them by "
            "a figure; by trigger: "
            + ", ".join(
                f"{t} {n}" for t, n in Counter(t for ts in raised.values() for t in ts).items()
            )
        )
        if not any(rule.rule == "/staff/signals" for rule in app.url_map.iter_rules()):
            print("signals page: not in this tree")
            return
        client = app.test_client()
        token = hidden_inputs(client.get("/login").get_data(as_text=True))["csrf_token"]
        credentials = {"email": "bench@tianning.example", "password": PASSWORD}
        client.post("/login", data=credentials | {"csrf_token": token})
        median, p95 = timed(client, "/staff/signals", repeat)
        print(f"signals page ({len(raised) + 2} signals): median {median:.0f} ms, p95 {p95:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    print("== signals ==")
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as folder:
        env = os.environ | {"ADR_INSTANCE_PATH": folder, "ADR_MAIL_BACKGROUND": "false"}
        os.environ["ADR_INSTANCE_PATH"] = folder
        run([ADR, "db", "upgrade"], env)
        release = Path(folder, "en")
        write_release(release, "en")
        elapsed, _, _ = run([ADR, "import-meddra", str(release)], env)
        print(
            f"MedDRA of {SIZES['pt']:,} PTs and {SIZES['llt']:,} LLTs imported in {elapsed:.0f} s"
        )
        products = fill(folder, args.reports)
        period = last_complete_month(regulatory.china_today())
        elapsed, rss, output = run([ADR, "signals", "run", "--period", period.name], env)
        print(f"adr signals run --period {period.name}: {elapsed:.1f} s wall, peak RSS {rss} MB")
        print("  " + output.replace("\n", "\n  "))
        elapsed, rss, output = run([ADR, "signals", "run", "--period", period.name], env)
        print(f"the same period again: {elapsed:.1f} s wall, {output.splitlines()[0]}")
        report(folder, products, args.repeat)


if __name__ == "__main__":
    main()
