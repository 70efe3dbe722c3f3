"""The company's products: which of them a reported drug is, its batch, its label.

A drug is matched by its approval number (国药准字…), else by a product's Chinese or English
generic name, else by a brand name or an alias only one product carries, else, whatever name
was typed, by a batch number the register holds for one product only (unless the approval
number typed is another product's). A drug whose manufacturer is given and is plainly another
company's is not ours, whatever its name or batch. A drug of ours gets a batch check against
the batch register, and its reaction is compared with the reactions its label lists.
"""

from __future__ import annotations

import logging
import re
import time
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeAlias

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, selectinload

from adr.extensions import db
from adr.models import Batch, BatchVariant, Case, Drug, Product, Report, chunks
from adr.signals import group_events

logger = logging.getLogger(__name__)
APPROVAL_PREFIX = "国药准字"
# Words any drug maker's name may hold: they tell no company from another.
CORPORATE_WORDS = re.compile(
    r"股份有限公司|有限责任公司|有限公司|股份|集团|控股|制药|药业|医药|药厂|公司|总厂|分厂|厂"
    r"|pharmaceuticals?|pharma|holdings?|group|company|corporation|co|ltd|limited|inc"
)
NOT_A_NAME_CHARACTER = re.compile(r"[\W_]+")


def approval_key(text: str | None) -> str:
    """Return an approval number as compared: half-width, no spaces, upper case, no 国药准字."""
    spaceless = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or ""))
    return spaceless.upper().removeprefix(APPROVAL_PREFIX)


