"""Duplicate candidates on the case page: side by side, and staff's decision on each pair."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from adr import cases, duplicates, regulatory, vocab
from adr.auth.views import role_required
from adr.cases.assessment import Assessment, apply, problems
from adr.extensions import db
from adr.i18n import current_language
from adr.models import Case, DuplicateCandidate, write_transaction
from adr.review import bp
from adr.review.integrity import flash_applied
from adr.review.queries import find_report

DECISIONS = ("duplicate", "not_duplicate")


@dataclass
class ComparedRow:
    label: str
    this: str
    other: str
    verdict: str | None  # an `adr.duplicates` verdict; None for what identifies the case


@dataclass
class CandidateView:
    """One pair as the case page shows it: the other case beside this one."""

    pair: DuplicateCandidate
    reference: str
    rows: list[ComparedRow]


def shown_age(view: cases.CurrentView, language: str) -> str:
    age = view.patient_age
    unit = vocab.label(vocab.AGE_UNIT, view.patient_age_unit, language) if age is not None else ""
    parts = [f"{age} {unit}".strip() if age is not None else "", str(view.patient_birth_date or "")]
    return " · ".join(part for part in parts if part)


def shown_products(view: cases.CurrentView) -> str:
    return " / ".join(
        " ".join(filter(None, (drug.generic_name, drug.brand_name, drug.approval_number)))
        for drug in duplicates.suspects(view)
    )


def compared_rows(
    this_case: Case, this: cases.CurrentView, other_case: Case, other: cases.CurrentView
) -> list[ComparedRow]:
    """Return the fields of two cases side by side, each with how they compare."""
    language = current_language()
    verdicts = duplicates.compare(this, other).verdicts

    def received(case: Case) -> str:
        return f"{case.first_report.received_at.astimezone(regulatory.CHINA):%Y-%m-%d %H:%M}"

    def values(view: cases.CurrentView) -> dict[str, str]:
        return {
            "name": view.patient_name or "",
            "sex": vocab.label(vocab.SEX, view.patient_sex, language) or "",
            "age": shown_age(view, language),
            "product": shown_products(view),
            "batch": " / ".join(sorted(duplicates.suspect_batches(view))),
            "onset": str(view.event_onset_date or ""),
            "reaction": duplicates.reaction_text(view) or "",
        }

    labels = {
        "name": _("Patient name or initials"),
        "sex": _("Sex"),
        "age": _("Age or birth date"),
        "product": _("Suspect products"),
        "batch": _("Batch numbers"),
        "onset": _("Onset"),
        "reaction": _("Reaction"),
    }
    mine, theirs = values(this), values(other)
    rows = [ComparedRow(_("Received"), received(this_case), received(other_case), None)]
    rows += [ComparedRow(labels[name], mine[name], theirs[name], verdicts[name]) for name in labels]
    return rows


def duplicate_section(case: Case) -> list[CandidateView]:
    """Return the case's candidate pairs, either direction, with the other case beside it.

    A case merged into another holds no reports: its pairs are not shown.
    """
    pairs = duplicates.candidates_of(case.id)
    others = {pair.candidate_case_id if pair.case_id == case.id else pair.case_id for pair in pairs}
    views = duplicates.current_views([case.id, *others])
    loaded = {c.id: c for c in db.session.scalars(sa.select(Case).where(Case.id.in_(others)))}
    result = []
    for pair in pairs:
        other_id = pair.candidate_case_id if pair.case_id == case.id else pair.case_id
        other = loaded[other_id]
        if not other.reports:
            continue
        rows = compared_rows(case, views[case.id], other, views[other_id])
        result.append(CandidateView(pair, other.first_report.reference, rows))
    return result


@bp.post("/reports/<reference>/duplicates/<other>")
@role_required("reviewer", "admin")
def decide_duplicate(reference: str, other: str) -> Response:
    """Mark this case a duplicate of the other (through the assessment), or the pair distinct."""
    report, original = find_report(reference), find_report(other)
    case = report.case
    candidate = duplicates.pair(case.id, original.case_id)
    if candidate is None:
        abort(404)
    back = redirect(
        url_for("review.case", reference=report.reference) + "#duplicate-candidates", 303
    )
    decision = request.form.get("decision", "")
    if decision not in DECISIONS:
        flash(_("Choose whether the cases are duplicates."))
        return back
    if candidate.decision != "none":
        flash(_("This pair was judged already."))
        return back
    candidate_id = candidate.id

    def record(session: Session) -> None:
        duplicates.decide(session, candidate_id, decision, current_user.email)

    if decision == "not_duplicate":
        with write_transaction() as session:
            record(session)
        flash(_("Saved: not a duplicate. This pair will not be proposed again."))
        return back
    change = Assessment.of(case, status="duplicate", duplicate_of=original.case.first_report)
    found = problems(case, change, other)
    if found:
        for message in found.values():
            flash(message)
        return back
    applied = apply(case, change, current_user.email)  # the merge records the pair's decision
    if applied.awaiting:
        flash_applied(applied)
    else:
        flash(_("Saved: this case is a duplicate of %(reference)s.", reference=original.reference))
    return back
