"""Duplicate candidates: earlier cases that may be the same patient's same reaction.

A report that opens a new case is compared with the earlier reports that share a blocking key
(a suspect batch, the birth date, or, with an onset within a week, the patient's name initials
or sex and age, the latter only where one of the two reports names nobody), all fetched in one
query through the indexes. Each field agrees, nearly agrees, differs or is unknown on one
side; the evidence adds up (agreement scores, disagreement costs, an unknown field neither),
and the cases scoring at least `DUPLICATE_THRESHOLD` are kept. A pair staff judged not to be
duplicates is never proposed again, in either direction.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from types import SimpleNamespace
from typing import Any, NamedTuple, Protocol

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session, selectinload

from adr import audit, cases, regulatory
from adr.extensions import db
from adr.models import Case, Drug, DuplicateCandidate, DuplicateKey, Report

ONSET_WINDOW = timedelta(days=7)
RETRIEVED_AT_MOST = 300  # reports scored for one new report: the newest, if more share a key
PROPOSED_AT_MOST = 10
NAME_KEY_LENGTH = 12
NAME_KEYS_AT_MOST = 8  # readings of a name whose characters have several (曾: zeng, ceng)
ANONYMOUS = "某"  # 张某某: a name withheld, each 某 standing for any character

# The evidence each field gives, in points: (agrees, nearly agrees, differs). Tuned on the
# planted corpus of bench/duplicates.py.
WEIGHTS: dict[str, tuple[float, float, float]] = {
    "name": (4.0, 3.0, -5.0),  # nearly: a typo, a homophone, initials for the name
    "sex": (1.0, 1.0, -10.0),
    "age": (3.0, 1.5, -8.0),  # agrees: the same birth date; nearly: ages within a year
    "product": (1.5, 1.5, -3.0),
    "batch": (2.5, 1.0, -0.5),  # nearly: one character apart
    "onset": (2.5, 1.5, -4.0),  # nearly: within a week
    "reaction": (3.0, 1.0, -7.0),  # character n-gram Dice: ≥ 0.5 agrees, ≥ 0.25 nearly
}
SIMILAR_REACTION, RELATED_REACTION = 0.5, 0.25
FIELDS = tuple(WEIGHTS)
AGREES, NEARLY, DIFFERS, UNKNOWN = "agrees", "nearly", "differs", "unknown"


class DrugLike(Protocol):
    role: str
    approval_number: str | None
    brand_name: str | None
    generic_name: str | None
    batch_number: str | None


class PatientEvent(Protocol):
    """A report, or a case's current view: what the matcher reads."""

    patient_name: str | None
    patient_sex: str | None
    patient_birth_date: date | None
    patient_age: int | None
    patient_age_unit: str | None
    event_name: str | None
    event_description: str | None
    event_onset_date: date | None

    @property
    def drugs(self) -> Sequence[Any]: ...


# Names.


def folded(text: str | None) -> str:
    """Return text for comparison: full-width forms, case and everything but letters gone."""
    normal = unicodedata.normalize("NFKC", text or "").casefold()
    return "".join(char for char in normal if char.isalnum() or char == " ").strip()


def is_chinese(char: str) -> bool:
    return "\u3400" <= char <= "\u9fff" or "\uf900" <= char <= "\ufaff"


@lru_cache(maxsize=4096)
def given_name(text: str | None) -> str | None:
    """Return a name that identifies someone, folded; None for a placeholder (不详, N/A)."""
    return folded(text) if regulatory.identifies(text) and folded(text) else None


@lru_cache(maxsize=4096)
def initials_of(name: str) -> frozenset[str]:
    """Return the initials a folded name can be written with: 王晓明 → wxm, Wang Xiaoming → wx.

    A Latin name of one short word (WXM, w.x.m.) is taken as initials already.
    """
    chinese = [char for char in name if is_chinese(char)]
    if chinese:
        if ANONYMOUS in chinese[1:]:
            return frozenset()  # 张某某: only the surname is known
        from pypinyin import Style, pinyin  # loaded when first needed: 0.3 s of start-up

        readings = pinyin("".join(chinese), style=Style.FIRST_LETTER, heteronym=True)
        letters = [sorted({r[0].lower() for r in options if r})[:2] for options in readings]
        combos = itertools.islice(itertools.product(*letters), NAME_KEYS_AT_MOST)
        return frozenset("".join(combo) for combo in combos)
    words = name.split()
    if len(words) == 1 and len(words[0]) <= 4 and words[0].isalpha():
        return frozenset([words[0]])
    return frozenset(["".join(word[0] for word in words)]) if words else frozenset()


