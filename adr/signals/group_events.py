"""Group adverse events (药品群体不良事件, Order 81 Art. 27–28, 63): several people hurt by one
product in one place within days, or deaths together. Not the batch alert (`adr.batches`,
批号聚集), a quality signal about one batch over months.

A case counts when it names the product (one approval number: a catalogue product) as a
suspected or interacting drug and is neither invalid nor a duplicate; it need not be valid yet
(a hospital's first call about several patients rarely names each one, and the immediate report
does not wait for that). It is dated by the day the company first knew of it (its earliest
report's `aware_on`) and placed by its latest report that says where it happened (province and
city), compared normalised (`province_key`, `city_key`: 陕西 = 陕西省 = "Shaanxi", 榆林 = 榆林市);
a case that says nowhere counts for every area, towards one new cluster only.

`GROUP_EVENT_CASES` cases of a product within `GROUP_EVENT_DAYS` days (last day − first day <
that many days) in one area, one of them placed there, open a `cluster` event;
`GROUP_EVENT_DEATHS` fatal cases of it within those days, wherever they happened, open a
`deaths` event. A case joins the open events of its product it belongs to instead (a cluster
event of its area, a deaths event if fatal) while their window holds it, so one cluster makes
one event; no event opens for cases one open event holds already. Checked when a report is
stored, when a case becomes fatal (`adr.cases.clock.recompute`), when a correction changes its
area, awareness date or a drug, and when the catalogue links its drug (`adr.products.relink`),
in that transaction, with the product's row locked: two reports stored at once count one after
the other. Opening one mails the safety inbox through the outbox at once; the cases joining
are told by the sender, one notice an event a pass (`queue_join_notices`); never a name or a
phone number.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import IO, Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale, ngettext
from flask_babel import gettext as _
from openpyxl import Workbook
from sqlalchemy.orm import Session, selectinload

from adr import audit, mailer, regulatory, vocab
from adr.extensions import db
from adr.models import (
    FIRST_REPORT_ORDER,
    Case,
    Drug,
    GroupEvent,
    GroupEventCase,
    Report,
    chunks,
    lock_case_products,
    lock_products,
    write_transaction,
)
from adr.signals.counted import ASSESSED_ROLES

Area = tuple[str | None, str | None]  # province, city; None: not said
NOWHERE: Area = (None, None)
log = logging.getLogger(__name__)


class Refused(ValueError):
    """A change to a group event that cannot be made; the message says why."""


def settings() -> tuple[int, int, int]:
    """Return the cases, the window in days and the deaths that make a group event."""
    config = current_app.config
    return (
        int(config["GROUP_EVENT_CASES"]),
        int(config["GROUP_EVENT_DAYS"]),
        int(config["GROUP_EVENT_DEATHS"]),
    )


@dataclass(frozen=True)
class Counted:
    """A case that counts for a product: the day the company knew it, whether fatal, where
    (`area` as compared, `typed` as its report gives it)."""

    case_id: int
    known_on: date
    death: bool
    area: Area
    typed: Area = NOWHERE


def counts_for(case_area: Area, area: Area) -> bool:
    """Tell whether a case placed at `case_area` counts for `area` (what it does not say, it
    counts for: a case without a city counts for every city of its province)."""
    return all(mine is None or mine == theirs for mine, theirs in zip(case_area, area, strict=True))


def first_cluster(
    cases: Iterable[Counted], day: date, threshold: int, days: int
) -> tuple[date, list[Counted]] | None:
    """Return the day `threshold` cases within `days` days were first known around `day`,
    and every case of such a window; None if no window holding `day` has that many."""
    cases = sorted(cases, key=lambda c: (c.known_on, c.case_id))
    reached: date | None = None
    members: dict[int, Counted] = {}
    for offset in range(days):
        start = day - timedelta(days=days - 1 - offset)
        inside = [c for c in cases if start <= c.known_on < start + timedelta(days=days)]
        if len(inside) >= threshold:
            on = inside[threshold - 1].known_on
            reached = on if reached is None else min(reached, on)
            members.update((c.case_id, c) for c in inside)
    if reached is None:
        return None
    return reached, sorted(members.values(), key=lambda c: (c.known_on, c.case_id))


def common_area(cases: Iterable[Counted]) -> Area:
    """Return the province and the city every case that says one agrees on (else None)."""
    cases = list(cases)
    found: list[str | None] = []
    for index in range(2):
        said = {c.area[index] for c in cases if c.area[index] is not None}
        found.append(said.pop() if len(said) == 1 else None)
    return found[0], found[1]


def place(value: str | None) -> str | None:
    """Return a province or city as typed: trimmed, None if empty."""
    return " ".join(value.split()) or None if value else None


def folded(value: str) -> str:
    """Return text as compared: NFKC (full-width to half-width), casefolded, without spaces."""
    return "".join(unicodedata.normalize("NFKC", value).casefold().split())


PROVINCE_SUFFIXES = ("特别行政区", "自治区", "省", "市")
ENGLISH_SUFFIXES = ("province", "municipality", "autonomousregion", "sar", "sheng", "shi")
ETHNIC = ("壮族", "回族", "维吾尔")


def province_names() -> dict[str, str]:
    """Return every spelling of a province known (folded) → its Chinese name in the list."""
    names: dict[str, str] = {}
    for term in vocab.PROVINCES:
        short = term.zh
        for suffix in PROVINCE_SUFFIXES:
            short = short.removesuffix(suffix)
        spellings = {term.zh, short, *(short.removesuffix(e) for e in ETHNIC)}
        spellings |= {short.removesuffix(e) + s for e in ETHNIC for s in PROVINCE_SUFFIXES}
        spellings |= {part.strip(" ()") for part in term.en.split("(")}
        names.update((folded(spelling), term.zh) for spelling in spellings if spelling)
    return names


PROVINCE_NAMES = province_names()


def province_key(value: str | None) -> str | None:
    """Return a province as compared: the list's Chinese name for any spelling of one it
    knows (陕西, 陕西省, "Shaanxi", "shaanxi province", 广西, 广西壮族自治区), else folded."""
    if not (value and value.strip()):
        return None
    key = folded(value)
    for suffix in ("", *ENGLISH_SUFFIXES):
        if key.endswith(suffix) and key.removesuffix(suffix) in PROVINCE_NAMES:
            return PROVINCE_NAMES[key.removesuffix(suffix)] if suffix else PROVINCE_NAMES[key]
    return key


CITY_SUFFIXES = ("自治州", "地区", "市", "盟", "县", "区")


def city_key(value: str | None) -> str | None:
    """Return a city as compared: folded, without a trailing 市, 地区, 盟, 自治州, 县 or 区
    (榆林市 = 榆林; but 榆林 ≠ "Yulin": that needs a table of cities, which the app has not)."""
    if not (value and value.strip()):
        return None
    key = folded(value)
    for suffix in CITY_SUFFIXES:
        if key.endswith(suffix) and len(key) > len(suffix):
            return key.removesuffix(suffix)
    return key


def area_key(province: str | None, city: str | None) -> Area:
    return province_key(province), city_key(city)


def case_areas(session: Session, case_ids: list[int]) -> dict[int, Area]:
    """Return where each case happened, as typed: its latest report that says so."""
    areas: dict[int, Area] = {}
    for chunk in chunks(case_ids):
        rows = session.execute(
            sa.select(Report.case_id, Report.event_province, Report.event_city)
            .where(
                Report.case_id.in_(chunk),
                sa.or_(Report.event_province.is_not(None), Report.event_city.is_not(None)),
            )
            .order_by(Report.added_at, Report.id)
        )
        for case_id, province, city in rows:
            area = (place(province), place(city))
            if area != NOWHERE:
                areas[case_id] = area
    return areas


KNOWN_ON = sa.func.min(Report.aware_on)  # a case is known from its earliest report's day
COUNTED = (  # the cases that count, with the day known and whether fatal
    sa.select(Case.id, KNOWN_ON, Case.death)
    .join(Report, Report.case_id == Case.id)
    .where(Case.status.not_in(regulatory.NOT_FOR_REGULATOR), Case.duplicate_of_id.is_(None))
    .group_by(Case.id, Case.death)
)


def cases_of_product(session: Session, product_id: int, since: date, until: date) -> list[Counted]:
    """Return the cases of a product that count, first known from `since` to `until`.

    Three small steps, each by an index and a list of ids (the cases with a report known in the
    window, those of them suspecting the product, their first day known), rather than one
    statement of nested subqueries: a planner misled by stale statistics (a table just filled)
    looped over every report for every report in it.
    """
    in_window = sa.select(Report.case_id).where(Report.aware_on.between(since, until))
    candidates = list(session.scalars(in_window.distinct()))
    named: list[int] = []
    for chunk in chunks(candidates):
        named += session.scalars(
            sa.select(Report.case_id)
            .join(Drug, Drug.report_id == Report.id)
            .where(
                Report.case_id.in_(chunk),
                Drug.product_id == product_id,
                Drug.role.in_(ASSESSED_ROLES),
            )
            .distinct()
        )
    rows: list[Any] = []
    for chunk in chunks(named):
        rows += session.execute(
            COUNTED.where(Case.id.in_(chunk)).having(KNOWN_ON.between(since, until))
        ).all()
    return placed(session, rows)


def counted_as_new(report: Report) -> list[Counted]:
    """Return a new case as `COUNTED` and `placed` read it, from its one report: it counts
    unless invalid, known on the report's day, placed where the report says."""
    case = report.case
    if case.status in regulatory.NOT_FOR_REGULATOR or case.duplicate_of_id is not None:
        return []
    typed = (place(report.event_province), place(report.event_city))
    return [Counted(case.id, report.aware_on, case.death, area_key(*typed), typed)]


