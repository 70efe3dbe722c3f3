"""The periodic line listing of one product's cases (PSUR/PBRER, annual report), streamed.

A case is listed when one of its reports names the product as a suspect drug and its day 0
(the first date the company knew of it holding the four minimum elements: the earliest day 0
of its reports) falls in the period. Each case is one row as its reports tell it now
(`cases.current_view`); duplicate and invalid cases are left out and counted.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import IO, Any

import sqlalchemy as sa
from openpyxl import Workbook
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from adr import meddra, regulatory, vocab
from adr.cases.view import current_view
from adr.extensions import db
from adr.models import Case, CaseMerge, Drug, Product, Reaction, Report
from adr.products import approval_key, name_key
from adr.regulator.workbook import (
    BATCH_SIZE,
    Writer,
    clean,
    end_sheet,
    heading,
    padded,
    row_of,
    small_page_cache,
    start_sheet,
)
from adr.vocab import Term

DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
# How a reporter separates reactions in one field: 皮疹、瘙痒; rash, itching.
REACTION_SEPARATORS = re.compile(r"[、,，;；/\n]+")


def parse_period(first: str, last: str) -> tuple[date, date]:
    """Return the period's first and last days (YYYY-MM-DD, both included).

    Raises ValueError saying what is wrong: a malformed date, or a start after the end.
    """
    days = []
    for text in (first, last):
        try:
            if not DATE_RE.fullmatch(text.strip()):
                raise ValueError
            days.append(date.fromisoformat(text.strip()))
        except ValueError:
            raise ValueError(
                f"not a date: {text!r}; write it as YYYY-MM-DD, for example 2026-01-31"
            ) from None
    if days[0] > days[1]:
        raise ValueError(f"the period starts ({days[0]}) after it ends ({days[1]})")
    return days[0], days[1]


@dataclass(frozen=True)
class ProductChoice:
    """The product a listing is of: a catalogue product, or a name or number as typed."""

    typed: str
    product: Product | None  # None: not in the catalogue; drugs are compared as typed

    def condition(self) -> sa.ColumnElement[bool]:
        """Select the drug rows that are this product."""
        if self.product is not None:
            return Drug.product_id == self.product.id
        folded = self.typed.casefold()
        return sa.or_(
            sa.func.upper(Drug.approval_number) == self.typed.upper(),
            sa.func.lower(Drug.generic_name) == folded,
            sa.func.lower(Drug.brand_name) == folded,
        )

    def matches(self, drug: Any) -> bool:
        """Tell whether a drug of a case's current view is this product (as `condition`)."""
        if self.product is not None:
            return drug.product_id == self.product.id
        return (drug.approval_number or "").upper() == self.typed.upper() or any(
            (name or "").casefold() == self.typed.casefold()
            for name in (drug.generic_name, drug.brand_name)
        )

    def label(self) -> str:
        """Return the product as the listing names it."""
        if self.product is not None:
            return f"{self.product.generic_name} {self.product.approval_number}"
        return self.typed

    def how_matched(self, language: str) -> str:
        """Return how drugs were matched, in the workbook's language."""
        if self.product is not None:
            return MATCHED_BY_CATALOGUE.text(language)
        return MATCHED_AS_TYPED.text(language)


MATCHED_BY_CATALOGUE = Term(
    "产品目录中的产品:按报告药品与本公司产品的关联匹配(依批准文号、通用名称或商品名称)。",
    "A product of the catalogue: drugs matched to it when stored (by approval number, "
    "generic or brand name).",
)
MATCHED_AS_TYPED = Term(
    "不在产品目录中:按怀疑药品的批准文号、通用名称或商品名称完全一致(不区分大小写)匹配。",
    "Not in the catalogue: suspect drugs whose approval number, generic or brand name is "
    "exactly the text given (case-insensitive).",
)