@lru_cache(maxsize=4096)
def spelled(name: str) -> str:
    """Return a folded name as letters: a Chinese name in pinyin, without spaces."""
    chinese = [char for char in name if is_chinese(char)]
    if chinese:
        from pypinyin import Style, pinyin  # loaded when first needed: 0.3 s of start-up

        return "".join(r[0] for r in pinyin("".join(chinese), style=Style.NORMAL))
    return name.replace(" ", "")


def is_initials(name: str) -> bool:
    return " " not in name and len(name) <= 4 and name.isascii() and name.isalpha()


def edits(a: str, b: str) -> int:
    """Return the Levenshtein distance of two short strings."""
    row = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, char_b in enumerate(b, 1):
            previous, row[j] = (
                row[j],
                min(row[j] + 1, row[j - 1] + 1, previous + (char_a != char_b)),
            )
    return row[-1]


def one_edit_apart(a: str, b: str) -> bool:
    """Tell whether one character changed, added or removed turns `a` into `b`."""
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    start = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), len(a))
    skip = 1 if len(a) == len(b) else 0
    return a[start + skip :] == b[start + 1 :]


def compare_names(a: str | None, b: str | None) -> str:
    """Tell how two patients' names compare: 王小明, 王晓明 and WXM nearly agree."""
    first, second = given_name(a), given_name(b)
    if not first or not second:
        return UNKNOWN
    if first == second:
        return AGREES
    if is_initials(first) or is_initials(second):
        short, full = (first, second) if is_initials(first) else (second, first)
        return NEARLY if short in initials_of(full) else DIFFERS
    chinese = [any(map(is_chinese, name)) for name in (first, second)]
    if all(chinese):
        withheld = ANONYMOUS in first[1:] or ANONYMOUS in second[1:]
        if withheld:  # 张某某 and 张三: the surnames say what can be said
            return NEARLY if first[0] == second[0] else DIFFERS
        same_sound = initials_of(first) & initials_of(second)
        if first[0] == second[0] and (same_sound or one_edit_apart(first, second)):
            return NEARLY
        return DIFFERS
    spelled_first, spelled_second = spelled(first), spelled(second)
    if edits(spelled_first, spelled_second) <= max(1, len(spelled_first) // 6):
        return NEARLY
    return DIFFERS


def name_keys(name: str | None) -> set[str]:
    """Return the blocking keys of a patient's name: its initials, in each reading."""
    given = given_name(name)
    return {key for key in initials_of(given) if key} if given else set()


# Reactions.

SEGMENTS = re.compile(r"[^\w]+|_")


@lru_cache(maxsize=4096)
def reaction_grams(text: str | None) -> frozenset[str]:
    """Return the character unigrams and bigrams of a reaction's text, per phrase.

    Chinese has no spaces between words, so words cannot be compared; characters and their
    pairs can (皮疹、瘙痒 and 全身皮疹伴瘙痒 share 皮, 疹, 瘙, 痒, 皮疹 and 瘙痒). Latin
    words count whole.
    """
    grams: set[str] = set()
    for phrase in SEGMENTS.split(unicodedata.normalize("NFKC", text or "").casefold()):
        if not any(map(is_chinese, phrase)):
            grams.update(phrase.split())
            continue
        grams.update(phrase)
        grams.update(phrase[i : i + 2] for i in range(len(phrase) - 1))
    grams.discard("")
    return frozenset(grams)


def dice(a: frozenset[str], b: frozenset[str]) -> float:
    """Return the Dice coefficient of two sets: twice the shared part over the sizes."""
    return 2 * len(a & b) / (len(a) + len(b)) if a and b else 0.0


def reaction_text(record: PatientEvent) -> str | None:
    return record.event_name or record.event_description


# The other fields.


PER_YEAR = {"year": 1, "month": 12, "day": 365}  # an age's unit, and how many make a year
AGES_NEARLY = 1.5  # years apart, for ages that nearly agree: an age in years rounds down


def age_in_years(record: PatientEvent) -> float | None:
    """Return the patient's age at onset, in years, from the birth date or the age given."""
    birth, onset = record.patient_birth_date, record.event_onset_date
    if birth and onset:
        return (onset - birth).days / 365.25
    if record.patient_age is None:
        return None
    return record.patient_age / PER_YEAR.get(record.patient_age_unit or "year", 1)


def suspects(record: PatientEvent) -> list[DrugLike]:
    return [drug for drug in record.drugs if drug.role == "suspect"]


def compact(text: str | None) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split()).upper() if text else ""


