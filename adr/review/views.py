"""Views of the staff workspace: parse the request, call the queries and rules, render."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, cast
from urllib.parse import parse_qsl, urlencode

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import selectinload
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from adr import accounts, audit, batches, cases, products, regulatory, search, vocab
from adr.auth.views import role_required
from adr.cases.assessment import Assessment, apply, problems
from adr.cases.reports import reference_for_token, store_report
from adr.extensions import db, login_manager
from adr.http import CleanParameters
from adr.i18n import current_language
from adr.inbox import messages, triage
from adr.intake.forms import StaffReportForm, fields_in_error, plain_number
from adr.intake.pages import render_form
from adr.models import AuditEntry, Case, OutboxMail, Report, User, write_transaction
from adr.regulator.workbook import parse_month, previous_month, write_workbook
from adr.review import bp, inbox
from adr.review.coding import Refusal, reaction_section
from adr.review.duplicates import duplicate_section
from adr.review.forms import (
    AssessmentForm,
    naranjo_answers,
    naranjo_questions,
    report_choices,
    status_choices,
)
from adr.review.holder import HolderForm, holder_section
from adr.review.integrity import CorrectionForm, flash_applied, integrity_section
from adr.review.queries import (
    MAX_PAGE,
    PAGE_SIZE,
    SORTS,
    Filters,
    dashboard_counts,
    find_report,
    mail_trouble,
    not_ready_soon,
    paginate,
    report_query,
    utcnow,
)
from adr.review.queue import Bulk, account_id, assignable, staff_for_filters, workloads
from adr.signals import log as signal_log


@bp.before_request
def staff_only() -> Response | None:
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if needs_second_factor() and request.endpoint != "review.enrol_totp":
        flash(_("Set up a second factor before you go on: every staff account needs one."))
        return redirect(url_for("review.enrol_totp"))
    return None


def needs_second_factor() -> bool:
    """Return whether the deployment requires a second factor the signed-in user lacks."""
    return current_app.config["STAFF_TOTP"] == "required" and current_user.totp_secret is None


@bp.after_request
def no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/")
@role_required("reviewer", "admin")
def dashboard() -> str:
    return render_dashboard()


def render_dashboard(month: str | None = None, month_error: str | None = None) -> str:
    now = utcnow()
    return render_template(
        "review/dashboard.html",
        counts=dashboard_counts(now),
        not_ready=not_ready_soon(now),
        mail_trouble=mail_trouble(),
        batch_clusters=batches.batches_above_threshold(),
        workloads=workloads(),
        now=now,
        month=month or previous_month(now),
        month_error=month_error,
        inbox=triage.waiting(db.session(), now),
        signals=signal_log.due(db.session(), regulatory.china_today(now)),
    )


def filters_from_request(args: MultiDict[str, str] | None = None) -> Filters:
    """Return the list's filters from the URL (or `args`); without an order, by due date."""
    args = request.args if args is None else args
    assigned, sort = args.get("assigned", "")[:12], args.get("sort", "")
    return Filters(
        q=args.get("q", "")[:100],
        status=args.get("status", "") if args.get("status") in vocab.STATUS else "",
        serious=args.get("serious") == "1",
        overdue=args.get("overdue") == "1",
        due_soon=args.get("due_soon") == "1",
        received_today=args.get("received_today") == "1",
        deaths=args.get("deaths") == "1",
        mail_failed=args.get("mail_failed") == "1",
        month=args.get("month", "")[:7],
        batch=args.get("batch", "")[:35],
        source=args.get("source", "") if args.get("source") in vocab.SOURCE else "",
        due_today=args.get("due_today") == "1",
        investigation=args.get("investigation") == "1",
        incomplete=args.get("incomplete") == "1",
        open=args.get("open") == "1",
        assigned=assigned if assigned in ("me", "none") or account_id(assigned) else "",
        sort=sort if sort in SORTS else ("" if args.get("q") else "due"),
    )