def placed(session: Session, rows: Sequence[Any]) -> list[Counted]:
    """Return counted cases (id, day known, fatal) with where each happened."""
    areas = case_areas(session, [row[0] for row in rows])
    return [
        Counted(id_, on, death, area_key(*areas.get(id_, NOWHERE)), areas.get(id_, NOWHERE))
        for id_, on, death in rows
    ]


@dataclass
class Open:
    """An open event of a product, as it stands for the case checked (`me`): whether the case is
    a member, and whether the event's window holds it (a member known within `days` days of
    it, on either side; an event without members holds any)."""

    event: GroupEvent
    has_me: bool
    holds: bool

    def belongs(self, case: Counted) -> bool:
        """Tell whether a case joins the event: a deaths event if fatal, a cluster of its
        area; and the event's window still holds it."""
        if self.event.kind == "deaths":
            if not case.death:
                return False
        elif not counts_for(case.area, area_key(self.event.province, self.event.city)):
            return False
        return self.holds


# A member's reports. A case merged into another keeps its place in the events, without
# reports: it is known on no day, and counts for no window.
REPORTED = sa.select(Report.id).where(Report.case_id == GroupEventCase.case_id)
FIRST_REFERENCE = (  # a member's reference: its case's first report's
    sa.select(Report.reference)
    .where(Report.case_id == GroupEventCase.case_id)
    .order_by(*FIRST_REPORT_ORDER)
    .limit(1)
    .scalar_subquery()
)
ADD_MEMBER = sa.insert(GroupEventCase)
JOINS_A_NOTICE = 100  # the cases a notice of joins lists at most: more make more notices
# A member not mailed yet: after the event's marker, or, where an event has none (opened by
# code older than the marker), any that joined after the opening (whose mail named the others).
# The marker bounds the members' ids, which an index reads from: a sender's pass reads the
# members that joined since, not every member a scare has put in the event.
NOT_MAILED = sa.and_(
    GroupEventCase.id > sa.func.coalesce(GroupEvent.mailed_through, 0),
    sa.or_(GroupEvent.mailed_through.is_not(None), GroupEventCase.added_at > GroupEvent.opened_at),
)
# An event with members not mailed yet: its last member is past its marker (one probe of the
# joins' index an event), or, without a marker, one joined after the opening.
LAST_JOINED = (
    sa.select(sa.func.max(GroupEventCase.id))
    .where(GroupEventCase.group_event_id == GroupEvent.id)
    .scalar_subquery()
)
UNMAILED = sa.case(
    (
        GroupEvent.mailed_through.is_(None),
        sa.exists().where(GroupEventCase.group_event_id == GroupEvent.id, NOT_MAILED),
    ),
    else_=GroupEvent.mailed_through < LAST_JOINED,
)