def suspect_batches(record: PatientEvent) -> set[str]:
    return {compact(drug.batch_number) for drug in suspects(record)} - {""}


@dataclass(frozen=True)
class Profile:
    """What the matcher compares of a report or a case, read once."""

    name: str | None
    sex: str | None
    birth_date: date | None
    age: float | None
    onset: date | None
    grams: frozenset[str]
    approvals: frozenset[str]
    generics: frozenset[str]
    brands: frozenset[str]
    batches: frozenset[str]


def profile(record: PatientEvent) -> Profile:
    drugs = suspects(record)

    def named(column: str) -> frozenset[str]:
        return frozenset(compact(getattr(drug, column)) for drug in drugs) - {""}

    return Profile(
        name=record.patient_name,
        sex=record.patient_sex if record.patient_sex in ("male", "female") else None,
        birth_date=record.patient_birth_date,
        age=age_in_years(record),
        onset=record.event_onset_date,
        grams=reaction_grams(reaction_text(record)),
        approvals=named("approval_number"),
        generics=named("generic_name"),
        brands=named("brand_name"),
        batches=named("batch_number"),
    )


def compare_reactions(a: Profile, b: Profile) -> str:
    if not a.grams or not b.grams:
        return UNKNOWN
    similarity = dice(a.grams, b.grams)
    if similarity >= SIMILAR_REACTION:
        return AGREES
    return NEARLY if similarity >= RELATED_REACTION else DIFFERS


def compare_ages(a: Profile, b: Profile) -> str:
    if a.birth_date and b.birth_date:
        return AGREES if a.birth_date == b.birth_date else DIFFERS
    if a.age is None or b.age is None:
        return UNKNOWN
    return NEARLY if abs(a.age - b.age) <= AGES_NEARLY else DIFFERS


def compare_sexes(a: Profile, b: Profile) -> str:
    if not a.sex or not b.sex:
        return UNKNOWN
    return AGREES if a.sex == b.sex else DIFFERS


def compare_onsets(a: Profile, b: Profile) -> str:
    if not a.onset or not b.onset:
        return UNKNOWN
    apart = abs(a.onset - b.onset)
    return AGREES if not apart else (NEARLY if apart <= ONSET_WINDOW else DIFFERS)


def compare_products(a: Profile, b: Profile) -> str:
    """Tell whether the suspect products overlap: approval number, generic or brand name.

    A generic name agrees with one that holds it (阿莫西林 and 阿莫西林胶囊); a brand alone
    counts only where a side gives no generic name, since one brand may cover many products.
    """
    if not (a.approvals or a.generics or a.brands) or not (b.approvals or b.generics or b.brands):
        return UNKNOWN
    if a.approvals & b.approvals:
        return AGREES
    if any(x in y or y in x for x in a.generics for y in b.generics):
        return AGREES
    if not (a.generics and b.generics) and a.brands & b.brands:
        return AGREES
    return DIFFERS


def compare_batches(a: Profile, b: Profile) -> str:
    if not a.batches or not b.batches:
        return UNKNOWN
    if a.batches & b.batches:
        return AGREES
    near = any(one_edit_apart(x, y) for x in a.batches for y in b.batches)
    return NEARLY if near else DIFFERS


POINTS = {
    name: {AGREES: agrees, NEARLY: nearly, DIFFERS: differs}
    for name, (agrees, nearly, differs) in WEIGHTS.items()
}


@dataclass
class Comparison:
    """How two records compare, field by field, and the evidence that adds up to."""

    verdicts: dict[str, str]
    score: float = field(init=False)

    def __post_init__(self) -> None:
        total = 0.0
        for name, verdict in self.verdicts.items():
            total += POINTS[name].get(verdict, 0.0)
        self.score = round(total, 2)

    @property
    def matched(self) -> list[str]:
        return [name for name, verdict in self.verdicts.items() if verdict in (AGREES, NEARLY)]