def find_product(typed: str) -> ProductChoice:
    """Return the product named by an approval number or a generic or brand name.

    A catalogue product is matched as `adr.products` matches drugs (approval number with or
    without 国药准字, Chinese or English generic name, a brand name no two products share).
    Otherwise the text is kept if some suspect drug carries it. Raises LookupError when
    neither is found.
    """
    typed = typed.strip()
    if not typed:
        raise LookupError("no product given")
    products = db.session.scalars(sa.select(Product).order_by(Product.id)).all()
    by_approval = {approval_key(p.approval_number): p for p in products}
    brands = Counter(name_key(p.brand_name) for p in products if p.brand_name)
    found = by_approval.get(approval_key(typed)) or next(
        (p for p in products if name_key(typed) in map(name_key, (p.generic_name, p.english_name))),
        None,
    )
    if found is None and brands[name_key(typed)] == 1:
        found = next(p for p in products if name_key(p.brand_name) == name_key(typed))
    choice = ProductChoice(typed, found)
    if found is None:
        named = sa.select(Drug.id).where(Drug.role == "suspect", choice.condition()).limit(1)
        if db.session.scalar(named) is None:
            raise LookupError(f"no product {typed!r} in the catalogue or in any report")
    return choice


SHEETS = (Term("病例列表", "Line listing"), Term("汇总表", "Summary tabulations"))
YES_NO = vocab.YES_NO
CHINA = Term("中国", "China")
COMPANY = Term("报告单位", "Company")
REPORTER = Term("报告人", "Reporter")
SUGGESTED = Term("建议", "suggested")
COLUMNS = [
    Term("病例编码(首次报告)", "Case reference (first report)"),
    Term("第0天", "Day 0"),
    Term("国家", "Country"),
    Term("年龄", "Age"),
    Term("性别", "Sex"),
    Term("不良反应/事件", "Reaction(s)"),
    Term("严重", "Serious"),
    Term("严重性标准", "Seriousness criteria"),
    Term("结果", "Outcome"),
    Term("关联性评价", "Causality"),
    Term("关联性评价人", "Causality by"),
    Term("已知/新的", "Listedness"),
    Term("批号", "Batch"),
    Term("处理状态", "Status"),
    Term("跟踪报告编码", "Follow-up references"),
    # Where coded, each reaction's line: its LLT (as coded, with its version), and its PT and
    # primary SOC as of the newest MedDRA version (the reaction's own where its LLT left it).
    Term("MedDRA低位语(LLT)", "MedDRA LLT"),
    Term("MedDRA首选语(PT)", "MedDRA PT"),
    Term("MedDRA系统器官分类(SOC)", "MedDRA SOC"),
]


@dataclass
class Tally:
    """The listing's counts, gathered while the rows stream by."""

    cases: int = 0
    serious: int = 0
    deaths: int = 0
    excluded: int = 0  # duplicate and invalid cases left out
    reactions: dict[str, list[int]] = field(default_factory=dict)  # term: [serious, non-serious]
    criteria: Counter[str] = field(default_factory=Counter)


# A case as the listing reads it (`cases_of`): plain rows, their columns as attributes.
ListedCase = Any
# The fields of the case as its reports tell it now (`current_view`) that the listing shows.
VIEWED = (
    "patient_sex",
    "patient_birth_date",
    "patient_age",
    "patient_age_unit",
    "event_name",
    "event_onset_date",
    "event_outcome",
    "event_causality",
)


