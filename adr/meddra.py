"""MedDRA from the company's licence: importing a release's MedAscii files, and searching it.

Nothing of MedDRA ships with the project. A release comes as `$`-separated text files, one
record a line (llt.asc, pt.asc, hlt.asc, hlgt.asc, soc.asc, mdhier.asc, the link files and
meddra_release.asc), in one language; a second language of the same version adds its names to
the same terms. Reactions are coded to current LLTs; a PT is shown with its primary SOC.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from adr import audit
from adr.extensions import db
from adr.models import (
    FIRST_REPORT_ORDER,
    AuditEntry,
    CaseDisease,
    LabResult,
    MeddraRelease,
    MeddraTerm,
    Product,
    Reaction,
    Report,
    TermCoding,
    write_transaction,
)

LANGUAGES = {"english": "en", "chinese": "zh"}  # as meddra_release.asc names them
TERM_FILES = {
    "soc": "soc.asc",
    "hlgt": "hlgt.asc",
    "hlt": "hlt.asc",
    "pt": "pt.asc",
    "llt": "llt.asc",
}
REQUIRED_FILES = (*TERM_FILES.values(), "mdhier.asc")
LINK_FILES = {
    "hlt_pt.asc": ("hlt", "pt"),
    "hlgt_hlt.asc": ("hlgt", "hlt"),
    "soc_hlgt.asc": ("soc", "hlgt"),
}
CHUNK = 5000
NAME_LENGTH = 100
VERSION_RE = re.compile(r"^\d{1,2}\.\d$")
CHINESE_RUN = re.compile(r"[\u3400-\u9fff]{2,}")


class ReleaseError(Exception):
    """The folder is not a MedDRA release this import can read: nothing was imported."""


@dataclass
class ImportResult:
    version: str
    language: str
    counts: dict[str, int] = field(default_factory=dict)  # terms read, by level
    added: bool = True  # False: the version was there in another language, or this one again
    recoded: dict[int, int] = field(default_factory=dict)  # terms recoded to it, by case id
    listed_coded: int = 0  # the catalogue's listed reactions it coded automatically


def records(path: Path) -> Iterator[list[str]]:
    """Yield each line's `$`-separated fields (UTF-8; a Chinese release may be GB18030)."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("gb18030")
    for line in text.splitlines():
        if line.strip():
            yield line.split("$")


def code_of(text: str, path: Path) -> int:
    if not text.strip().isdigit():
        raise ReleaseError(f"{path.name}: {text[:20]!r} is not a MedDRA code")
    return int(text)


def release_of(folder: Path, version: str | None, language: str | None) -> tuple[str, str]:
    """Return the release's version and language, read from meddra_release.asc unless given."""
    stated = folder / "meddra_release.asc"
    if stated.exists() and not (version and language):
        fields = next(records(stated), [])
        if len(fields) >= 2:
            version = version or fields[0].strip()
            language = language or LANGUAGES.get(fields[1].strip().casefold(), fields[1])
    if not version or not VERSION_RE.match(version):
        raise ReleaseError(f"MedDRA version {version!r} not known: give --version, e.g. 27.1")
    if language not in LANGUAGES.values():
        raise ReleaseError(f"language {language!r} not known: give --language en or zh")
    return version, str(language)


