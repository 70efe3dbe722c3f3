"""Duplicates: the matcher's precision and recall on planted pairs, and its time per report.

Demo reports fill a database; then some of them are told again the way a second reporter
would (by phone, with a typo or a homophone in the name, initials for the name, no name at
all, the onset a day apart, the reaction reworded, a batch digit mistyped), and near-misses
are made that must not match (the same patient with another reaction, another patient on the
same batch, the same name at another age or of the other sex). Each planted report is
matched against the database as `store_report` would before storing it (not stored, so the
planted reports never see each other); precision and recall are counted at the default
threshold. The matcher's time per new report is measured on both corpora (100,000 reports in
the larger), each planted report matched once per pass: a cold pass (a new connection, no
pinyin cached), then a warm one, `--repeat` times; the medians of the runs are printed.
Run: `make bench` (or `.venv/bin/python -m bench.duplicates --reports 2000 --large 100000`;
`--keep FOLDER` keeps the filled databases there and reuses them on the next run).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from pypinyin import Style, lazy_pinyin
from sqlalchemy.orm import selectinload

from adr import create_app, demo, duplicates, regulatory
from adr.extensions import db
from adr.models import Case, Drug, Report
from tests.conftest import app_config

ADR = str(Path(sys.executable).with_name("adr"))
# Kind of planted report: whether it is the same case told again (True) or a near-miss.
KINDS = {
    "phone, name typo": True,
    "initials for the name": True,
    "no patient name": True,
    "onset a day apart": True,
    "reaction reworded": True,
    "same patient, other reaction": False,
    "other patient, same batch": False,
    "same name, other age": False,
    "same name, other sex": False,
}
# Characters read alike: what a name heard by phone is typed with.
SOUNDS_LIKE = (
    "晓铭玮方纳婧莉蔷钧阳艳洁鹃韬潮秀岚霞萍钢骅钰菲宏剑帆辉炜英敏静丽强磊"
    "军洋勇杰娟涛明超兰平刚华玉飞红建国志海燕小春梅文博子涵浩然欣怡梓轩雨桐伟芳娜"
)
REWORDED = {
    "皮疹": ["全身皮疹", "皮疹伴痒"],
    "瘙痒": ["皮肤瘙痒", "全身瘙痒"],
    "恶心": ["恶心想吐", "感到恶心"],
    "呕吐": ["呕吐两次", "频繁呕吐"],
    "头晕": ["头晕乏力", "头晕目眩"],
    "头痛": ["头痛明显", "剧烈头痛"],
    "腹泻": ["腹泻三次", "水样腹泻"],
    "心悸": ["心悸不适", "阵发心悸"],
    "胸闷": ["胸闷气短", "感到胸闷"],
    "呼吸困难": ["呼吸困难加重", "轻度呼吸困难"],
    "肝功能异常": ["肝功能指标异常", "转氨酶升高,肝功能异常"],
    "过敏性休克": ["疑似过敏性休克", "过敏性休克表现"],
    "寒战": ["寒战发抖", "寒战高热"],
    "发热": ["发热38.5℃", "低热,发热"],
    "荨麻疹": ["全身荨麻疹", "荨麻疹样皮疹"],
}


@dataclass
class Planted:
    kind: str
    report: Report
    original_case_id: int

    @property
    def duplicate(self) -> bool:
        return KINDS[self.kind]


def homophone(rng: random.Random, char: str) -> str | None:
    sound = lazy_pinyin(char)
    alike = [c for c in SOUNDS_LIKE if c != char and lazy_pinyin(c) == sound]
    return rng.choice(alike) if alike else None


def misheard(rng: random.Random, name: str) -> str:
    """Return the name with one given-name character replaced by one read alike, if any."""
    places = list(range(1, len(name)))
    rng.shuffle(places)
    for place in places:
        alike = homophone(rng, name[place])
        if alike:
            return name[:place] + alike + name[place + 1 :]
    return name


def mistyped(rng: random.Random, batch: str) -> str:
    place = rng.randrange(len(batch))
    digit = rng.choice([d for d in "0123456789" if d != batch[place]])
    return batch[:place] + digit + batch[place + 1 :]


def reworded(rng: random.Random, reaction: str) -> str:
    terms = reaction.split("、")
    rng.shuffle(terms)
    return ",".join(rng.choice(REWORDED.get(term, [term])) for term in terms)


def copied(original: Report) -> Report:
    """Return an unsaved report holding the original's patient, event and drugs."""
    columns = [c.key for c in Report.__table__.columns if c.key.startswith(("patient_", "event_"))]
    report = Report(**{name: getattr(original, name) for name in columns}, source="phone")
    drug_columns = [c.key for c in Drug.__table__.columns if c.key not in ("id", "report_id")]
    report.drugs = [Drug(**{n: getattr(d, n) for n in drug_columns}) for d in original.drugs]
    return report