class ListingWriter:
    """Turns a case into its line of the listing, in one language."""

    def __init__(self, choice: ProductChoice, language: str) -> None:
        self.choice = choice
        self.language = language
        self.words = Writer(language, datetime.now(UTC))  # the export's labels and age
        self.term = self.words.term
        self.coding: dict[tuple[str | None, int | None], meddra.Hit] = {}  # of the batch

    def criteria(self, case: ListedCase) -> list[str]:
        """Return the seriousness criteria reported in any report or confirmed by staff."""
        if not case.serious:
            return []
        chosen = [c for report in case.reports for c in report.event_serious or []]
        chosen += case.assessed_serious or []
        if case.death:
            chosen.append("death")
        return list(dict.fromkeys(chosen))

    def row(self, case: ListedCase, day_zero: date, tally: Tally) -> list[Any]:
        """Return a case's line and count it."""
        view = current_view(case.reports, VIEWED)
        viewed = view.values.get  # as `view.event_name`, without `CurrentView.__getattr__`
        criteria = self.criteria(case)
        company = case.company_causality
        causality = company or viewed("event_causality")
        listedness = self.term(vocab.EXPECTEDNESS, case.expectedness)
        suggested = self.term(vocab.EXPECTEDNESS, case.suggested_expectedness)
        if listedness is None and suggested:
            listedness = f"{suggested} ({SUGGESTED.text(self.language)})"
        batches = [d.batch_number for d in view.drugs if self.choice.matches(d) and d.batch_number]
        separator = self.words.words["list"]
        self.count(case, viewed("event_name"), criteria, tally)
        return [
            case.reports[0].reference,
            day_zero,
            CHINA.text(self.language),
            self.words.age(view),
            self.term(vocab.SEX, viewed("patient_sex")),
            viewed("event_name"),
            YES_NO["yes" if case.serious else "no"].text(self.language),
            separator.join(self.term(vocab.SERIOUSNESS, c) or c for c in criteria) or None,
            self.term(vocab.OUTCOME, case.assessed_outcome or viewed("event_outcome")),
            self.term(vocab.CAUSALITY, causality),
            (COMPANY if company else REPORTER).text(self.language) if causality else None,
            listedness,
            separator.join(dict.fromkeys(batches)) or None,
            self.term(vocab.STATUS, case.status),
            separator.join(report.reference for report in case.reports[1:]) or None,
            *self.meddra_cells(case),
        ]

    def meddra_cells(self, case: ListedCase) -> list[str | None]:
        """Return the LLT, PT and SOC cells: one line per coded reaction, code then name, the
        three cells' lines aligned (a term repeated, "—" where the code is not found)."""
        hits = [
            (reaction, self.coding.get((reaction.meddra_version, reaction.llt_code)))
            for reaction in case.reactions
            if reaction.llt_code is not None and reaction.excluded_reason is None
        ]
        llts = [
            f"{r.llt_code} {hit.llt_name if hit else ''} ({r.meddra_version})" for r, hit in hits
        ]
        pts = [f"{hit.pt_code} {hit.pt_name}" if hit else "—" for _, hit in hits]
        socs = [
            f"{hit.soc_code} {hit.soc_name}" if hit and hit.soc_code else "—" for _, hit in hits
        ]
        return ["\n".join(cells) or None for cells in (llts, pts, socs)]

    def learn_coding(self, batch: list[ListedCase]) -> None:
        """Read the MedDRA terms of a batch's coded reactions (see `coded_terms`)."""
        coded: set[tuple[str | None, int | None]] = {
            (reaction.meddra_version, reaction.llt_code)
            for case in batch
            for reaction in case.reactions
            if reaction.llt_code is not None
        }
        self.coding = coded_terms(coded, "en" if self.language == "en" else "zh")

    def count(
        self, case: ListedCase, reaction: str | None, criteria: list[str], tally: Tally
    ) -> None:
        tally.cases += 1
        tally.serious += case.serious
        tally.deaths += case.death
        for term in reaction_terms(reaction):
            tally.reactions.setdefault(term, [0, 0])[0 if case.serious else 1] += 1
        for criterion in criteria:
            tally.criteria[self.term(vocab.SERIOUSNESS, criterion) or criterion] += 1


def coded_terms(
    coded: set[tuple[str | None, int | None]], language: str
) -> dict[tuple[str | None, int | None], meddra.Hit]:
    """Return each (version, LLT code)'s LLT as coded, with the PT and primary SOC of the newest
    version where the LLT is in it (else of its own version), as `adr.signals.counted` counts."""
    newest = meddra.current_version()
    found: dict[tuple[str | None, int | None], meddra.Hit] = {}
    if newest is None or not coded:
        return found
    as_of_newest = {
        hit.llt_code: hit
        for hit in meddra.described(sorted({code for _, code in coded if code}), newest, language)
    }
    by_version: dict[str, set[int]] = {}
    for version, code in coded:
        if version and code:
            by_version.setdefault(version, set()).add(code)
    for version, codes in by_version.items():
        for own in meddra.described(sorted(codes), version, language):
            hit = as_of_newest.get(own.llt_code, own)
            found[(version, own.llt_code)] = meddra.Hit(
                version,
                own.llt_code,
                own.llt_name,
                hit.pt_code,
                hit.pt_name,
                hit.soc_code,
                hit.soc_name,
                own.current,
            )
    return found


