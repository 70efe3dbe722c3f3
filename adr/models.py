"""The database: cases, their reports, the drugs they name, the mail outbox and its links."""

from __future__ import annotations

import os
import select
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache, partial
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar, cast

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import LoaderCallableStatus, Mapped, Session, mapped_column, relationship

from adr.extensions import Base, db
from adr.vocab import OPEN_STATUSES

T = TypeVar("T")
NO_VALUE = LoaderCallableStatus.NO_VALUE  # an attribute not loaded

if TYPE_CHECKING:
    Model = Base
else:
    Model = db.Model


class UTCDateTime(sa.TypeDecorator[datetime]):
    """An aware datetime, stored as naive UTC so both engines hold the same value."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: give a time zone")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def text(length: int) -> Mapped[str | None]:
    """Return an optional text column of at most `length` characters."""
    return mapped_column(sa.String(length))


def code() -> Mapped[str | None]:
    """Return an optional column holding a code of a `vocab` list."""
    return mapped_column(sa.String(24))


class Case(Model):
    """One patient's reaction as the safety team tracks it: a first report and its follow-ups.

    Seriousness, category, assessment and status belong to the case; each report keeps what
    was received and its own day 0 and deadline (see `adr.cases`).
    """

    __tablename__ = "safety_case"
    __table_args__ = (
        sa.Index("ix_safety_case_valid_status", "valid_case", "status"),
        # Open cases by assignee counted from the index alone (the dashboard's workloads).
        sa.Index("ix_safety_case_status_assignee", "status", "assigned_to_id"),
        # Death investigations not reported yet, by deadline (the dashboard's count).
        sa.Index(
            "ix_safety_case_investigation_pending",
            "investigation_reported_on",
            "investigation_due_at",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The old status and assignee are loaded when they change: `count_open_cases` needs them.
    status: Mapped[str] = mapped_column(sa.String(12), default="received", active_history=True)
    invalid_reason: Mapped[str | None] = code()  # vocab.INVALID_REASON, when invalid
    status_reason: Mapped[str | None] = text(500)  # why it is invalid, in words
    invalid_since: Mapped[datetime | None] = mapped_column(UTCDateTime)  # marked invalid then
    # A duplicate's original; its reports were merged into it (`adr.cases.merges`).
    duplicate_of_id: Mapped[int | None] = mapped_column(sa.ForeignKey("safety_case.id"), index=True)

    # The company's assessment; None where staff have not judged yet. Seriousness, outcome and
    # expectedness are the decisions in force for the latest report (`Decision`).
    assessed_serious: Mapped[list[str] | None] = mapped_column(sa.JSON)
    assessed_outcome: Mapped[str | None] = code()
    expectedness: Mapped[str | None] = code()
    suggested_expectedness: Mapped[str | None] = code()  # from the product's listed reactions
    company_causality: Mapped[str | None] = code()
    naranjo_answers: Mapped[list[str] | None] = mapped_column(sa.JSON)
    naranjo_score: Mapped[int | None]
    national_case_number: Mapped[str | None] = text(50)
    investigation_reported_on: Mapped[date | None]  # the death investigation's report
    # The member of staff working the case; None: unassigned (the queue's "unassigned").
    assigned_to_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("staff_user.id"), index=True, active_history=True
    )

    # The holder's form (上市许可持有人药品不良反应报告表) beyond the reports' fields, as staff
    # complete it (`adr.cases.holder`). Countries are ISO 3166 codes; None: not known.
    occurrence_country: Mapped[str | None] = mapped_column(sa.String(2))  # None: China mainland
    patient_nationality: Mapped[str | None] = mapped_column(sa.String(2))
    patient_height_cm: Mapped[float | None]
    autopsy: Mapped[str | None] = code()  # vocab.YES_NO_UNKNOWN, when the patient died
    autopsy_findings: Mapped[str | None] = text(500)
    # Pregnancy: the mother's last period, the weeks of gestation at exposure and at the
    # reaction, how the pregnancy ended (vocab.PREGNANCY_OUTCOME) and what else is known.
    pregnancy_lmp: Mapped[date | None]
    gestation_exposure_weeks: Mapped[int | None]
    gestation_reaction_weeks: Mapped[int | None]
    pregnancy_outcome: Mapped[str | None] = code()
    pregnancy_detail: Mapped[str | None] = text(2000)
    # A parent-child report: the reaction is in the child (the patient), exposed through the
    # parent, who is described here (E2B D.10).
    parent_child: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    parent_initials: Mapped[str | None] = text(60)
    parent_age_years: Mapped[int | None]
    parent_sex: Mapped[str | None] = code()
    parent_weight_kg: Mapped[float | None]
    parent_height_cm: Mapped[float | None]
    parent_history: Mapped[str | None] = text(500)

    # Derived from the reports and the assessment by `adr.cases.recompute`.
    serious: Mapped[bool] = mapped_column(default=False)
    death: Mapped[bool] = mapped_column(default=False)
    report_category: Mapped[str] = mapped_column(sa.String(12), default="general")
    valid_case: Mapped[bool] = mapped_column(default=False)
    investigation_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)

    # The first report first, then as each joined the case (a merged duplicate's when merged).
    reports: Mapped[list[Report]] = relationship(
        back_populates="case",
        order_by=lambda: FIRST_REPORT_ORDER,
    )
    duplicate_of: Mapped[Case | None] = relationship(remote_side=[id], viewonly=True)
    assigned_to: Mapped[User | None] = relationship()
    notes: Mapped[list[CaseNote]] = relationship(order_by="CaseNote.id")
    reactions: Mapped[list[Reaction]] = relationship(order_by="(Reaction.position, Reaction.id)")
    term_codings: Mapped[list[TermCoding]] = relationship(order_by="TermCoding.id")
    diseases: Mapped[list[CaseDisease]] = relationship(
        order_by="(CaseDisease.position, CaseDisease.id)"
    )
    lab_results: Mapped[list[LabResult]] = relationship(
        order_by="(LabResult.position, LabResult.id)"
    )
    drug_details: Mapped[list[CaseDrug]] = relationship(order_by="CaseDrug.id")
    submissions: Mapped[list[Submission]] = relationship(
        back_populates="case", order_by="Submission.id"
    )
    documents: Mapped[list[Document]] = relationship(back_populates="case", order_by="Document.id")

    @property
    def first_report(self) -> Report:
        return self.reports[0]


class Report(Model):
    """One report of a case, first or follow-up, as received: the national form's fields."""

    __tablename__ = "report"
    __table_args__ = (
        # Reports still owed to the regulator, by deadline: the dashboard's and the list's clock.
        sa.Index("ix_report_unsent_due", "submitted_to_regulator_on", "due_at"),
        # Reports by deadline with what judges their timeliness: the compliance figures are
        # counted from the index alone.
        sa.Index(
            "ix_report_due_clock",
            "due_at",
            "report_category",
            "day_zero",
            "submitted_to_regulator_on",
        ),
        # The case's values copied onto the report, with the receipt time: the month's serious
        # and death counts from the index alone, and the list filtered by status newest first.
        sa.Index("ix_report_case_serious", "case_serious", "received_at", "case_status"),
        sa.Index("ix_report_case_death", "case_death", "received_at", "case_status"),
        sa.Index("ix_report_case_status", "case_status", "received_at"),
        # Each assignee's nearest deadline, read off the index (the dashboard's workloads).
        sa.Index(
            "ix_report_case_assignee_due",
            "case_assigned_to_id",
            "submitted_to_regulator_on",
            "due_at",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(sa.String(17), unique=True)
    submission_token: Mapped[str] = mapped_column(sa.String(64), unique=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # When it joined its case: when received, or when its duplicate case was merged into it.
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)
    language: Mapped[str] = mapped_column(sa.String(5))
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("safety_case.id"), index=True)
    source: Mapped[str] = mapped_column(sa.String(12), default="web", index=True)
    aware_on: Mapped[date] = mapped_column(index=True)  # the China date the company first knew
    follow_up_of_id: Mapped[int | None] = mapped_column(sa.ForeignKey("report.id"), index=True)
    # A reference typed on the public form, unverified: staff confirm it (a merge) or reject it.
    claimed_follow_up_of: Mapped[str | None] = mapped_column(sa.String(17), index=True)
    # The merge that brought this report into its case from a duplicate (`adr.cases.merges`);
    # a copy is a duplicate report that added nothing to the case: it owes the regulator nothing.
    merge_id: Mapped[int | None] = mapped_column(sa.ForeignKey("case_merge.id"), index=True)
    duplicate_copy: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    remarks: Mapped[str | None] = text(2000)

    reporter_kind: Mapped[str | None] = code()
    reporter_organization_type: Mapped[str | None] = code()
    reporter_organization: Mapped[str | None] = text(60)
    reporter_name: Mapped[str | None] = text(100)
    reporter_phone: Mapped[str | None] = text(30)
    reporter_phone_e164: Mapped[str | None] = mapped_column(sa.String(16), index=True)
    reporter_email: Mapped[str | None] = text(254)
    reporter_consent_contact: Mapped[bool] = mapped_column(default=False)
    reporter_consent_privacy: Mapped[bool] = mapped_column(default=False)

    patient_name: Mapped[str | None] = text(60)
    patient_sex: Mapped[str | None] = code()
    patient_birth_date: Mapped[date | None]
    patient_age: Mapped[int | None]
    patient_age_unit: Mapped[str | None] = code()
    patient_ethnicity: Mapped[str | None] = text(20)
    patient_weight_kg: Mapped[float | None]
    patient_phone: Mapped[str | None] = text(30)
    patient_phone_e164: Mapped[str | None] = mapped_column(sa.String(16))
    patient_disease: Mapped[str | None] = text(500)
    patient_hospital: Mapped[str | None] = text(200)
    patient_record_number: Mapped[str | None] = text(20)
    patient_past_adr: Mapped[str | None] = code()
    patient_past_adr_detail: Mapped[str | None] = text(500)
    patient_family_adr: Mapped[str | None] = code()
    patient_family_adr_detail: Mapped[str | None] = text(500)
    patient_history: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    patient_history_detail: Mapped[str | None] = text(500)
    patient_pregnant: Mapped[str | None] = code()  # vocab.PREGNANT, for a woman of 12 to 55

    event_name: Mapped[str | None] = text(250)
    event_onset_date: Mapped[date | None]
    event_description: Mapped[str | None] = text(5000)
    event_outcome: Mapped[str | None] = code()
    event_sequelae_detail: Mapped[str | None] = text(500)
    event_death_cause: Mapped[str | None] = text(200)
    event_death_date: Mapped[date | None]
    event_dechallenge: Mapped[str | None] = code()
    event_rechallenge: Mapped[str | None] = code()
    event_disease_impact: Mapped[str | None] = code()
    event_serious: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    event_causality: Mapped[str | None] = code()
    event_province: Mapped[str | None] = text(50)  # where it happened, for group events
    event_city: Mapped[str | None] = text(50)

    # A literature report's citation (E2B C.4.r.1), entered by staff with source `literature`.
    literature_authors: Mapped[str | None] = text(500)
    literature_title: Mapped[str | None] = text(500)
    literature_journal: Mapped[str | None] = text(200)
    literature_year: Mapped[int | None]
    literature_volume: Mapped[str | None] = text(20)
    literature_pages: Mapped[str | None] = text(30)
    literature_doi: Mapped[str | None] = text(200)

    # The case's status, seriousness, death and assignee as they stand now, copied onto each of its
    # reports in the flush that changes them (`copy_case_values`): the dashboard's counts and
    # the list's filters read them off the report's indexes, not report by report off its case.
    case_status: Mapped[str] = mapped_column(sa.String(12), server_default="received")
    case_serious: Mapped[bool] = mapped_column(server_default=sa.false())
    case_death: Mapped[bool] = mapped_column(server_default=sa.false())
    case_assigned_to_id: Mapped[int | None]

    # Derived by `adr.cases.recompute` from the case as it stood once this report was added.
    serious: Mapped[bool]
    report_category: Mapped[str] = mapped_column(sa.String(12))
    day_zero: Mapped[date | None]  # None: the case lacked a minimum element
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    valid_case: Mapped[bool]
    completeness: Mapped[int]
    # The staff decisions in force for this report (`adr.cases.decisions`): what its row of the
    # workbook says staff confirmed.
    decided_serious: Mapped[list[str] | None] = mapped_column(sa.JSON)
    decided_outcome: Mapped[str | None] = code()
    submitted_to_regulator_on: Mapped[date | None]  # the day this report went to the regulator
    # When that date was recorded: decisions made later leave this report's deadline alone.
    sent_recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The deadline the report had passed, unsent, when its case was marked invalid: it stays in
    # that month's compliance figures (`adr.regulator.compliance`).
    lapsed_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)

    drugs: Mapped[list[Drug]] = relationship(
        back_populates="report", order_by="Drug.position", cascade="all, delete-orphan"
    )
    decisions: Mapped[list[Decision]] = relationship(order_by="Decision.id")
    corrections: Mapped[list[Correction]] = relationship(order_by="Correction.id")
    merge: Mapped[CaseMerge | None] = relationship()
    mails: Mapped[list[OutboxMail]] = relationship(
        back_populates="report", order_by="OutboxMail.id"
    )
    follow_up_links: Mapped[list[FollowUpLink]] = relationship(back_populates="report")
    case: Mapped[Case] = relationship(back_populates="reports")


