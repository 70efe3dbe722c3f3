"""Staff pages of periodic reports: the PSUR tabulations, exposure, the annual report, charts."""

from __future__ import annotations

import io
import re
import warnings
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response as Sent

from adr import audit, vocab
from adr.auth.views import role_required
from adr.extensions import db
from adr.i18n import current_language
from adr.models import Product, write_transaction
from adr.regulator import periodic
from adr.review import bp
from adr.review.compliance import send_workbook, spooled
from adr.review.queries import utcnow

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FIELDS = ("product", "from", "to", "dlp")
EXPOSURE_FIELDS = ("product", "unit", "from", "to", "amount", "note")
FIRST_YEAR = 2000
PAGE_PT_LINES = 500  # more PT lines than this: the page shows the SOCs, the workbook every PT


def chosen_year() -> tuple[int, str | None]:
    """Return the year asked for (this year by default), and any problem with it."""
    return chosen_year_of(request.args.get("year", ""))


def chosen_year_of(typed: str) -> tuple[int, str | None]:
    """Return a typed year (this year when empty), and any problem with it."""
    this_year = utcnow().year
    typed = typed.strip()[:10]
    if not typed:
        return this_year, None
    if typed.isdigit() and FIRST_YEAR <= int(typed) <= this_year + 1:
        return int(typed), None
    return this_year, _(
        "Choose a year from %(first)s to %(last)s.", first=FIRST_YEAR, last=this_year + 1
    )


def chosen_interval() -> tuple[dict[str, str], dict[str, str], Any]:
    """Return what was typed, the problems with it, and the tabulation when all is well."""
    typed = {name: request.args.get(name, "").strip()[:200] for name in FIELDS}
    if not any(typed.values()):
        return typed, {}, None
    problems = {}
    try:
        interval = periodic.parse_interval(typed["from"], typed["to"], typed["dlp"] or None)
    except ValueError:
        problems["interval"] = _(
            "Enter the interval as two dates of the years %(first)s to %(last)s written like "
            "2026-01-01, the first not after the last, and a data lock point (optional) within "
            "the interval.",
            first=periodic.FIRST_YEAR,
            last=periodic.LAST_YEAR,
        )
    try:
        product = periodic.find_product(typed["product"])
    except LookupError:
        problems["product"] = _("Choose a product of the catalogue.")
    if problems:
        return typed, problems, None
    return typed, {}, periodic.tabulate(product, interval, current_language())


def render_page(
    exposure_typed: dict[str, str] | None = None,
    exposure_problems: dict[str, str] | None = None,
    correction: dict[str, Any] | None = None,
) -> tuple[str, int]:
    """Render the periodic reports page, 400 when anything asked for is refused."""
    typed, problems, tabulation = chosen_interval()
    year, year_problem = chosen_year()
    figures = periodic.stored_figures(year)
    on_time = periodic.compliance.measure(f"{year:04d}-01", f"{year:04d}-12", utcnow())
    products = db.session.scalars(sa.select(Product).order_by(Product.generic_name)).all()
    page = render_template(
        "review/periodic.html",
        products=products,
        typed=typed,
        problems=problems,
        tabulation=tabulation,
        year=year,
        year_problem=year_problem,
        months=periodic.months_of(year),
        stored=figures,
        on_time=on_time,
        exposure=exposure_typed or {"unit": "packs"},
        exposure_problems=exposure_problems or {},
        correction=correction or {},
        language=current_language(),
        sources=periodic.SOURCES,
        units=vocab.EXPOSURE_UNIT,
        per=periodic.PER,
        steps=vocab.SIGNAL_STEP,
        statuses=vocab.SIGNAL_STATUS,
        not_coded=periodic.NOT_CODED,
        show_pts=tabulation is None
        or sum(len(block.lines) for block in tabulation.socs) <= PAGE_PT_LINES,
        page_pt_lines=PAGE_PT_LINES,
    )
    refused = problems or year_problem or exposure_problems or correction
    return page, 400 if refused else 200