# A product's open events as they stand for a case (`open_of`), built once.
_MEMBER = sa.select(GroupEventCase.case_id).where(GroupEventCase.group_event_id == GroupEvent.id)
_KNOWN_BY_END = _MEMBER.where(sa.exists(REPORTED.where(Report.aware_on <= sa.bindparam("end"))))
_KNOWN_FROM_START = _MEMBER.where(
    sa.exists(REPORTED), ~sa.exists(REPORTED.where(Report.aware_on < sa.bindparam("start")))
)
OPEN_EVENTS = (
    sa.select(
        GroupEvent,
        sa.exists(_MEMBER.where(GroupEventCase.case_id == sa.bindparam("case_id"))),  # has me
        sa.or_(  # holds me
            ~sa.exists(_MEMBER.where(sa.exists(REPORTED))),
            sa.and_(sa.exists(_KNOWN_BY_END), sa.exists(_KNOWN_FROM_START)),
        ),
    )
    .where(GroupEvent.product_id == sa.bindparam("product_id"), GroupEvent.closed_at.is_(None))
    .order_by(GroupEvent.id)
)


def open_of(session: Session, product_id: int, me: Counted, days: int) -> list[Open]:
    """Return the product's open events as they stand for `me`, in one statement.

    What an event's window asks of its members (the earliest known no later than `days` − 1
    days after `me`, the latest no earlier than as many before) is asked as EXISTS: the first
    member found answers, however many cases a product's scare has put in the event. A case is
    known on its earliest report's day, so a member is known by a day when one of its reports
    is, and known on or after a day when none of them is before it.
    """
    reach = timedelta(days=days - 1)
    rows = session.execute(
        OPEN_EVENTS,
        {
            "product_id": product_id,
            "case_id": me.case_id,
            "start": me.known_on - reach,
            "end": me.known_on + reach,
        },
    )
    return [Open(event, bool(mine), bool(held)) for event, mine, held in rows]