def read_release(folder: Path) -> dict[str, dict[int, dict[str, Any]]]:
    """Read the terms of each level and each PT's primary path, checking the links hold."""
    missing = [name for name in REQUIRED_FILES if not (folder / name).exists()]
    if missing:
        raise ReleaseError(f"{folder}: not a MedAscii folder, missing {', '.join(missing)}")
    terms: dict[str, dict[int, dict[str, Any]]] = {}
    for level, name in TERM_FILES.items():
        path = folder / name
        terms[level] = {}
        for fields in records(path):
            if len(fields) < 2 or not fields[1].strip():
                raise ReleaseError(f"{name}: a line without a term: {'$'.join(fields)[:60]!r}")
            terms[level][code_of(fields[0], path)] = {"name": fields[1].strip()[:NAME_LENGTH]}
    for fields in records(folder / "llt.asc"):
        if len(fields) < 3:
            raise ReleaseError(f"llt.asc: a short line: {'$'.join(fields)[:60]!r}")
        llt = terms["llt"][int(fields[0])]
        llt["pt_code"] = code_of(fields[2], folder / "llt.asc")
        llt["current"] = len(fields) <= 9 or fields[9].strip().upper() != "N"
        if llt["pt_code"] not in terms["pt"]:
            raise ReleaseError(f"llt.asc: LLT {fields[0]} names PT {fields[2]}, not in pt.asc")
    for fields in records(folder / "mdhier.asc"):
        if len(fields) < 12:
            raise ReleaseError(f"mdhier.asc: a short line: {'$'.join(fields)[:60]!r}")
        pt_code, hlt, hlgt, soc = (code_of(text, folder / "mdhier.asc") for text in fields[:4])
        if fields[11].strip().upper() == "Y" and pt_code in terms["pt"]:
            terms["pt"][pt_code].update(hlt_code=hlt, hlgt_code=hlgt, soc_code=soc)
    for name, (upper, lower) in LINK_FILES.items():
        path = folder / name
        for fields in records(path) if path.exists() else ():
            if (
                code_of(fields[0], path) not in terms[upper]
                or code_of(fields[1], path) not in (terms[lower])
            ):
                raise ReleaseError(
                    f"{name}: {'$'.join(fields[:2])} links a term not in the release"
                )
    return terms


def import_release(
    folder: Path, actor: str, version: str | None = None, language: str | None = None
) -> ImportResult:
    """Import a MedAscii folder: a new version, or another language's names of one imported."""
    terms = read_release(folder)
    version, language = release_of(folder, version, language)
    result = ImportResult(version, language, {level: len(rows) for level, rows in terms.items()})
    try:
        store(terms, result, actor)
    except IntegrityError as error:  # another import of the same version committed first
        raise ReleaseError(
            f"MedDRA {version} was being imported at the same time: run it again"
        ) from error
    result.recoded = recode(version, actor)
    return result


def store(terms: dict[str, dict[int, dict[str, Any]]], result: ImportResult, actor: str) -> None:
    """Write the release's terms, or its names in another language, and say who imported it."""
    version, language = result.version, result.language
    name_column = f"name_{language}"
    with write_transaction() as session:
        held = session.scalar(
            sa.select(sa.func.count()).select_from(MeddraTerm).where(MeddraTerm.version == version)
        )
        if held:
            result.added = False
            codes = {
                (level, code)
                for level, code in session.execute(
                    sa.select(MeddraTerm.level, MeddraTerm.code).where(
                        MeddraTerm.version == version
                    )
                )
            }
            read = {(level, code) for level, rows in terms.items() for code in rows}
            if codes != read:
                raise ReleaseError(
                    f"MedDRA {version} is imported with other terms: this folder is another "
                    "release (its version or its files differ)"
                )
            update = (
                sa.update(MeddraTerm)
                .where(
                    MeddraTerm.version == version,
                    MeddraTerm.level == sa.bindparam("b_level"),
                    MeddraTerm.code == sa.bindparam("b_code"),
                )
                .values({name_column: sa.bindparam("b_name")})
            )
            rows = [
                {"b_level": level, "b_code": code, "b_name": term["name"]}
                for level, level_terms in terms.items()
                for code, term in level_terms.items()
            ]
            connection = session.connection()
            for first in range(0, len(rows), CHUNK):
                connection.execute(update, rows[first : first + CHUNK])
        else:
            rows = [
                {
                    "version": version,
                    "level": level,
                    "code": code,
                    "name_en": None,
                    "name_zh": None,
                    "pt_code": term.get("pt_code"),
                    "current": term.get("current"),
                    "hlt_code": term.get("hlt_code"),
                    "hlgt_code": term.get("hlgt_code"),
                    "soc_code": term.get("soc_code"),
                }
                | {name_column: term["name"]}
                for level, level_terms in terms.items()
                for code, term in level_terms.items()
            ]
            for first in range(0, len(rows), CHUNK):
                session.execute(sa.insert(MeddraTerm), rows[first : first + CHUNK])
        release = session.scalar(
            sa.select(MeddraRelease).filter_by(version=version, language=language)
        ) or MeddraRelease(version=version, language=language)
        release.imported_at = datetime.now(UTC)
        release.imported_by = actor
        release.llt_count = len(terms["llt"])
        session.add(release)
        audit.record(
            session, actor, "meddra imported", None, "meddra", None, f"{version} {language}"
        )
        result.listed_coded = code_listed_reactions(session)


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def versions() -> list[str]:
    """Return the imported versions, newest first."""
    found = db.session.scalars(sa.select(MeddraRelease.version).distinct())
    return sorted(found, key=version_key, reverse=True)


