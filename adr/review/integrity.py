"""Case integrity on the staff side: corrections, approvals, merges undone, follow-up claims."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length

from adr import audit, regulatory, vocab
from adr.auth.views import role_required
from adr.cases import approvals, clock, corrections, literature, merges
from adr.cases.assessment import Applied, Assessment, apply, four_eyes, problems
from adr.extensions import db
from adr.i18n import current_language
from adr.intake.forms import clean_text
from adr.models import ApprovalRequest, Case, CaseMerge, Report, User, write_transaction
from adr.review import bp
from adr.review.coding import MAX_ID
from adr.review.queries import find_report

# The report's own columns a correction may name, in the national form's order.
REPORT_FIELDS = [
    "case-awareness_date",
    "case-source",
    "submitted_to_regulator_on",
    "national_case_number",
    "investigation_reported_on",
    "occurrence_country",
    *(
        name
        for name in vocab.FIELDS
        if name.split("-")[0] in ("reporter", "patient", "event")
        and name not in ("reporter-consent_contact", "reporter-consent_privacy")
    ),
    "remarks",
]
DRUG_FIELDS = [name.split("-", 1)[1] for name in vocab.FIELDS if name.startswith("drug-")]


class CorrectionForm(FlaskForm):
    report = SelectField(_l("Report corrected"), validate_choice=False, id="correction-report")
    field = SelectField(_l("Field"), validate_choice=False, id="correction-field")
    value = StringField(
        _l("Corrected value (empty to remove it)"),
        description=_l("A date as 2026-11-20; a choice by its label or its code."),
        id="correction-value",
    )
    reason = StringField(
        _l("Why (kept with the correction)"),
        filters=[clean_text],
        validators=[InputRequired(_l("Say why the report is corrected.")), Length(max=500)],
        id="correction-reason",
    )


def correction_form(case: Case, form: CorrectionForm | None = None) -> CorrectionForm:
    """Return the correction form of a case: its reports and every field they hold."""
    form = form or CorrectionForm(formdata=None, report=case.reports[-1].reference)
    language = current_language()
    form.report.choices = [SelectChoice(r.reference, r.reference) for r in case.reports]
    rows = max((len(r.drugs) for r in case.reports), default=0)
    names = [
        *REPORT_FIELDS,
        *(f"drugs-{index}-{name}" for index in range(rows) for name in DRUG_FIELDS),
    ]
    if any(r.source == "literature" for r in case.reports):
        names[2:2] = [f"literature-{name}" for name in literature.FIELDS]
    form.field.choices = [SelectChoice(n, vocab.field_label(n, language)) for n in names]
    return form


@dataclass
class MergeView:
    """A merge into this case, as its page shows it."""

    merge: CaseMerge
    references: list[str]  # of the reports it brought
    copies: list[str]  # those that added nothing
    sent: bool  # the duplicate's own report went to the national system
    undo_problem: str | None  # why it cannot be undone now


def integrity_section(report: Report, correction: CorrectionForm | None) -> dict[str, Any]:
    """Return what the case page shows of approvals, merges, claims and corrections."""
    case = report.case
    merged = []
    for record in merges.merged_into(case.id, db.session()):
        ids = [item["id"] for item in record.moved]
        brought = db.session.scalars(sa.select(Report).where(Report.id.in_(ids))).all()
        sent = bool(record.duplicate_case.submissions) or any(
            r.submitted_to_regulator_on for r in brought
        )
        merged.append(
            MergeView(
                record,
                [r.reference for r in brought],
                [r.reference for r in brought if r.duplicate_copy],
                sent,
                merges.undo_problem(db.session(), record),
            )
        )
    references = [r.reference for r in case.reports]
    claiming = db.session.scalars(
        sa.select(Report).where(Report.claimed_follow_up_of.in_(references))
    ).all()
    return {
        "pending": [(pending, summary(pending)) for pending in approvals.pending(case.id)],
        "merges": merged,
        "claim": report.claimed_follow_up_of,
        "claiming": [r for r in claiming if r.case_id != case.id],
        "correction": correction_form(case, correction),
    }


def flash_applied(applied: Applied) -> None:
    """Say what a saved change did, and what waits for a second person."""
    if applied.awaiting:
        language = current_language()
        steps = "、".join(vocab.label(vocab.APPROVAL_KIND, k, language) for k in applied.awaiting)
        flash(_("Awaiting a second person's approval: %(steps)s.", steps=steps))
        if applied.changed:
            flash(_("The rest was saved."))
    else:
        flash(_("Saved.") if applied.changed else _("Nothing changed."))


@bp.post("/reports/<reference>/corrections")
@role_required("reviewer", "admin")
def correct(reference: str) -> Response | tuple[str, int]:
    """Correct a field of one of the case's reports, with a reason."""
    from adr.review.views import render_case, stored_assessment

    page = find_report(reference)
    case = page.case
    form = correction_form(case, CorrectionForm())
    refused = lambda: (render_case(page, stored_assessment(case), correction=form), 422)  # noqa: E731
    if not form.validate():
        return refused()
    corrected = next((r for r in case.reports if r.reference == form.report.data), None)
    if corrected is None:
        form.report.errors.append(_("Choose a report of this case."))
        return refused()
    try:
        outcome = corrections.correct(
            corrected,
            form.field.data or "",
            request.form.getlist("value"),
            form.reason.data or "",
            current_user.email,
        )
    except corrections.CorrectionError as error:
        form[error.field].errors.append(str(error))
        return refused()
    except approvals.Stale as stale:  # another correction came first: the form comes back
        db.session.rollback()  # the page shows the report as it stands now
        form.value.errors.append(str(stale))
        return refused()[0], 409
    if outcome.awaiting:
        flash(_("The correction moves a deadline: it awaits a second person's approval."))
    else:
        flash(_("Corrected."))
    return redirect(url_for("review.case", reference=page.reference) + "#corrections", 303)