def name_key(text: str | None) -> str:
    """Return a drug name as compared: full-width letters as half-width, no spaces, case folded."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or "")).casefold()


def name_keys(product: Product) -> set[str]:
    """Return every name of `product` as compared: Chinese, English, brand and aliases."""
    aliases = product.aliases or []
    names = (product.generic_name, product.english_name, product.brand_name, *aliases)
    return {name_key(name) for name in names if name_key(name)}


def recognised_by_batch(drug: Drug, product: Product) -> bool:
    """Tell whether `drug` is `product` by its batch only: no approval number or name of it."""
    if approval_key(drug.approval_number) == approval_key(product.approval_number):
        return False
    return not {name_key(drug.generic_name), name_key(drug.brand_name)} & name_keys(product)


def distinctive(maker: str) -> str:
    """Return what tells one company's name from another's: its name without corporate words."""
    folded = NOT_A_NAME_CHARACTER.sub(" ", maker.casefold())
    return CORPORATE_WORDS.sub(" ", folded)


def same_maker(typed: str | None, known: Iterable[str]) -> bool:
    """Return whether a manufacturer as typed may be one of the `known` names of the company.

    Nothing typed, or only corporate words (制药厂), may be anyone: the name decides then.
    Otherwise the typed name must share a Latin word or two Chinese characters in a row
    with a known name (天宁制药 and 陕西天宁 are the company; 华北制药 is not).
    """
    words = distinctive(typed or "").split()
    if not words:
        return True
    for name in known:
        theirs = distinctive(name)
        for word in words:
            if word.isascii():
                if word in theirs.split():
                    return True
            elif any(word[i : i + 2] in theirs for i in range(len(word) - 1)):
                return True
    return False


# What matching reads of each product: its names and maker, not its label's lists (a row, not
# an object, for each of a catalogue of hundreds, at every report).
LISTED = sa.select(
    Product.id,
    Product.generic_name,
    Product.english_name,
    Product.brand_name,
    Product.aliases,
    Product.approval_number,
    Product.manufacturer,
    Product.dosage_form,
).order_by(Product.id)


@dataclass(frozen=True)
class Catalogue:
    """The products, keyed as drugs are matched to them."""

    products: dict[int, sa.Row[*tuple[Any, ...]]]  # as `LISTED` reads them
    by_approval: dict[str, int]
    by_name: dict[str, list[int]]  # Chinese and English generic names: every product so named
    by_other_name: dict[str, list[int]]  # brand names and aliases

    @classmethod
    def load(cls) -> Catalogue:
        products = {p.id: p for p in db.session.execute(LISTED)}
        by_name: dict[str, list[int]] = {}
        by_other_name: dict[str, list[int]] = {}
        for product in products.values():
            for key in dict.fromkeys(map(name_key, (product.generic_name, product.english_name))):
                by_name.setdefault(key, []).append(product.id)
            others = (product.brand_name, *(product.aliases or []))
            for key in dict.fromkeys(map(name_key, others)):
                by_other_name.setdefault(key, []).append(product.id)
        by_name.pop("", None)
        by_other_name.pop("", None)
        return cls(
            products,
            {approval_key(p.approval_number): p.id for p in products.values()},
            by_name,
            by_other_name,
        )

    def match(self, drug: Drug) -> int | None:
        """Return the id of the product `drug` is, if it is one of ours."""
        typed_approval = approval_key(drug.approval_number)
        product_id = self.by_approval.get(typed_approval)
        if product_id is None:
            product_id = self.match_name(drug)
        if product_id is None and not typed_approval:
            product_id = product_of_batch(drug.batch_number)
        if product_id is None:
            return None
        makers = (self.products[product_id].manufacturer, current_app.config["COMPANY_NAME_EN"])
        return product_id if same_maker(drug.manufacturer, makers) else None

    def match_name(self, drug: Drug) -> int | None:
        """Return the product a name of `drug` names.

        Generic names before brands and aliases. A name several products carry (two strengths
        of one generic) is the one whose register holds the drug's batch; else, a generic
        name, the product added first, and a brand or alias none.
        """
        keys = [key for key in map(name_key, (drug.generic_name, drug.brand_name)) if key]
        for names, first_if_unsure in ((self.by_name, True), (self.by_other_name, False)):
            for key in keys:
                ids = names.get(key)
                if not ids:
                    continue
                if len(ids) == 1:
                    return ids[0]
                by_batch = product_of_batch(drug.batch_number, ids)
                return by_batch if by_batch is not None or not first_if_unsure else ids[0]
        return None


def product_of_batch(batch_number: str | None, among: list[int] | None = None) -> int | None:
    """Return the product (of `among`, if given) whose register holds `batch_number`.

    None when no product's does, or several do.
    """
    typed = compact(batch_number)
    if not typed:
        return None
    query = sa.select(Batch.product_id).where(Batch.batch_number == typed)
    if among is not None:
        query = query.where(Batch.product_id.in_(among))
    found = db.session.scalars(query.distinct().limit(2)).all()
    return found[0] if len(found) == 1 else None


def link(drugs: Iterable[Drug]) -> None:
    """Set each drug's product, as the catalogue stands now, and its product's dosage form
    where the report gave none (the public form does not ask it: the approval names it) or
    where it was the product's it was linked to before (a correction made it another)."""
    catalogue = Catalogue.load()
    for drug in drugs:
        before = catalogue.products.get(drug.product_id) if drug.product_id else None
        drug.product_id = catalogue.match(drug)
        # Held: the report's checks and mails get it without another query.
        drug.product = product = (
            db.session.get(Product, drug.product_id) if drug.product_id else None
        )
        filled = before is not None and drug.dosage_form == before.dosage_form
        if product is not None and (not drug.dosage_form or filled):
            drug.dosage_form = product.dosage_form


# The public form's suggestions: each process reads the catalogue at most once a minute for
# each language.

SUGGESTIONS = "adr_product_suggestions"
SUGGESTIONS_SECONDS = 60


@dataclass(frozen=True)
class Suggestion:
    """A product as the report form offers it: its generic name in the page's language."""

    generic_name: str  # the English name on English pages, when it has one
    brand_name: str | None
    approval_number: str
    manufacturer: str
    strengths: tuple[str, ...] = ()


@dataclass(frozen=True)
class Suggestions:
    products: tuple[Suggestion, ...]
    loaded: float = field(compare=False)

    @property
    def strengths(self) -> list[str]:
        """Every product's strengths, each once: offered in any drug row."""
        return list(dict.fromkeys(s for product in self.products for s in product.strengths))

    @property
    def brands(self) -> dict[str, Suggestion | None]:
        """Each brand, with its product when no other product carries it."""
        brands: dict[str, Suggestion | None] = {}
        for product in self.products:
            if product.brand_name:
                brands[product.brand_name] = None if product.brand_name in brands else product
        return brands