def compare(a: PatientEvent | Profile, b: PatientEvent | Profile) -> Comparison:
    """Compare two reports, two cases' current views, or their profiles, field by field."""
    first = a if isinstance(a, Profile) else profile(a)
    second = b if isinstance(b, Profile) else profile(b)
    return Comparison(
        {
            "name": compare_names(first.name, second.name),
            "sex": compare_sexes(first, second),
            "age": compare_ages(first, second),
            "product": compare_products(first, second),
            "batch": compare_batches(first, second),
            "onset": compare_onsets(first, second),
            "reaction": compare_reactions(first, second),
        }
    )


CEILING = sum(agrees for agrees, _nearly, _differs in WEIGHTS.values())  # every field agreeing


def out_of_reach(a: Profile, b: Profile, limit: float) -> bool:
    """Tell whether two profiles score below `limit` whatever their other fields say, because
    the patients' sex or age differ: the cheapest fields to compare, and the most telling."""
    ceiling = CEILING
    for name, verdict in (("sex", compare_sexes(a, b)), ("age", compare_ages(a, b))):
        if verdict == DIFFERS:
            agrees, _nearly, differs = WEIGHTS[name]
            ceiling += differs - agrees
    return ceiling < limit


# The database.


@dataclass
class Found:
    """An earlier case a new report may duplicate, and the evidence."""

    case_id: int
    comparison: Comparison
    found_at: datetime = field(default_factory=lambda: datetime.now(UTC))


def threshold() -> float:
    return float(current_app.config["DUPLICATE_THRESHOLD"])


# The report columns the blocking keys are made of.
KEYED_COLUMNS = (
    "patient_name",
    "patient_sex",
    "patient_age",
    "patient_age_unit",
    "patient_birth_date",
    "event_onset_date",
)
SEX_CODES = {"male": "m", "female": "f"}
OTHER_SEX = {"male": "female", "female": "male"}
AGE_GAP = AGES_NEARLY + 0.01  # and a margin for the SQL's arithmetic


def age_keys(values: Mapping[str, Any], spread: int = 0, named: bool = False) -> set[str]:
    """Return the sex-and-age keys of a report (af68: a woman of 68), ages ± `spread` years.

    A report naming the patient has them as pf68 instead, so that another named report, which
    finds it by the name, does not also compare it with every woman of 68 that week.
    """
    age = age_in_years(SimpleNamespace(**{name: values.get(name) for name in KEYED_COLUMNS}))
    if age is None or age < 0:
        return set()
    sex = SEX_CODES.get(values.get("patient_sex") or "")
    sexes = [sex, "u"] if spread and sex else (["m", "f", "u"] if spread else [sex or "u"])
    years = range(int(age) - spread, int(age) + spread + 1)
    prefix = "p" if named else "a"
    return {f"{prefix}{code}{year}" for code in sexes for year in years if year >= 0}


