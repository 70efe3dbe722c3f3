"""Signal management for staff: the open signals, one signal with its figures, cases, workflow
and tracking log, and the log as a workbook for an inspector (`adr.signals.log`).

The pages read what detection stored (`SignalRun`, `SignalFigure`, `Signal`); nothing here
counts cases.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from adr import audit, regulatory, vocab
from adr.auth.views import role_required
from adr.extensions import db
from adr.i18n import current_language
from adr.models import Product, Signal, SignalRun, write_transaction
from adr.review import bp
from adr.review.coding import posted_id
from adr.review.compliance import send_workbook, spooled
from adr.review.queries import MAX_PAGE
from adr.signals import log, statistics

PAGE_SIZE = 50
SORTS = ("new", "due")
# The thresholds the detection applies, as its page states them beside each figure.
ENOUGH = f"a ≥ {statistics.MIN_CASES}"
THRESHOLDS = {
    "prr": f"PRR ≥ {statistics.PRR_MIN:g}, χ² ≥ {statistics.CHI2_MIN:g}, {ENOUGH}",
    "ror": f"ROR 95% CI > 1, {ENOUGH}",
    "ic": f"IC025 > 0, {ENOUGH}",
    "trend": f"p < {statistics.TREND_P:g}, ≥ {statistics.MIN_CASES}",
}


def filters_from_request() -> log.Filters:
    """Return the list's filters from the URL, anything unknown ignored."""
    args = request.args
    status, product, sort = args.get("status", ""), args.get("product", ""), args.get("sort", "")
    return log.Filters(
        status=status if status in vocab.SIGNAL_STATUS else "",
        product_id=int(product)
        if product.isascii() and product.isdigit() and len(product) < 10
        else None,
        overdue=args.get("overdue") == "1",
        sort=sort if sort in SORTS else "new",
    )


@bp.get("/signals")
@role_required("reviewer", "admin")
def signals() -> str:
    """List the signals the filters select (the open ones by default), newest first."""
    number = request.args.get("page", 1, type=int)
    if not 1 <= number <= MAX_PAGE:
        abort(404)
    filters = filters_from_request()
    session = db.session()
    today = regulatory.china_today()
    rows, total = log.page_of(session, filters, today, PAGE_SIZE, (number - 1) * PAGE_SIZE)
    if number > 1 and not rows:
        abort(404)
    products = session.execute(
        sa.select(Product.id, Product.generic_name, Product.approval_number).order_by(
            Product.generic_name, Product.id
        )
    ).all()
    names = log.term_names([s for s, _count in rows], current_language())
    return render_template(
        "review/signals.html",
        rows=rows,
        total=total,
        names=names,
        filters=filters,
        products=products,
        run=log.latest_run(session),
        today=today,
        page=number,
        page_size=PAGE_SIZE,
        link_args=link_args(filters),
    )


def link_args(filters: log.Filters) -> dict[str, Any]:
    """Return the filters as the list's URL carries them, for its page links."""
    chosen = {
        "status": filters.status,
        "product": filters.product_id,
        "overdue": 1 if filters.overdue else None,
        "sort": filters.sort,
    }
    return {name: value for name, value in chosen.items() if value}


def find_signal(text: str) -> Signal:
    return db.session.get(Signal, posted_id(text)) or abort(404)


@bp.get("/signals/<signal_id>")
@role_required("reviewer", "admin")
def signal(signal_id: str) -> tuple[str, int]:
    return render_signal(find_signal(signal_id))


def render_signal(
    signal: Signal, refused: log.Refused | None = None, step: str = "", status: int = 200
) -> tuple[str, int]:
    """Render a signal's page; `refused` says why the `step` posted was not taken."""
    session = db.session()
    names = log.term_names([signal], current_language())
    figure = signal.latest_figure
    run = session.get(SignalRun, figure.run_id) if figure else None
    return render_template(
        "review/signal.html",
        signal=signal,
        decided=log.decision(signal),
        names=names,
        pt_name=log.term_text(names, "pt", signal.pt_code),
        figure=figure,
        run=run,
        history=log.figure_history(session, signal),
        thresholds=THRESHOLDS,
        cases=log.cases_behind(session, signal.id),
        steps=log.allowed_steps(signal),
        seen=log.last_step_id(session, signal.id),
        today=regulatory.china_today(),
        evaluation_days=log.EVALUATION_DAYS,
        refused=refused,
        step=step,
        typed=request.form if refused else {},
        typed_texts=("rationale", "assessment", "description", "note"),
    ), status


@bp.post("/signals/<signal_id>")
@role_required("reviewer", "admin")
def signal_step(signal_id: str) -> Response | tuple[str, int]:
    """Take a step of the workflow on the signal, or show why it was refused, values kept."""
    signal = find_signal(signal_id)
    step = request.form.get("step", "")
    posted = log.Posted(current_user.email, request.form.get("seen", ""), request.form.to_dict())
    try:
        with write_transaction() as session:
            log.take(session, signal.id, step, posted)
    except log.Refused as refused:
        status = 409 if isinstance(refused, log.Stale) else 422
        return render_signal(find_signal(signal_id), refused, step, status)
    flash(
        _(
            "Recorded: %(step)s.",
            step=vocab.label(vocab.SIGNAL_STEP, STEP_NAMES[step], current_language()),
        )
    )
    return redirect(url_for("review.signal", signal_id=signal.id), 303)


STEP_NAMES = {
    "validate": "validated",
    "refute": "refuted",
    "prioritise": "prioritised",
    "evaluate": "evaluated",
    "action": "action_added",
    "complete": "action_done",
    "close": "closed",
    "reopen": "reopened",
}


@bp.get("/signals/log.xlsx")
@role_required("reviewer", "admin")
def signal_log() -> Response:
    """Download the signal tracking log as a workbook, audited."""
    spool = spooled()
    log.write_log(db.session(), spool, current_language())
    with write_transaction() as session:
        audit.record(session, current_user.email, "signal log downloaded", field="signal")
    return send_workbook(spool, f"ADR-signal-log-{regulatory.china_today()}.xlsx")


@bp.app_context_processor
def signal_helpers() -> dict[str, Any]:
    def term_name(names: dict[tuple[str, int], str], level: str, code: int | None) -> str:
        return log.term_text(names, level, code)

    return {
        "term_name": term_name,
        "step_person": lambda by: log.person(by, current_language()),
    }