def reaction_terms(reaction: str | None) -> list[str]:
    """Return the reactions a field names, each once: 皮疹、瘙痒 is 皮疹 and 瘙痒."""
    terms = (clean(term).strip() for term in REACTION_SEPARATORS.split(reaction or ""))
    return list(dict.fromkeys(term for term in terms if term))


def in_period(choice: ProductChoice, first: date, last: date) -> sa.Subquery:
    """Return (case_id, day_zero) of the cases naming the product as suspect, day 0 in period."""
    naming = (
        sa.select(Report.case_id)
        .join(Drug, Drug.report_id == Report.id)
        .where(Drug.role == "suspect", choice.condition())
    )
    day_zero = sa.func.min(Report.day_zero)
    return (
        sa.select(Report.case_id, day_zero.label("day_zero"))
        .where(Report.case_id.in_(naming))
        .group_by(Report.case_id)
        .having(day_zero >= first, day_zero <= last)
        .subquery()
    )


def listed_query(choice: ProductChoice, first: date, last: date) -> sa.Select[Any]:
    """Return (case id, day 0) of the period's cases of the product, duplicates and invalid
    cases left out, oldest first."""
    period = in_period(choice, first, last)
    return (
        sa.select(period.c.case_id, period.c.day_zero)
        .join(Case, Case.id == period.c.case_id)
        .where(Case.status.not_in(regulatory.NOT_FOR_REGULATOR))
        .order_by(period.c.day_zero, period.c.case_id)
    )


def cases_of(
    query: sa.Select[Any], writer: ListingWriter | None = None
) -> Iterator[tuple[ListedCase, date]]:
    """Yield the cases a query of (case id, date) names, with the date, a batch at a time.

    Each batch of cases is read as plain rows (`listed_cases`: no ORM objects, so the session
    keeps none of them and memory stays flat), its reactions' MedDRA terms learnt by `writer`.
    """
    streamed = db.session.execute(query.execution_options(yield_per=BATCH_SIZE))
    for batch in streamed.partitions():
        day_zero_of = {case_id: day_zero for case_id, day_zero in batch}
        found = listed_cases(set(day_zero_of))
        if writer is not None:
            writer.learn_coding(list(found.values()))
        for case_id, day_zero in day_zero_of.items():
            yield found[case_id], day_zero
        del batch, day_zero_of, found  # before the next batch is read, not after


CASE_COLUMNS = (
    "id",
    "status",
    "serious",
    "death",
    "assessed_serious",
    "assessed_outcome",
    "expectedness",
    "suggested_expectedness",
    "company_causality",
)
REPORT_COLUMNS = ("id", "case_id", "reference", "aware_on", "event_serious", *VIEWED)
# What the listing reads of a drug (`ProductChoice.matches`, the batch) and what tells a drug
# named again (`current_view` merges it: the columns not read are None in both mentions).
DRUG_COLUMNS = (
    "report_id",
    "role",
    "generic_name",
    "brand_name",
    "approval_number",
    "product_id",
    "batch_number",
)
_IDS: sa.BindParameter[list[int]] = sa.bindparam("ids", expanding=True)  # a batch's case ids