def key_rows(report_id: int, values: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return the blocking-key rows of one report (its column values by name), to insert."""
    keys = {f"n{key}"[:NAME_KEY_LENGTH] for key in name_keys(values.get("patient_name"))}
    keys |= age_keys(values, named=bool(keys))
    onset = values.get("event_onset_date")
    return [{"report_id": report_id, "key": key, "onset": onset} for key in sorted(keys)]


@dataclass
class Earlier:
    """An earlier report as the matcher reads it: its patient, event and suspect drugs."""

    patient_name: str | None
    patient_sex: str | None
    patient_birth_date: date | None
    patient_age: int | None
    patient_age_unit: str | None
    event_name: str | None
    event_description: str | None
    event_onset_date: date | None
    drugs: list[Any] = field(default_factory=list)


class SuspectDrug(NamedTuple):
    """A suspect drug of an earlier report, as the matcher reads it."""

    role: str
    approval_number: str | None
    brand_name: str | None
    generic_name: str | None
    batch_number: str | None


EARLIER_FIELDS = [name for name in Earlier.__annotations__ if name != "drugs"]
EARLIER_COLUMNS = [Report.id, Report.case_id, *(getattr(Report, name) for name in EARLIER_FIELDS)]
DRUG_COLUMNS = [getattr(Drug, name) for name in SuspectDrug._fields]
PROFILES_KEPT = 4096  # earlier reports' profiles, by their values: 13 retrievals' worth


def earlier_rows(query: tuple[sa.Select[Any], dict[str, Any]]) -> Sequence[sa.Row[Any]]:
    """Return the rows of the earlier reports `retrieval` finds, one per suspect drug."""
    return db.session.connection().execute(*query).all()


def earlier_profiles(rows: Iterable[Sequence[Any]]) -> list[tuple[int, Profile]]:
    """Return the case and profile of each earlier report in `earlier_rows`."""
    loaded: dict[int, tuple[int, tuple[Any, ...], list[tuple[Any, ...]]]] = {}
    width = len(EARLIER_COLUMNS)
    for row in rows:
        report = loaded.get(row[0])
        if report is None:
            report = loaded[row[0]] = (row[1], tuple(row[2:width]), [])
        if row[width] is not None:  # a report without a suspect drug has one row of nulls
            report[2].append(tuple(row[width:]))
    return [
        (case_id, stored_profile(values, tuple(drugs)))
        for case_id, values, drugs in loaded.values()
    ]


@lru_cache(maxsize=PROFILES_KEPT)
def stored_profile(values: tuple[Any, ...], drugs: tuple[tuple[Any, ...], ...]) -> Profile:
    """Return the profile of an earlier report from its stored values, made once.

    Every new report of a batch reads the batch's newest reports again (up to
    `RETRIEVED_AT_MOST`). Kept by the values themselves, a profile cannot be stale: a report
    corrected since reads with other values, and gets a profile of its own.
    """
    suspect = [SuspectDrug(*drug) for drug in drugs]
    return profile(Earlier(**dict(zip(EARLIER_FIELDS, values, strict=True)), drugs=suspect))


def beyond_reach(name: str, limit: float) -> bool:
    """Tell whether a pair whose `name` field differs scores below `limit`, all else agreeing."""
    agrees, _nearly, differs = WEIGHTS[name]
    return CEILING + differs - agrees < limit


def age_at_onset(dialect: str) -> sa.ColumnElement[Any]:
    """An earlier report's age in years as `age_in_years` reads it, in SQL."""
    birth, onset = Report.patient_birth_date, Report.event_onset_date
    days = (
        onset - birth
        if dialect == "postgresql"
        else sa.func.julianday(onset) - sa.func.julianday(birth)
    )
    return sa.case(
        (sa.and_(birth.is_not(None), onset.is_not(None)), days / 365.25), else_=age_given()
    )


def age_given() -> sa.ColumnElement[Any]:
    """An earlier report's age in years from the age and unit typed, in SQL (NULL if none)."""
    per_year = {unit: float(n) for unit, n in PER_YEAR.items()}
    return Report.patient_age / sa.case(per_year, value=Report.patient_age_unit, else_=1.0)