def member_sets(session: Session, events: list[Open]) -> list[set[int]]:
    """Return the cases of each event, as the window's new events are compared with them."""
    members: dict[int, set[int]] = {item.event.id: set() for item in events}
    if members:
        rows = session.execute(
            sa.select(GroupEventCase.group_event_id, GroupEventCase.case_id).where(
                GroupEventCase.group_event_id.in_(members)
            )
        )
        for event_id, case_id in rows:
            members[event_id].add(case_id)
    return list(members.values())


# The products a case's reports name in a role that is assessed.
CASE_PRODUCTS = (
    sa.select(Drug.product_id)
    .join(Report, Report.id == Drug.report_id)
    .where(
        Report.case_id == sa.bindparam("case_id"),
        Drug.product_id.is_not(None),
        Drug.role.in_(ASSESSED_ROLES),
    )
    .distinct()
)


def check_case(
    session: Session,
    case_id: int,
    actor: str,
    report_id: int | None,
    new: Report | None = None,
) -> None:
    """Join the case to its products' open group events, or open those it makes.

    Runs in the write transaction that stored a report of the case or made it fatal, after its
    case is derived. The products' rows are locked first (`lock_products`, as the batch alert
    does), so two cases of one product are counted one after the other and never open two
    events. `new`: a new case's one report, flushed, where the caller holds it: its drugs, day
    known and place are the case's; the case's are read otherwise.
    """
    if new is None:  # every product the case's counts may lock, at once, before any is counted
        lock_case_products(session, case_id)
        named = set(session.scalars(CASE_PRODUCTS, {"case_id": case_id}))
    else:
        named = {drug.product_id for drug in new.drugs if drug.role in ASSESSED_ROLES}
    product_ids = sorted(product_id for product_id in named if product_id is not None)
    if not product_ids:
        return
    lock_products(session, product_ids)  # held already when a stored report is counted
    if new is None:
        found = placed(session, session.execute(COUNTED.where(Case.id == case_id)).all())
    else:
        found = counted_as_new(new)
    if not found:
        return  # invalid or a duplicate: it counts for no product
    limits = settings()
    for product_id in product_ids:
        check_product(session, product_id, found[0], limits, actor, report_id)


def check_product(
    session: Session,
    product_id: int,
    me: Counted,
    limits: tuple[int, int, int],
    actor: str,
    report_id: int | None,
) -> None:
    """Join `me` to the product's open events it belongs to, or open those the cases known
    within `days` days of it make (the window, read only when an event may open: a case that
    joins the open cluster of a scare does not read the scare's every case).

    No event opens whose cases all belong to one open event already (three deaths in one city
    make a deaths event, not a cluster as well). A case that names no area, or a province
    only, counts for every area it may be in, but towards one new cluster only: once in an
    open event it no longer counts elsewhere. A cluster needs a case placed in its area.
    """
    threshold, days, deaths = limits
    events = open_of(session, product_id, me, days)
    joined = set()
    for item in events:
        if item.belongs(me):
            joined.add(item.event.kind)
            if not item.has_me:
                join(session, item.event, me, actor, report_id)
    if "cluster" in joined and (not me.death or "deaths" in joined):
        return
    reach = timedelta(days=days - 1)
    window = cases_of_product(session, product_id, me.known_on - reach, me.known_on + reach)
    groups = member_sets(session, events)
    if me.death and "deaths" not in joined:
        found = first_cluster([c for c in window if c.death], me.known_on, deaths, days)
        if found and not any({c.case_id for c in found[1]} <= group for group in groups):
            known_on, members = found
            area = stored_area(common_area(members), members)
            event = open_event(session, product_id, "deaths", area, known_on, members)
            audit_opened(session, actor, report_id, event)
            groups.append({c.case_id for c in members})
    if "cluster" in joined:
        return
    areas = {c.area for c in window if counts_for(me.area, c.area)} | {me.area}
    for area in sorted(areas, key=lambda a: (a.count(None), a[0] or "", a[1] or "")):
        taken = set().union(*groups)
        members = [
            c
            for c in window
            if counts_for(c.area, area) and (c.area == area or c.case_id not in taken)
        ]
        if not any(c.area == area for c in members):
            continue  # no case placed there
        found = first_cluster(members, me.known_on, threshold, days)
        if found is None:
            continue
        known_on, members = found
        ids = {c.case_id for c in members}
        if any(ids <= group for group in groups):
            continue  # the same cases as an open event
        event = open_event(
            session, product_id, "cluster", stored_area(area, members), known_on, members
        )
        audit_opened(session, actor, report_id, event)
        groups.append(ids)