@bp.get("/approvals")
@role_required("reviewer", "admin")
def approvals_page(status: int = 200, message: str | None = None) -> tuple[str, int]:
    """List the requests awaiting a second person, oldest first."""
    waiting = approvals.pending()
    left = set(
        db.session.scalars(
            sa.select(User.email).where(
                User.email.in_({w.requested_by for w in waiting}), User.active.is_(False)
            )
        )
    )
    return render_template(
        "review/approvals.html", waiting=waiting, message=message, summary=summary, left=left
    ), status


@bp.post("/approvals/<int:request_id>")
@role_required("reviewer", "admin")
def decide_approval(request_id: int) -> Response | tuple[str, int]:
    """Approve or refuse a request; the requester's own is refused with 403."""
    decision = request.form.get("decision", "")
    if decision not in ("approve", "refuse"):
        return approvals_page(400, _("Choose to approve or to refuse."))
    note = (clean_text(request.form.get("note")) or "")[:500] or None
    if request_id > MAX_ID:
        abort(404)
    try:
        decided = approvals.decide(request_id, decision == "approve", current_user.email, note)
    except LookupError:
        abort(404)
    except approvals.NotAllowed:
        return approvals_page(403, _("A request needs another person: you asked for this one."))
    except approvals.Stale as stale:
        return approvals_page(409, _("This request cannot be carried out: %(why)s", why=stale))
    done = _("Approved.") if decided.status == "approved" else _("Refused: nothing changed.")
    flash(done)
    return redirect(url_for("review.approvals_page"), 303)


def summary(pending: ApprovalRequest) -> str:
    """Return what a request would do, in words staff read."""
    language = current_language()
    payload = pending.payload
    kind = vocab.label(vocab.APPROVAL_KIND, pending.kind, language)
    if pending.kind == "invalid":
        reason = vocab.label(vocab.INVALID_REASON, payload.get("invalid_reason"), language)
        return f"{kind}: {reason}" + (f" ({payload['reason']})" if payload.get("reason") else "")
    if pending.kind == "duplicate":
        return f"{kind}: {payload.get('duplicate_of')}"
    if pending.kind == "sent":
        dated = _(
            "%(day)s for %(reports)s; national case number %(number)s",
            day=payload.get("submitted_to_regulator_on"),
            reports="、".join(payload.get("reports", [])) or "—",
            number=payload.get("national_case_number") or "—",
        )
        status = payload.get("status")
        then = f"; → {vocab.label(vocab.STATUS, status, language)}" if status else ""
        return f"{kind}: {dated}{then}"
    if pending.kind == "correction":
        label = vocab.field_label(payload["field"], language)
        was = payload.get("original")
        moves = moved_text(payload.get("moves", []))
        field = payload["field"]
        change = (
            f"{payload['report']} {label}: {shown(was, field)} → {shown(payload['value'], field)}"
        )
        return f"{kind}: {change}" + (f"; {moves}" if moves else "")
    if pending.kind == "reassessment":
        changes = "; ".join(
            f"{vocab.label(vocab.ASSESSED_FIELD, name, language)}: "
            f"{shown(payload['before'].get(name), name)} → {shown(value, name)}"
            for name, value in payload["values"].items()
        )
        moves = moved_text(payload["moves"])
        rests_on = _("from %(reference)s", reference=payload["effective_from"])
        return f"{kind}: {changes} ({rests_on})" + (f"; {moves}" if moves else "")
    if pending.kind == "investigation":
        return f"{kind}: {payload['investigation_reported_on']}"
    if pending.kind == "unmerge":
        record = db.session.get(CaseMerge, payload["merge"])
        moved = [item["id"] for item in record.moved] if record else []
        references = db.session.scalars(
            sa.select(Report.reference).where(Report.id.in_(moved)).order_by(Report.id)
        )
        moves = moved_text(payload.get("moves", []))
        return f"{kind}: {'、'.join(references)}" + (f"; {moves}" if moves else "")
    return kind