def suggestions(language: str) -> Suggestions:
    """Return the catalogue as the report form in `language` (`en`, `zh_CN`) offers it.

    English pages offer each product's English name, or its Chinese one while it has none;
    Chinese pages the Chinese names. The catalogue is read again after a minute.
    """
    by_language: dict[str, Suggestions] = current_app.extensions.setdefault(SUGGESTIONS, {})
    cached = by_language.get(language)
    if cached is None or time.monotonic() - cached.loaded > SUGGESTIONS_SECONDS:
        name: sa.ColumnElement[str] = Product.generic_name.expression
        if language == "en":
            name = sa.func.coalesce(sa.func.nullif(Product.english_name, ""), Product.generic_name)
        query = sa.select(
            name,
            Product.brand_name,
            Product.approval_number,
            Product.manufacturer,
            Product.strengths,
        ).order_by(name, Product.id)
        try:
            found = tuple(
                Suggestion(*row[:4], tuple(row[4] or ())) for row in db.session.execute(query)
            )
        except SQLAlchemyError:  # the form is still served, without suggestions, for a minute
            db.session.rollback()
            logger.exception("the product catalogue could not be read for the report form")
            found = cached.products if cached else ()
        cached = by_language[language] = Suggestions(found, time.monotonic())
    return cached


def forget_suggestions() -> None:
    """Read the catalogue again for the next form: it has changed."""
    current_app.extensions.pop(SUGGESTIONS, None)


def relink(product_id: int, actor: str) -> int:
    """Match again the stored drugs a catalogue change may concern; return how many changed.

    Those are the drugs linked to `product_id` and the unlinked ones that name its approval
    number, one of its names (Chinese, English, brand, alias) or one of its registered
    batches; the suggested expectedness of their cases is derived again, and each case a drug
    links to a product anew is checked for group events (`actor` audits what opens). Call it
    inside the write transaction of the change.
    """
    product = db.session.get(Product, product_id)
    # Spaces, half- and full-width, go in SQL; full-width letters only in `name_key`.
    spaceless = [
        sa.func.replace(sa.func.replace(column, " ", ""), "\u3000", "")
        for column in (Drug.generic_name, Drug.brand_name)
    ]
    named = []
    if product is not None:
        digits = approval_key(product.approval_number)[-8:]
        registered = sa.select(Batch.batch_number).where(Batch.product_id == product_id)
        named = [
            Drug.approval_number.contains(digits, autoescape=True),
            Drug.batch_number.in_(registered),
        ] + [
            sa.func.lower(column) == key
            for column in spaceless
            for key in sorted(name_keys(product))
        ]
    candidates = db.session.scalars(
        sa.select(Drug).where(
            sa.or_(Drug.product_id == product_id, Drug.product_id.is_(None) & sa.or_(*named))
            if named
            else Drug.product_id == product_id
        )
    ).all()
    catalogue = Catalogue.load()
    changed = 0
    newly_linked = set()
    for drug in candidates:
        matched = catalogue.match(drug)
        changed += matched != drug.product_id
        if matched is not None and matched != drug.product_id:
            newly_linked.add(drug.report_id)
        drug.product_id = matched
    db.session.flush()
    report_ids = {drug.report_id for drug in candidates}
    case_ids = sa.select(Report.case_id).where(Report.id.in_(report_ids))
    loaded = sa.select(Case).where(Case.id.in_(case_ids))
    for case in db.session.scalars(loaded.options(selectinload(Case.reports, Report.drugs))):
        suggestion = suggest_expectedness(case.reports)
        case.suggested_expectedness = suggestion.code if suggestion else None
    linked = sa.select(Report.case_id).where(Report.id.in_(newly_linked))
    for case_id in sorted(set(db.session.scalars(linked))):  # each may make a group event now
        group_events.check_case(db.session(), case_id, actor, None)
    return changed


# The batch check: is the batch of each suspect drug of ours in the register?

KNOWN, UNKNOWN, NOT_OURS = "known", "unknown", "not-ours"
NEAREST_SHOWN = 5
PREFIX_NEIGHBOURS = 50  # registered batches read on each side of a typed number


# A registered batch as the checks and the mails read it (`registered_batch`).
RegisteredBatch: TypeAlias = "sa.Row[int, str, date | None, date | None]"