# A case's values copied onto each of its reports, by the report's column (`Report.case_status`).
CASE_COPIES = {
    "status": "case_status",
    "serious": "case_serious",
    "death": "case_death",
    "assigned_to_id": "case_assigned_to_id",
}


def chunks(items: list[T], size: int = 500) -> Iterator[list[T]]:
    """Yield the items `size` at a time: ids for an IN clause of bounded length."""
    for first in range(0, len(items), size):
        yield items[first : first + size]


def at_hand(thing: Any, relationship: str) -> Any:
    """Return the object a relationship holds when it is loaded already, else None (no query)."""
    value = sa.inspect(thing).attrs[relationship].loaded_value
    return None if value is NO_VALUE else value


def transaction_notes(session: Session) -> dict[str, Any]:
    """Return what the session's transaction noted for its commit's hooks (open cases counted,
    cases of the batch tally, audit entries); a transaction ended without them forgets them."""
    return session.info.setdefault("transaction_notes", {})


@sa.event.listens_for(Session, "after_transaction_end")
def forget_transaction_notes(session: Session, transaction: Any) -> None:
    if transaction.parent is None:  # committed (its hooks took their notes), rolled back, closed
        session.info.pop("transaction_notes", None)
    elif transaction.nested:  # a savepoint rolled back frees the locks taken since: lock again
        transaction_notes(session).pop(LOCKED_PRODUCTS, None)


LOCKED_PRODUCTS = "locked_products"  # transaction_notes: the products whose rows it locked


def advisory_lock(
    session: Session, lock: sa.Select[Any], params: dict[str, Any] | None = None
) -> None:
    """Hold a PostgreSQL advisory lock until the transaction ends (`lock`: its
    `pg_advisory_xact_lock` statement, built once). SQLite's BEGIN IMMEDIATE (see
    `write_transaction`) serialises writers already: nothing is asked there."""
    if session.get_bind().dialect.name == "postgresql":
        session.connection().execute(lock, params)


def lock_products(session: Session, product_ids: Iterable[int]) -> None:
    """Lock the products' rows until the transaction ends, each once a transaction, in id order.

    So two writers counting one product's cases (the batch alert, the group events) count one
    after the other. In id order, as `batch_tally` locks them: an IN list alone is locked in the
    table's order, which editing a product changes, and two writers could each hold a product
    the other waits for. FOR NO KEY UPDATE: a report's drugs hold a key-share lock on their
    product (their foreign key), which FOR UPDATE would wait for, each report for the other's.
    SQLite's BEGIN IMMEDIATE serialises writers already: nothing is asked there.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    held = transaction_notes(session).setdefault(LOCKED_PRODUCTS, set())
    wanted = sorted(set(product_ids) - held)
    if wanted:
        session.connection().execute(locking_products(), {"ids": wanted}).all()
        held.update(wanted)


def lock_case_products(session: Session, case_id: int) -> None:
    """Lock at once every product an existing case's counts may lock (`lock_products`): its
    reports' drugs' and its batch rows' (the batch tally's copy, as counted before).

    A transaction that counts an existing case (a follow-up, a correction) takes them first:
    locked as a report's alone, the counts would then lock the case's others one check at a
    time, and could wait for a lower product while holding a higher one, which a report naming
    both waits for.
    """
    if session.get_bind().dialect.name == "postgresql":
        named = session.connection().scalars(products_of_case(), {"case_id": case_id})
        lock_products(session, list(named))


@cache
def products_of_case() -> sa.CompoundSelect:
    """Return `lock_case_products`' read of a case's products, built once (`case_id`)."""
    case_id: sa.BindParameter[int] = sa.bindparam("case_id")
    drugs = (
        sa.select(Drug.product_id)
        .join(Report, Report.id == Drug.report_id)
        .where(Report.case_id == case_id, Drug.product_id.is_not(None))
    )
    return sa.union(drugs, sa.select(BatchCase.product_id).where(BatchCase.case_id == case_id))


@cache
def locking_products() -> sa.Select[int]:
    """Return `lock_products`' statement, built once: the ids are bound (`ids`)."""
    chosen = Product.id.in_(sa.bindparam("ids", expanding=True))
    return sa.select(Product.id).where(chosen).order_by(Product.id).with_for_update(key_share=True)


