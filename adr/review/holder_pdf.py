"""The case as a PDF in the layout of the holder's form (上市许可持有人药品不良反应报告表(试行))."""

from __future__ import annotations

import io
import logging

from flask import Response, render_template, send_file
from flask_login import current_user

from adr import audit
from adr.auth.views import role_required
from adr.i18n import current_language
from adr.models import write_transaction
from adr.regulator import holder_form
from adr.review import bp
from adr.review.queries import find_report, utcnow

log = logging.getLogger(__name__)


@bp.get("/reports/<reference>.pdf")
@role_required("reviewer", "admin")
def case_pdf(reference: str) -> Response | tuple[str, int]:
    """Send the case as the holder's form; say which packages are missing when WeasyPrint is."""
    report = find_report(reference)
    form = holder_form.form_of(report.case, current_language(), utcnow())
    try:
        pdf = holder_form.render_pdf(render_template("review/holder_form.html", form=form))
    except holder_form.PdfUnavailable as missing:
        log.error("no PDF of the holder's form: WeasyPrint cannot load (%s)", missing)
        page = render_template(
            "review/pdf_unavailable.html",
            report=report,
            packages=holder_form.DEBIAN_PACKAGES,
        )
        return page, 503
    with write_transaction() as session:
        audit.record(session, current_user.email, "PDF downloaded", report.id)
    return send_file(
        io.BytesIO(pdf),
        mimetype="application/pdf",
        download_name=f"{form.reference}.pdf",
    )
