"""Staff views of compliance with the deadlines, and of the periodic line listing."""

from __future__ import annotations

import tempfile
from itertools import islice
from typing import Any

import sqlalchemy as sa
from flask import render_template, request, send_file
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from adr import audit
from adr.auth.views import role_required
from adr.extensions import db
from adr.i18n import current_language
from adr.models import Product, write_transaction
from adr.regulator import compliance, listing
from adr.review import bp
from adr.review.queries import utcnow

LATE_SHOWN = 200  # on the page; the workbook lists every one
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def spooled() -> Any:
    """Return a temporary file that stays in memory up to 8 MiB, for a workbook to send."""
    return tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)


def send_workbook(spool: Any, name: str) -> Response:
    """Send the workbook written into `spool` (from `spooled`) as an attachment; it closes it."""
    spool.seek(0)
    return send_file(spool, mimetype=XLSX, as_attachment=True, download_name=name)


def chosen_months() -> tuple[str, str, str | None]:
    """Return the first and last month asked for (the last 12 by default), and any problem."""
    default_first, default_last = compliance.last_months(utcnow())
    first = request.args.get("from", default_first).strip()[:20] or default_first
    last = request.args.get("to", default_last).strip()[:20] or default_last
    try:
        compliance.months_between(first, last)
    except ValueError:
        return (
            first,
            last,
            _(
                "Choose the months as YYYY-MM, the first not after the last, at most %(count)s "
                "months (for example %(first)s to %(last)s).",
                count=compliance.MAX_MONTHS,
                first=default_first,
                last=default_last,
            ),
        )
    return first, last, None


@bp.get("/compliance")
@role_required("reviewer", "admin")
def compliance_page() -> str | tuple[str, int]:
    """Show each month's reports due by clock: on time, late, open past due; the late ones."""
    first, last, problem = chosen_months()
    if problem:
        return render_template(
            "review/compliance.html", first=first, last=last, problem=problem, result=None
        ), 400
    result = compliance.measure(first, last, utcnow())
    late = list(islice(compliance.late_reports(result), LATE_SHOWN))
    return render_template(
        "review/compliance.html",
        first=first,
        last=last,
        problem=None,
        result=result,
        clocks=compliance.CLOCKS,
        late=late,
        late_total=sum(getattr(result.figures(), state) for state in compliance.LATE_STATES),
        language=current_language(),
    )


@bp.get("/compliance.xlsx")
@role_required("reviewer", "admin")
def compliance_workbook() -> Response | tuple[str, int]:
    first, last, problem = chosen_months()
    if problem:
        return render_template(
            "review/compliance.html", first=first, last=last, problem=problem, result=None
        ), 400
    spool = spooled()
    compliance.write_workbook(compliance.measure(first, last, utcnow()), spool, current_language())
    return send_workbook(spool, f"compliance-{first}-{last}.xlsx")


def render_listing_form(problems: dict[str, str] | None = None) -> str:
    products = db.session.scalars(sa.select(Product).order_by(Product.generic_name)).all()
    return render_template(
        "review/listing.html",
        products=products,
        typed={name: request.args.get(name, "")[:200] for name in ("product", "from", "to")},
        problems=problems or {},
    )


@bp.get("/listing")
@role_required("reviewer", "admin")
def listing_form() -> str:
    """Offer the periodic line listing: a product and a period."""
    return render_listing_form()


@bp.get("/listing.xlsx")
@role_required("reviewer", "admin")
def listing_workbook() -> Response | tuple[str, int]:
    """Send the line listing of a product's cases with day 0 in the period."""
    args = {name: request.args.get(name, "")[:200] for name in ("product", "from", "to")}
    problems = {}
    try:
        first, last = listing.parse_period(args["from"], args["to"])
    except ValueError:
        problems["period"] = _(
            "Enter the period as two dates written like 2026-01-01, the first not after the last."
        )
    try:
        choice = listing.find_product(args["product"])
    except LookupError:
        problems["product"] = _(
            "No product of that approval number or name is in the catalogue or in any report."
        )
    if problems:
        return render_listing_form(problems), 400
    spool = spooled()
    tally = listing.write_listing(choice, first, last, spool, current_language())
    with write_transaction() as session:
        audit.record(
            session,
            current_user.email,
            "listing downloaded",
            new=f"{choice.label()} {first}..{last}: {tally.cases} cases",
        )
    return send_workbook(spool, listing.file_name(choice, first, last))