def shown(value: Any, field: str | None = None) -> str:
    """Return a requested value as staff read it: labels for codes, — for nothing."""
    if value in (None, "", []):
        return "—"
    codes = {
        "assessed_serious": vocab.SERIOUSNESS,
        "assessed_outcome": vocab.OUTCOME,
        "expectedness": vocab.EXPECTEDNESS,
        "occurrence_country": vocab.COUNTRIES,
    }.get(field or "")
    if codes is None:
        return "、".join(map(str, value)) if isinstance(value, list) else str(value)
    language = current_language()
    chosen = value if isinstance(value, list) else [value]
    return "、".join(vocab.label(codes, code, language) or code for code in chosen)


def day(moment: str | None) -> str:
    """Return a requested deadline as a China date, or — for none."""
    if not moment:
        return "—"
    return f"{regulatory.china_date(datetime.fromisoformat(moment)):%Y-%m-%d}"


@bp.post("/merges/<int:merge_id>/undo")
@role_required("reviewer", "admin")
def undo_merge(merge_id: int) -> Response:
    """Put a wrongly merged duplicate back as it was (a second person approving under
    four-eyes); a reason is required."""
    record = db.session.get(CaseMerge, merge_id) if merge_id < MAX_ID else None
    if record is None:
        abort(404)
    # The first report the merge moved: where its reports are now (the original's case, or the
    # case it was merged into since) and where they go back to.
    home = db.session.scalar(sa.select(Report.reference).where(Report.id == record.moved[0]["id"]))
    back = url_for("review.case", reference=home) + "#merges"
    reason = (clean_text(request.form.get("reason")) or "")[:500]
    problem = merges.undo_problem(db.session(), record)
    if problem or not reason:
        flash(problem or _("Say why the merge was wrong."))
        return redirect(back, 303)
    if four_eyes():
        moves = merges.undo_moves(merge_id, current_user.email, reason)
        payload = {"merge": merge_id, "reason": reason, "moves": clock.stored_moves(moves)}
        with write_transaction() as session:
            approvals.request(
                session, record.original_case, current_user.email, "unmerge", payload, reason
            )
        flash_applied(Applied(awaiting=["unmerge"]))
        return redirect(back, 303)
    with write_transaction() as session:
        moves = merges.undo(session, merge_id, current_user.email, reason)
    flash(_("The merge was undone: the reports are back in their own case."))
    if moves:
        flash(moved_text(clock.stored_moves(moves)))
    return redirect(url_for("review.case", reference=home), 303)


def moved_text(moves: list[list[str | None]]) -> str:
    """Return stored deadline moves as staff read them."""
    return "; ".join(
        _("%(reference)s due %(old)s → %(new)s", reference=ref, old=day(old), new=day(new))
        if what == "due"
        else _(
            "%(reference)s: death investigation due %(old)s → %(new)s",
            reference=ref,
            old=day(old),
            new=day(new),
        )
        for ref, what, old, new in moves
    )


@bp.post("/reports/<reference>/claim")
@role_required("reviewer", "admin")
def decide_claim(reference: str) -> Response | tuple[str, int]:
    """Confirm a public report's claim to follow up a case (a merge into it), or reject it."""
    report = find_report(reference)
    claimed = report.claimed_follow_up_of
    back = redirect(url_for("review.case", reference=report.reference) + "#claim", 303)
    decision = request.form.get("decision", "")
    if not claimed or decision not in ("confirm", "reject"):
        flash(_("Choose whether the report follows up the case it names."))
        return back
    if decision == "reject":
        with write_transaction() as session:
            session.execute(
                sa.update(Report).where(Report.id == report.id).values(claimed_follow_up_of=None)
            )
            audit.record(
                session, current_user.email, "claim rejected", report.id, "follow_up_of", claimed
            )
        flash(_("Rejected: the report stays a case of its own."))
        return back
    original = db.session.scalar(sa.select(Report).where(Report.reference == claimed))
    if original is None:
        flash(_("No report has the reference it names: reject the claim."))
        return back
    change = Assessment.of(
        report.case,
        status="duplicate",
        duplicate_of=original,
        status_reason=_("a follow-up of %(reference)s", reference=claimed),
    )
    found = problems(report.case, change, claimed)
    if found:
        for message in found.values():
            flash(message)
        return back
    flash_applied(apply(report.case, change, current_user.email))
    return back
