"""E2B(R3) files on the case page: what stops one, generating and downloading, kept files; the
citations of a literature case (C.4.r)."""

from __future__ import annotations

import io
import logging
from typing import Any

from flask import Response, abort, g, request, send_file
from flask_babel import gettext as _
from flask_login import current_user

from adr import audit, vocab
from adr.auth.views import role_required
from adr.cases import literature
from adr.extensions import db
from adr.i18n import current_language
from adr.models import Case, Report, Submission, write_transaction
from adr.regulator import e2b
from adr.review import bp
from adr.review.coding import MAX_ID
from adr.review.queries import find_report

log = logging.getLogger(__name__)


@bp.app_template_global()
def e2b_section(case: Case) -> dict[str, Any]:
    """Return what the case page's E2B section shows: problems, kept files, what can be sent."""
    found = getattr(g, "e2b_problems", None)
    return {
        "problems": e2b.problems(case) if found is None else found,
        "notes": e2b.attachment_notes(case),
        "submissions": list(reversed(case.submissions)),
        "sent": any(submission.kind == "report" for submission in case.submissions),
        "reason_max": e2b.REASON_MAX,
        "error": getattr(g, "e2b_error", None),
    }


@bp.app_template_global()
def literature_section(case: Case) -> list[dict[str, Any]]:
    """Return the citation of each report from the literature (or citing one), as the case page
    shows it: its parts labelled, the DOI apart (a link), and the required parts it lacks."""
    language = current_language()
    label = lambda name: vocab.field_label(f"literature-{name}", language)  # noqa: E731
    return [
        {
            "reference": report.reference,
            "rows": [
                (label(name), value)
                for name, value in literature.citation(report).items()
                if name != "doi" and value not in (None, "")
            ],
            "doi": report.literature_doi,
            "missing": [label(name) for name in literature.missing(report)],
        }
        for report in case.reports
        if report.source == "literature" or literature.cites(report)
    ]


def case_page_again(report: Report, found: list[e2b.Problem], status: int = 409) -> tuple[str, int]:
    """Return the case page with the problems that stopped the file, answered 409."""
    from adr.review import views

    g.e2b_problems = found
    return views.render_case(report, views.stored_assessment(report.case)), status


def attachment(submission: Submission) -> Response:
    response = send_file(
        io.BytesIO(submission.xml.encode("utf-8")),
        mimetype="application/xml",
        as_attachment=True,
        download_name=e2b.file_name(submission),
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/reports/<reference>/e2b")
@role_required("reviewer", "admin")
def generate_e2b(reference: str) -> Response | tuple[str, int]:
    """Build the case's file, keep it and send it as a download; or show what stops it."""
    report = find_report(reference)
    kind = request.form.get("kind", "report")
    if kind not in e2b.KINDS:
        abort(400)
    reason = request.form.get("reason") or None
    try:
        with write_transaction() as session:
            submission = e2b.submit(session, report.case, current_user.email, kind, reason)
    except e2b.NotReady as not_ready:
        return case_page_again(report, not_ready.problems)
    except e2b.E2BError as error:  # a bug in the builder: which rules, never the values
        log.error("E2B file of %s failed: %s", report.case.id, ", ".join(error.rules))
        g.e2b_error = _("The file could not be built; tell an administrator.")
        return case_page_again(report, e2b.problems(report.case), 500)
    return attachment(submission)


@bp.get("/submissions/<int:submission_id>.xml")
@role_required("reviewer", "admin")
def download_submission(submission_id: int) -> Response:
    """Send a kept file again, exactly as it was generated."""
    if submission_id > MAX_ID:
        abort(404)
    submission = db.session.get(Submission, submission_id) or abort(404)
    with write_transaction() as session:
        audit.record(
            session,
            current_user.email,
            "E2B downloaded",
            submission.latest_report_id,  # a merged duplicate's case holds no report now
            "e2b",
            None,
            submission.message_id,
        )
    return attachment(submission)