def current_version() -> str | None:
    """Return the newest imported version: the one reactions are coded to."""
    return next(iter(versions()), None)


def languages(version: str) -> list[str]:
    return list(
        db.session.scalars(
            sa.select(MeddraRelease.language)
            .where(MeddraRelease.version == version)
            .order_by(MeddraRelease.language)
        )
    )


@dataclass(frozen=True)
class Hit:
    """One LLT with its PT and primary SOC, named in the language asked (else the other)."""

    version: str
    llt_code: int
    llt_name: str
    pt_code: int
    pt_name: str
    soc_code: int | None
    soc_name: str
    current: bool


LLT = aliased(MeddraTerm, name="llt")
PT = aliased(MeddraTerm, name="pt")
SOC = aliased(MeddraTerm, name="soc")


def named(term: Any, language: str) -> Any:
    first, second = (
        (term.name_zh, term.name_en) if language == "zh" else (term.name_en, term.name_zh)
    )
    return sa.func.coalesce(first, second, "")


def hits_query(version: str, language: str) -> sa.Select[Any]:
    return (
        sa.select(
            LLT.version,
            LLT.code,
            named(LLT, language),
            PT.code,
            named(PT, language),
            SOC.code,
            named(SOC, language),
            LLT.current,
        )
        .join(PT, sa.and_(PT.version == LLT.version, PT.level == "pt", PT.code == LLT.pt_code))
        .outerjoin(
            SOC, sa.and_(SOC.version == PT.version, SOC.level == "soc", SOC.code == PT.soc_code)
        )
        .where(LLT.version == version, LLT.level == "llt")
    )


def to_hit(row: Any) -> Hit:
    return Hit(row[0], row[1], row[2], row[3], row[4], row[5], row[6] or "", bool(row[7]))


@dataclass(frozen=True)
class Names:
    """A version's current LLTs, by name, held in memory: what a search reads (~15 MB at 80k)."""

    stamp: tuple[Any, ...]  # the releases it was read from: a new import reads it again
    rows: list[tuple[int, str, str]]  # code, English name in lower case, Chinese name
    by_name: dict[str, list[int]]


NAMES: dict[str, Names] = {}
NAMES_LOCK = threading.Lock()


def names(version: str) -> Names:
    """Return the version's current LLT names, read once per process and import."""
    stamp = tuple(
        db.session.execute(
            sa.select(sa.func.count(), sa.func.max(MeddraRelease.imported_at)).where(
                MeddraRelease.version == version
            )
        ).one()
    )
    held = NAMES.get(version)
    if held and held.stamp == stamp:
        return held
    with NAMES_LOCK:
        query = sa.select(MeddraTerm.code, MeddraTerm.name_en, MeddraTerm.name_zh).where(
            MeddraTerm.version == version, MeddraTerm.level == "llt", MeddraTerm.current.is_(True)
        )
        rows = [
            (code, (en or "").casefold(), zh or "") for code, en, zh in db.session.execute(query)
        ]
        by_name: dict[str, list[int]] = {}
        for code, en, zh in rows:
            for name in {en, zh} - {""}:
                by_name.setdefault(name, []).append(code)
        NAMES[version] = held = Names(stamp, rows, by_name)
    return held


