"""MedDRA: importing a full-size release (~80,000 LLTs) in two languages, and searching it.

A synthetic release of MedDRA's size (27 SOCs, 337 HLGTs, 1,737 HLTs, 25,000 PTs, 80,000
LLTs, one in ten no longer current) is written in the MedAscii format, in English and in
Chinese; `adr import-meddra` imports each as its own process (wall time and peak RSS), then
searches as the coding form makes them are timed (median and p95 of `--repeat` runs), after
the first search of the process has read the names into memory; last, the case pages of the
demo cases naming the most reactions, uncoded (each term's suggestions searched).
Run: `.venv/bin/python -m bench.meddra`.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import date
from functools import partial
from itertools import cycle
from pathlib import Path

import sqlalchemy as sa
from flask import Flask

from adr import accounts, create_app, demo, meddra
from adr.extensions import db
from adr.models import Reaction, Report
from bench.export import ADR, run
from bench.review import PASSWORD
from tests.conftest import app_config, hidden_inputs

SIZES = {"soc": 27, "hlgt": 337, "hlt": 1737, "pt": 25_000, "llt": 80_000}
# Names from a wide alphabet, as MedDRA's are, with common terms planted in some of them.
CHARACTERS = [chr(code) for code in range(0x4E00, 0x4E00 + 3000, 5)]
LETTERS = "abcdefghijklmnopqrstuvwxyz"
PLANTED = {"zh": ["皮疹", "瘙痒", "头痛", "肝功能异常", "全身"], "en": ["rash", "itch", "headache"]}


def name(rng: random.Random, language: str) -> str:
    if rng.random() < 0.01:
        return rng.choice(PLANTED[language]) + name(rng, language)
    if language == "zh":
        return "".join(rng.choice(CHARACTERS) for _ in range(rng.randint(2, 8)))
    words = ("".join(rng.choice(LETTERS) for _ in range(rng.randint(3, 9))) for _ in range(3))
    return " ".join(words).capitalize()


def write_release(folder: Path, language: str) -> None:
    """Write a synthetic release of MedDRA's size; the same seed gives the same terms."""
    rng = random.Random(27)
    folder.mkdir(parents=True)
    codes = {
        level: [10_000_000 * (i + 1) + n for n in range(size)]
        for i, (level, size) in enumerate(SIZES.items())
    }

    def write(file: str, lines: list[str]) -> None:
        (folder / file).write_text("".join(lines), encoding="utf-8")

    write("meddra_release.asc", [f"27.1${'English' if language == 'en' else 'Chinese'}$$$\n"])
    for level in ("soc", "hlgt", "hlt"):
        write(
            f"{level}.asc",
            [f"{code}${name(rng, language)} {code}$$$$$$$$$\n" for code in codes[level]],
        )
    pts = codes["pt"]
    soc_of = {pt: rng.choice(codes["soc"]) for pt in pts}
    write("pt.asc", [f"{pt}${name(rng, language)} {pt}$${soc_of[pt]}$$$$$$$$\n" for pt in pts])
    lines = [f"{pt}${name(rng, language)} {pt}${pt}$$$$$$$Y$$\n" for pt in pts]
    lines += [
        f"{code}${name(rng, language)}${rng.choice(pts)}$$$$$$${'N' if n % 10 == 0 else 'Y'}$$\n"
        for n, code in enumerate(codes["llt"][len(pts) :])
    ]
    write("llt.asc", lines)
    write(
        "mdhier.asc",
        [
            f"{pt}${hlt}${hlgt}${soc_of[pt]}$$$$$$${soc_of[pt]}$Y$\n"
            for pt, hlt, hlgt in zip(pts, cycle(codes["hlt"]), cycle(codes["hlgt"]), strict=False)
        ],
    )


def timed(action, repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    print("== MedDRA import and search ==")
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as folder:
        env = os.environ | {"ADR_INSTANCE_PATH": folder}
        run([ADR, "db", "upgrade"], env)
        for language in ("en", "zh"):
            release = Path(folder, language)
            write_release(release, language)
            elapsed, rss, output = run([ADR, "import-meddra", str(release)], env)
            print(f"import {language}: {elapsed:.1f} s wall, peak RSS {rss} MB ({output})")
        os.environ["ADR_INSTANCE_PATH"] = folder
        app = create_app(app_config(Path(folder), TESTING=False, LOG_LEVEL="WARNING"))
        with app.app_context():
            started = time.perf_counter()
            meddra.search("皮疹", "zh")
            cold = (time.perf_counter() - started) * 1000
            print(f"first search of a process (reads the names): {cold:.0f} ms")
            for text, language in (
                ("皮疹", "zh"),
                ("痒", "zh"),
                ("rash", "en"),
                ("全身红色皮疹伴瘙痒", "zh"),
                ("nothing matches", "en"),
            ):
                median, p95 = timed(partial(meddra.search, text, language), args.repeat)
                print(f"search {text!r}: median {median:.1f} ms, p95 {p95:.1f} ms")
            case_pages(app, args.repeat)


def case_pages(app: Flask, repeat: int) -> None:
    """Time case pages whose reactions are not coded yet: each term's suggestions searched."""
    month = f"{date.today():%Y-%m}"
    demo.make_demo_data(200, month, seed=12)
    accounts.create_user("bench@tianning.example", "bench", "reviewer", PASSWORD, "bench")
    many = db.session.scalars(
        sa.select(Report.reference)
        .join(Reaction, Reaction.case_id == Report.case_id)
        .group_by(Report.reference)
        .order_by(sa.func.count().desc(), Report.reference)
        .limit(5)
    ).all()
    client = app.test_client()
    token = hidden_inputs(client.get("/login").get_data(as_text=True))["csrf_token"]
    credentials = {"email": "bench@tianning.example", "password": PASSWORD}
    client.post("/login", data=credentials | {"csrf_token": token})
    for reference in many:
        count = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Reaction)
            .join(Report, Report.case_id == Reaction.case_id)
            .where(Report.reference == reference)
        )
        median, p95 = timed(partial(client.get, f"/staff/reports/{reference}"), repeat)
        print(f"case page, {count} uncoded reactions: median {median:.0f} ms, p95 {p95:.0f} ms")


if __name__ == "__main__":
    sys.exit(main())