@bp.get("/reports")
@role_required("reviewer", "admin")
def reports() -> str:
    return render_queue()


def render_queue(bulk: Bulk | None = None, query_string: str | None = None) -> str:
    """Render the list (the queue) the URL asks for, or `query_string` asks for when a bulk
    action posted from it was refused (`bulk`, its values kept)."""
    args = request.args if query_string is None else CleanParameters(parse_qsl(query_string))
    query_string = urlencode(list(args.items(multi=True)))  # cleaned, as the list links it
    filters = filters_from_request(args)
    now = utcnow()
    number = args.get("page", 1, type=int)
    if not 1 <= number <= MAX_PAGE:
        abort(404)
    query = report_query(filters, now, current_user.id)
    loaded = selectinload(Report.case).selectinload(Case.assigned_to)
    page = paginate(query.options(selectinload(Report.drugs), loaded), filters, number)
    more_than = None
    if filters.q:  # a search counts to this page's end, at least to COUNT_LIMIT, and one more
        counted_to = max(search.COUNT_LIMIT, number * PAGE_SIZE)
        page.total = search.count_up_to(query, counted_to + 1)
        more_than = counted_to if page.total > counted_to else None
    return render_template(
        "review/list.html",
        page=page,
        more_than=more_than,
        filters=filters,
        now=now,
        view=case_view,
        staff=staff_for_filters(),
        saved_filters=current_user.saved_filters,
        bulk=bulk,
        query_string=query_string,
    )


@bp.route("/reports/new", methods=["GET", "POST"])
@role_required("reviewer", "admin")
def new_report() -> Response | str | tuple[str, int]:
    """Enter a report heard by phone, mail, letter, visit or literature, or a follow-up; one
    made from a message of the safety inbox (`inbox`) files the message with it."""
    if request.method == "GET":
        first = request.args.get("follow_up_of", type=regulatory.normalize_reference)
        form = StaffReportForm.blank(1, first)
        message = inbox.named_message(request.args.get("inbox"))  # a message of the safety inbox
        if message is not None:
            if message.outcome is not None:
                return inbox.already_triaged(message)
            inbox.prefill(form, message)
        return render_form(form, staff=True, inbox_message=message)
    form = StaffReportForm.posted()
    message = inbox.named_message(form.inbox_message.data)
    if {"add_drug", "remove_drug"} & request.form.keys():
        notice = form.change_drug_rows(request.form)
        return render_form(form, notice=notice, staff=True, inbox_message=message)
    token = form.token()
    reference = reference_for_token(token)
    if reference is None:
        if message is not None and message.outcome is not None:
            return inbox.already_triaged(message)
        if not form.validate():
            return render_form(form, 422, staff=True, inbox_message=message)
        filing = inbox.Filing.of(message) if message else None
        try:
            reference = store_report(
                form.to_report(),
                token,
                current_language(),
                current_user.email,
                also=filing.file if filing else None,
            ).reference
        except triage.AlreadyTriaged:  # by someone else meanwhile: nothing was stored
            assert message is not None  # only a message's filing refuses
            return inbox.already_triaged(message)
        if filing:
            filing.say()
    return redirect(url_for("review.case", reference=reference), 303)


@bp.get("/reports/<reference>")
@role_required("reviewer", "admin")
def case(reference: str) -> str:
    report = find_report(reference)
    with write_transaction() as session:
        audit.record(session, current_user.email, "case viewed", report.id)
    return render_case(report, stored_assessment(report.case))


def stored_assessment(case: Case) -> AssessmentForm:
    """Return the assessment form holding the case's stored assessment."""
    form = AssessmentForm(
        formdata=None, obj=case, status=case.status, effective_from=case.reports[-1].reference
    )
    form.duplicate_of.data = case.duplicate_of.first_report.reference if case.duplicate_of else None
    for question, answer in zip(naranjo_questions(form), case.naranjo_answers or [], strict=False):
        question.data = answer
    return form