@lru_cache(maxsize=64)
def retrieval_statement(
    batch: bool, birth: bool, keys: bool, window: bool, dialect: str, sex: bool, age: str | None
) -> sa.Select[Any]:
    """Return the statement `retrieval` fills in, for the keys a report has: built once.

    It reads the earlier reports one row per suspect drug, their ids found by a subquery in the
    same round trip. PostgreSQL gets the ids as an array, so that it looks each report up by
    its key: as a join or `IN`, it may merge the ids with a scan of every report from the
    newest down. Reports of cases marked duplicates are left out by the status copied onto
    each report: joined instead, the cases cost more than the reports. So are, among the
    newest, the reports `out_of_reach` would pass over (`sex`: of the other sex; `age`: of
    another birth date or age, as `compare_ages` reads them): in a scare, most of a batch's
    newest reports are other patients', and the matcher need not read them.
    """
    start, end = sa.bindparam("start", type_=sa.Date), sa.bindparam("end", type_=sa.Date)
    born = sa.bindparam("birth", type_=sa.Date)
    queries: list[sa.Select[Any]] = []
    if batch:
        same_batch = sa.select(Drug.report_id).where(
            Drug.batch_number.in_(sa.bindparam("batches", expanding=True))
        )
        if window:  # an onset within it, or none: each drug's report looked up by its key, as
            # the batch's newest are read, whatever the planner's statistics say (joined, a
            # new database's stale ones had PostgreSQL scan every report for each drug), and
            # once (a subquery for the onset, compared by BETWEEN, is looked up at each end)
            onset = sa.func.coalesce(Report.event_onset_date, start).between(start, end)
            within = sa.select(onset).where(Report.id == Drug.report_id).scalar_subquery()
            same_batch = same_batch.where(within)
        queries.append(same_batch)
    if birth:
        queries.append(sa.select(Report.id).where(Report.patient_birth_date == born))
    if keys:
        shared = sa.select(DuplicateKey.report_id).where(
            DuplicateKey.key.in_(sa.bindparam("keys", expanding=True))
        )
        if window:
            shared = shared.where(DuplicateKey.onset.between(start, end))
        queries.append(shared)
    # The newest of the union are among the newest of each part: each part keeps only those.
    newest_of_each = [
        sa.select(part.c[0])
        for part in (
            query.order_by(query.selected_columns[0].desc()).limit(RETRIEVED_AT_MOST).subquery()
            for query in queries
        )
    ]
    union = sa.union(*newest_of_each).subquery()
    ids = sa.select(union.c[0]).order_by(union.c[0].desc()).limit(RETRIEVED_AT_MOST)
    if dialect == "postgresql":
        newest = Report.id == sa.any_(sa.func.array(ids.scalar_subquery()))
    else:
        newest = Report.id.in_(ids)
    reachable = [Report.case_status != "duplicate"]
    if sex:
        reachable.append(sa.func.coalesce(Report.patient_sex, "") != sa.bindparam("other_sex"))
    if age:  # as `compare_ages` reads them: the birth dates where both have one, else the
        # ages where both have one (a little wider here: the matcher has the last word)
        years = sa.bindparam("years", type_=sa.Float)

        def near(age: sa.ColumnElement[Any]) -> sa.ColumnElement[bool]:
            return sa.or_(age.is_(None), sa.func.abs(age - years) <= AGE_GAP)

        if not birth:
            reachable.append(near(age_at_onset(dialect)))
        else:
            unborn: sa.ColumnElement[bool] = Report.patient_birth_date.is_(None)
            if age == "birth and age":
                unborn = sa.and_(unborn, near(age_given()))
            reachable.append(sa.or_(Report.patient_birth_date == born, unborn))
    return (
        sa.select(*EARLIER_COLUMNS, *DRUG_COLUMNS)
        .select_from(Report)
        .outerjoin(Drug, sa.and_(Drug.report_id == Report.id, Drug.role == "suspect"))
        .where(newest, *reachable)
        .order_by(Report.id.desc())
    )


def retrieval(
    report: Report, limit: float | None = None
) -> tuple[sa.Select[Any], dict[str, Any]] | None:
    """Return the query for the earlier reports sharing a blocking key (the newest
    `RETRIEVED_AT_MOST`), if any, but those that score below `limit` (the threshold) whatever
    else they agree on.

    A suspect batch or the birth date, through their indexes; the name's initials, or sex and
    age within a year, with an onset within a week, through `duplicate_key`.
    """
    onset = report.event_onset_date
    params: dict[str, Any] = {}
    if onset:
        params.update(start=onset - ONSET_WINDOW, end=onset + ONSET_WINDOW)
    batches = sorted({drug.batch_number for drug in suspects(report) if drug.batch_number})
    if batches:
        params["batches"] = batches
    if report.patient_birth_date:
        params["birth"] = report.patient_birth_date
    keys = {f"n{key}"[:NAME_KEY_LENGTH] for key in name_keys(report.patient_name)}
    if onset:  # without an onset, sex and age are too common to look up
        values = {name: getattr(report, name) for name in KEYED_COLUMNS}
        if not keys:  # a report naming nobody: the named patients of that sex and age too
            keys |= age_keys(values, spread=1, named=True)
        keys |= age_keys(values, spread=1)
    if keys:
        params["keys"] = sorted(keys)
    if not {"batches", "birth", "keys"} & params.keys():
        return None
    limit = threshold() if limit is None else limit
    other_sex = OTHER_SEX.get(report.patient_sex or "") if beyond_reach("sex", limit) else None
    if other_sex:
        params["other_sex"] = other_sex
    age = None
    if beyond_reach("age", limit):
        years = age_in_years(report)
        if years is not None:
            params["years"] = years
        if "birth" in params:
            age = "birth" if years is None else "birth and age"
        elif years is not None:
            age = "age"
    dialect = db.engine.dialect.name
    shape = (bool(batches), "birth" in params, bool(keys), onset is not None, dialect)
    return retrieval_statement(*shape, bool(other_sex), age), params


