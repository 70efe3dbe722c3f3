"""The signal tracking log: a signal validated or refuted, prioritised, evaluated, its actions
planned and completed, closed or reopened; each step dated, signed, reasoned and audited.

new → validated | refuted; validated → prioritised → evaluated (a validated signal may be
evaluated at once; an evaluated one evaluated again when more data came); actions on an
evaluated signal; closed once evaluated with every action completed, or once refuted. A closed
or refuted signal may be reopened with a reason: back to evaluated if it was evaluated, else
to new with a fresh validation due date (refused when detection has opened a newer signal of the
same product × PT since: that one carries the pair on). A signal validated is due for
evaluation in the medium priority's days until prioritising sets its own. Each step is one write
transaction: the signal's row locked, a `SignalStep` line and an audit entry (field "signal",
old → new status).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from openpyxl import Workbook
from sqlalchemy.orm import Session, aliased, selectinload

from adr import audit, meddra, regulatory, vocab
from adr.i18n import current_language
from adr.models import (
    Case,
    Report,
    Signal,
    SignalAction,
    SignalCase,
    SignalFigure,
    SignalRun,
    SignalStep,
)
from adr.regulator.workbook import end_sheet, row_of, start_sheet
from adr.vocab import Term

MAX_RATIONALE = 2000  # Signal.validation_rationale, priority_rationale, SignalAction's texts
MAX_ASSESSMENT = 5000  # Signal.assessment
# Days from prioritisation to the evaluation's due date, unless staff set another date.
EVALUATION_DAYS = {"high": 30, "medium": 60, "low": 90}
DEFAULT_PRIORITY = "medium"  # a validated signal's evaluation is due in its days until prioritised
ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
OPEN = ("new", "validated", "prioritised", "evaluated")  # refuted and closed are not
# The statuses each step may be taken from.
ALLOWED = {
    "validate": ("new",),
    "refute": ("new",),
    "prioritise": ("validated",),
    "evaluate": ("validated", "prioritised", "evaluated"),
    "action": ("evaluated",),
    "complete": ("evaluated",),
    "close": ("evaluated", "refuted"),
    "reopen": ("closed", "refuted"),
}


class Refused(Exception):
    """A step that cannot be taken, and why, for staff; `field` names the input at fault."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class Stale(Refused):
    """A step posted from a page older than the signal's last step."""


@dataclass(frozen=True)
class Posted:
    """A step as staff posted it: who, the last step id their page showed, the form's values."""

    actor: str
    seen: str
    values: dict[str, str]

    def text(self, name: str) -> str:
        return (self.values.get(name) or "").strip()


def allowed_steps(signal: Signal) -> list[str]:
    """Return the steps that apply to the signal as it stands."""
    steps = [step for step, statuses in ALLOWED.items() if signal.status in statuses]
    if "complete" in steps and not any(a.completed_on is None for a in signal.actions):
        steps.remove("complete")
    if signal.status == "evaluated" and any(a.completed_on is None for a in signal.actions):
        steps.remove("close")
    return steps


def last_step_id(session: Session, signal_id: int) -> int:
    """Return the id of the signal's latest step (0 if none): what a page's forms carry."""
    query = sa.select(sa.func.max(SignalStep.id)).where(SignalStep.signal_id == signal_id)
    return session.scalar(query) or 0


def take(session: Session, signal_id: int, step: str, posted: Posted) -> Signal:
    """Take `step` on the signal, or raise `Refused` saying why; call inside a write transaction."""
    if step not in ALLOWED:
        raise Refused(_("Choose a step."))
    signal = session.get(Signal, signal_id, with_for_update=True, populate_existing=True)
    if signal is None:
        raise LookupError(f"no signal {signal_id}")
    if posted.seen != str(last_step_id(session, signal_id)):
        raise Stale(
            _(
                "The signal changed while you had it open (now: %(status)s): read it again "
                "before you record this step.",
                status=status_label(signal.status),
            )
        )
    if signal.status not in ALLOWED[step]:
        raise Refused(
            _(
                "This step cannot be taken on a signal that is %(status)s.",
                status=status_label(signal.status),
            )
        )
    STEPS[step](session, signal, posted)
    return signal


def status_label(status: str) -> str:
    return vocab.label(vocab.SIGNAL_STATUS, status, current_language())