def render_case(
    report: Report,
    form: AssessmentForm,
    refused: Refusal | None = None,
    correction: CorrectionForm | None = None,
    holder: HolderForm | None = None,
) -> str:
    """Render the case page; `refused` is a refused form of the reactions or the holder form's
    rows, `correction` a refused correction, `holder` the refused holder form."""
    case = report.case
    form.status.choices = status_choices(case.status)
    form.effective_from.choices = report_choices(case.reports)
    report_ids = [r.id for r in case.reports]
    entries = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.report_id.in_(report_ids)).order_by(AuditEntry.id)
    ).all()
    mails = db.session.scalars(
        sa.select(OutboxMail).where(OutboxMail.report_id.in_(report_ids)).order_by(OutboxMail.id)
    ).all()
    # Each distinct error once (without a server, every mail has the same); rows refer to it.
    mail_errors = list(dict.fromkeys(mail.last_error for mail in mails if mail.last_error))
    numbered = [(m, mail_errors.index(m.last_error) + 1 if m.last_error else None) for m in mails]
    view = case_view(report)
    current = cases.current_view(case.reports)
    facts = cast(regulatory.CaseFacts, current)
    completeness = regulatory.completeness(facts)
    elements = regulatory.minimum_elements(facts)
    language = view["language"]
    return render_template(
        "review/case.html",
        report=report,
        case=case,
        view=view,
        current=sections(current, view["term"], language, current.sources, current.drug_sources),
        versions=[(r, case_view(r), sections(r, view["term"], language)) for r in case.reports],
        elements=elements,
        missing_elements=[
            view["term"](vocab.MINIMUM_ELEMENT, name)
            for name, present in elements.items()
            if not present
        ],
        deadline=case_deadline(case, language),
        staff=assignable(case.assigned_to),
        reported_serious="、".join(
            dict.fromkeys(
                view["term"](vocab.SERIOUSNESS, c) for r in case.reports for c in r.event_serious
            )
        ),
        completeness=completeness,
        missing=[vocab.field_label(name, language) for name in completeness.missing],
        form=form,
        naranjo=naranjo_questions(form),
        errors=fields_in_error(form) + (fields_in_error(correction) if correction else []),
        entries=entries,
        mails=numbered,
        mail_errors=mail_errors,
        now=utcnow(),
        duplicate_candidates=duplicate_section(case),
        product_checks=products.case_checks(case.reports, current),
        reactions=reaction_section(report, current, refused),
        integrity=integrity_section(report, correction),
        holder=holder_section(report, current, holder, refused),
    )


@bp.post("/reports/<reference>/assessment")
@role_required("reviewer", "admin")
def assess(reference: str) -> Response | tuple[str, int]:
    report = find_report(reference)
    form = AssessmentForm()
    if not form.validate():
        return render_case(report, form), 422
    typed = form.duplicate_of.data
    original_reference = regulatory.normalize_reference(typed or "")
    original = original_reference and db.session.scalar(
        sa.select(Report).where(Report.reference == original_reference)
    )
    case = report.case
    effective = next((r for r in case.reports if r.reference == form.effective_from.data), None)
    change = Assessment(
        status=form.status.data or case.status,
        invalid_reason=form.invalid_reason.data or None,
        status_reason=form.status_reason.data,
        duplicate_of=original or None,
        effective_from=effective,
        decision_reason=form.decision_reason.data or None,
        assessed_serious=form.assessed_serious.data or [],
        assessed_outcome=form.assessed_outcome.data or None,
        expectedness=form.expectedness.data,
        company_causality=form.company_causality.data,
        naranjo_answers=naranjo_answers(form),
        submitted_to_regulator_on=form.submitted_to_regulator_on.data,
        national_case_number=form.national_case_number.data,
        investigation_reported_on=form.investigation_reported_on.data,
        note=form.note.data,
    )
    found = problems(case, change, typed)
    if found:
        for name, message in found.items():
            form[name].errors.append(message)
        return render_case(report, form), 422
    following = request.form.get("then") == "next" and regulatory.normalize_reference(
        request.form.get("next", "")
    )
    if following:  # the next case opens: say which case this was
        flash(_("Case %(reference)s:", reference=report.reference))
    flash_applied(apply(case, change, current_user.email))
    return redirect(url_for("review.case", reference=following or report.reference), 303)