@dataclass(frozen=True)
class DrugBatch:
    """One suspect drug of ours and what the register says of its batch."""

    product: Product
    batch_number: str | None  # as reported
    batch: RegisteredBatch | None  # the register's, when it holds it
    onset: date | None
    started_on: date | None
    nearest: list[Batch] = field(default_factory=list)  # when unknown: what may have been meant
    # When the product was recognised by its batch number, not by a name: the names typed.
    typed_name: str | None = None
    expiry_date: date | None = None  # as reported, printed on the pack beside the batch

    @property
    def result(self) -> str:
        return KNOWN if self.batch else UNKNOWN

    @property
    def expired_before_onset(self) -> bool:
        expires = self.batch and self.batch.expires_on
        return bool(expires and self.onset and self.onset > expires)

    @property
    def expiry_differs(self) -> bool:
        """Tell whether the pack's expiry date, as reported, is not the register's for its batch.

        Compared by month: a pack may print the month only (有效期至2027.05), which a reporter
        gives as a day of that month. A pack whose batch and expiry do not belong together
        may be counterfeit, or the batch mistyped.
        """
        expires, reported = self.batch and self.batch.expires_on, self.expiry_date
        if not (expires and reported):
            return False
        return (reported.year, reported.month) != (expires.year, expires.month)

    @property
    def made_after_start(self) -> bool:
        made = self.batch and self.batch.manufactured_on
        return bool(made and self.started_on and self.started_on < made)


@dataclass(frozen=True)
class BatchCheck:
    """The batch check of a case or a report: its drugs' results and the one result it shows.

    A suspect drug of ours without a batch counts as unknown: nothing in the register can
    vouch for it, and the batch must be asked for before any quality investigation.
    """

    drugs: list[DrugBatch]

    @property
    def expiry_differs(self) -> bool:
        return any(drug.expiry_differs for drug in self.drugs)

    @property
    def result(self) -> str:
        results = {drug.result for drug in self.drugs}
        return UNKNOWN if UNKNOWN in results else KNOWN if KNOWN in results else NOT_OURS


REGISTERED_BATCH = sa.select(
    Batch.id, Batch.batch_number, Batch.manufactured_on, Batch.expires_on
).where(
    Batch.product_id == sa.bindparam("product_id"),
    Batch.batch_number == sa.bindparam("batch_number"),
)


def registered_batch(
    session: Session, product_id: int, batch_number: str
) -> RegisteredBatch | None:
    """Return the register's batch of a product by its number as registered (`compact`)."""
    key = {"product_id": product_id, "batch_number": batch_number}
    return session.connection().execute(REGISTERED_BATCH, key).first()


def check_batches(drugs: Iterable[Drug], onset: date | None) -> BatchCheck:
    """Check each suspect drug of ours against the batch register."""
    checked = []
    for drug in drugs:
        if drug.role != "suspect" or drug.product_id is None:
            continue
        product = db.session.get(Product, drug.product_id)
        if product is None:
            continue
        typed = compact(drug.batch_number)
        batch = typed and registered_batch(db.session(), product.id, typed)
        nearest = nearest_batches(product.id, typed) if typed and not batch else []
        typed_name = None
        if recognised_by_batch(drug, product):
            names = (drug.generic_name, drug.brand_name)
            typed_name = " / ".join(name for name in names if name) or "—"
        checked.append(
            DrugBatch(
                product,
                drug.batch_number,
                batch or None,
                onset,
                drug.start_date,
                nearest,
                typed_name,
                drug.expiry_date,
            )
        )
    return BatchCheck(checked)