def other_person(rng: random.Random, original: Report) -> str:
    name = original.patient_name or ""
    while name == original.patient_name:
        name = rng.choice(demo.SURNAMES) + rng.choice(demo.GIVEN) + rng.choice(demo.GIVEN)
    return name


def variant(rng: random.Random, original: Report, kind: str) -> Report:
    """Return the original case told again (`kind` in `KINDS`), or a near-miss of it."""
    report = copied(original)
    suspect = next(d for d in report.drugs if d.role == "suspect")
    name = original.patient_name or ""
    if KINDS[kind]:
        # A second reporter: the age rather than the birth date, often another batch reading.
        if rng.random() < 0.5:
            report.patient_birth_date = None
        if suspect.batch_number and rng.random() < 0.2:
            suspect.batch_number = mistyped(rng, suspect.batch_number)
        if rng.random() < 0.3:
            report.event_onset_date = report.event_onset_date + timedelta(days=rng.choice([-1, 1]))
    if kind == "phone, name typo":
        report.patient_name = misheard(rng, name)
    elif kind == "initials for the name":
        report.patient_name = "".join(lazy_pinyin(name, style=Style.FIRST_LETTER)).upper()
    elif kind == "no patient name":
        report.patient_name = rng.choice([None, "不详"])
    elif kind == "onset a day apart":
        report.event_onset_date = original.event_onset_date + timedelta(days=rng.choice([-1, 1]))
    elif kind == "reaction reworded":
        report.event_name = reworded(rng, original.event_name or "")
    elif kind == "same patient, other reaction":
        taken = set((original.event_name or "").split("、"))
        report.event_name = "、".join(rng.sample([r for r in demo.REACTIONS if r not in taken], 2))
        report.event_onset_date = original.event_onset_date + timedelta(days=rng.randint(0, 30))
    elif kind == "other patient, same batch":
        report.patient_name = other_person(rng, original)
        report.patient_sex = rng.choice(["male", "female"])
        report.patient_age, report.patient_birth_date = rng.randint(1, 95), None
        report.patient_age_unit = "year"
        report.event_onset_date = original.event_onset_date + timedelta(days=rng.randint(-7, 7))
        if rng.random() < 0.5:
            report.event_name = rng.choice(demo.REACTIONS)
    elif kind == "same name, other age":
        report.patient_birth_date, report.patient_age_unit = None, "year"
        age = original.patient_age if original.patient_age_unit == "year" else 0
        report.patient_age = age + rng.choice([-1, 1]) * rng.randint(5, 30)
        if report.patient_age < 1:
            report.patient_age = age + rng.randint(5, 30)
        report.event_onset_date = original.event_onset_date + timedelta(days=rng.randint(-7, 7))
    elif kind == "same name, other sex":
        report.patient_sex = {"male": "female", "female": "male"}.get(
            original.patient_sex or "", "male"
        )
        report.event_onset_date = original.event_onset_date + timedelta(days=rng.randint(-7, 7))
    return report


def originals(rng: random.Random, count: int) -> list[Report]:
    """Return `count` first reports of open or closed cases naming a patient, with a sex."""
    ids = db.session.scalars(
        sa.select(Report.id)
        .join(Case, Case.id == Report.case_id)
        .where(
            Report.follow_up_of_id.is_(None),
            Case.status != "duplicate",
            Report.patient_sex.in_(["male", "female"]),
            Report.patient_name.is_not(None),
            Report.event_onset_date.is_not(None),
        )
        .order_by(Report.id)
    ).all()
    chosen = rng.sample(ids, min(count, len(ids)))
    loaded = db.session.scalars(
        sa.select(Report).where(Report.id.in_(chosen)).options(selectinload(Report.drugs))
    ).all()
    named = [r for r in loaded if all(map(duplicates.is_chinese, r.patient_name or "="))]
    return sorted(named, key=lambda r: chosen.index(r.id))


def plant(seed: int, per_kind: int) -> list[Planted]:
    """Return `per_kind` planted reports of each kind, each of another original."""
    rng = random.Random(seed)
    sources = originals(rng, per_kind * len(KINDS))
    return [
        Planted(kind, variant(rng, original, kind), original.case_id)
        for kind, original in zip(
            (kind for kind in KINDS for _ in range(per_kind)), sources, strict=False
        )
    ]


@dataclass
class Quality:
    true: int = 0  # a planted duplicate's original proposed
    false: int = 0  # any other case proposed
    missed: int = 0  # a planted duplicate's original not proposed
    misses: Counter[str] = field(default_factory=Counter)
    false_by_kind: Counter[str] = field(default_factory=Counter)
    timings: list[float] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.true / (self.true + self.false) if self.true + self.false else 1.0

    @property
    def recall(self) -> float:
        return self.true / (self.true + self.missed) if self.true + self.missed else 1.0