@bp.get("/exports")
@role_required("reviewer", "admin")
def choose_export() -> Response | tuple[str, int]:
    """Lead the month picker to that month's workbook."""
    month = request.args.get("month", "").strip()[:20]
    try:
        parse_month(month)
    except ValueError:
        message = _("Choose a month, written like %(example)s.", example=previous_month(utcnow()))
        return render_dashboard(month, message), 400
    return redirect(url_for("review.export_month", month=month), 303)


@bp.get("/exports/<month>.xlsx")
@role_required("reviewer", "admin")
def export_month(month: str) -> Response:
    try:
        parse_month(month)
    except ValueError:
        abort(404)
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 - send_file closes it
    write_workbook(month, spool)
    spool.seek(0)
    with write_transaction() as session:
        audit.record(session, current_user.email, "export downloaded", field=month)
    return send_file(
        spool,
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        as_attachment=True,
        download_name=f"ADR-{month}.xlsx",
    )


@bp.route("/users", methods=["GET", "POST"])
@role_required("admin")
def users() -> str | Response:
    if request.method == "POST":
        try:
            if request.form.get("action") == "create":
                accounts.create_user(
                    request.form.get("email", ""),
                    request.form.get("name", ""),
                    request.form.get("role", ""),
                    request.form.get("password", ""),
                    current_user.email,
                )
            elif request.form.get("action") in ("deactivate", "reactivate"):
                email = request.form.get("email", "")
                named = accounts.find_user(email)  # as typed: spaces and case do not matter
                if named is not None and named.id == current_user.id:
                    raise accounts.AccountError(_("You cannot deactivate your own account."))
                accounts.set_active(
                    email, request.form["action"] == "reactivate", current_user.email
                )
        except accounts.AccountError as error:
            flash(str(error))
        return redirect(url_for("review.users"), 303)
    staff = db.session.scalars(sa.select(User).order_by(User.email)).all()
    return render_template("review/users.html", staff=staff)


def case_view(report: Report) -> dict[str, Any]:
    """Return what the list and the case page show of a report, labelled in the page language."""
    language = current_language()

    term = partial(vocab.label, language=language)
    now = utcnow()
    case = report.case
    overdue = regulatory.is_overdue(report.due_at, report.submitted_to_regulator_on, now)
    due_soon = (
        report.due_at is not None
        and not overdue
        and report.submitted_to_regulator_on is None
        and case.status in regulatory.OPEN_STATUSES
        and report.due_at - now < timedelta(days=3)
    )
    suspects = regulatory.suspect_drugs(report)
    return {
        "received": report.received_at.astimezone(regulatory.CHINA),
        "due": report.due_at.astimezone(regulatory.CHINA) if report.due_at else None,
        "due_text": due_text(report, language),
        "overdue": overdue,
        "due_soon": due_soon,
        "category": term(vocab.REPORT_CATEGORY, report.report_category),
        "status": term(vocab.STATUS, case.status),
        "source": term(vocab.SOURCE, report.source),
        "outcome": term(vocab.OUTCOME, report.event_outcome),
        "product": " / ".join(d.generic_name or d.brand_name or "" for d in suspects),
        "batch": " / ".join(d.batch_number or "" for d in suspects),
        "term": term,
        "language": language,
    }


@dataclass(frozen=True)
class Deadline:
    """The deadline a case page's summary shows: the soonest a report of the case still owes."""

    text: str
    overdue: bool


