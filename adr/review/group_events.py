"""Group adverse events for staff: the list, one event with its cases and what staff record
(the immediate report, the investigation, the actions, the closing), and its 基本信息表."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from adr import audit, regulatory
from adr.auth.views import role_required
from adr.batches import product_name
from adr.extensions import db
from adr.models import GroupEvent, GroupEventCase, write_transaction
from adr.review import bp
from adr.review.coding import posted_id
from adr.review.compliance import send_workbook, spooled
from adr.signals import group_events
from adr.signals.group_events import Refused

PAGE_SIZE = 100


@bp.get("/group-events")
@role_required("reviewer", "admin")
def group_event_list() -> str:
    """List the group events, open ones first, then by the day they were known."""
    number = request.args.get("page", 1, type=int)
    if not 1 <= number <= 10_000:
        abort(404)
    later = sa.case((GroupEventCase.added_at > GroupEvent.opened_at, 1), else_=0)
    counts = (
        sa.select(
            GroupEventCase.group_event_id,
            sa.func.count().label("cases"),
            sa.func.sum(later).label("joined"),
        )
        .join(GroupEvent, GroupEvent.id == GroupEventCase.group_event_id)
        .group_by(GroupEventCase.group_event_id)
        .subquery()
    )
    rows = db.session.execute(
        sa.select(
            GroupEvent, sa.func.coalesce(counts.c.cases, 0), sa.func.coalesce(counts.c.joined, 0)
        )
        .outerjoin(counts, counts.c.group_event_id == GroupEvent.id)
        .order_by(
            GroupEvent.closed_at.is_not(None), GroupEvent.known_on.desc(), GroupEvent.id.desc()
        )
        .limit(PAGE_SIZE + 1)
        .offset((number - 1) * PAGE_SIZE)
    ).all()
    if number > 1 and not rows:
        abort(404)
    return render_template(
        "review/group_events.html",
        rows=rows[:PAGE_SIZE],
        has_next=len(rows) > PAGE_SIZE,
        page=number,
        today=regulatory.china_today(),
    )


def find_event(text: str) -> GroupEvent:
    return db.session.get(GroupEvent, posted_id(text)) or abort(404)


@bp.get("/group-events/<event_id>")
@role_required("reviewer", "admin")
def group_event(event_id: str) -> tuple[str, int]:
    return render_event(find_event(event_id))


def render_event(
    event: GroupEvent, refused: str | None = None, status: int = 200, step: str = ""
) -> tuple[str, int]:
    """Render an event's page; `refused` says why the `step` posted was not recorded."""
    return render_template(
        "review/group_event.html",
        event=event,
        product=product_name(event.product),
        members=group_events.event_cases(event),
        today=regulatory.china_today(),
        refused=refused,
        step=step,
        typed=request.form if request.method == "POST" else {},
    ), status


def posted_text(name: str, limit: int) -> str:
    """Return a posted text trimmed; refused beyond `limit` characters."""
    value = request.form.get(name, "").strip()
    if len(value) > limit:
        raise Refused(_("At most %(count)s characters.", count=limit))
    return value


def posted_date(name: str) -> date:
    try:
        return date.fromisoformat(request.form.get(name, "").strip())
    except ValueError:
        raise Refused(_("Give a date, written like %(example)s.", example="2026-12-01")) from None


def posted_time(name: str) -> datetime:
    """Return a posted local time (China time, YYYY-MM-DDTHH:MM) as an aware datetime."""
    text = request.form.get(name, "").strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise Refused(
            _("Give a date and time, written like %(example)s.", example="2026-12-01 09:30")
        ) from None
    if moment.tzinfo is not None:
        raise Refused(_("Give the time in China time, without a time zone."))
    return moment.replace(tzinfo=regulatory.CHINA)


@bp.post("/group-events/<event_id>")
@role_required("reviewer", "admin")
def group_event_record(event_id: str) -> Response | tuple[str, int]:
    """Record one step on an event: the report, the investigation, the actions, the closing,
    or its dismissal as not a group event."""
    event = find_event(event_id)
    step = request.form.get("step", "")
    actor = current_user.email
    steps: dict[str, Callable[[Session, GroupEvent], Any]] = {
        "report": lambda s, e: group_events.record_report(
            s,
            e,
            actor,
            posted_time("reported_at"),
            posted_text("reported_how", 100),
            posted_text("reported_to", 200),
        ),
        "investigation": lambda s, e: group_events.record_investigation(
            s, e, actor, posted_date("investigation_done_on"), posted_text("findings", 5000)
        ),
        "actions": lambda s, e: group_events.record_actions(
            s, e, actor, posted_text("actions_taken", 5000)
        ),
        "close": lambda s, e: group_events.close(s, e, actor, posted_text("close_note", 2000)),
        "dismiss": lambda s, e: group_events.dismiss(
            s, e, actor, posted_text("dismiss_note", 2000)
        ),
    }
    if step not in steps:
        abort(400)
    try:
        with write_transaction() as session:
            steps[step](session, group_events.locked(session, event.id))
    except Refused as refused:
        return render_event(find_event(event_id), str(refused), 422, step)
    flash(_("Recorded on the group event."))
    return redirect(url_for("review.group_event", event_id=event.id), 303)


@bp.get("/group-events/<event_id>.xlsx")
@role_required("reviewer", "admin")
def group_event_form(event_id: str) -> Response:
    """Download the event's 药品群体不良事件基本信息表, audited."""
    event = find_event(event_id)
    spool = spooled()
    group_events.write_form(event, spool)
    with write_transaction() as session:
        audit.record(
            session, current_user.email, "group event downloaded", None, "group_event", None,
            str(event.id),
        )  # fmt: skip
    return send_workbook(spool, f"ADR-group-event-{event.id}.xlsx")


@bp.app_context_processor
def group_event_helpers() -> dict[str, Any]:
    def open_group_events() -> list[GroupEvent]:
        """Return the events not closed, for the dashboard."""
        return group_events.open_events(db.session())

    return {
        "open_group_events": open_group_events,
        "group_event_area": lambda event: group_events.area_text(
            (event.province, event.city), event.kind
        ),
        "group_product_name": product_name,
        "group_event_dismissed": group_events.dismissed,
        "group_event_joined_after": group_events.joined_after,
        "today_china": regulatory.china_today,
    }