def stored_area(area: Area, members: list[Counted]) -> Area:
    """Return an area as an event keeps it: the list's Chinese name of a province it knows,
    else the province and the city as the first case placed there typed them."""
    placed = [c.typed for c in members if c.area != NOWHERE and counts_for(area, c.area)]
    province = area[0] if area[0] in PROVINCE_NAMES.values() else None
    if area[0] is not None and province is None:
        province = next((p for p, _city in placed if province_key(p) == area[0]), area[0])
    city = None
    if area[1] is not None:
        city = next((c for _p, c in placed if city_key(c) == area[1]), area[1])
    return province, city


def join(
    session: Session, event: GroupEvent, case: Counted, actor: str, report_id: int | None
) -> None:
    """Add a case to an open event, audited; the sender's next pass tells the safety inbox
    (`queue_join_notices`)."""
    reference = first_reference(session, case.case_id)
    session.connection().execute(  # by Core: no object for the audit entry's flush to insert
        ADD_MEMBER,
        {
            "group_event_id": event.id,
            "case_id": case.case_id,
            "added_at": now(),
            "reference": reference,
        },
    )
    audit.record(
        session, actor, "group event changed", report_id, "group_event", None,
        f"{event.id}: {reference}",
    )  # fmt: skip


def open_event(
    session: Session, product_id: int, kind: str, area: Area, known_on: date, members: list[Counted]
) -> GroupEvent:
    """Store a new group event with its cases and queue its mail to the safety inbox."""
    opened_at = now()
    event = GroupEvent(
        product_id=product_id,
        province=area[0],
        city=area[1],
        kind=kind,
        opened_at=opened_at,
        known_on=known_on,
        investigation_due_on=regulatory.group_event_investigation_due(known_on),
        cases=[GroupEventCase(case_id=c.case_id, added_at=opened_at) for c in members],
    )
    session.add(event)
    session.flush()
    mail = event_mail(session, event)
    session.add(mail)
    session.flush()
    event.outbox_mail_id = mail.id
    event.mailed_through = max(member.id for member in event.cases)
    return event


# The sender's statements, built once: the events with joins not mailed, one of them locked,
# its members not mailed in the order they joined, and its members with reports.
WITH_JOINS_UNMAILED = sa.select(GroupEvent.id).where(UNMAILED).order_by(GroupEvent.id)
_EVENT_ID: sa.BindParameter[int] = sa.bindparam("event_id")
UNMAILED_EVENT = (
    sa.select(GroupEvent)
    .where(GroupEvent.id == _EVENT_ID, UNMAILED)
    .with_for_update(key_share=True)
)
JOINED_UNMAILED = (
    sa.select(GroupEventCase.id, sa.func.coalesce(GroupEventCase.reference, FIRST_REFERENCE))
    .join(GroupEvent, GroupEvent.id == GroupEventCase.group_event_id)
    .where(GroupEvent.id == _EVENT_ID, NOT_MAILED)
    .order_by(GroupEventCase.id)
)
REPORTED_MEMBERS = sa.select(sa.func.count()).where(
    GroupEventCase.group_event_id == _EVENT_ID, sa.exists(REPORTED)
)


def queue_join_notices() -> None:
    """Queue the safety inbox's notice of the cases that joined each event since it was last
    mailed, in the order they joined, with the count now (more than `JOINS_A_NOTICE` cases
    make more notices). Each sender's pass runs it first, so a product's scare makes a notice
    a pass, not a mail a case. An event whose notice cannot be queued is logged and tried
    again at the next pass; the others' are queued all the same.

    A product's cases join its events one transaction after another (`check_case` holds the
    product's lock), so an event's members are committed in the order of their ids: none is
    left behind below the last one mailed.
    """
    events = list(db.session.scalars(WITH_JOINS_UNMAILED))
    db.session.rollback()  # end the read: no write lock taken when nothing joined
    for event_id in events:
        try:
            queue_join_notice(event_id)
        except Exception:
            log.exception("group event %s: the notice of cases that joined not queued", event_id)


def queue_join_notice(event_id: int) -> None:
    """Queue the notices of one event's cases that joined since it was last mailed. The event's
    row is locked (FOR NO KEY UPDATE: a case joining only reads its key), so two senders queue
    them once."""
    with write_transaction() as session:
        event = session.scalar(UNMAILED_EVENT, {"event_id": event_id})
        if event is None:
            return  # another sender queued them
        joined = session.execute(JOINED_UNMAILED, {"event_id": event_id}).all()
        count = session.scalar(REPORTED_MEMBERS, {"event_id": event_id})
        for part in chunks([reference for _id, reference in joined], JOINS_A_NOTICE):
            session.add(joined_mail(event, part, count or 0))
        event.mailed_through = joined[-1].id