def copy_case_values(connection: sa.Connection, case_ids: Iterable[int]) -> None:
    """Copy the cases' values (`CASE_COPIES`) onto all their reports, as stored now."""
    reports = db.metadata.tables["report"]
    of_case = {
        copy: sa.select(getattr(Case, name)).where(Case.id == reports.c.case_id).scalar_subquery()
        for name, copy in CASE_COPIES.items()
    }
    for chunk in chunks(sorted(set(case_ids))):
        connection.execute(sa.update(reports).where(reports.c.case_id.in_(chunk)).values(of_case))


@sa.event.listens_for(Session, "before_flush")
def copy_onto_new_reports(session: Session, flush_context: Any, instances: Any) -> None:
    """Give each new report whose case is at hand its case's values as the flush stores them,
    so that its insert holds the copies (a new case's unset values take their defaults)."""
    for report in session.new:
        case = at_hand(report, "case") if isinstance(report, Report) else None
        if case is None:
            continue
        for name, copy in CASE_COPIES.items():
            value, default = getattr(case, name), Case.__table__.c[name].default
            if value is None and case in session.new and default is not None:
                value = default.arg  # a scalar: the insert gives it
            setattr(report, copy, value)


@sa.event.listens_for(Session, "after_flush")
def copy_after_flush(session: Session, flush_context: Any) -> None:
    """Copy the values of the cases the flush changed, or moved reports to (or added reports to
    without their case at hand), onto their reports, in the flush's transaction; the copies in
    memory are read again when next used."""
    touched: set[int] = set()
    for thing in [*session.new, *session.dirty]:
        state = sa.inspect(thing)
        is_new = thing in session.new
        if isinstance(thing, Case):
            if not is_new and any(state.attrs[name].history.has_changes() for name in CASE_COPIES):
                touched.add(thing.id)
        elif isinstance(thing, Report):
            if is_new:
                copied = at_hand(thing, "case") is not None
            else:
                copied = not (
                    state.attrs.case_id.history.has_changes()
                    or state.attrs.case.history.has_changes()
                )
            if not copied:
                touched.add(thing.case_id)
    if not touched:
        return
    copy_case_values(session.connection(), touched)
    stale = session.info.setdefault("stale_case_copies", set())
    stale.update(touched)


@sa.event.listens_for(Session, "after_flush_postexec")
def expire_case_copies(session: Session, flush_context: Any) -> None:
    stale = session.info.pop("stale_case_copies", None)
    if not stale:
        return
    for thing in list(session.identity_map.values()):
        if isinstance(thing, Report) and thing.case_id in stale:
            session.expire(thing, list(CASE_COPIES.values()))


# A case's reports in `Case.reports`' order: the first report first, then the follow-ups as added.
FIRST_REPORT_ORDER: tuple[Any, ...] = (
    Report.follow_up_of_id.is_not(None),
    Report.added_at,
    Report.id,
)


class OpenCaseCount(Model):
    """How many open cases (`OPEN_STATUSES`) each member of staff holds, the
    unassigned under 0: kept by `count_open_cases` in the flush that adds a case or changes its
    status or assignee, so that the dashboard's workloads read a few rows, not every open case."""

    __tablename__ = "open_case_count"

    assignee_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)  # 0: nobody
    cases: Mapped[int]


def recount_open_cases(connection: sa.Connection) -> None:
    """Count every assignee's open cases again from the cases (after writes without the ORM)."""
    assignee = sa.func.coalesce(Case.assigned_to_id, 0)
    counted = (
        sa.select(assignee, sa.func.count())
        .where(Case.status.in_(OPEN_STATUSES))
        .group_by(assignee)
    )
    connection.execute(sa.delete(OpenCaseCount))
    connection.execute(sa.insert(OpenCaseCount).from_select(["assignee_id", "cases"], counted))


def add_open_cases(connection: sa.Connection, deltas: dict[int, int]) -> None:
    """Add each assignee's change (`deltas`, the unassigned under 0) to their open cases."""
    rows = [{"assignee_id": key, "cases": n} for key, n in sorted(deltas.items()) if n]
    if rows:
        connection.execute(adding_open_cases(connection.dialect.name), rows)


@cache
def adding_open_cases(dialect: str) -> sa.Executable:
    """Return the statement that adds to an assignee's open cases, or counts their first."""
    insert = (postgresql_insert if dialect == "postgresql" else sqlite_insert)(OpenCaseCount)
    adding = {"cases": OpenCaseCount.cases + insert.excluded.cases}  # under the row's lock
    return insert.on_conflict_do_update(index_elements=["assignee_id"], set_=adding)


@sa.event.listens_for(Session, "after_flush")
def count_open_cases(session: Session, flush_context: Any) -> None:
    """Note the open cases the pending flush adds, removes or moves between assignees; they are
    added to the counters just before the transaction commits (`add_counted_open_cases`), so
    that the counter rows stay locked for the commit only, not for the rest of an intake."""
    deltas = open_case_deltas(session)

    def before(case: Case, name: str) -> Any:
        """Return the value as stored before this flush (both are loaded when they change)."""
        history = sa.inspect(case).attrs[name].history
        if history.deleted or history.unchanged:
            return [*history.deleted, *history.unchanged][0]
        return None if history.added else getattr(case, name)  # None before, or not changed

    for case in [*session.new, *session.dirty, *session.deleted]:
        if not isinstance(case, Case):
            continue
        if case not in session.new and before(case, "status") in OPEN_STATUSES:
            key = before(case, "assigned_to_id") or 0
            deltas[key] = deltas.get(key, 0) - 1
        if case not in session.deleted:
            count_open_case(deltas, case)


def open_case_deltas(session: Session) -> dict[int, int]:
    """Return the changes to each assignee's open cases that the transaction noted so far."""
    return transaction_notes(session).setdefault("open_case_deltas", {})


def count_open_case(deltas: dict[int, int], case: Case) -> None:
    """Count the case among its assignee's open cases, if it is open."""
    if case.status in OPEN_STATUSES:
        key = case.assigned_to_id or 0
        deltas[key] = deltas.get(key, 0) + 1


@sa.event.listens_for(Session, "before_commit", insert=True)  # before the audit chain's lock
def add_counted_open_cases(session: Session) -> None:
    session.flush()  # the commit's own flush comes after this hook
    add_open_cases(session.connection(), transaction_notes(session).pop("open_case_deltas", {}))


class Decision(Model):
    """A staff decision on seriousness, outcome or expectedness, in force from a report on.

    It applies to that report of the case and the later ones; a report sent before the decision
    keeps its deadline unless the decision is a correction (`correction`: the report was
    misjudged), which says why (`adr.cases.decisions`).
    """

    __tablename__ = "assessment_decision"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(sa.ForeignKey("report.id"), index=True)
    field: Mapped[str] = mapped_column(sa.String(20))  # assessed_serious, assessed_outcome, …
    value: Mapped[Any] = mapped_column(sa.JSON)  # the criteria, a code, or None: not judged
    made_at: Mapped[datetime] = mapped_column(UTCDateTime)
    made_by: Mapped[str] = mapped_column(sa.String(254))
    correction: Mapped[bool] = mapped_column(default=False)
    reason: Mapped[str | None] = text(500)


class Correction(Model):
    """A correction of a received report's field: the value as received stays here (who, when,
    why); the report holds the corrected one (`adr.cases.corrections`)."""

    __tablename__ = "correction"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(sa.ForeignKey("report.id"), index=True)
    field: Mapped[str] = mapped_column(sa.String(60))  # as report-form.md names it
    original: Mapped[Any] = mapped_column(sa.JSON)  # before this correction, as text or None
    value: Mapped[Any] = mapped_column(sa.JSON)
    reason: Mapped[str] = mapped_column(sa.String(500))
    made_at: Mapped[datetime] = mapped_column(UTCDateTime)
    made_by: Mapped[str] = mapped_column(sa.String(254))
    approved_by: Mapped[str | None] = mapped_column(sa.String(254))  # under four-eyes