def search(text: str, language: str, limit: int = 20, version: str | None = None) -> list[Hit]:
    """Return current LLTs whose English or Chinese name holds `text`, best first.

    An exact name first, then names beginning with it, then names holding it, shorter first;
    then, for a reported term such as 全身皮疹伴瘙痒, the LLTs whose names it holds (longest
    first): Chinese needs no word splitting.
    """
    version = version or current_version()
    text = " ".join(text.split()).casefold()[:NAME_LENGTH]
    if not version or not text:
        return []
    held = names(version)
    ranked = []
    for code, en, zh in held.rows:
        if text in en or text in zh:
            rank = 0 if text in (en, zh) else 1 if en.startswith(text) or zh.startswith(text) else 2
            shown = (zh or en) if language == "zh" else (en or zh)
            ranked.append((rank, len(shown), code))
    ranked.sort()
    codes = [code for _rank, _length, code in ranked[:limit]]
    inside = sorted(
        ((len(name), code) for name in held_names(text) for code in held.by_name.get(name, ())),
        reverse=True,
    )
    codes += [code for _length, code in inside if code not in codes]
    return described(codes[:limit], version, language)


def described(codes: list[int], version: str, language: str) -> list[Hit]:
    """Return the LLTs of `codes` with their PTs and primary SOCs, in the order given."""
    found = {
        row[1]: to_hit(row)
        for row in db.session.execute(hits_query(version, language).where(LLT.code.in_(codes)))
    }
    return [found[code] for code in codes if code in found]


def term_names(codes: Iterable[int], level: str, language: str) -> dict[int, str]:
    """Return the names of PTs or SOCs (`level`) in `language` (the other where it has none),
    each from the newest version that holds it; a code no version holds is left out."""
    names: dict[int, tuple[tuple[int, ...], str]] = {}
    rows = db.session.execute(
        sa.select(
            MeddraTerm.code, MeddraTerm.version, MeddraTerm.name_zh, MeddraTerm.name_en
        ).where(MeddraTerm.level == level, MeddraTerm.code.in_(sorted(set(codes))))
    )
    for code, version, zh, en in rows:
        name = (en or zh) if language.startswith("en") else (zh or en)
        key = version_key(version)
        if name and (code not in names or key > names[code][0]):
            names[code] = (key, name)
    return {code: name for code, (_, name) in names.items()}


def held_names(text: str) -> set[str]:
    """Return what names a reported term may hold: its runs of two or more Chinese
    characters and its runs of whole words, the term itself left out."""
    runs = (text[i:j] for i in range(len(text)) for j in range(i + 2, len(text) + 1))
    words = text.split()
    return {
        *(run for run in runs if CHINESE_RUN.fullmatch(run)),
        *(" ".join(words[i:j]) for i in range(len(words)) for j in range(i + 1, len(words) + 1)),
    } - {text}


def describe(llt_code: int, version: str, language: str) -> Hit | None:
    """Return an LLT of `version`, current or not, with its PT and primary SOC."""
    row = db.session.execute(hits_query(version, language).where(LLT.code == llt_code)).first()
    return to_hit(row) if row else None


# Upgrading to a newer version: codings move to it where their LLT is still current there.

# The tables holding a case's terms coded to an LLT of a version.
CODINGS: tuple[Any, ...] = (Reaction, TermCoding, CaseDisease, LabResult)
RECODE_BATCH = 500  # cases recoded in one transaction


def newest_in(session: Session) -> str | None:
    """Return the newest imported version as `session` sees it (inside an import, too)."""
    found = session.scalars(sa.select(MeddraRelease.version).distinct())
    return max(found, key=version_key, default=None)


def older_versions(session: Session, version: str) -> list[str]:
    """Return the versions of codings older than `version`."""
    found = {
        held
        for model in CODINGS
        for held in session.scalars(sa.select(model.meddra_version).distinct())
        if held and VERSION_RE.match(held)
    }
    return sorted(
        (held for held in found if version_key(held) < version_key(version)), key=version_key
    )