def audit_opened(session: Session, actor: str, report_id: int | None, event: GroupEvent) -> None:
    """Audit an event just opened: its id, kind, cases and day 0."""
    summary = f"{event.id}: {event.kind}, {len(event.cases)}, {event.known_on}"
    audit.record(session, actor, "group event opened", report_id, "group_event", None, summary)


def now() -> datetime:
    return datetime.now(UTC)


def first_reference(session: Session, case_id: int) -> str:
    case = session.get(Case, case_id)
    assert case is not None
    return case.first_report.reference


# What staff and the mail see of an event.


@dataclass(frozen=True)
class EventCase:
    """A case of a group event, as its page, mail and form show it (no names, no phones)."""

    case: Case
    reference: str
    known_on: date
    area: Area
    batches: list[str]
    onset: date | None
    first_dose: date | None
    reactions: list[str]
    places: list[str]  # the hospital or unit where it happened, as reported
    outcome: str | None  # vocab.OUTCOME: staff's assessment, else the latest report's

    @property
    def counts(self) -> bool:
        return self.case.status not in regulatory.NOT_FOR_REGULATOR


def event_cases(event: GroupEvent) -> list[EventCase]:
    """Return the event's cases, with what each says of the product, earliest known first."""
    found = []
    for member in event.cases:
        case = member.case
        reports = case.reports
        drugs = [d for r in reports for d in r.drugs if d.product_id == event.product_id]
        area = next(
            (
                (place(r.event_province), place(r.event_city))
                for r in sorted(reports, key=lambda r: (r.added_at, r.id), reverse=True)
                if place(r.event_province) or place(r.event_city)
            ),
            NOWHERE,
        )
        onsets = [r.event_onset_date for r in reports if r.event_onset_date]
        starts = [d.start_date for d in drugs if d.start_date]
        found.append(
            EventCase(
                case=case,
                reference=case.first_report.reference,
                known_on=min(r.aware_on for r in reports),
                area=area,
                batches=sorted({d.batch_number for d in drugs if d.batch_number}),
                onset=min(onsets, default=None),
                first_dose=min(starts, default=None),
                reactions=unique(r.event_name for r in reports),
                places=unique(
                    value
                    for r in reports
                    for value in (r.patient_hospital, r.reporter_organization)
                ),
                outcome=case.assessed_outcome
                or next((r.event_outcome for r in reversed(reports) if r.event_outcome), None),
            )
        )
    return sorted(found, key=lambda c: (c.known_on, c.reference))


def unique(values: Iterable[str | None]) -> list[str]:
    """Return the non-empty values once each, in order."""
    return list(dict.fromkeys(v.strip() for v in values if v and v.strip()))


def area_text(area: Area, kind: str = "cluster") -> str:
    """Return an area as staff read it; a cluster without one counts for every area."""
    if area != NOWHERE:
        return " ".join(part for part in area if part)
    if kind == "deaths":
        return _("Any area (deaths in several areas or areas not known)")
    return _("Area not known: counted for every area")


def event_url(event: GroupEvent) -> str:
    return f"{current_app.config['BASE_URL'].rstrip('/')}/staff/group-events/{event.id}"


SUBJECT_LIMIT = 250  # OutboxMail.subject
CITY_IN_SUBJECT = 20


def subject_area(event: GroupEvent) -> str:
    """Return the area as a mail subject names it: a province from the list as such, any other
    text the public typed cut short and quoted."""

    def cut(value: str) -> str:
        return value if len(value) <= CITY_IN_SUBJECT else value[: CITY_IN_SUBJECT - 1] + "…"

    province, city = place(event.province), place(event.city)
    if province and province not in PROVINCE_NAMES.values():
        province = f"“{cut(province)}”"
    if province or city:
        return " ".join(part for part in (province, city and cut(city)) if part)
    return area_text(NOWHERE, event.kind)


def fitted(subject: str) -> str:
    """Return a subject on one line within the outbox's limit."""
    subject = mailer.one_line(subject)
    return subject if len(subject) <= SUBJECT_LIMIT else subject[: SUBJECT_LIMIT - 1] + "…"


def event_mail(session: Session, event: GroupEvent) -> Any:
    """Return the safety inbox's mail for a group event just opened."""
    from adr.batches import product_name

    config = current_app.config
    language = config["MAIL_LANGUAGE"]
    with force_locale(language):
        members = event_cases(event)
        area = area_text((event.province, event.city), event.kind)
        context: dict[str, Any] = {
            "subject": fitted(
                _(
                    "Group adverse event: %(product)s, %(count)s cases, %(area)s",
                    product=event.product.generic_name,
                    count=len(members),
                    area=subject_area(event),
                )
            ),
            "event": event,
            "kind": vocab.GROUP_EVENT_KIND[event.kind].text(language),
            "product": product_name(event.product),
            "area": area,
            "members": members,
            "serious": sum(c.case.serious for c in members),
            "deaths": sum(c.case.death for c in members),
            "colon": ": " if language == "en" else "：",
            "url": event_url(event),
        }
        return mailer.rendered_mail("group_event", config["SAFETY_INBOX"], context)