@bp.get("/periodic")
@role_required("reviewer", "admin")
def periodic_page() -> tuple[str, int]:
    """Show a product's periodic tabulations, the exposure form, the annual report, charts."""
    return render_page()


@bp.get("/periodic.xlsx")
@role_required("reviewer", "admin")
def periodic_workbook() -> Sent | tuple[str, int]:
    """Send the tabulation workbook of a product's interval."""
    _typed, _problems, tabulation = chosen_interval()
    if tabulation is None:
        return render_page()[0], 400
    spool = spooled()
    listed = periodic.write_periodic(tabulation, spool, current_language())
    product, interval = tabulation.product, tabulation.interval
    with write_transaction() as session:
        audit.record(
            session,
            current_user.email,
            "periodic downloaded",
            new=f"{product.approval_number} {interval.first}..{interval.end} DLP {interval.dlp}: "
            f"{tabulation.cases.cumulative} cases, {listed} in the interval",
        )
    return send_workbook(spool, periodic.file_name(product, interval))


@bp.get("/periodic/annual.xlsx")
@role_required("reviewer", "admin")
def annual_workbook() -> Sent | tuple[str, int]:
    """Send the annual report's figures of a year."""
    year, problem = chosen_year()
    if problem:
        return render_page()
    spool = spooled()
    periodic.write_annual(periodic.annual(year, utcnow()), spool, current_language())
    with write_transaction() as session:
        audit.record(
            session, current_user.email, "periodic downloaded", new=f"annual report {year}"
        )
    return send_workbook(spool, f"annual-report-{year}.xlsx")


@bp.post("/periodic/exposure")
@role_required("reviewer", "admin")
def exposure_entry() -> Sent | tuple[str, int]:
    """Record how much of a product reached patients in a period (audited)."""
    typed = {
        name: request.form.get(f"exposure-{name}", "").strip()[:500] for name in EXPOSURE_FIELDS
    }
    try:
        with write_transaction() as session:
            row = periodic.add_exposure(session, typed, current_user.email)
            audit.record(
                session,
                current_user.email,
                "exposure entered",
                new=f"{row.product_id} {row.unit} {row.period_start}..{row.period_end}: "
                f"{row.amount}",
            )
    except periodic.ExposureRefused as refused:
        return render_page(typed, {refused.field: exposure_message(refused.reason)})
    flash(_("Exposure recorded."))
    kept: dict[str, Any] = request.args.to_dict()  # the tabulation shown before
    return redirect(url_for("review.periodic_page", **kept), 303)


@bp.post("/periodic/exposure/<int:exposure_id>")
@role_required("reviewer", "admin")
def exposure_correction(exposure_id: int) -> Sent | tuple[str, int]:
    """Correct an exposure entry's amount or remove it, with a reason (audited)."""
    typed = {name: request.form.get(name, "").strip()[:500] for name in ("action", "amount")}
    typed["reason"] = request.form.get("reason", "").strip()[:500]
    try:
        with write_transaction() as session:
            periodic.correct_exposure(session, exposure_id, typed, current_user.email)
    except periodic.ExposureRefused as refused:
        problem = exposure_message(refused.reason)
        return render_page(correction=typed | {"id": exposure_id, "problem": problem})
    flash(_("Exposure removed.") if typed["action"] == "remove" else _("Exposure corrected."))
    kept: dict[str, Any] = request.args.to_dict()
    return redirect(url_for("review.periodic_page", **kept), 303)


@bp.post("/periodic/figures")
@role_required("reviewer", "admin")
def compute_figures() -> Sent | tuple[str, int]:
    """Count a year's cases per month by product now and store them (audited)."""
    year, problem = chosen_year_of(request.form.get("year", ""))
    if problem:
        return render_page()[0], 400
    cases = periodic.compute_figures(year, current_user.email)
    flash(_("The cases per month of %(year)s are computed: %(cases)s.", year=year, cases=cases))
    kept: dict[str, Any] = request.args.to_dict() | {"year": year}
    return redirect(url_for("review.periodic_page", **kept) + "#annual-title", 303)