def case_deadline(case: Case, language: str) -> Deadline:
    """Return the soonest deadline of a report not sent yet; else the latest report's state."""
    owing = [r for r in case.reports if r.due_at and r.submitted_to_regulator_on is None]
    if case.status in regulatory.NOT_FOR_REGULATOR or not owing:
        latest = case.reports[-1]
        if latest.submitted_to_regulator_on and case.status not in regulatory.NOT_FOR_REGULATOR:
            return Deadline(_("sent on %(day)s", day=latest.submitted_to_regulator_on), False)
        return Deadline(due_text(latest, language), False)
    soonest = min(owing, key=lambda r: cast(datetime, r.due_at))
    overdue = regulatory.is_overdue(soonest.due_at, None, utcnow())
    return Deadline(due_text(soonest, language), overdue)


def due_text(report: Report, language: str) -> str:
    """Return a report's deadline as staff read it: a date, 立即 for a death, or no deadline."""
    if report.case.status in regulatory.NOT_FOR_REGULATOR or report.duplicate_copy:
        return vocab.NO_DEADLINE["not_for_regulator"].text(language)
    if report.due_at is None:  # a valid report without one: overseas, not serious
        return vocab.NO_DEADLINE["periodic" if report.day_zero else "incomplete"].text(language)
    day = f"{report.due_at.astimezone(regulatory.CHINA):%Y-%m-%d}"
    if report.day_zero and regulatory.is_death_clock(report.day_zero, report.due_at):
        return f"{vocab.IMMEDIATELY.text(language)} ({day})"
    return day


AUDIT_CODES = {
    "status": vocab.STATUS,
    "assessed_outcome": vocab.OUTCOME,
    "expectedness": vocab.EXPECTEDNESS,
    "company_causality": vocab.CAUSALITY,
    "report_category": vocab.REPORT_CATEGORY,
    "assessed_serious": vocab.SERIOUSNESS,
    "naranjo_answers": vocab.NARANJO_ANSWER,
    "occurrence_country": vocab.COUNTRIES,
    "patient_nationality": vocab.COUNTRIES,
    "autopsy": vocab.CONTINUING,
    "pregnancy_outcome": vocab.PREGNANCY_OUTCOME,
    "parent_sex": vocab.SEX,
}
CODES = {
    "reporter-kind": vocab.REPORTER_KIND,
    "reporter-organization_type": vocab.ORGANIZATION_TYPE,
    "patient-sex": vocab.SEX,
    "patient-age_unit": vocab.AGE_UNIT,
    "patient-past_adr": vocab.YES_NO_UNKNOWN,
    "patient-family_adr": vocab.YES_NO_UNKNOWN,
    "patient-history": vocab.HISTORY,
    "patient-pregnant": vocab.PREGNANT,
    "event-outcome": vocab.OUTCOME,
    "event-dechallenge": vocab.DECHALLENGE,
    "event-rechallenge": vocab.RECHALLENGE,
    "event-disease_impact": vocab.DISEASE_IMPACT,
    "event-serious": vocab.SERIOUSNESS,
    "event-causality": vocab.CAUSALITY,
    "drug-role": vocab.DRUG_ROLE,
    "drug-dose_unit": vocab.DOSE_UNIT,
    "drug-route": vocab.ROUTE,
}