def compact(batch_number: str | None) -> str:
    """Return a batch number as the register holds it: half-width, no spaces, upper case."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", batch_number or "")).upper()


def nearest_batches(product_id: int, typed: str) -> list[Batch]:
    """Return the product's registered batches a mistyped `typed` may have meant, nearest first.

    Those one or two edits away (a swapped pair counts as one), or sharing its first four
    characters or more. Found by index, not by measuring every batch: those within two edits
    share a variant with `typed` (each with up to two characters left out, `BatchVariant`);
    those sharing a prefix are the `PREFIX_NEIGHBOURS` on each side of `typed` in the
    register's order. Only when fewer than `NEAREST_SHOWN` batches lie within two edits can
    this differ from measuring them all: a batch sharing four characters, three or more edits
    away, beyond those neighbours, would not be offered.
    """
    close = (
        sa.select(Batch.id, Batch.batch_number)
        .join(BatchVariant, BatchVariant.batch_id == Batch.id)
        .where(BatchVariant.product_id == product_id, BatchVariant.variant.in_(deletions(typed)))
    )
    scored = scores(typed, db.session.execute(close.distinct()))
    within_two = sum(score[0] <= 2 for score in scored.values())
    if within_two < NEAREST_SHOWN and len(typed) >= 4:  # else none sharing a prefix comes first
        same_start = Batch.batch_number.startswith(typed[:4], autoescape=True)
        for side, order in (
            (Batch.batch_number < typed, sa.desc),
            (Batch.batch_number > typed, sa.asc),
        ):
            nearby = (
                sa.select(Batch.id, Batch.batch_number)
                .where(Batch.product_id == product_id, same_start, side)
                .order_by(order(Batch.batch_number))
                .limit(PREFIX_NEIGHBOURS)
            )
            scored |= scores(typed, db.session.execute(nearby))
    nearest = sorted(scored.values())[:NEAREST_SHOWN]
    chosen = [batch_id for *_, batch_id in nearest]
    batches = {b.id: b for b in db.session.scalars(sa.select(Batch).where(Batch.id.in_(chosen)))}
    return [batches[batch_id] for batch_id in chosen]


def scores(typed: str, batches: Iterable[Any]) -> dict[int, tuple[int, int, str, int]]:
    """Return the (id, number) batches one or two edits away, or sharing four characters or more,
    each with what orders them: the edits, the longer prefix, the number."""
    scored = {}
    for batch_id, number in batches:
        distance = edit_distance(typed, number)
        prefix = len(common_prefix(typed, number))
        if distance <= 2 or prefix >= 4:
            scored[batch_id] = (distance, -prefix, number, batch_id)
    return scored


def deletions(text: str, most: int = 2) -> set[str]:
    """Return `text` with up to `most` of its characters left out, each way once."""
    found, last = {text}, {text}
    for _ in range(most):
        last = {word[:i] + word[i + 1 :] for word in last for i in range(len(word))}
        found |= last
    return found


def variant_rows(batch_ids: sa.ColumnElement[bool] | None = None) -> sa.CompoundSelect[Any]:
    """Return the `BatchVariant` rows of the batches chosen (all: None), in SQL.

    One statement for the register's backfill and for batches imported: each number, then
    with one character left out, then two.
    """
    positions: sa.CompoundSelect[Any] = sa.union_all(
        *(sa.select(sa.literal_column(str(i)).label("i")) for i in range(1, 36))
    )
    first, second = positions.subquery("first"), positions.subquery("second")
    number = Batch.batch_number
    whole = sa.select(Batch.product_id, number, Batch.id)
    one = sa.select(
        Batch.product_id,
        sa.func.substr(number, 1, first.c.i - 1).concat(sa.func.substr(number, first.c.i + 1)),
        Batch.id,
    ).join(first, first.c.i <= sa.func.length(number))
    two = (
        sa.select(
            Batch.product_id,
            sa.func.substr(number, 1, first.c.i - 1)
            .concat(sa.func.substr(number, first.c.i + 1, second.c.i - first.c.i - 1))
            .concat(sa.func.substr(number, second.c.i + 1)),
            Batch.id,
        )
        .join(first, first.c.i <= sa.func.length(number))
        .join(second, sa.and_(second.c.i > first.c.i, second.c.i <= sa.func.length(number)))
    )
    if batch_ids is not None:
        whole, one, two = (query.where(batch_ids) for query in (whole, one, two))
    return sa.union(whole, one, two)


@sa.event.listens_for(Session, "after_flush")
def index_new_batches(session: Session, _context: Any) -> None:
    """Give the batches the flush registered their variants, in the same transaction."""
    new = [obj.id for obj in session.new if isinstance(obj, Batch)]
    for chunk in chunks(new):
        rows = variant_rows(Batch.id.in_(chunk))
        session.connection().execute(
            sa.insert(BatchVariant).from_select(["product_id", "variant", "batch_id"], rows)
        )


def common_prefix(a: str, b: str) -> str:
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return a[:i]
    return a[: min(len(a), len(b))]


def edit_distance(a: str, b: str) -> int:
    """Return the edits (insert, delete, replace, swap two neighbours) turning `a` into `b`."""
    before: list[int] = []
    row = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            current[j] = min(row[j] + 1, current[j - 1] + 1, row[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], before[j - 2] + 1)
        before, row = row, current
    return row[-1]


# Expectedness: is each reported reaction among those the label lists?

TERM_SEPARATORS = re.compile(r"[、，,;；/\n]+|伴有?|及")
# Words that say how or where a reaction showed, not which and not how badly: 红色皮疹 is the
# label's 皮疹; 重度皮疹 or 全身皮疹 is not (greater severity or extent is unexpected, ICH E2A).
QUALIFIERS = re.compile(r"轻度|轻微|局部|散在|红色|皮肤|出现|mild|local")
NOT_A_TERM_CHARACTER = re.compile(r"[\W_]+")


def reaction_terms(text: str | None) -> list[str]:
    """Return the reactions a reaction name lists, in order, each once: 皮疹、瘙痒 is two."""
    terms = (term.strip(" 。.()（）") for term in TERM_SEPARATORS.split(text or ""))
    return list(dict.fromkeys(term for term in terms if term))


def term_key(term: str) -> str:
    return NOT_A_TERM_CHARACTER.sub("", term.casefold())


def is_listed(term: str, listed: Iterable[str]) -> bool:
    """Tell whether a reported reaction is one the label lists.

    The same words, or the reported term made of listed ones and mild qualifiers only (皮肤瘙痒
    for 瘙痒). A reported term that is only part of a listed one is not listed: 出血 is not
    the label's 注射部位出血, nor 休克 its 过敏性休克 (when unsure, suggest new: staff decide).
    """
    reported = term_key(term)
    keys = sorted((term_key(name) for name in listed), key=len, reverse=True)
    if not reported or reported in keys:
        return bool(reported)
    rest = reported
    for key in keys:
        if key:
            rest = rest.replace(key, " ")
    return rest != reported and not QUALIFIERS.sub("", rest).strip()


@dataclass(frozen=True)
class ProductLabel:
    """One suspect product of ours and the reported reactions its label lists, or not."""

    product: Product
    listed: list[str]
    not_listed: list[str]


@dataclass(frozen=True)
class ExpectednessSuggestion:
    """The expectedness a case's reaction suggests: new when any reaction is off any label.

    A label listing no reaction (不良反应尚不明确) makes every reaction new.
    """

    labels: list[ProductLabel]

    @property
    def code(self) -> str:
        return "new" if any(label.not_listed for label in self.labels) else "listed"


def suggest_expectedness(reports: Sequence[Report]) -> ExpectednessSuggestion | None:
    """Compare the latest reaction name of `reports` with the labels of their suspect products.

    None when no suspect drug is ours or no reaction is named.
    """
    event_name = next((r.event_name for r in reversed(reports) if r.event_name), None)
    terms = reaction_terms(event_name)
    product_ids = {
        drug.product_id
        for report in reports
        for drug in report.drugs
        if drug.role == "suspect" and drug.product_id is not None
    }
    if not terms or not product_ids:
        return None
    labels = []
    for product_id in sorted(product_ids):
        product = db.session.get(Product, product_id)
        if product is None:
            continue
        listed = [term for term in terms if is_listed(term, product.listed_reactions or [])]
        labels.append(ProductLabel(product, listed, [t for t in terms if t not in listed]))
    return ExpectednessSuggestion(labels) if labels else None


@dataclass(frozen=True)
class CaseChecks:
    """What the catalogue tells of a case: its batch check and the expectedness suggested."""

    batches: BatchCheck
    expectedness: ExpectednessSuggestion | None


def case_checks(reports: Sequence[Report], current: Any) -> CaseChecks:
    """Check the case as it stands (`cases.current_view` of its `reports`)."""
    return CaseChecks(
        check_batches(current.drugs, current.event_onset_date), suggest_expectedness(reports)
    )
