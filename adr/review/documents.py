"""The case page's source documents (原始资料): the files kept with a case, adding one, and
downloading one, only as a download and only by staff, each download audited."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import abort, current_app, flash, g, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from sqlalchemy.orm import undefer
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice

from adr import audit, cases, vocab
from adr.auth.views import role_required
from adr.extensions import db
from adr.http import accepts_files
from adr.i18n import current_language
from adr.inbox import documents
from adr.intake.forms import MaxLength, clean_text
from adr.models import Case, Document, Report, User, write_transaction
from adr.review import bp
from adr.review.coding import MAX_ID, back_to
from adr.review.queries import find_report

ACCEPTED_TYPES = "application/pdf,image/jpeg,image/png,message/rfc822,.eml"
DESCRIPTION_MAX = 500


class DocumentForm(FlaskForm):
    """A file to keep with the case or one of its reports, and what it is."""

    file = FileField(_l("File"))
    report = SelectField(_l("It belongs to"))
    description = StringField(
        _l("What it is"), validators=[MaxLength(DESCRIPTION_MAX)], filters=[clean_text]
    )


def document_form(case: Case, posted: bool = False) -> DocumentForm:
    """Return the form, posted or blank, offering the case and each of its reports."""
    form = DocumentForm(prefix="document") if posted else DocumentForm(None, prefix="document")
    language = current_language()
    form.report.choices = [SelectChoice("", _l("The case as a whole"))] + [
        SelectChoice(
            report.reference,
            f"{report.reference} · "
            + vocab.label(
                vocab.REPORT_KIND, "follow_up" if report.follow_up_of_id else "initial", language
            ),
        )
        for report in case.reports
    ]
    return form


@bp.app_template_global()
def documents_section(case: Case) -> dict[str, Any]:
    """Return what the case page's source documents section shows: the files, and the form."""
    config = current_app.config
    return {
        "documents": list(case.documents),
        "form": getattr(g, "document_form", None) or document_form(case),
        "used": documents.size_text(documents.case_total(case)),
        "file_mb": config["DOCUMENT_MAX_MB"],
        "case_mb": config["CASE_DOCUMENTS_MAX_MB"],
        "accept": ACCEPTED_TYPES,
        "size_text": documents.size_text,
    }


def staff_upload_limit() -> int:
    """Return how large a post adding a document may be: the file and the rest of the form,
    for staff signed in (no one else gets a large post read)."""
    config = current_app.config
    if not current_user.is_authenticated:
        return int(config["MAX_CONTENT_LENGTH"])
    return int(config["DOCUMENT_MAX_MB"]) * documents.MB + int(config["MAX_CONTENT_LENGTH"])


@bp.post("/reports/<reference>/documents")
@accepts_files(staff_upload_limit)
@role_required("reviewer", "admin")
def add_document(reference: str) -> Response | tuple[str, int]:
    """Keep a file with the case, or one of its reports; a refused one gives the page back
    (422) with what was chosen and why."""
    report = find_report(reference)
    form = document_form(report.case, posted=True)
    if not form.validate():
        return case_page_again(report, form)
    try:
        name = keep(report.case, form)
    except documents.Refused as refused:
        form.file.errors.append(str(refused))
        return case_page_again(report, form)
    flash(_("%(name)s is kept with the case's source documents.", name=name))
    return back_to(report, "documents")


def keep(case: Case, form: DocumentForm) -> str:
    """Accept the posted file and attach it, audited; return its safe name."""
    upload = form.file.data
    if not isinstance(upload, FileStorage) or not upload.filename:
        raise documents.Refused(_l("Choose the file to add."))
    limit = int(current_app.config["DOCUMENT_MAX_MB"]) * documents.MB
    accepted = documents.accept(upload.stream.read(limit + 1), upload.filename)
    with write_transaction() as session:
        locked = cases.lock(session, case.id)  # two files at once stay within the case's total
        belongs_to = next((r for r in locked.reports if r.reference == form.report.data), None)
        documents.attach(
            locked,
            belongs_to,
            accepted,
            origin="upload",
            user=session.get(User, current_user.id),
            description=form.description.data,
        )
    return accepted.filename


def case_page_again(report: Report, form: DocumentForm) -> tuple[str, int]:
    """Return the case page with the refused form in its section, answered 422."""
    from adr.review import views

    g.document_form = form
    flash(_("The file was not added: see why under Source documents."))
    return views.render_case(report, views.stored_assessment(report.case)), 422


@bp.get("/documents/<int:document_id>")
@role_required("reviewer", "admin")
def download_document(document_id: int) -> Response:
    """Send a source document as a download, never to be shown in the browser; audited."""
    if document_id > MAX_ID:
        abort(404)
    document = db.session.get(Document, document_id, options=[undefer(Document.data)])
    if document is None:
        abort(404)
    data, name, content_type = document.data, document.filename, document.content_type
    reports = document.case.reports if document.case else []
    report_id = document.report_id or (reports[0].id if reports else None)
    with write_transaction() as session:
        audit.record(
            session,
            current_user.email,
            "document downloaded",
            report_id,
            new=f"#{document_id} {name}",
        )
    return download(data, name, content_type)


def download(data: bytes, filename: str, content_type: str) -> Response:
    """Return bytes as a download the browser never opens in the page."""
    fallback = "".join(c if c.isascii() and (c.isalnum() or c in "._- ") else "_" for c in filename)
    headers = {
        # The name in ASCII for old clients, and whole (RFC 5987) for the rest.
        "Content-Disposition": f"attachment; filename=\"{fallback}\"; filename*=UTF-8''"
        + quote(filename, safe=""),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "no-store",
    }
    return Response(data, content_type=content_type, headers=headers)


@bp.errorhandler(RequestEntityTooLarge)
def too_large(error: RequestEntityTooLarge) -> tuple[str, int]:
    """Say what is too large: a file staff add, or (elsewhere) a form's text."""
    if request.endpoint == "review.add_document":
        message = _(
            "The file is too large: a source document may be at most %(limit)s MB. Go back and "
            "choose a smaller file (a scan at a lower resolution, or in parts).",
            limit=current_app.config["DOCUMENT_MAX_MB"],
        )
    else:
        message = _("What was sent is too large. Shorten the longest texts and try again.")
    return render_template("error.html", message=message), 413