def measure(planted: list[Planted], threshold: float | None = None) -> Quality:
    """Match each planted report as `store_report` would, and count what was proposed."""
    quality = Quality()
    for item in planted:
        started = time.perf_counter()
        found = {f.case_id for f in duplicates.find_candidates(item.report, threshold)}
        quality.timings.append(time.perf_counter() - started)
        db.session.rollback()  # end the read, as the write transaction would
        hit = item.duplicate and item.original_case_id in found
        quality.true += hit
        quality.missed += item.duplicate and not hit
        if item.duplicate and not hit:
            quality.misses[item.kind] += 1
        wrong = len(found) - hit
        quality.false += wrong
        quality.false_by_kind[item.kind] += wrong
    return quality


def milliseconds(timings: list[float]) -> tuple[float, float]:
    ordered = sorted(timings)
    return statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.95) - 1] * 1000


def months_back(count: int) -> list[str]:
    now = regulatory.china_today()
    year, month = now.year, now.month
    result = []
    for _ in range(count):
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
        result.append(f"{year}-{month:02d}")
    return result


def fill(folder: str, reports: int, months: int) -> None:
    """Make a database of demo reports over the last `months` months, through `adr demo-data`."""
    env = os.environ | {"ADR_INSTANCE_PATH": folder, "ADR_MAIL_BACKGROUND": "false"}
    subprocess.run([ADR, "db", "upgrade"], env=env, check=True, capture_output=True)  # noqa: S603
    for number, month in enumerate(months_back(months)):
        command = [ADR, "demo-data", "--reports", str(reports // months), "--month", month]
        command += ["--seed", str(number)]
        subprocess.run(command, env=env, check=True, capture_output=True)  # noqa: S603


def report_quality(name: str, quality: Quality, planted: int) -> None:
    print(
        f"{name}: {planted} planted, precision {quality.precision:.3f}, "
        f"recall {quality.recall:.3f} ({quality.true} found, {quality.missed} missed, "
        f"{quality.false} wrongly proposed)"
    )
    for kind, count in sorted(quality.misses.items()):
        print(f"  missed: {count} × {kind}")
    for kind, count in sorted(quality.false_by_kind.items()):
        if count:
            print(f"  wrongly proposed: {count} from {kind}")


def forget() -> None:
    """Start the next pass cold: a new SQLite connection (its page cache empty), no pinyin kept.

    The operating system's file cache stays warm: the database file is read from memory.
    """
    db.session.remove()
    db.engine.dispose()
    for cached in (
        duplicates.given_name,
        duplicates.initials_of,
        duplicates.spelled,
        duplicates.reaction_grams,
    ):
        cached.cache_clear()


def report_times(planted: list[Planted], repeat: int) -> None:
    """Match every planted report cold, then warm, `repeat` times; print the medians of the runs."""
    runs: dict[str, list[tuple[float, float]]] = {"cold": [], "warm": []}
    for _ in range(repeat):
        forget()
        for state in runs:
            runs[state].append(milliseconds(measure(planted).timings))
    for state, figures in runs.items():
        medians, p95s = zip(*figures, strict=True)
        each = ", ".join(f"{m:.1f}/{p:.1f}" for m, p in figures)
        print(
            f"  {state}: median {statistics.median(medians):.1f} ms, "
            f"p95 {statistics.median(p95s):.1f} ms (median of {repeat} runs; each run {each})"
        )


def run(reports: int, months: int, per_kind: int, seed: int, repeat: int, keep: str) -> None:
    with tempfile.TemporaryDirectory() as temporary:
        folder = str(Path(keep, f"{reports}-{months}")) if keep else temporary
        started = time.perf_counter()
        if not Path(folder, "adr.sqlite3").exists():
            Path(folder).mkdir(parents=True, exist_ok=True)
            fill(folder, reports, months)
        took = time.perf_counter() - started
        os.environ["ADR_INSTANCE_PATH"] = folder
        app = create_app(app_config(Path(folder), TESTING=False, LOG_LEVEL="WARNING"))
        with app.app_context():
            total = db.session.scalar(sa.select(sa.func.count(Report.id)))
            planted = plant(seed, per_kind)
            print(f"{total} demo reports over {months} month(s) in {took:.0f} s; SQLite")
            threshold = app.config["DUPLICATE_THRESHOLD"]
            report_quality(f"threshold {threshold}", measure(planted), len(planted))
            report_times(planted, repeat)
            db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reports", type=int, default=2000, help="for precision and recall")
    parser.add_argument("--large", type=int, default=100_000, help="for the time per report")
    parser.add_argument("--per-kind", type=int, default=60)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--repeat", type=int, default=5, help="cold and warm passes (medians)")
    parser.add_argument("--keep", default="", help="a folder to keep the databases in, and reuse")
    args, _ = parser.parse_known_args()
    print("== duplicates ==")
    run(args.reports, 1, args.per_kind, args.seed, args.repeat, args.keep)
    if args.large:
        run(args.large, 24, args.per_kind, args.seed, args.repeat, args.keep)


if __name__ == "__main__":
    main()