class CaseMerge(Model):
    """A duplicate case merged into its original: its reports joined the original's case."""

    __tablename__ = "case_merge"

    id: Mapped[int] = mapped_column(primary_key=True)
    duplicate_case_id: Mapped[int] = mapped_column(sa.ForeignKey("safety_case.id"), index=True)
    original_case_id: Mapped[int] = mapped_column(sa.ForeignKey("safety_case.id"), index=True)
    status_before: Mapped[str] = mapped_column(sa.String(12))  # the duplicate's, for an undo
    # The original's status when the merge reopened it (the merged news owed the regulator).
    original_status_before: Mapped[str | None] = mapped_column(sa.String(12))
    # Each report it moved, as it stood before: id, follow_up_of_id, merge_id, duplicate_copy,
    # added_at; an undo puts them back so.
    moved: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON)
    reason: Mapped[str | None] = text(500)
    merged_at: Mapped[datetime] = mapped_column(UTCDateTime)
    merged_by: Mapped[str] = mapped_column(sa.String(254))
    approved_by: Mapped[str | None] = mapped_column(sa.String(254))
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    undone_by: Mapped[str | None] = mapped_column(sa.String(254))
    undo_reason: Mapped[str | None] = text(500)

    duplicate_case: Mapped[Case] = relationship(foreign_keys=[duplicate_case_id])
    original_case: Mapped[Case] = relationship(foreign_keys=[original_case_id])