def _batch_queries() -> tuple[sa.Select[Any], ...]:
    """Return the queries of a batch's cases, reports, drugs and reactions, by `_IDS`, each list
    in the ORM relationships' order."""
    cases_t, reports, drugs, reaction_t = (
        Case.__table__,
        Report.__table__,
        Drug.__table__,
        Reaction.__table__,
    )
    return (
        sa.select(*(cases_t.c[name] for name in CASE_COLUMNS)).where(cases_t.c.id.in_(_IDS)),
        sa.select(*(reports.c[name] for name in REPORT_COLUMNS))
        .where(reports.c.case_id.in_(_IDS))
        .order_by(
            reports.c.case_id,
            reports.c.follow_up_of_id.is_not(None),
            reports.c.added_at,
            reports.c.id,
        ),
        sa.select(*(drugs.c[name] for name in DRUG_COLUMNS))
        .join(reports, reports.c.id == drugs.c.report_id)
        .where(reports.c.case_id.in_(_IDS))
        .order_by(drugs.c.report_id, drugs.c.position, drugs.c.id),
        sa.select(
            reaction_t.c.case_id,
            reaction_t.c.meddra_version,
            reaction_t.c.llt_code,
            reaction_t.c.excluded_reason,
        )
        .where(reaction_t.c.case_id.in_(_IDS))
        .order_by(reaction_t.c.case_id, reaction_t.c.position, reaction_t.c.id),
    )


BATCH_QUERIES = _batch_queries()


def listed_cases(case_ids: set[int]) -> dict[int, ListedCase]:
    """Return the cases as the listing reads them, by id, in four queries for the batch.

    Each holds its `CASE_COLUMNS`, its reports in the case's order (each its `REPORT_COLUMNS`
    and its `drugs`) and its reactions (`reactions`: how each is coded).
    """
    cases_query, reports_query, drugs_query, reactions_query = BATCH_QUERIES
    ids = {"ids": padded(case_ids)}
    found = {
        row[0]: SimpleNamespace(
            **dict(zip(CASE_COLUMNS, row, strict=True)), reports=[], reactions=[]
        )
        for row in db.session.execute(cases_query, ids).all()
    }
    of_report: dict[int, Any] = {}
    for row in db.session.execute(reports_query, ids).all():
        report = SimpleNamespace(**dict(zip(REPORT_COLUMNS, row, strict=True)), drugs=[])
        of_report[report.id] = report
        found[report.case_id].reports.append(report)
    for drug in db.session.execute(drugs_query, ids).all():
        of_report[drug.report_id].drugs.append(drug)
    for reaction in db.session.execute(reactions_query, ids).all():
        found[reaction.case_id].reactions.append(reaction)
    return found


def excluded_count(choice: ProductChoice, first: date, last: date) -> int:
    """Return how many duplicate and invalid cases of the product the period holds.

    A duplicate's reports were merged into its original (`adr.cases.merges`): it is counted by
    the merges into the period's cases.
    """
    period = in_period(choice, first, last)
    invalid = (
        sa.select(sa.func.count())
        .select_from(period)
        .join(Case, Case.id == period.c.case_id)
        .where(Case.status.in_(regulatory.NOT_FOR_REGULATOR))
    )
    merged = sa.select(sa.func.count()).where(
        CaseMerge.undone_at.is_(None),
        CaseMerge.original_case_id.in_(sa.select(period.c.case_id)),
    )
    return (db.session.scalar(invalid) or 0) + (db.session.scalar(merged) or 0)