def recode(version: str, actor: str) -> dict[int, int]:
    """Move to `version`, when it is the newest imported, every coding of an older version
    whose LLT is current in it; audit one entry per case. Return the terms moved, by case.

    A coding whose LLT is not current in `version` (or absent) keeps its own version, for a
    coder (`outdated_codings`). Cases are recoded `RECODE_BATCH` at a time, each batch in its
    own transaction, so that intake and staff are not held for long; after a crash the next
    import of the version (again, or its other language) finishes the job.
    """
    older = older_versions(db.session(), version)
    moved: dict[int, int] = {}
    after = 0  # the batches go up the case ids
    while older:
        with write_transaction() as session:
            if newest_in(session) != version:
                break
            batch = recode_batch(session, version, older, after, actor)
        if not batch:
            break
        moved |= batch
        after = max(batch)
    return moved


def recode_batch(
    session: Session, version: str, older: list[str], after: int, actor: str
) -> dict[int, int]:
    """Recode the next cases above case id `after` (as far as `RECODE_BATCH` rows of each
    table reach); return their terms moved."""
    current = sa.select(MeddraTerm.code).where(
        MeddraTerm.version == version, MeddraTerm.level == "llt", MeddraTerm.current.is_(True)
    )
    movable = {
        model: (
            model.meddra_version.in_(older),
            model.llt_code.in_(current),
            model.case_id > after,
        )
        for model in CODINGS
    }
    # The next cases with a coding to move, as far as every table's first rows reach.
    found: set[int] = set()
    last = None
    for model, where in movable.items():
        ids = session.scalars(
            sa.select(model.case_id).where(*where).order_by(model.case_id).limit(RECODE_BATCH)
        ).all()
        found.update(ids)
        if len(ids) == RECODE_BATCH:
            last = min(last or ids[-1], ids[-1])
    case_ids = sorted(case_id for case_id in found if last is None or case_id <= last)
    if not case_ids:
        return {}
    moved: dict[int, int] = {}
    was: dict[int, set[str]] = {}
    for model, where in movable.items():
        chosen = (*where, model.case_id <= case_ids[-1])
        counted = (
            sa.select(model.case_id, model.meddra_version, sa.func.count())
            .where(*chosen)
            .group_by(model.case_id, model.meddra_version)
        )
        for case_id, old, count in session.execute(counted):
            moved[case_id] = moved.get(case_id, 0) + count
            was.setdefault(case_id, set()).add(old)
        session.execute(
            sa.update(model).where(*chosen).values(meddra_version=version),
            execution_options={"synchronize_session": False},
        )
    for case_id in sorted(moved):
        first = session.scalar(
            sa.select(Report.id)
            .where(Report.case_id == case_id)
            .order_by(*FIRST_REPORT_ORDER)
            .limit(1)
        )
        old = ", ".join(sorted(was[case_id], key=version_key))
        count = moved[case_id]
        new = f"{version} ({count} term{'s' if count > 1 else ''} recoded)"
        audit.record(session, actor, "meddra recoded", first, "meddra_version", old, new)
    return moved


@dataclass(frozen=True)
class OutdatedCoding:
    """A case's term still coded to an older version: its LLT is not current in the newest."""

    kind: str  # reaction, indication, history, diseases, labs
    row_id: int
    case_id: int
    text: str  # the term as reported
    version: str
    llt_code: int


def outdated_codings(version: str, limit: int) -> tuple[list[OutdatedCoding], int]:
    """Return the first `limit` codings of a version older than `version`, by case, and how
    many there are in all (reactions set aside as not reactions left out)."""
    sources: list[tuple[Any, Any, Any, Any]] = [
        (sa.literal("reaction"), Reaction, Reaction.reported_term, Reaction.excluded_reason),
        (TermCoding.kind, TermCoding, TermCoding.text, None),
        (sa.literal("diseases"), CaseDisease, CaseDisease.name, None),
        (sa.literal("labs"), LabResult, LabResult.test_name, None),
    ]
    found: list[OutdatedCoding] = []
    total = 0
    for kind, model, text, excluded in sources:
        query = sa.select(
            kind, model.id, model.case_id, text, model.meddra_version, model.llt_code
        ).where(
            model.meddra_version.is_not(None),
            model.meddra_version != version,
            model.llt_code.is_not(None),
            excluded.is_(None) if excluded is not None else sa.true(),
        )
        total += db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
        rows = db.session.execute(query.order_by(model.case_id, model.id).limit(limit))
        found += [OutdatedCoding(*row) for row in rows]
    found.sort(key=lambda coding: (coding.case_id, coding.kind, coding.row_id))
    return found[:limit], total