class ApprovalRequest(Model):
    """A step that waits for a second person under four-eyes (`adr.cases.approvals`)."""

    __tablename__ = "approval_request"
    __table_args__ = (sa.Index("ix_approval_request_status_case", "status", "case_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("safety_case.id"))
    report_id: Mapped[int] = mapped_column(sa.ForeignKey("report.id"))  # where it was asked
    kind: Mapped[str] = mapped_column(sa.String(20))  # invalid, duplicate, close, sent, correction
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON)  # what takes effect on approval
    reason: Mapped[str | None] = text(500)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    requested_by: Mapped[str] = mapped_column(sa.String(254))
    status: Mapped[str] = mapped_column(sa.String(10), default="pending")  # approved, refused
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(sa.String(254))
    decision_note: Mapped[str | None] = text(500)

    case: Mapped[Case] = relationship()
    report: Mapped[Report] = relationship()


class Drug(Model):
    """A drug the patient took: suspected, concomitant or interacting."""

    __tablename__ = "drug"
    # A batch's reports listed and counted from the index alone (the list's batch filter, the
    # search for a batch number).
    __table_args__ = (sa.Index("ix_drug_batch_report", "batch_number", "report_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(
        sa.ForeignKey("report.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int]
    role: Mapped[str] = mapped_column(sa.String(12))
    approval_number: Mapped[str | None] = text(35)
    brand_name: Mapped[str | None] = text(200)
    generic_name: Mapped[str | None] = text(200)
    manufacturer: Mapped[str | None] = text(200)
    batch_number: Mapped[str | None] = mapped_column(sa.String(35))
    expiry_date: Mapped[date | None]  # 失效日期/有效期至, printed beside the batch
    dosage_form: Mapped[str | None] = text(60)  # 剂型: 片剂, 颗粒剂
    strength: Mapped[str | None] = text(60)  # 规格: 0.25g, 每袋装10g
    # The company's product this drug was matched to when the report was stored (`adr.products`).
    product_id: Mapped[int | None] = mapped_column(sa.ForeignKey("product.id"), index=True)
    dose: Mapped[float | None]
    dose_unit: Mapped[str | None] = code()
    route: Mapped[str | None] = code()
    frequency: Mapped[str | None] = text(50)
    start_date: Mapped[date | None]
    end_date: Mapped[date | None]
    indication: Mapped[str | None] = text(200)

    report: Mapped[Report] = relationship(back_populates="drugs")
    product: Mapped[Product | None] = relationship(viewonly=True)


class Product(Model):
    """A medicine the company makes, named as on its label and its approval."""

    __tablename__ = "product"

    id: Mapped[int] = mapped_column(primary_key=True)
    generic_name: Mapped[str] = mapped_column(sa.String(200))  # with its dosage form: 板蓝根颗粒
    english_name: Mapped[str | None] = text(200)  # Isatis Root Granules
    brand_name: Mapped[str | None] = text(200)
    # Other names it is known by (brand spellings, pinyin, misspellings): matched, never offered.
    aliases: Mapped[list[str]] = mapped_column(sa.JSON, default=list, server_default="[]")
    approval_number: Mapped[str] = mapped_column(sa.String(35), unique=True)  # 国药准字H61020123
    manufacturer: Mapped[str] = mapped_column(sa.String(200))
    dosage_form: Mapped[str | None] = text(60)  # 剂型, as the approval names it
    # Its strengths (规格), as the labels print them: offered to a reporter naming the product.
    strengths: Mapped[list[str]] = mapped_column(sa.JSON, default=list, server_default="[]")
    # The adverse reactions the label lists, one term each: what a reaction is expected against.
    listed_reactions: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    # Those terms coded to MedDRA, kept beside the text: term → PT code (a term not coded is
    # absent). A serious reaction whose PT is not among them is a signal trigger (adr.signals).
    listed_pt_codes: Mapped[dict[str, int]] = mapped_column(
        sa.JSON, default=dict, server_default="{}"
    )

    batches: Mapped[list[Batch]] = relationship(
        back_populates="product", order_by="Batch.manufactured_on"
    )


class Batch(Model):
    """One batch of a product, from the company's batch records."""

    __tablename__ = "batch"
    __table_args__ = (sa.UniqueConstraint("product_id", "batch_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("product.id"))
    batch_number: Mapped[str] = mapped_column(sa.String(35), index=True)  # as `normalize_batch`
    manufactured_on: Mapped[date | None]
    expires_on: Mapped[date | None]

    product: Mapped[Product] = relationship(back_populates="batches")


class BatchVariant(Model):
    """A registered batch number with up to two characters left out: what finds the batches a
    mistyped number is one or two edits from (`adr.products.nearest_batches`)."""

    __tablename__ = "batch_variant"

    product_id: Mapped[int] = mapped_column(sa.ForeignKey("product.id"), primary_key=True)
    variant: Mapped[str] = mapped_column(sa.String(35), primary_key=True)
    batch_id: Mapped[int] = mapped_column(
        sa.ForeignKey("batch.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class BatchAlert(Model):
    """An alert mailed when the reports naming one batch of a product reached `level`."""

    __tablename__ = "batch_alert"
    # One alert per level, however many reports arrive at once.
    __table_args__ = (sa.UniqueConstraint("product_id", "batch_number", "level"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("product.id"))
    batch_number: Mapped[str] = mapped_column(sa.String(35))
    level: Mapped[int]  # the threshold, then twice it, and so on
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    outbox_mail_id: Mapped[int | None] = mapped_column(sa.ForeignKey("outbox_mail.id"))


class BatchCase(Model):
    """A case that counts for a batch of a product, copied in the transaction of what it copies.

    One row per case naming the batch on a suspect drug of the product, when the case is neither
    duplicate nor invalid (`adr.batch_tally` keeps it, the batch table and the dashboard count it).
    """

    __tablename__ = "batch_case"
    __table_args__ = (sa.Index("ix_batch_case_known_on", "known_on"),)

    product_id: Mapped[int] = mapped_column(sa.ForeignKey("product.id"), primary_key=True)
    batch_number: Mapped[str] = mapped_column(sa.String(35), primary_key=True)
    case_id: Mapped[int] = mapped_column(
        sa.ForeignKey("safety_case.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    known_on: Mapped[date]  # the last day the company knew of a report of the case naming it
    serious: Mapped[bool]
    death: Mapped[bool]


class BatchTally(Model):
    """A batch's cases, serious cases, deaths and last day known: ever, and in the window."""

    __tablename__ = "batch_tally"
    __table_args__ = (
        sa.Index("ix_batch_tally_ranked", "cases", "last_known_on", "batch_number"),
        sa.Index("ix_batch_tally_window", "window_cases", "window_last_known_on", "batch_number"),
    )

    product_id: Mapped[int] = mapped_column(sa.ForeignKey("product.id"), primary_key=True)
    batch_number: Mapped[str] = mapped_column(sa.String(35), primary_key=True)
    cases: Mapped[int]
    serious: Mapped[int]
    deaths: Mapped[int]
    last_known_on: Mapped[date]
    # The same since `BatchWindow.since`; a batch with no case in the window counts 0.
    window_cases: Mapped[int]
    window_serious: Mapped[int]
    window_deaths: Mapped[int]
    window_last_known_on: Mapped[date | None]


class BatchWindow(Model):
    """The first day of the window `BatchTally` counts in (one row; None: not counted yet)."""

    __tablename__ = "batch_window"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    since: Mapped[date | None]


class OutboxMail(Model):
    """A mail waiting to go out, or its delivery record: delivery reads and updates these rows."""

    __tablename__ = "outbox_mail"
    __table_args__ = (sa.Index("ix_outbox_mail_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int | None] = mapped_column(sa.ForeignKey("report.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(20))  # safety_inbox, acknowledgement
    recipients: Mapped[list[str]] = mapped_column(sa.JSON)
    subject: Mapped[str] = mapped_column(sa.String(250))
    body_text: Mapped[str] = mapped_column(sa.Text)
    body_html: Mapped[str] = mapped_column(sa.Text)
    message_id: Mapped[str] = mapped_column(sa.String(250), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # pending → sending (claimed by one sender) → sent | pending again (retry) | failed
    status: Mapped[str] = mapped_column(sa.String(10), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(sa.String(1000))

    report: Mapped[Report | None] = relationship(back_populates="mails")


class FollowUpLink(Model):
    """The private link of an acknowledgement, to send a follow-up: its token's SHA-256 only."""

    __tablename__ = "follow_up_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(sa.ForeignKey("report.id"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

    report: Mapped[Report] = relationship(back_populates="follow_up_links")


class CaseNote(Model):
    """A staff note on a case: the thread only grows."""

    __tablename__ = "case_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("safety_case.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    author: Mapped[str] = mapped_column(sa.String(254))
    text: Mapped[str] = mapped_column(sa.Text)


class User(Model):
    """A member of the drug safety staff."""

    __tablename__ = "staff_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)  # stored lower-case
    name: Mapped[str] = mapped_column(sa.String(100))
    role: Mapped[str] = mapped_column(sa.String(10))  # reviewer, admin
    active: Mapped[bool] = mapped_column(default=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Raised to end every session of the user at once; each session holds the value it began with.
    session_epoch: Mapped[int] = mapped_column(default=0, server_default="0")
    totp_secret: Mapped[str | None] = mapped_column(sa.String(64))  # None: no second factor
    totp_last_step: Mapped[int | None] = mapped_column(sa.BigInteger)  # of the last code accepted
    recovery_code_hashes: Mapped[list[str]] = mapped_column(
        sa.JSON, default=list, server_default="[]"
    )

    saved_filters: Mapped[list[SavedFilter]] = relationship(order_by="SavedFilter.name")

    # Flask-Login's user interface.
    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)


class SavedFilter(Model):
    """A view of the case list a member of staff named and keeps: the list's query string."""

    __tablename__ = "saved_filter"
    __table_args__ = (sa.UniqueConstraint("user_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("staff_user.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(60))
    query: Mapped[str] = mapped_column(sa.String(1000))  # as the list's URL carries it


class AuditEntry(Model):
    """One append-only line of the audit trail, chained to the line before by its hash."""

    __tablename__ = "audit_entry"
    __table_args__ = (sa.Index("ix_audit_entry_actor_at", "actor", "at"),)  # failed logins

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(sa.String(254))  # a staff e-mail, or "public form"
    action: Mapped[str] = mapped_column(sa.String(40))
    report_id: Mapped[int | None] = mapped_column(sa.ForeignKey("report.id"), index=True)
    field: Mapped[str | None] = mapped_column(sa.String(60))
    old_value: Mapped[str | None] = mapped_column(sa.Text)
    new_value: Mapped[str | None] = mapped_column(sa.Text)
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64), unique=True)


@contextmanager
def write_transaction() -> Iterator[Session]:
    """Run the block in one write transaction and commit it.

    On SQLite the transaction opens with BEGIN IMMEDIATE, so that two writers wait
    for each other (busy timeout) instead of one failing with "database is locked".
    """
    session = db.session()
    if session.in_transaction():
        session.commit()  # ends the read transaction; the write needs its own BEGIN
    with one_writer_of_this_process(session.get_bind()):
        session.connection(execution_options={"begin": "IMMEDIATE"})
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


class Inserted(NamedTuple):
    """How a column of a new object goes into its insert (`inserted_row`)."""

    key: str  # the model's name for it
    column: str
    default: Callable[[], Any] | None  # the value None takes, if the column has a default
    drawn: bool  # None leaves it to the database: the id drawn, or the server's default
    json: bool  # a JSON column: None set is JSON's null, and never set is SQL's NULL


@cache
def inserting(model: type[Model]) -> tuple[sa.Executable, list[Inserted]]:
    """Return the statement that inserts rows of `model` and gives their ids, and its columns."""
    mapper = sa.inspect(model)
    table = cast(sa.Table, mapper.local_table)
    columns = [
        Inserted(
            mapper.get_property_by_column(column).key,
            column.key,
            default_of(column),
            column.default is None and (column.primary_key or column.server_default is not None),
            column.type.should_evaluate_none,
        )
        for column in table.columns
    ]
    return sa.insert(table).returning(table.c.id, sort_by_parameter_order=True), columns


def default_of(column: sa.Column[Any]) -> Callable[[], Any] | None:
    """Return what gives the column's default, called with nothing, if it has one."""
    default: Any = column.default
    if default is None:
        return None
    if default.is_callable:
        return partial(default.arg, None)  # SQLAlchemy's wrapper takes the execution context
    value = default.arg
    return lambda: value


def insert_new(connection: sa.Connection, things: Sequence[Model]) -> None:
    """Insert new objects of one model by Core, with the values the session's flush would
    insert, and give each its id; rows that leave other columns unset go in one statement each.

    For a report's intake, whose unit of work cost more than its inserts. The caller puts them
    in the session as loaded (`make_transient_to_detached`, then `Session.add`) and notes what
    the flush's hooks note (`count_open_case`, `batch_tally.note_inserted_case`).
    """
    if not things:
        return
    statement, columns = inserting(type(things[0]))
    alike: dict[tuple[str, ...], list[tuple[Model, dict[str, Any]]]] = {}
    for thing in things:
        row = inserted_row(thing, columns)
        alike.setdefault(tuple(row), []).append((thing, row))
    for rows in alike.values():
        # One row alone is one plain execute: a list would take the batched inserts' path.
        sent = rows[0][1] if len(rows) == 1 else [row for _thing, row in rows]
        ids = [row[0] for row in connection.execute(statement, sent)]
        for (thing, _row), id_ in zip(rows, ids, strict=True):
            thing.id = id_  # type: ignore[attr-defined]


def inserted_row(thing: Model, columns: list[Inserted]) -> dict[str, Any]:
    """Return the row the flush would insert for a new object, and give the object the values
    the insert takes, so that none is left to load once the object is persistent.

    As the flush: None, or no value, takes the column's default, and NULL without one; a JSON
    column set to None holds JSON's null, and one never set SQL's NULL (it is left out).
    The object is transient and no column has attribute events: its values are written to its
    `__dict__`, which `make_transient_to_detached` then holds as loaded.
    """
    values = thing.__dict__
    row: dict[str, Any] = {}
    for key, column, default, drawn, json in columns:
        value = values.get(key)
        if value is None and not (json and key in values):
            if drawn:
                continue  # the id drawn, or the server's default
            value = values[key] = default() if default else None
            if value is None and json:
                continue  # SQL's NULL: left out, as JSON's null would go in
        row[column] = value
    return row


# SQLite's waiting writers poll for its one write lock, sleeping up to 100 ms between tries, so
# under load the lock lies free while they sleep. A process's threads queue on a lock of their
# own instead, each woken as soon as the one before commits; processes still meet at SQLite's.
SQLITE_WRITERS: weakref.WeakKeyDictionary[Any, tuple[threading.RLock, float]] = (
    weakref.WeakKeyDictionary()
)


@contextmanager
def one_writer_of_this_process(engine: Any) -> Iterator[None]:
    """Hold the engine's writer lock (SQLite), waiting at most its busy timeout for it."""
    if engine not in SQLITE_WRITERS:
        yield
        return
    lock, seconds = SQLITE_WRITERS[engine]
    acquired = lock.acquire(timeout=seconds)  # past it, SQLite's own wait decides
    try:
        yield
    finally:
        if acquired:
            lock.release()


def create_private_file(path: str | None) -> None:
    """Create the SQLite file readable by its owner only (its journal files follow its mode)."""
    if not path or path == ":memory:" or path.startswith("file:") or os.path.exists(path):
        return
    if os.path.isdir(os.path.dirname(path) or "."):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))


def configure_sqlite(engine: sa.Engine, busy_timeout_ms: int) -> None:
    """Set SQLite's pragmas and let `write_transaction` choose the BEGIN it emits."""
    SQLITE_WRITERS[engine] = (threading.RLock(), busy_timeout_ms / 1000)  # a block may nest

    @sa.event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, connection_record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN, not pysqlite
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA cache_size=-32768")  # 32 MiB of pages per connection, not 2
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def on_begin(connection: sa.Connection) -> None:
        immediate = connection.get_execution_options().get("begin") == "IMMEDIATE"
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def configure_postgresql(engine: sa.Engine) -> None:
    """Replace a pooled connection that the server closed while it lay idle, before its use.

    A restart, `pg_terminate_backend` or an idle timeout ends a connection with a message and
    a close, which leave its socket readable; an idle connection in good order has nothing to
    read. A poll of the socket does pool_pre_ping's work without its round trip (a SELECT 1
    at every checkout). The pool tries again with a new connection.
    """

    @sa.event.listens_for(engine, "checkout")
    def replace_closed(dbapi_connection: Any, connection_record: Any, proxy: Any) -> None:
        if dbapi_connection.closed:
            raise sa.exc.DisconnectionError("the connection is closed")
        poll = select.poll()
        poll.register(dbapi_connection.fileno(), select.POLLIN)
        if poll.poll(0):
            raise sa.exc.DisconnectionError("the server ended the connection while it was idle")


# Duplicate candidates (adr.duplicates).

# The matcher finds earlier reports of the same birth date through this index.
sa.Index("ix_report_patient_birth_date", Report.patient_birth_date)


class DuplicateKey(Model):
    """A blocking key of a report, with its onset: the name's initials (王晓明: nwxm), sex and age.

    The duplicate matcher finds the earlier reports sharing a key, with an onset near its own.
    Sex and age read af68 for a report naming nobody, pf68 for one naming the patient.
    """

    __tablename__ = "duplicate_key"
    __table_args__ = (sa.Index("ix_duplicate_key_key_onset", "key", "onset"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(
        sa.ForeignKey("report.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(sa.String(12))
    onset: Mapped[date | None]


class DuplicateCandidate(Model):
    """An earlier case a new case may duplicate, as the matcher found it, and staff's decision."""

    __tablename__ = "duplicate_candidate"
    __table_args__ = (
        sa.UniqueConstraint("case_id", "candidate_case_id"),
        sa.Index("ix_duplicate_candidate_decision", "decision"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("safety_case.id"), index=True)  # the new
    candidate_case_id: Mapped[int] = mapped_column(sa.ForeignKey("safety_case.id"), index=True)
    score: Mapped[float] = mapped_column(sa.Float)
    matched: Mapped[list[str]] = mapped_column(sa.JSON)  # the fields that agreed or nearly
    found_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decision: Mapped[str] = mapped_column(sa.String(14), default="none")  # duplicate, not_duplicate
    decided_by: Mapped[str | None] = mapped_column(sa.String(254))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    case: Mapped[Case] = relationship(foreign_keys=[case_id])
    candidate_case: Mapped[Case] = relationship(foreign_keys=[candidate_case_id])


class SearchGram(Model):
    """One character or pair of characters found in a report's searchable text (adr.search).

    The key orders a gram's reports newest first, as the staff list does, so that the first
    page of a search is read off the index without sorting.
    """

    __tablename__ = "search_gram"
    __table_args__ = ({"sqlite_with_rowid": False},)  # the key is the table

    gram: Mapped[str] = mapped_column(sa.String(2), primary_key=True)
    received_key: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)  # in µs, UTC
    report_id: Mapped[int] = mapped_column(sa.ForeignKey("report.id"), primary_key=True)


class ComplianceTally(Model):
    """How many reports are due at a deadline, by day 0, category and how they stand.

    Kept by the database itself: triggers on `report` (migration 0024) add a report to its row
    and take it from the old one whenever its deadline, day 0, category or date sent changes,
    in the transaction that changes it, whatever the path. `outcome` is `on_time` or `late` for
    a report sent (the date sent against the China date of the deadline) and `open` for one
    unsent, judged against the time of asking (`adr.regulator.compliance.measure`). A row's
    `reports` can be 0, or, for the rare report with a deadline and no day 0 (which no unique
    key matches), -1: the figures are the sums.
    """

    __tablename__ = "compliance_tally"
    __table_args__ = (sa.UniqueConstraint("due_at", "report_category", "outcome", "day_zero"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    report_category: Mapped[str] = mapped_column(sa.String(12))
    outcome: Mapped[str] = mapped_column(sa.String(8))
    day_zero: Mapped[date | None]
    reports: Mapped[int]


# MedDRA, as the company's licence delivers it (adr.meddra), and the case's coded terms.


class MeddraRelease(Model):
    """A MedDRA release imported in one language: a version may hold English and Chinese."""

    __tablename__ = "meddra_release"
    __table_args__ = (sa.UniqueConstraint("version", "language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(sa.String(10))  # 27.1
    language: Mapped[str] = mapped_column(sa.String(2))  # en, zh
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime)
    imported_by: Mapped[str] = mapped_column(sa.String(254))
    llt_count: Mapped[int]


class MeddraTerm(Model):
    """A term of one MedDRA version at one level (soc, hlgt, hlt, pt, llt), in its languages."""

    __tablename__ = "meddra_term"
    __table_args__ = (sa.Index("ix_meddra_term_pt", "version", "pt_code"),)

    version: Mapped[str] = mapped_column(sa.String(10), primary_key=True)
    level: Mapped[str] = mapped_column(sa.String(4), primary_key=True)
    code: Mapped[int] = mapped_column(primary_key=True)
    name_en: Mapped[str | None] = text(100)
    name_zh: Mapped[str | None] = text(100)
    pt_code: Mapped[int | None]  # an LLT's preferred term
    current: Mapped[bool | None]  # an LLT's currency: only current LLTs are coded to
    # A PT's primary path (mdhier.asc): its HLT, HLGT and primary SOC.
    hlt_code: Mapped[int | None]
    hlgt_code: Mapped[int | None]
    soc_code: Mapped[int | None]


class Reaction(Model):
    """One reaction of a case (E2B E.i), as reported and as staff coded it.

    Onset, outcome and seriousness left None are the case's own, as its reports and the
    assessment tell them (`adr.reactions`); staff set them where the reactions differ.
    """

    __tablename__ = "reaction"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("safety_case.id"), index=True)
    report_id: Mapped[int | None] = mapped_column(sa.ForeignKey("report.id"))  # first named in
    position: Mapped[int]
    reported_term: Mapped[str] = mapped_column(sa.String(250))
    language: Mapped[str] = mapped_column(sa.String(3))  # ISO 639-2 of the reported term
    meddra_version: Mapped[str | None] = mapped_column(sa.String(10))
    llt_code: Mapped[int | None]
    coded_by: Mapped[str | None] = mapped_column(sa.String(254))
    coded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    onset_date: Mapped[date | None]
    end_date: Mapped[date | None]
    outcome: Mapped[str | None] = code()
    serious: Mapped[list[str] | None] = mapped_column(sa.JSON)
    # Set when staff judged the term is not a reaction (停药后好转) or the same as another: kept,
    # so that a later report naming it does not add it again, but neither shown nor sent.
    excluded_reason: Mapped[str | None] = text(200)

    # Its report, set as the report's rows are made, so that they are flushed with it.
    report: Mapped[Report | None] = relationship()
    assessments: Mapped[list[DrugReaction]] = relationship(
        back_populates="reaction", cascade="all, delete-orphan", order_by="DrugReaction.id"
    )


class DrugReaction(Model):
    """What is judged of one drug and one reaction (E2B G.k.9.i): None is the case's own value.

    A drug is known across a case's reports by `adr.reactions.drug_key`, as the case's
    current view merges them.
    """

    __tablename__ = "drug_reaction"
    __table_args__ = (sa.UniqueConstraint("reaction_id", "drug_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reaction_id: Mapped[int] = mapped_column(sa.ForeignKey("reaction.id", ondelete="CASCADE"))
    drug_key: Mapped[str] = mapped_column(sa.String(200))
    reporter_causality: Mapped[str | None] = code()
    company_causality: Mapped[str | None] = code()
    dechallenge: Mapped[str | None] = code()
    rechallenge: Mapped[str | None] = code()

    reaction: Mapped[Reaction] = relationship(back_populates="assessments")


class CaseDisease(Model):
    """A related disease of the patient (相关疾病信息, E2B D.7.1.r): history or concurrent.

    A report's 原患疾病 becomes one the first time a report names it; staff add, code to
    MedDRA, date and remove them (`adr.cases.holder`).
    """

    __tablename__ = "case_disease"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("safety_case.id"), index=True)
    report_id: Mapped[int | None] = mapped_column(sa.ForeignKey("report.id"))  # first named in
    position: Mapped[int]
    name: Mapped[str] = mapped_column(sa.String(500))  # as long as a report's 原患疾病
    meddra_version: Mapped[str | None] = mapped_column(sa.String(10))
    llt_code: Mapped[int | None]
    start_date: Mapped[date | None]
    end_date: Mapped[date | None]
    continuing: Mapped[str | None] = code()  # still present when reported: yes, no, unknown
    note: Mapped[str | None] = text(200)

    report: Mapped[Report | None] = relationship()  # as Reaction.report


class LabResult(Model):
    """A laboratory test of the patient and its result (相关实验室检查信息, E2B F.r)."""

    __tablename__ = "lab_result"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("safety_case.id"), index=True)
    position: Mapped[int]
    test_name: Mapped[str] = mapped_column(sa.String(250))
    meddra_version: Mapped[str | None] = mapped_column(sa.String(10))
    llt_code: Mapped[int | None]
    test_date: Mapped[date | None]
    result_value: Mapped[float | None]  # a number with `unit`, or
    result_text: Mapped[str | None] = text(2000)  # the result in words (阳性, 2+)
    unit: Mapped[str | None] = text(50)
    normal_low: Mapped[str | None] = text(50)
    normal_high: Mapped[str | None] = text(50)
    more_info: Mapped[str | None] = text(2000)

    @property
    def result(self) -> str | None:
        """Return the result as staff typed it: the number as people write it, or the text."""
        if self.result_value is None:
            return self.result_text
        return format(Decimal(repr(self.result_value)).normalize(), "f")


class CaseDrug(Model):
    """What staff know of one drug of a case beyond its reports (`adr.cases.holder`).

    A drug is known across the reports by `adr.reactions.drug_key`; a value left None is the
    reports' own (the latest that gives it).
    """

    __tablename__ = "case_drug"
    __table_args__ = (sa.UniqueConstraint("case_id", "drug_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("safety_case.id"), index=True)
    drug_key: Mapped[str] = mapped_column(sa.String(200))
    dosage_form: Mapped[str | None] = text(60)
    strength: Mapped[str | None] = text(60)
    expiry_date: Mapped[date | None]
    duration_value: Mapped[int | None]  # how long it was taken in all (E2B G.k.4.r.6)
    duration_unit: Mapped[str | None] = code()  # vocab.DURATION_UNIT
    action_taken: Mapped[str | None] = code()  # vocab.ACTION_TAKEN (E2B G.k.8)


class TermCoding(Model):
    """A MedDRA code staff gave to a case's indication or medical history, by its text."""

    __tablename__ = "term_coding"
    __table_args__ = (sa.UniqueConstraint("case_id", "kind", "text"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("safety_case.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(12))  # indication, history
    text: Mapped[str] = mapped_column(sa.String(500))
    meddra_version: Mapped[str] = mapped_column(sa.String(10))
    llt_code: Mapped[int]
    coded_by: Mapped[str] = mapped_column(sa.String(254))
    coded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Submission(Model):
    """An E2B(R3) file of a case (adr.regulator.e2b), kept as sent, and its acknowledgement."""

    __tablename__ = "e2b_submission"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("safety_case.id"), index=True)
    version: Mapped[int]  # the case's version: how many of its reports the file carries
    latest_report_id: Mapped[int] = mapped_column(sa.ForeignKey("report.id"))  # C.1.5
    kind: Mapped[str] = mapped_column(sa.String(14))  # report, amendment, nullification
    reason: Mapped[str | None] = text(200)  # C.1.11.2, for an amendment or nullification
    safety_report_id: Mapped[str] = mapped_column(sa.String(100), index=True)  # C.1.1, kept
    message_id: Mapped[str] = mapped_column(sa.String(100), unique=True)  # N.2.r.1
    batch_id: Mapped[str] = mapped_column(sa.String(100), unique=True)  # N.1.2
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(sa.String(254))
    xml: Mapped[str] = mapped_column(sa.Text)
    ack_status: Mapped[str | None] = mapped_column(sa.String(10))  # accepted, rejected
    ack_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ack_messages: Mapped[list[str] | None] = mapped_column(sa.JSON)

    case: Mapped[Case] = relationship(back_populates="submissions")


class Document(Model):
    """A source document (原始记录): a file kept with a case, or one of its reports, as received.

    A letter's scan, a hospital form, a photo of the pack, an article, or a message of the safety
    inbox in its raw RFC 822 bytes. The bytes live here, so backups, the audit trail and access
    control cover them; they are typed by their content, never by their name (`adr.inbox`).
    A message not yet triaged has a document belonging to no case.
    """

    __tablename__ = "source_document"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("safety_case.id"), index=True)
    report_id: Mapped[int | None] = mapped_column(sa.ForeignKey("report.id"), index=True)
    # upload (by staff) · web (with the public form) · email (an inbox message, raw) ·
    # attachment (a file of an inbox message)
    origin: Mapped[str] = mapped_column(sa.String(12))
    filename: Mapped[str] = mapped_column(sa.String(255))  # safe: no path, no control characters
    content_type: Mapped[str] = mapped_column(sa.String(100))  # as the content showed it
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(sa.String(64), index=True)
    data: Mapped[bytes] = mapped_column(sa.LargeBinary, deferred=True)
    description: Mapped[str | None] = text(500)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)
    added_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_user.id"))

    case: Mapped[Case | None] = relationship(back_populates="documents")
    report: Mapped[Report | None] = relationship()
    added_by: Mapped[User | None] = relationship()


class InboxMessage(Model):
    """A message of the safety inbox, stored whole, and how staff triaged it (`adr.inbox`).

    `outcome` None is untriaged; then new_report, follow_up (a report of `report_id` on
    `case_id`), existing (already in the system: `case_id`), or not_report with a coded reason.
    """

    __tablename__ = "inbox_message"
    __table_args__ = (sa.Index("ix_inbox_message_untriaged", "outcome", "received_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str | None] = mapped_column(sa.String(250), unique=True)  # the header
    sha256: Mapped[str] = mapped_column(sa.String(64), unique=True)  # of the raw bytes
    document_id: Mapped[int | None] = mapped_column(sa.ForeignKey("source_document.id"))
    folder: Mapped[str] = mapped_column(sa.String(200))
    uidvalidity: Mapped[int | None] = mapped_column(sa.BigInteger)
    uid: Mapped[int | None] = mapped_column(sa.BigInteger)
    # When it reached the inbox (the server's INTERNALDATE): a report's day 0 if it is one.
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # its Date header
    sender: Mapped[str] = mapped_column(sa.String(320))
    subject: Mapped[str] = mapped_column(sa.String(500))
    size: Mapped[int]
    # Kept on the server only: larger than ADR_IMAP_MAX_MESSAGE_MB; document_id is None.
    too_large: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    attachments: Mapped[int | None]  # how many files it carries; None: not readable, not here
    # The case it names, proposed: a reply to one of our mails, or our own mail about a report.
    proposed_case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("safety_case.id"))

    outcome: Mapped[str | None] = mapped_column(sa.String(12))
    reason: Mapped[str | None] = code()  # vocab.INBOX_REASON, for not_report
    reason_text: Mapped[str | None] = text(500)
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("safety_case.id"), index=True)
    report_id: Mapped[int | None] = mapped_column(sa.ForeignKey("report.id"))
    triaged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    triaged_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_user.id"))  # None: app

    document: Mapped[Document | None] = relationship()
    case: Mapped[Case | None] = relationship(foreign_keys=[case_id])
    proposed_case: Mapped[Case | None] = relationship(foreign_keys=[proposed_case_id])
    report: Mapped[Report | None] = relationship()
    triaged_by: Mapped[User | None] = relationship()


# Signals, group events and periodic reports (adr.signals, adr.regulator.periodic).


class SignalRun(Model):
    """One run of signal detection (`adr signals run`): a period, and what it counted."""

    __tablename__ = "signal_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    period: Mapped[str] = mapped_column(sa.String(7))  # 2026-Q3 or 2026-11
    period_start: Mapped[date]
    period_end: Mapped[date]  # the last day: cumulative figures count up to it
    meddra_version: Mapped[str | None] = mapped_column(sa.String(10))  # PTs as of this version
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # None: still running
    run_by: Mapped[str] = mapped_column(sa.String(254))  # a staff e-mail, or "command"
    cases: Mapped[int] = mapped_column(default=0)  # valid cases counted, cumulatively
    pairs: Mapped[int] = mapped_column(default=0)  # product × PT figures stored
    raised: Mapped[int] = mapped_column(default=0)  # signals opened or joined by this run


class SignalFigure(Model):
    """One product × PT of a run: its 2×2 table and what each test said of it.

    a: cases of the product with the PT; b: of the product without it; c: of the company's other
    products with the PT; d: of the others without it (cumulative up to the period's end).
    """

    __tablename__ = "signal_figure"
    __table_args__ = (sa.UniqueConstraint("run_id", "product_id", "pt_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(sa.ForeignKey("signal_run.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("product.id"), index=True)
    pt_code: Mapped[int]
    soc_code: Mapped[int | None]  # the PT's primary SOC
    a: Mapped[int]
    b: Mapped[int]
    c: Mapped[int]
    d: Mapped[int]
    prr: Mapped[float | None] = mapped_column(sa.Float)
    chi2: Mapped[float | None] = mapped_column(sa.Float)
    ror: Mapped[float | None] = mapped_column(sa.Float)
    ror_lower: Mapped[float | None] = mapped_column(sa.Float)  # 95 % confidence interval
    ror_upper: Mapped[float | None] = mapped_column(sa.Float)
    ic: Mapped[float | None] = mapped_column(sa.Float)
    ic025: Mapped[float | None] = mapped_column(sa.Float)  # lower 95 % credibility bound
    period_count: Mapped[int] = mapped_column(default=0)  # cases known in the period
    baseline: Mapped[float | None] = mapped_column(sa.Float)  # mean of the 4 periods before
    poisson_p: Mapped[float | None] = mapped_column(sa.Float)
    # The triggers that fired (vocab.SIGNAL_TRIGGER): prr, ror, ic, trend, fatal, unlisted, dme.
    triggers: Mapped[list[str]] = mapped_column(sa.JSON, default=list)


class Signal(Model):
    """A signal of a product × PT, from detection to decision (the signal tracking log).

    new (awaiting validation) → validated | refuted → prioritised → evaluated → closed;
    each step keeps its date, person and rationale here and as a `SignalStep`.
    """

    __tablename__ = "safety_signal"
    __table_args__ = (sa.Index("ix_safety_signal_pair", "product_id", "pt_code", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("product.id"))
    pt_code: Mapped[int]
    soc_code: Mapped[int | None]
    meddra_version: Mapped[str | None] = mapped_column(sa.String(10))  # of the PT when detected
    status: Mapped[str] = mapped_column(sa.String(12), default="new", index=True)
    triggers: Mapped[list[str]] = mapped_column(sa.JSON, default=list)  # every one seen so far
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime)
    detected_by_run_id: Mapped[int | None] = mapped_column(sa.ForeignKey("signal_run.id"))
    latest_figure_id: Mapped[int | None] = mapped_column(sa.ForeignKey("signal_figure.id"))
    validation_due_on: Mapped[date]
    validated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # validated or refuted
    validated_by: Mapped[str | None] = mapped_column(sa.String(254))
    validation_rationale: Mapped[str | None] = text(2000)
    priority: Mapped[str | None] = code()  # vocab.SIGNAL_PRIORITY
    prioritised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    prioritised_by: Mapped[str | None] = mapped_column(sa.String(254))
    priority_rationale: Mapped[str | None] = text(2000)
    evaluation_due_on: Mapped[date | None]
    evaluated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    evaluated_by: Mapped[str | None] = mapped_column(sa.String(254))
    conclusion: Mapped[str | None] = code()  # vocab.SIGNAL_CONCLUSION
    assessment: Mapped[str | None] = text(5000)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(sa.String(254))

    product: Mapped[Product] = relationship()
    latest_figure: Mapped[SignalFigure | None] = relationship(foreign_keys=[latest_figure_id])
    cases: Mapped[list[SignalCase]] = relationship(order_by="SignalCase.id")
    steps: Mapped[list[SignalStep]] = relationship(order_by="SignalStep.id")
    actions: Mapped[list[SignalAction]] = relationship(order_by="SignalAction.id")


class SignalCase(Model):
    """A case behind a signal, and the trigger that brought it."""

    __tablename__ = "signal_case"
    __table_args__ = (sa.UniqueConstraint("signal_id", "case_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    signal_id: Mapped[int] = mapped_column(sa.ForeignKey("safety_signal.id"))
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("safety_case.id"), index=True)
    trigger: Mapped[str] = mapped_column(sa.String(12))  # vocab.SIGNAL_TRIGGER
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)

    case: Mapped[Case] = relationship()


class SignalStep(Model):
    """A line of a signal's tracking log: what was done, when, by whom and why."""

    __tablename__ = "signal_step"

    id: Mapped[int] = mapped_column(primary_key=True)
    signal_id: Mapped[int] = mapped_column(sa.ForeignKey("safety_signal.id"), index=True)
    step: Mapped[str] = mapped_column(sa.String(16))  # vocab.SIGNAL_STEP
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    by: Mapped[str] = mapped_column(sa.String(254))  # a staff e-mail, or "command"
    rationale: Mapped[str | None] = text(5000)
    detail: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)  # figures, cases, the action


class SignalAction(Model):
    """An action taken on a signal (a label change, a letter to health professionals …)."""

    __tablename__ = "signal_action"

    id: Mapped[int] = mapped_column(primary_key=True)
    signal_id: Mapped[int] = mapped_column(sa.ForeignKey("safety_signal.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(20))  # vocab.SIGNAL_ACTION
    description: Mapped[str] = mapped_column(sa.String(2000))
    due_on: Mapped[date | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(sa.String(254))
    completed_on: Mapped[date | None]
    completed_by: Mapped[str | None] = mapped_column(sa.String(254))
    completion_note: Mapped[str | None] = text(2000)


class DesignatedMedicalEvent(Model):
    """A PT the company always looks at, however few its cases (admins keep the list)."""

    __tablename__ = "designated_medical_event"

    pt_code: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)
    added_by: Mapped[str] = mapped_column(sa.String(254))


class GroupEvent(Model):
    """A group adverse event (药品群体不良事件, Order 81 Art. 27–28): several cases of one
    product in one area within days, or deaths together. Reported at once; investigated
    within 7 days of the day the company knew (`known_on`)."""

    __tablename__ = "group_event"
    __table_args__ = (sa.Index("ix_group_event_open", "closed_at", "investigation_due_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("product.id"), index=True)
    province: Mapped[str | None] = text(50)  # None: the cases did not say where
    city: Mapped[str | None] = text(50)
    kind: Mapped[str] = mapped_column(sa.String(10))  # vocab.GROUP_EVENT_KIND: cluster, deaths
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    known_on: Mapped[date]  # the China date the company knew the event: day 0
    investigation_due_on: Mapped[date]
    outbox_mail_id: Mapped[int | None] = mapped_column(sa.ForeignKey("outbox_mail.id"))
    # Its last member (GroupEventCase.id) the safety inbox was told of: the opening mail's, then
    # the notices of joins the sender queues (`adr.signals.group_events.queue_join_notices`).
    mailed_through: Mapped[int | None]
    # The immediate report to the provincial authority, as staff record it.
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reported_how: Mapped[str | None] = text(100)  # phone, fax, the national system …
    reported_to: Mapped[str | None] = text(200)
    reported_by: Mapped[str | None] = mapped_column(sa.String(254))
    investigation_done_on: Mapped[date | None]
    investigation_findings: Mapped[str | None] = text(5000)
    actions_taken: Mapped[str | None] = text(5000)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(sa.String(254))
    close_note: Mapped[str | None] = text(2000)

    product: Mapped[Product] = relationship()
    cases: Mapped[list[GroupEventCase]] = relationship(order_by="GroupEventCase.id")


class GroupEventCase(Model):
    """A case of a group event."""

    __tablename__ = "group_event_case"
    __table_args__ = (
        sa.UniqueConstraint("group_event_id", "case_id"),
        sa.Index("ix_group_event_case_joined", "group_event_id", "id"),  # the joins not mailed
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_event_id: Mapped[int] = mapped_column(sa.ForeignKey("group_event.id"))
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("safety_case.id"), index=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The case's first report's, as it joined after the opening: what its notice names, even
    # once the case is merged into another before the sender's pass.
    reference: Mapped[str | None] = mapped_column(sa.String(17))

    case: Mapped[Case] = relationship()


class ProductExposure(Model):
    """How much of a product reached patients in a period, as staff typed it: the reporting
    rates' denominator in periodic reports."""

    __tablename__ = "product_exposure"
    __table_args__ = (sa.UniqueConstraint("product_id", "period_start", "unit"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("product.id"))
    period_start: Mapped[date]
    period_end: Mapped[date]
    unit: Mapped[str] = mapped_column(sa.String(12))  # vocab.EXPOSURE_UNIT: packs, patient_days
    amount: Mapped[int] = mapped_column(sa.BigInteger)
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    entered_by: Mapped[str] = mapped_column(sa.String(254))
    note: Mapped[str | None] = text(500)


class PeriodicFigures(Model):
    """A year's cases per month by product, as last computed (`adr periodic figures`, or staff
    on /staff/periodic): the periodic page and its chart read these instead of counting half a
    million cases on every request. Reports added after `newest_report_id` arrived since."""

    __tablename__ = "periodic_figures"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    computed_by: Mapped[str] = mapped_column(sa.String(254))  # a staff e-mail, or "command"
    newest_report_id: Mapped[int | None]  # the newest report when computed (None: none yet)


class PeriodicMonth(Model):
    """One product's counted cases first known in one month of a year's stored figures (months
    without a case are not stored)."""

    __tablename__ = "periodic_month"

    year: Mapped[int] = mapped_column(
        sa.ForeignKey("periodic_figures.year", ondelete="CASCADE"), primary_key=True
    )
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("product.id"), primary_key=True)
    month: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)  # 1 to 12
    cases: Mapped[int]