def now() -> datetime:
    return datetime.now(UTC)


def today() -> date:
    return regulatory.china_today()


def required(posted: Posted, name: str, limit: int = MAX_RATIONALE) -> str:
    """Return a required text, or refuse it when empty or too long."""
    value = posted.text(name)
    if not value:
        raise Refused(_("Give the rationale for this step."), name)
    if len(value) > limit:
        raise Refused(_("Write at most %(limit)s characters.", limit=limit), name)
    return value


def optional_text(posted: Posted, name: str, limit: int = MAX_RATIONALE) -> str | None:
    value = posted.text(name)
    if len(value) > limit:
        raise Refused(_("Write at most %(limit)s characters.", limit=limit), name)
    return value or None


def chosen(posted: Posted, name: str, codes: vocab.CodeList) -> str:
    value = posted.text(name)
    if value not in codes:
        raise Refused(_("Choose one of the options."), name)
    return value


def day(posted: Posted, name: str) -> date | None:
    """Return a date typed as YYYY-MM-DD, None when empty; refuse anything else."""
    value = posted.text(name)
    if not value:
        return None
    try:
        if not ISO_DAY.fullmatch(value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise Refused(_("Enter a date such as %(example)s.", example=today()), name) from None


def due_day(posted: Posted, name: str) -> date | None:
    """Return a due date, refusing one in the past (China today)."""
    due = day(posted, name)
    if due is not None and due < today():
        raise Refused(_("A due date cannot be in the past."), name)
    return due


def record(
    session: Session,
    signal: Signal,
    posted: Posted,
    step: str,
    old_status: str,
    rationale: str | None,
    detail: dict[str, Any] | None = None,
) -> SignalStep:
    """Add the step to the tracking log and to the audit trail."""
    line = SignalStep(
        signal_id=signal.id,
        step=step,
        at=now(),
        by=posted.actor,
        rationale=rationale,
        detail=detail,
    )
    session.add(line)
    old = {"signal": signal.id, "status": old_status}
    new = {"signal": signal.id, "status": signal.status, "step": step, "rationale": rationale}
    audit.record(
        session,
        posted.actor,
        "signal step",
        field="signal",
        old=json.dumps(old, ensure_ascii=False),
        new=json.dumps(new | (detail or {}), ensure_ascii=False, default=str),
    )
    return line


def validate(session: Session, signal: Signal, posted: Posted) -> None:
    decide(session, signal, posted, "validated")


def refute(session: Session, signal: Signal, posted: Posted) -> None:
    decide(session, signal, posted, "refuted")


def decide(session: Session, signal: Signal, posted: Posted, status: str) -> None:
    rationale = required(posted, "rationale")
    signal.status = status
    signal.validated_at, signal.validated_by = now(), posted.actor
    signal.validation_rationale = rationale
    detail = None
    if status == "validated":  # due for evaluation even if never prioritised
        signal.evaluation_due_on = today() + timedelta(days=EVALUATION_DAYS[DEFAULT_PRIORITY])
        detail = {"evaluation_due_on": signal.evaluation_due_on.isoformat()}
    record(session, signal, posted, status, "new", rationale, detail)


def prioritise(session: Session, signal: Signal, posted: Posted) -> None:
    priority = chosen(posted, "priority", vocab.SIGNAL_PRIORITY)
    rationale = required(posted, "rationale")
    due = due_day(posted, "due_on") or today() + timedelta(days=EVALUATION_DAYS[priority])
    signal.status, signal.priority, signal.priority_rationale = "prioritised", priority, rationale
    signal.prioritised_at, signal.prioritised_by = now(), posted.actor
    signal.evaluation_due_on = due
    detail = {"priority": priority, "evaluation_due_on": due.isoformat()}
    record(session, signal, posted, "prioritised", "validated", rationale, detail)


def evaluate(session: Session, signal: Signal, posted: Posted) -> None:
    conclusion = chosen(posted, "conclusion", vocab.SIGNAL_CONCLUSION)
    assessment = required(posted, "assessment", MAX_ASSESSMENT)
    old = signal.status
    signal.status, signal.conclusion, signal.assessment = "evaluated", conclusion, assessment
    signal.evaluated_at, signal.evaluated_by = now(), posted.actor
    record(session, signal, posted, "evaluated", old, assessment, {"conclusion": conclusion})


def add_action(session: Session, signal: Signal, posted: Posted) -> None:
    kind = chosen(posted, "kind", vocab.SIGNAL_ACTION)
    description = posted.text("description")
    if not description:
        raise Refused(_("Describe the action."), "description")
    if len(description) > MAX_RATIONALE:
        raise Refused(_("Write at most %(limit)s characters.", limit=MAX_RATIONALE), "description")
    due = due_day(posted, "due_on")
    if due is None:
        raise Refused(_("Give the date the action is due."), "due_on")
    action = SignalAction(
        signal_id=signal.id,
        kind=kind,
        description=description,
        due_on=due,
        created_at=now(),
        created_by=posted.actor,
    )
    session.add(action)
    session.flush()
    detail = {"action": action.id, "kind": kind, "due_on": due.isoformat()}
    record(session, signal, posted, "action_added", signal.status, description, detail)


def complete_action(session: Session, signal: Signal, posted: Posted) -> None:
    action = next((a for a in signal.actions if str(a.id) == posted.text("action")), None)
    if action is None or action.completed_on is not None:
        raise Refused(_("Choose an action of this signal not completed yet."), "action")
    done = day(posted, "completed_on") or today()
    if done > today():
        raise Refused(_("An action cannot be completed on a future date."), "completed_on")
    if done < regulatory.china_date(action.created_at):
        raise Refused(_("An action cannot be completed before it was planned."), "completed_on")
    note = optional_text(posted, "note")
    action.completed_on, action.completed_by, action.completion_note = done, posted.actor, note
    detail = {"action": action.id, "kind": action.kind, "completed_on": done.isoformat()}
    record(session, signal, posted, "action_done", signal.status, note, detail)


def close(session: Session, signal: Signal, posted: Posted) -> None:
    if any(a.completed_on is None for a in signal.actions):
        raise Refused(_("Complete every action before the signal is closed."))
    rationale = required(posted, "rationale")
    old = signal.status
    signal.status, signal.closed_at, signal.closed_by = "closed", now(), posted.actor
    record(session, signal, posted, "closed", old, rationale)


def reopen(session: Session, signal: Signal, posted: Posted) -> None:
    """Reopen a closed or refuted signal: to evaluated if it was evaluated, else to new."""
    reason = required(posted, "rationale")
    newer = session.scalar(
        sa.select(sa.func.min(Signal.id)).where(
            Signal.product_id == signal.product_id,
            Signal.pt_code == signal.pt_code,
            Signal.id > signal.id,
        )
    )
    if newer is not None:
        raise Refused(
            _(
                "Detection has opened signal #%(newer)s of the same product and PT since this "
                "one was decided: take the pair up there, not here.",
                newer=newer,
            )
        )
    old = signal.status
    signal.closed_at = signal.closed_by = None
    detail: dict[str, Any] = {}
    if signal.evaluated_at is not None:
        signal.status = "evaluated"
    else:
        signal.status = "new"
        signal.validated_at = signal.validated_by = signal.validation_rationale = None
        signal.evaluation_due_on = None
        days = int(current_app.config["SIGNAL_VALIDATION_DAYS"])
        signal.validation_due_on = today() + timedelta(days=days)
        detail["validation_due_on"] = signal.validation_due_on.isoformat()
    record(session, signal, posted, "reopened", old, reason, detail)


STEPS = {
    "validate": validate,
    "refute": refute,
    "prioritise": prioritise,
    "evaluate": evaluate,
    "action": add_action,
    "complete": complete_action,
    "close": close,
    "reopen": reopen,
}


# What the pages and the inspector's workbook read: stored results only.


@dataclass(frozen=True)
class Filters:
    """The signal list's filters: a status ("" for the open ones), a product, overdue only."""

    status: str = ""
    product_id: int | None = None
    overdue: bool = False
    sort: str = "new"  # new: newest first; due: the next due date first


def overdue(day_: date) -> sa.ColumnElement[bool]:
    """Select the signals with a step past its due date on `day_` (China)."""
    late_action = sa.exists().where(
        SignalAction.signal_id == Signal.id,
        SignalAction.completed_on.is_(None),
        SignalAction.due_on < day_,
    )
    return sa.or_(
        sa.and_(Signal.status == "new", Signal.validation_due_on < day_),
        sa.and_(Signal.status.in_(("validated", "prioritised")), Signal.evaluation_due_on < day_),
        sa.and_(Signal.status == "evaluated", late_action),
    )


def next_due() -> sa.ColumnElement[Any]:
    """The date the signal's next step is due: validation, then evaluation."""
    return sa.case(
        (Signal.status == "new", Signal.validation_due_on),
        (Signal.status.in_(("validated", "prioritised")), Signal.evaluation_due_on),
        else_=None,
    )


def conditions(filters: Filters, day_: date) -> list[sa.ColumnElement[bool]]:
    """Return the conditions of the signals the filters select."""
    chosen = [Signal.status == filters.status if filters.status else Signal.status.in_(OPEN)]
    if filters.product_id is not None:
        chosen.append(Signal.product_id == filters.product_id)
    if filters.overdue:
        chosen.append(overdue(day_))
    return chosen


def listed(filters: Filters, day_: date) -> sa.Select[Any]:
    """Return the query of the signals the filters select, in their order."""
    query = sa.select(Signal).join(Signal.product).where(*conditions(filters, day_))
    if filters.sort == "due":
        due = next_due()
        return query.order_by(due.is_(None), due, Signal.id)
    return query.order_by(Signal.detected_at.desc(), Signal.id.desc())


def page_of(
    session: Session, filters: Filters, day_: date, limit: int, offset: int
) -> tuple[list[tuple[Signal, int]], int]:
    """Return a page of signals, each with its count of cases, and how many there are in all
    (counted without the product's join, and the page's cases counted for its signals only)."""
    total = session.scalar(
        sa.select(sa.func.count()).select_from(Signal).where(*conditions(filters, day_))
    )
    query = listed(filters, day_).options(sa.orm.contains_eager(Signal.product))
    signals = list(session.scalars(query.limit(limit).offset(offset)))
    counts: dict[int, int] = (
        dict(
            session.execute(
                sa.select(SignalCase.signal_id, sa.func.count())
                .where(SignalCase.signal_id.in_([signal.id for signal in signals]))
                .group_by(SignalCase.signal_id)
            ).all()
        )
        if signals
        else {}
    )
    return [(signal, counts.get(signal.id, 0)) for signal in signals], total or 0


def latest_run(session: Session) -> SignalRun | None:
    """Return the latest finished detection run."""
    query = (
        sa.select(SignalRun)
        .where(SignalRun.finished_at.is_not(None))
        .order_by(SignalRun.id.desc())
        .limit(1)
    )
    return session.scalar(query)


def term_names(signals: list[Signal], language: str) -> dict[tuple[str, int], str]:
    """Return the names of the signals' PTs and SOCs, by (level, code), each from the newest
    version that holds it; a code no version names is left out (shown as its bare code)."""
    pts = meddra.term_names((s.pt_code for s in signals), "pt", language)
    socs = meddra.term_names((s.soc_code for s in signals if s.soc_code), "soc", language)
    return {("pt", code): name for code, name in pts.items()} | {
        ("soc", code): name for code, name in socs.items()
    }


@dataclass(frozen=True)
class Due:
    """The dashboard's signal figures (each a filter of the list)."""

    awaiting: int  # new: awaiting validation
    awaiting_late: int  # of those, past their validation due date
    evaluation_late: int  # validated or prioritised, past the evaluation's due date
    actions_late: int  # actions not completed past their due date
    overdue_signals: int  # signals with any of those


def due(session: Session, day_: date) -> Due:
    """Return what waits on signals, and what is late, on `day_` (China)."""
    new = Signal.status == "new"
    awaiting, awaiting_late = session.execute(
        sa.select(sa.func.count(), sa.func.count().filter(Signal.validation_due_on < day_)).where(
            new
        )
    ).one()
    evaluation_late = session.scalar(
        sa.select(sa.func.count()).where(
            Signal.status.in_(("validated", "prioritised")), Signal.evaluation_due_on < day_
        )
    )
    actions_late = session.scalar(
        sa.select(sa.func.count())
        .select_from(SignalAction)
        .join(Signal, Signal.id == SignalAction.signal_id)
        .where(
            Signal.status == "evaluated",
            SignalAction.completed_on.is_(None),
            SignalAction.due_on < day_,
        )
    )
    overdue_signals = session.scalar(sa.select(sa.func.count()).where(overdue(day_)))
    return Due(
        awaiting or 0,
        awaiting_late or 0,
        evaluation_late or 0,
        actions_late or 0,
        overdue_signals or 0,
    )


def figure_history(session: Session, signal: Signal, limit: int = 12) -> list[Any]:
    """Return the pair's figures of the latest runs, newest first, each with its run."""
    query = (
        sa.select(SignalFigure, SignalRun)
        .join(SignalRun, SignalRun.id == SignalFigure.run_id)
        .where(SignalFigure.product_id == signal.product_id, SignalFigure.pt_code == signal.pt_code)
        .order_by(SignalRun.id.desc())
        .limit(limit)
    )
    return list(session.execute(query))


@dataclass(frozen=True)
class CaseBehind:
    """A case behind a signal, as its page lists it."""

    reference: str
    trigger: str
    aware_on: date | None
    serious: bool
    death: bool


def behind_query() -> sa.Select[int, str, str, date, bool, bool]:
    """Return each signal's cases in order: the signal, its case's first report's reference, the
    trigger, the day the company first knew, seriousness and death."""
    other = aliased(Report)
    first_id = sa.select(sa.func.min(other.id)).where(other.case_id == Case.id)
    aware_on = sa.select(sa.func.min(other.aware_on)).where(other.case_id == Case.id)
    return (
        sa.select(
            SignalCase.signal_id,
            Report.reference,
            SignalCase.trigger,
            aware_on.scalar_subquery(),
            Case.serious,
            Case.death,
        )
        .select_from(SignalCase)
        .join(Case, Case.id == SignalCase.case_id)
        .join(Report, Report.id == first_id.scalar_subquery())
        .order_by(SignalCase.signal_id, SignalCase.id)
    )


def cases_behind(session: Session, signal_id: int) -> list[CaseBehind]:
    """Return the signal's cases, as its page lists them."""
    query = behind_query().where(SignalCase.signal_id == signal_id)
    return [CaseBehind(*row[1:]) for row in session.execute(query)]


def decision(signal: Signal) -> SignalStep | None:
    """Return the validation in force, from the steps: the latest validated or refuted step, or
    None while the signal awaits validation (new, or reopened to new)."""
    if signal.validated_at is None:
        return None
    decided = [line for line in signal.steps if line.step in ("validated", "refuted")]
    return decided[-1] if decided else None


# The signal tracking log for an inspector: a row a signal, every step, the cases behind each.

SIGNAL_COLUMNS = (
    Term("信号编号", "Signal"),
    Term("产品", "Product"),
    Term("批准文号", "Approval number"),
    Term("PT名称", "PT name"),
    Term("PT代码", "PT code"),
    Term("系统器官分类(SOC)", "System organ class (SOC)"),
    Term("触发条件", "Triggers"),
    Term("检出日期", "Detected on"),
    Term("确认期限", "Validation due"),
    Term("确认结果", "Validation outcome"),
    Term("确认/排除日期", "Validated or refuted on"),
    Term("确认/排除人", "Validated or refuted by"),
    Term("确认/排除理由", "Validation rationale"),
    Term("优先级", "Priority"),
    Term("定优先级日期", "Prioritised on"),
    Term("定优先级人", "Prioritised by"),
    Term("评价期限", "Evaluation due"),
    Term("评价日期", "Evaluated on"),
    Term("评价人", "Evaluated by"),
    Term("评价结论", "Conclusion"),
    Term("措施", "Actions"),
    Term("关闭日期", "Closed on"),
    Term("关闭人", "Closed by"),
    Term("状态", "Status"),
    Term("确认及重新打开记录", "Validation and reopening history"),
)
STEP_COLUMNS = (
    Term("信号编号", "Signal"),
    Term("时间(北京时间)", "When (China time)"),
    Term("人员", "Person"),
    Term("步骤", "Step"),
    Term("理由", "Rationale"),
    Term("详情", "Detail"),
)
CASE_COLUMNS = (
    Term("信号编号", "Signal"),
    Term("病例报告编号", "Case reference"),
    Term("触发条件", "Trigger"),
    Term("获知日期", "Day known"),
    Term("严重", "Serious"),
    Term("死亡", "Fatal"),
)
SIGNALS_SHEET = Term("信号跟踪记录", "Signal tracking log")
STEPS_SHEET = Term("处理步骤", "Steps")
CASES_SHEET = Term("信号病例", "Cases behind the signals")
HISTORY_STEPS = ("validated", "refuted", "reopened", "closed")
CHUNK = 500
COMMAND = "command"  # detection's steps are by the command (`adr signals run`), not a person
COMMAND_NAME = Term("信号检测(系统)", "Signal detection (the app)")


def person(by: str, language: str) -> str:
    """Return who took a step: a staff e-mail, or detection named in `language`."""
    return COMMAND_NAME.text(language) if by == COMMAND else by


def china_day(moment: datetime | None) -> date | None:
    return regulatory.china_date(moment) if moment else None


def china_moment(moment: datetime) -> datetime:
    """Return the moment as China's wall-clock time, without a zone (Excel keeps none)."""
    return moment.astimezone(regulatory.CHINA).replace(tzinfo=None)


def term_text(names: dict[tuple[str, int], str], level: str, code: int | None) -> str:
    return names.get((level, code), "") if code is not None else ""


def action_text(action: SignalAction, language: str) -> str:
    """Return an action in one line: kind, description, due date, completion."""
    parts = [f"{vocab.label(vocab.SIGNAL_ACTION, action.kind, language)}: {action.description}"]
    if action.due_on:
        parts.append(f"{Term('期限', 'due').text(language)} {action.due_on}")
    if action.completed_on:
        done = Term("完成", "completed").text(language)
        parts.append(f"{done} {action.completed_on} {action.completed_by or ''}".strip())
    return "; ".join(parts)


def signal_row(signal: Signal, names: dict[tuple[str, int], str], language: str) -> list[Any]:
    def label(codes: vocab.CodeList, code: str | None) -> str:
        return vocab.label(codes, code, language)

    soc = term_text(names, "soc", signal.soc_code)
    decided = decision(signal)
    history = [
        f"{china_day(line.at)} {label(vocab.SIGNAL_STEP, line.step)} ({person(line.by, language)})"
        for line in signal.steps
        if line.step in HISTORY_STEPS
    ]
    return [
        signal.id,
        signal.product.generic_name,
        signal.product.approval_number,
        term_text(names, "pt", signal.pt_code),
        signal.pt_code,
        f"{soc} {signal.soc_code}".strip() if signal.soc_code else "",
        "、".join(label(vocab.SIGNAL_TRIGGER, t) or t for t in signal.triggers),
        china_day(signal.detected_at),
        signal.validation_due_on,
        label(vocab.SIGNAL_STEP, decided.step) if decided else "",
        china_day(signal.validated_at),
        signal.validated_by,
        signal.validation_rationale,
        label(vocab.SIGNAL_PRIORITY, signal.priority),
        china_day(signal.prioritised_at),
        signal.prioritised_by,
        signal.evaluation_due_on,
        china_day(signal.evaluated_at),
        signal.evaluated_by,
        label(vocab.SIGNAL_CONCLUSION, signal.conclusion),
        "\n".join(action_text(a, language) for a in signal.actions),
        china_day(signal.closed_at),
        signal.closed_by,
        label(vocab.SIGNAL_STATUS, signal.status),
        "\n".join(history),
    ]


WORDS = {
    "period": Term("期间", "period"),
    "period_count": Term("本期病例", "cases in the period"),
    "triggers": Term("触发条件", "triggers"),
    "cases": Term("病例", "cases"),
    "cases_added": Term("新增病例", "cases added"),
    "new_triggers": Term("新触发条件", "new triggers"),
    "raised_anew_by": Term("再次检出依据", "raised anew by"),
    "previous_signal": Term("前一信号", "previous signal"),
    "priority": Term("优先级", "priority"),
    "evaluation_due_on": Term("评价期限", "evaluation due"),
    "validation_due_on": Term("确认期限", "validation due"),
    "conclusion": Term("结论", "conclusion"),
    "kind": Term("措施类型", "kind"),
    "due_on": Term("期限", "due"),
    "completed_on": Term("完成日期", "completed on"),
}


def detail_text(detail: dict[str, Any] | None, language: str) -> str:
    """Return a step's detail in words: a detection's 2×2 table, figures and triggers; the
    priority and due date; an evaluation's conclusion; an action's kind and dates."""
    if not detail:
        return ""

    def number(name: str) -> str:
        value = detail.get(name)
        return f"{value:.2f}" if isinstance(value, int | float) else "—"

    def words(name: str) -> str:
        return WORDS[name].text(language)

    def triggers(name: str) -> str:
        return "、".join(vocab.label(vocab.SIGNAL_TRIGGER, t, language) or t for t in detail[name])

    parts = []
    if "a" in detail:
        parts.append(f"a={detail['a']}, b={detail['b']}, c={detail['c']}, d={detail['d']}")
        parts.append(
            f"PRR {number('prr')}, χ² {number('chi2')}, ROR {number('ror')} "
            f"(95% CI {number('ror_lower')}–{number('ror_upper')}), IC {number('ic')}, "
            f"IC025 {number('ic025')}"
        )
    for name in WORDS:
        if name not in detail or detail[name] in (None, []):
            continue
        value = detail[name]
        if name in ("triggers", "new_triggers", "raised_anew_by"):
            value = triggers(name)
        elif name == "priority":
            value = vocab.label(vocab.SIGNAL_PRIORITY, value, language)
        elif name == "conclusion":
            value = vocab.label(vocab.SIGNAL_CONCLUSION, value, language)
        elif name == "kind":
            value = vocab.label(vocab.SIGNAL_ACTION, value, language)
        elif name == "previous_signal":
            value = f"#{value}"
        parts.append(f"{words(name)}: {value}")
    return "; ".join(parts)


def yes_no(value: bool | None, language: str) -> str:
    return (Term("是", "Yes") if value else Term("否", "No")).text(language)


def write_log(session: Session, target: str | Path | IO[bytes], language: str) -> None:
    """Write the tracking log: a sheet of the signals, then a sheet of every step, in order."""
    workbook = Workbook(write_only=True)
    signals_sheet = workbook.create_sheet(SIGNALS_SHEET.text(language))
    start_sheet(signals_sheet, list(SIGNAL_COLUMNS), language)
    rows, last = 0, 0
    while True:
        chunk = list(
            session.scalars(
                sa.select(Signal)
                .where(Signal.id > last)
                .order_by(Signal.id)
                .limit(CHUNK)
                .options(
                    selectinload(Signal.product),
                    selectinload(Signal.actions),
                    selectinload(Signal.steps),
                )
            )
        )
        if not chunk:
            break
        names = term_names(chunk, language)
        for signal in chunk:
            signals_sheet.append(row_of(signals_sheet, signal_row(signal, names, language)))
        rows, last = rows + len(chunk), chunk[-1].id
    end_sheet(signals_sheet, len(SIGNAL_COLUMNS), rows)
    steps_sheet = workbook.create_sheet(STEPS_SHEET.text(language))
    start_sheet(steps_sheet, list(STEP_COLUMNS), language)
    steps = session.scalars(
        sa.select(SignalStep)
        .order_by(SignalStep.signal_id, SignalStep.id)
        .execution_options(yield_per=CHUNK)
    )
    count = 0
    for step in steps:
        values = [
            step.signal_id,
            china_moment(step.at),
            person(step.by, language),
            vocab.label(vocab.SIGNAL_STEP, step.step, language) or step.step,
            step.rationale,
            detail_text(step.detail, language),
        ]
        steps_sheet.append(row_of(steps_sheet, values))
        count += 1
    end_sheet(steps_sheet, len(STEP_COLUMNS), count)
    write_cases(session, workbook.create_sheet(CASES_SHEET.text(language)), language)
    workbook.save(target)


def write_cases(session: Session, sheet: Any, language: str) -> None:
    """Write the cases behind each signal: reference, trigger, day known, serious, fatal."""
    start_sheet(sheet, list(CASE_COLUMNS), language)
    query = behind_query().execution_options(yield_per=CHUNK)
    count = 0
    for signal_id, reference, trigger, known_on, serious, death in session.execute(query):
        values = [
            signal_id,
            reference,
            vocab.label(vocab.SIGNAL_TRIGGER, trigger, language) or trigger,
            known_on,
            yes_no(serious, language),
            yes_no(death, language),
        ]
        sheet.append(row_of(sheet, values))
        count += 1
    end_sheet(sheet, len(CASE_COLUMNS), count)