# The catalogue's listed reactions (Product.listed_reactions) coded to PTs of the newest version.

AUTOMATIC = "automatic coding"  # the audit trail's actor of codes given by an exact name
LISTED_ACTION = "listed reactions coded"


def listed_field(product_id: int, term: str) -> str:
    """Return the audit trail's field of a product's listed term."""
    return f"#{product_id} {term}"[:60]


def shown_pt(pt_code: int | None, version: str | None) -> str | None:
    """Return a PT as the audit trail keeps it: 10037087 Pruritus (28.0)."""
    if not pt_code or not version:
        return None
    name = db.session.scalar(
        sa.select(sa.func.coalesce(MeddraTerm.name_en, MeddraTerm.name_zh)).where(
            MeddraTerm.version == version, MeddraTerm.level == "pt", MeddraTerm.code == pt_code
        )
    )
    return f"{pt_code} {name or ''} ({version})".replace("  ", " ")


def exact_pt(term: str, version: str) -> int | None:
    """Return the PT of the current LLTs named exactly `term` in English or Chinese, when
    they share one PT."""
    key = " ".join(term.split()).casefold()
    codes = names(version).by_name.get(key, [])
    pts = {hit.pt_code for hit in described(codes, version, "en")}
    return pts.pop() if len(pts) == 1 else None


def listed_coders(session: Session, product_id: int) -> dict[str, str]:
    """Return who last coded each listed term of a product (AUTOMATIC or a staff e-mail),
    by its audit field."""
    prefix = f"#{product_id} "
    rows = session.execute(
        sa.select(AuditEntry.field, AuditEntry.actor)
        .where(
            AuditEntry.report_id.is_(None),
            AuditEntry.action == LISTED_ACTION,
            AuditEntry.field.startswith(prefix, autoescape=True),
        )
        .order_by(AuditEntry.id)
    )
    coders = {str(field_): actor for field_, actor in rows}
    for entry in audit.pending(session):  # a choice made in this transaction counts
        listed = entry.report_id is None and entry.action == LISTED_ACTION
        if listed and entry.field and entry.field.startswith(prefix):
            coders[entry.field] = entry.actor
    return coders


EVERY_PRODUCT = (  # locked in id order, as a report's counts lock them, and read as locked
    sa.select(Product)
    .order_by(Product.id)
    .with_for_update(key_share=True)
    .execution_options(populate_existing=True)
)


def code_listed_reactions(session: Session, product: Product | None = None) -> int:
    """Code automatically the listed reactions of `product` (None: every product) named
    exactly as a current LLT of the newest version, and drop the codes of terms no longer
    listed; a term staff coded or uncoded is left as they chose. Return the terms coded.

    Call it in the write transaction of the change (a product saved, a release imported).
    """
    newest = newest_in(session)
    chosen = [product] if product else session.scalars(EVERY_PRODUCT).all()
    coded = 0
    for item in chosen:
        codes = dict(item.listed_pt_codes or {})
        listed = item.listed_reactions or []
        coders = listed_coders(session, item.id)
        for term in [term for term in codes if term not in listed]:
            old = shown_pt(codes.pop(term), newest)
            field_ = listed_field(item.id, term)
            audit.record(session, AUTOMATIC, LISTED_ACTION, None, field_, old, None)
        for term in listed if newest else ():
            field_ = listed_field(item.id, term)
            if coders.get(field_, AUTOMATIC) != AUTOMATIC:
                continue  # staff chose
            pt = exact_pt(term, str(newest))
            if pt is None or codes.get(term) == pt:
                continue
            old = shown_pt(codes.get(term), newest)
            codes[term] = pt
            audit.record(session, AUTOMATIC, LISTED_ACTION, None, field_, old, shown_pt(pt, newest))
            coded += 1
        if codes != (item.listed_pt_codes or {}):
            item.listed_pt_codes = codes
    return coded