SUMMARY = {
    "about": Term("说明", "About this listing"),
    "product": Term("产品", "Product"),
    "matched": Term("匹配方式", "How drugs were matched"),
    "period": Term("报告期间(第0天)", "Period (day 0)"),
    "in_period": Term(
        "病例的第0天(公司首次获知具备最低要素病例之日,即各报告第0天中最早者)在报告期间内,"
        "且任一报告将该产品列为怀疑药品。每个病例一行,按其全部报告的最新信息。",
        "A case is listed when its day 0 (the first date the company knew of it holding the "
        "minimum elements: the earliest day 0 of its reports) is in the period and any of its "
        "reports names the product as a suspect drug. One row per case, as its reports tell "
        "it now.",
    ),
    "country": Term(
        "国家:报告未记录国家,均为中国境内报告。",
        "Country: reports carry no country; all were received in China.",
    ),
    "causality": Term(
        "关联性评价:报告单位的评价,未评价时为报告人的评价。",
        "Causality: the company's assessment, else the reporter's.",
    ),
    "excluded": Term("未列入的重复病例和无效病例", "Duplicate and invalid cases left out"),
    "totals": Term("病例数", "Cases"),
    "cases": Term("列入病例", "Cases listed"),
    "serious": Term("严重", "Serious"),
    "non_serious": Term("非严重", "Non-serious"),
    "deaths": Term("死亡", "Deaths"),
    "total": Term("合计", "Total"),
    "by_reaction": Term(
        "按不良反应名称(一个病例的多个反应分别计数)",
        "By reaction term (a case with several reactions counts under each)",
    ),
    "reaction": Term("不良反应名称", "Reaction term"),
    "by_criterion": Term("按严重性标准(严重病例)", "By seriousness criterion (serious cases)"),
    "criterion": Term("严重性标准", "Seriousness criterion"),
}


def write_listing(
    choice: ProductChoice,
    first: date,
    last: date,
    target: str | Path | IO[bytes],
    language: str = "zh",
) -> Tally:
    """Write the line listing and its summary tabulations to a path or binary stream."""
    language = "en" if language.startswith("en") else "zh_CN"
    writer = ListingWriter(choice, language)
    workbook = Workbook(write_only=True)
    listing_sheet, summary_sheet = (workbook.create_sheet(t.text(language)) for t in SHEETS)
    start_sheet(listing_sheet, COLUMNS, language)
    tally = Tally(excluded=excluded_count(choice, first, last))
    with small_page_cache():
        for case, day_zero in cases_of(listed_query(choice, first, last), writer):
            listing_sheet.append(row_of(listing_sheet, writer.row(case, day_zero, tally)))
    end_sheet(listing_sheet, len(COLUMNS), tally.cases)
    write_summary(summary_sheet, tally, choice, f"{first} – {last}", language)
    workbook.save(target)
    db.session.rollback()  # end the long read
    return tally


def write_summary(
    sheet: WriteOnlyWorksheet, tally: Tally, choice: ProductChoice, period: str, language: str
) -> None:
    """Write what the listing holds and how it was chosen, then the tabulations."""
    title = {key: term.text(language) for key, term in SUMMARY.items()}
    for column, width in zip("ABCD", (60, 14, 14, 14), strict=True):
        sheet.column_dimensions[column].width = width
    heading(sheet, title["about"])
    for row in (
        [title["product"], choice.label()],
        [title["matched"], choice.how_matched(language)],
        [title["period"], period],
        [title["in_period"]],
        [title["country"]],
        [title["causality"]],
        [title["excluded"], tally.excluded],
    ):
        sheet.append(row_of(sheet, row))
    sheet.append([])
    heading(sheet, title["totals"])
    sheet.append([title["cases"], tally.cases])
    sheet.append([title["serious"], tally.serious])
    sheet.append([title["non_serious"], tally.cases - tally.serious])
    sheet.append([title["deaths"], tally.deaths])
    sheet.append([])
    heading(sheet, title["by_reaction"])
    sheet.append([title["reaction"], title["serious"], title["non_serious"], title["total"]])
    by_count = sorted(tally.reactions.items(), key=lambda kv: (-sum(kv[1]), kv[0]))
    for term, (serious, non_serious) in by_count:
        sheet.append(row_of(sheet, [term, serious, non_serious, serious + non_serious]))
    sheet.append([])
    heading(sheet, title["by_criterion"])
    sheet.append([title["criterion"], title["totals"]])
    for criterion, number in sorted(tally.criteria.items(), key=lambda kv: (-kv[1], kv[0])):
        sheet.append([criterion, number])


def file_name(choice: ProductChoice, first: date, last: date) -> str:
    """Return listing-<approval number or name>-<first>-<last>.xlsx."""
    key = choice.product.approval_number if choice.product else choice.typed
    safe = re.sub(r"[^\w.-]+", "_", key).strip("_.") or "product"
    return f"listing-{safe}-{first}-{last}.xlsx"