def joined_mail(event: GroupEvent, references: list[str], count: int) -> Any:
    """Return the safety inbox's short mail for cases that joined an open event: the event, the
    cases' references in the order they joined, the count now (no names, no phones)."""
    from adr.batches import product_name

    config = current_app.config
    language = config["MAIL_LANGUAGE"]
    with force_locale(language):
        context: dict[str, Any] = {
            "subject": fitted(
                ngettext(
                    "Group adverse event #%(id)s: %(num)s more case, %(count)s now (%(product)s)",
                    "Group adverse event #%(id)s: %(num)s more cases, %(count)s now (%(product)s)",
                    len(references),
                    id=event.id,
                    count=count,
                    product=event.product.generic_name,
                )
            ),
            "event": event,
            "product": product_name(event.product),
            "references": references,
            "count": count,
            "colon": ": " if language == "en" else "：",
            "url": event_url(event),
        }
        return mailer.rendered_mail("group_event_joined", config["SAFETY_INBOX"], context)


# What staff record: the immediate report, the investigation, the actions, the closing.


def open_events(session: Session) -> list[GroupEvent]:
    """Return the events not closed, the investigation due first."""
    return list(
        session.scalars(
            sa.select(GroupEvent)
            .where(GroupEvent.closed_at.is_(None))
            .order_by(GroupEvent.investigation_due_on, GroupEvent.id)
            .options(selectinload(GroupEvent.product), selectinload(GroupEvent.cases))
        )
    )


