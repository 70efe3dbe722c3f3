"""The batch table: the batches of the company's products that the most cases name."""

from __future__ import annotations

from flask import abort, render_template, request

from adr.auth.views import role_required
from adr.batches import alert_settings, batch_rows, window_start
from adr.review import bp

BATCH_PAGE_SIZE = 50
MAX_BATCH_PAGE = 10_000  # 500,000 batches: more than a company makes in decades


@bp.get("/batches")
@role_required("reviewer", "admin")
def batches() -> str:
    """List batches by cases in the alert window (or ever: `period=all`), most first."""
    all_time = request.args.get("period") == "all"
    number = request.args.get("page", 1, type=int)
    if not 1 <= number <= MAX_BATCH_PAGE:
        abort(404)
    threshold, days = alert_settings()
    since = window_start(days)
    rows = batch_rows(since, all_time, BATCH_PAGE_SIZE + 1, (number - 1) * BATCH_PAGE_SIZE)
    if number > 1 and not rows:
        abort(404)
    return render_template(
        "review/batches.html",
        rows=rows[:BATCH_PAGE_SIZE],
        has_next=len(rows) > BATCH_PAGE_SIZE,
        page=number,
        all_time=all_time,
        threshold=threshold,
        days=days,
        since=since,
    )