def exposure_message(reason: str) -> str:
    """Return what a refused exposure entry is told, in the page's language."""
    return {
        "product": _("Choose a product of the catalogue."),
        "unit": _("Choose packs sold or patient-days."),
        "dates": _("Enter the period as two dates written like 2026-01-01."),
        "order": _("The period starts after it ends."),
        "long": _("A period of exposure is at most five years."),
        "amount": _("Enter the amount as a whole number greater than zero."),
        "absurd": _("That is more than a hundred million a day: check the amount."),
        "overlap": _(
            "Exposure in this unit is already recorded for part of this period; "
            "periods of one unit must not overlap."
        ),
        "gone": _("That exposure entry no longer exists."),
        "reason": _("Give the reason for the correction or removal."),
    }[reason]


# Charts: matplotlib draws SVG on the server; text stays text (the browser's CJK fonts draw it).


def new_figure(width: float, height: float) -> Figure:
    """Return an empty figure. matplotlib is imported here, when a chart is drawn, so that
    web workers and commands that draw none do not carry it (some 27 MB)."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def svg_of(figure: Figure) -> Response:
    """Return a figure as an SVG response: every text XML-escaped by matplotlib, no script."""
    out = io.StringIO()
    import matplotlib

    with (
        matplotlib.rc_context(
            {"svg.fonttype": "none", "svg.hashsalt": "adr", "text.parse_math": False}
        ),
        warnings.catch_warnings(),
    ):
        # The server's fonts lack CJK glyphs; only the layout estimate uses them.
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        figure.tight_layout()
        figure.savefig(out, format="svg", metadata={"Date": None})
    response = Response(out.getvalue(), mimetype="image/svg+xml")
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    response.headers["Cache-Control"] = "private, no-store"
    return response


XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def chart_label(name: str) -> str:
    """Return a product's name fit for a chart's legend: characters XML forbids dropped, and a
    leading underscore (which matplotlib's legend would hide) kept behind a space."""
    name = XML_FORBIDDEN.sub("", name)
    return f" {name}" if name.startswith("_") else name


def month_labels(months: list[str]) -> list[str]:
    return [month[5:] for month in months]


@bp.get("/periodic/cases.svg")
@role_required("reviewer", "admin")
def cases_chart() -> Response:
    """Draw the cases first known each month of a year, one line per product (as stored)."""
    year, _problem = chosen_year()
    stored = periodic.stored_figures(year)
    months, series = periodic.months_of(year), stored.series if stored else {}
    figure = new_figure(8, 4)
    axes = figure.add_subplot()
    for label, counts in series.items():
        axes.plot(month_labels(months), counts, marker="o", label=chart_label(label))
    axes.set_title(_("Cases per month by product, %(year)s", year=year))
    axes.set_xlabel(_("Month"))
    axes.set_ylabel(_("Cases"))
    from matplotlib.ticker import MaxNLocator

    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    if series:
        axes.legend(fontsize="small")
    return svg_of(figure)


@bp.get("/periodic/on-time.svg")
@role_required("reviewer", "admin")
def on_time_chart() -> Response:
    """Draw the on-time rate of each month of a year (by due month, as the compliance page)."""
    year, _problem = chosen_year()
    measured = periodic.compliance.measure(f"{year:04d}-01", f"{year:04d}-12", utcnow())
    rates = [measured.figures(month).rate for month in measured.months]
    figure = new_figure(8, 3.5)
    axes = figure.add_subplot()
    shown = [
        (label, rate * 100)
        for label, rate in zip(month_labels(measured.months), rates, strict=True)
        if rate is not None
    ]
    axes.bar(month_labels(measured.months), [0] * len(measured.months))
    if shown:
        axes.bar([label for label, _rate in shown], [rate for _label, rate in shown], color="C0")
    for position, rate in enumerate(rates):
        if rate is None:  # nothing owed: no bar, unlike a month at 0 %
            axes.text(position, 2, "—", ha="center", va="bottom")
    axes.set_ylim(0, 100)
    axes.set_title(_("On-time rate by month due, %(year)s", year=year))
    axes.set_xlabel(_("Month"))
    axes.set_ylabel("%")
    return svg_of(figure)