def locked(session: Session, event_id: int) -> GroupEvent:
    """Return the event with its row locked for the change."""
    event = session.scalar(
        sa.select(GroupEvent)
        .where(GroupEvent.id == event_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if event is None:
        raise LookupError(event_id)
    return event


def change(session: Session, event: GroupEvent, actor: str, name: str, value: object) -> None:
    """Set one field of an event, audited when it changes."""
    old = getattr(event, name)
    if audit.record_change(
        session, actor, "group event changed", None, "group_event",
        f"{event.id} {name}: {old}" if old is not None else None, f"{event.id} {name}: {value}",
    ):  # fmt: skip
        setattr(event, name, value)


def refuse_if_closed(event: GroupEvent) -> None:
    if event.closed_at is not None:
        raise Refused(_("This group event is closed: nothing more can be recorded on it."))


def record_report(
    session: Session, event: GroupEvent, actor: str, at: datetime, how: str, to: str
) -> None:
    """Record the immediate report to the provincial authority: when, how, to whom."""
    refuse_if_closed(event)
    if at > now():
        raise Refused(_("The time of the report cannot be in the future."))
    if at.date() < event.opened_at.date() - timedelta(days=366):
        raise Refused(_("The time of the report is long before the event: check the year."))
    if not how or not to:
        raise Refused(_("Say how the report was made and to whom."))
    change(session, event, actor, "reported_at", at)
    change(session, event, actor, "reported_how", how)
    change(session, event, actor, "reported_to", to)
    change(session, event, actor, "reported_by", actor)


def record_investigation(
    session: Session, event: GroupEvent, actor: str, done_on: date, findings: str
) -> None:
    """Record the investigation's completion: the day and what it found."""
    refuse_if_closed(event)
    if done_on > regulatory.china_today():
        raise Refused(_("The investigation cannot be completed on a day still to come."))
    if done_on < event.known_on:
        raise Refused(_("The investigation cannot be completed before the event was known."))
    if not findings:
        raise Refused(_("Write what the investigation found."))
    change(session, event, actor, "investigation_done_on", done_on)
    change(session, event, actor, "investigation_findings", findings)


def record_actions(session: Session, event: GroupEvent, actor: str, actions: str) -> None:
    """Record the actions taken (they replace what was written before, audited)."""
    refuse_if_closed(event)
    if not actions:
        raise Refused(_("Write the actions taken."))
    change(session, event, actor, "actions_taken", actions)


def close(session: Session, event: GroupEvent, actor: str, note: str) -> None:
    """Close the event, once reported and investigated, with a note."""
    refuse_if_closed(event)
    if event.reported_at is None or event.investigation_done_on is None:
        raise Refused(_("Record the report to the authority and the investigation before closing."))
    if not note:
        raise Refused(_("Say why the event is closed."))
    change(session, event, actor, "close_note", note)
    change(session, event, actor, "closed_by", actor)
    change(session, event, actor, "closed_at", now())


def dismiss(session: Session, event: GroupEvent, actor: str, rationale: str) -> None:
    """Close the event as not a group event (cases that only looked alike), with why: no
    investigation is recorded then, so the record never claims one. Refused once the
    investigation is recorded: the event is then closed with its findings."""
    refuse_if_closed(event)
    if event.investigation_done_on is not None:
        raise Refused(_("The investigation is recorded: close the event with its findings."))
    if not rationale:
        raise Refused(_("Say why this is not a group event."))
    audit.record(
        session, actor, "group event changed", None, "group_event", None,
        f"{event.id} dismissed: not a group event",
    )  # fmt: skip
    change(session, event, actor, "close_note", rationale)
    change(session, event, actor, "closed_by", actor)
    change(session, event, actor, "closed_at", now())


def dismissed(event: GroupEvent) -> bool:
    """Tell whether the event was closed as not a group event (closed, never investigated)."""
    return event.closed_at is not None and event.investigation_done_on is None


def joined_after(event: GroupEvent) -> int:
    """Return how many cases joined the event after it opened."""
    return sum(member.added_at > event.opened_at for member in event.cases)


# The national form: 药品群体不良事件基本信息表.


def write_form(event: GroupEvent, target: IO[bytes]) -> None:
    """Write the event's 基本信息表 as a workbook: what the cases say filled in, the rest blank
    for staff to complete."""
    from adr.regulator.workbook import row_of

    members = [c for c in event_cases(event) if c.counts]
    product = event.product
    batches = sorted({b for c in members for b in c.batches})
    onsets = [c.onset for c in members if c.onset]
    doses = [c.first_dose for c in members if c.first_dose]
    process = "\n".join(
        part
        for part in (
            event.investigation_findings and f"调查结果：{event.investigation_findings}",
            event.actions_taken and f"处理情况：{event.actions_taken}",
        )
        if part
    )
    items: list[tuple[str, Any]] = [
        ("事件编号", event.id),
        ("事件类型", vocab.GROUP_EVENT_KIND[event.kind].zh),
        ("获知日期", event.known_on),
        ("调查完成时限", event.investigation_due_on),
        ("发生地区", area_in_chinese(event)),
        ("使用单位/发生单位", "；".join(unique(p for c in members for p in c.places))),
        ("用药人数", None),
        ("发生不良事件人数", len(members)),
        ("严重不良事件人数", sum(c.case.serious for c in members)),
        ("死亡人数", sum(c.case.death for c in members)),
        ("首例用药日期", min(doses, default=None)),
        ("首例发生不良事件日期", min(onsets, default=None)),
        ("怀疑药品：通用名称", product.generic_name),
        ("怀疑药品：商品名称", product.brand_name),
        ("怀疑药品：批准文号", product.approval_number),
        ("怀疑药品：生产厂家", product.manufacturer),
        ("怀疑药品：规格", "、".join(product.strengths or [])),
        ("怀疑药品：批号", "、".join(batches)),
        ("怀疑药品：剂型", product.dosage_form),
        ("不良事件表现", "；".join(unique(r for c in members for r in c.reactions))),
        ("群体不良事件过程描述及处理情况", process or None),
        ("报告单位意见", None),
        ("报告人及联系方式", None),
        ("事件状态", state_in_chinese(event)),
    ]
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("基本信息表")
    sheet.column_dimensions["A"].width = 32
    sheet.column_dimensions["B"].width = 80
    sheet.append(row_of(sheet, ["药品群体不良事件基本信息表", None]))
    for label, value in items:
        sheet.append(row_of(sheet, [label, value]))
    cases = workbook.create_sheet("病例")
    widths = (18, 12, 20, 16, 12, 12, 30, 10, 10)
    for letter, width in zip("ABCDEFGHI", widths, strict=True):
        cases.column_dimensions[letter].width = width
    cases.append(
        [
            *("报告编号", "获知日期", "发生地区", "批号", "用药开始日期", "发生日期"),
            *("不良事件", "转归", "严重性"),
        ]
    )
    for c in members:
        seriousness = "死亡" if c.case.death else "严重" if c.case.serious else "一般"
        cases.append(
            row_of(
                cases,
                [
                    c.reference,
                    c.known_on,
                    " ".join(p for p in c.area if p) or "地区不详",
                    "、".join(c.batches),
                    c.first_dose,
                    c.onset,
                    "；".join(c.reactions),
                    vocab.label(vocab.OUTCOME, c.outcome, "zh") if c.outcome else "不详",
                    seriousness,
                ],
            )
        )
    workbook.save(target)


def area_in_chinese(event: GroupEvent) -> str:
    if event.province or event.city:
        return " ".join(part for part in (event.province, event.city) if part)
    return "不限地区（死亡病例聚集）" if event.kind == "deaths" else "地区不详，计入各地区"


def state_in_chinese(event: GroupEvent) -> str:
    if dismissed(event):
        return f"已排除，非群体不良事件：{event.close_note}"
    return "已结束" if event.closed_at else "处理中"