def sections(
    record: Any,
    term: Any,
    language: str,
    sources: dict[str, Report] | None = None,
    drug_sources: list[Report] | None = None,
) -> list[tuple[str, list[tuple[str, Any, str | None]]]]:
    """Return a report's or a case view's fields by section, in the national form's order.

    Each row is (label, value, reference of the report it came from, when `sources` is given).
    """

    def shown(name: str, value: Any) -> Any:
        if isinstance(value, bool):
            return term(vocab.YES_NO, "yes" if value else "no")
        if isinstance(value, float):
            return plain_number(value)
        codes = CODES.get(name)
        if codes is None or value is None:
            return value
        if isinstance(value, list):
            return "、".join(term(codes, code) for code in value)
        return term(codes, value)

    def origin(column: str) -> str | None:
        source = (sources or {}).get(column)
        return source.reference if source else None

    result = []
    for section in ("reporter", "patient", "event"):
        rows = []
        for name in vocab.FIELDS:
            if name.startswith(section + "-"):
                column = name.replace("-", "_")
                label = vocab.field_label(name, language)
                rows.append((label, shown(name, getattr(record, column)), origin(column)))
        result.append((section, rows))
    for index, drug in enumerate(record.drugs):
        drug_origin = drug_sources[index].reference if drug_sources else None
        rows = [
            (label.text(language), shown(name, getattr(drug, name.split("-", 1)[1])), drug_origin)
            for name, label in vocab.FIELDS.items()
            if name.startswith("drug-")
        ]
        result.append(("drug", rows))
    if record.remarks:
        result.append(
            (
                "remarks",
                [(vocab.FIELDS["remarks"].text(language), record.remarks, origin("remarks"))],
            )
        )
    return result


@bp.app_context_processor
def staff_helpers() -> dict[str, Any]:
    from flask_wtf.csrf import generate_csrf
    from markupsafe import Markup

    from adr.i18n import current_language

    def csrf_token_field() -> Markup:
        return Markup('<input type="hidden" name="csrf_token" value="{}">').format(generate_csrf())

    def naranjo_band_label(score: int) -> str:
        """Return the band of a Naranjo score and the WHO-UMC level it suggests."""
        band = regulatory.naranjo_band(score)
        language = current_language()
        suggested = vocab.CAUSALITY[regulatory.SUGGESTED_CAUSALITY[band]].text(language)
        return _(
            "%(band)s; suggests %(level)s",
            band=vocab.NARANJO_BAND[band].text(language),
            level=suggested,
        )

    def audit_value(field: str | None, value: str | None) -> str:
        """Show a recorded value as staff read it: labels for codes, 是/否 for booleans."""
        language = current_language()
        codes = AUDIT_CODES.get(field or "")
        if value is None:
            return ""
        if value in ("True", "False"):
            return vocab.YES_NO["yes" if value == "True" else "no"].text(language)
        if field == "message" and value.startswith("{"):  # an inbox message's triage
            return triage.state_text(value, language)
        if field in ("due_at", "investigation_due_at"):  # a moment in UTC: shown in China time
            return f"{datetime.fromisoformat(value).astimezone(regulatory.CHINA):%Y-%m-%d %H:%M}"
        if codes is None:
            return value
        if value.startswith("["):
            chosen = json.loads(value)
            return "、".join(codes[c].text(language) if c in codes else c for c in chosen)
        return codes[value].text(language) if value in codes else value

    def view_term(codes: vocab.CodeList, code: str | None) -> str:
        return vocab.label(codes, code, current_language())

    def section_title(section: str) -> str:
        return {
            "reporter": _("Reporter"),
            "patient": _("Patient"),
            "event": _("The reaction"),
            "drug": _("Drug"),
            "remarks": _("Remarks"),
        }[section]

    def actor(name: str) -> str:
        named = {audit.PUBLIC_FORM: vocab.PUBLIC_FORM, messages.APP: vocab.INBOX_READER}
        return named[name].text(current_language()) if name in named else name

    return {
        "audit_value": audit_value,
        "actor": actor,
        "view_term": view_term,
        "section_title": section_title,
        "csrf_token_field": csrf_token_field,
        "month_now": lambda: f"{utcnow().astimezone(regulatory.CHINA):%Y-%m}",
        "today_iso": lambda: regulatory.china_today().isoformat(),
        "view_language": current_language,
        "vocab": vocab,
        "china_time": lambda moment: f"{moment.astimezone(regulatory.CHINA):%Y-%m-%d %H:%M}",
        "naranjo_band_label": naranjo_band_label,
        "field_label": lambda name: vocab.field_label(name, current_language()),
        "as_text": audit.as_text,
    }