def find_candidates(report: Report, at_least: float | None = None) -> list[Found]:
    """Return the earlier cases a new, unsaved report may duplicate, best first.

    Cases already marked duplicates are left out: their originals are proposed instead.
    """
    limit = threshold() if at_least is None else at_least
    query = retrieval(report, limit)
    if query is None:
        return []
    best: dict[int, Comparison] = {}
    new = profile(report)
    alike: dict[int, Comparison] = {}  # by profile: a case's reports often tell the same
    for case_id, other in earlier_profiles(earlier_rows(query)):
        if out_of_reach(new, other, limit):
            continue
        comparison = alike.get(id(other)) or alike.setdefault(id(other), compare(new, other))
        if case_id not in best or comparison.score > best[case_id].score:
            best[case_id] = comparison
    kept = sorted(
        ((c.score, case_id) for case_id, c in best.items() if c.score >= limit), reverse=True
    )
    return [Found(case_id, best[case_id]) for _score, case_id in kept[:PROPOSED_AT_MOST]]


ADD_KEYS, ADD_CANDIDATES = sa.insert(DuplicateKey), sa.insert(DuplicateCandidate)


def record(session: Session, report: Report, found: Iterable[Found]) -> None:
    """Store a new report's name keys and, for a new case, its candidates (in its transaction).

    The case is new, so no pair of it is stored, judged or proposed, in either direction.
    """
    connection = session.connection()
    rows = key_rows(report.id, {name: getattr(report, name) for name in KEYED_COLUMNS})
    if rows:
        connection.execute(ADD_KEYS, rows)
    rows = [
        {
            "case_id": report.case_id,
            "candidate_case_id": candidate.case_id,
            "score": candidate.comparison.score,
            "matched": candidate.comparison.matched,
            "found_at": candidate.found_at,
        }
        for candidate in found
        if candidate.case_id != report.case_id
    ]
    if rows:  # psycopg's executemany: one round trip, and one statement parsed once
        connection.execute(ADD_CANDIDATES, rows)


def candidates_of(case_id: int) -> list[DuplicateCandidate]:
    """Return the pairs a case belongs to, either side, best first."""
    return list(
        db.session.scalars(
            sa.select(DuplicateCandidate)
            .where(
                sa.or_(
                    DuplicateCandidate.case_id == case_id,
                    DuplicateCandidate.candidate_case_id == case_id,
                )
            )
            .order_by(DuplicateCandidate.score.desc(), DuplicateCandidate.id)
        )
    )


def pair(case_id: int, other_case_id: int) -> DuplicateCandidate | None:
    """Return the candidate pair of two cases, whichever was found from which."""
    return db.session.scalar(
        sa.select(DuplicateCandidate).where(
            sa.or_(
                sa.and_(
                    DuplicateCandidate.case_id == case_id,
                    DuplicateCandidate.candidate_case_id == other_case_id,
                ),
                sa.and_(
                    DuplicateCandidate.case_id == other_case_id,
                    DuplicateCandidate.candidate_case_id == case_id,
                ),
            )
        )
    )


def decide(session: Session, candidate_id: int, decision: str, actor: str) -> None:
    """Record staff's decision on a pair, inside the caller's write transaction.

    "not_duplicate" is audited on both cases here; "duplicate" rides on the assessment, which
    audits the status and the original.
    """
    candidate = session.get(DuplicateCandidate, candidate_id, populate_existing=True)
    if candidate is None:
        raise LookupError(f"no duplicate candidate {candidate_id}")
    candidate.decision = decision
    candidate.decided_by = actor
    candidate.decided_at = datetime.now(UTC)
    if decision == "not_duplicate":
        one, other = candidate.case.first_report, candidate.candidate_case.first_report
        for report, beside in ((one, other), (other, one)):
            audit.record(
                session,
                actor,
                "not a duplicate",
                report.id,
                "not_duplicate_of",
                None,
                beside.reference,
            )


def open_count() -> int:
    """Return how many proposed pairs await a reviewer's decision."""
    query = sa.select(sa.func.count()).where(DuplicateCandidate.decision == "none")
    return db.session.scalar(query) or 0


def current_views(case_ids: Sequence[int]) -> dict[int, cases.CurrentView]:
    """Return the current view of each case, loaded in two queries."""
    loaded = db.session.scalars(
        sa.select(Case)
        .where(Case.id.in_(case_ids))
        .options(selectinload(Case.reports).selectinload(Report.drugs))
    )
    return {case.id: cases.current_view(case.reports) for case in loaded}
