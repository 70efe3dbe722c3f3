"""The national system's acknowledgements, uploaded by staff: each verdict recorded and shown."""

from __future__ import annotations

from flask import render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField

from adr.auth.views import role_required
from adr.intake.forms import fields_in_error
from adr.regulator import acknowledgements
from adr.review import bp


class AcknowledgementUploadForm(FlaskForm):
    file = FileField(_l("Acknowledgement file (XML)"))


def acknowledgement_page(
    upload: AcknowledgementUploadForm, result: acknowledgements.ImportResult | None = None
) -> str:
    return render_template(
        "review/acknowledgements.html",
        upload=upload,
        errors=fields_in_error(upload),
        result=result,
        limit_kb=acknowledgements.MAX_BYTES // 1024,
    )


@bp.get("/acknowledgements")
@role_required("reviewer", "admin")
def acknowledgements_page() -> str:
    return acknowledgement_page(AcknowledgementUploadForm(formdata=None))


@bp.post("/acknowledgements")
@role_required("reviewer", "admin")
def upload_acknowledgement() -> tuple[str, int]:
    """Record an uploaded acknowledgement; 422 when it cannot be read or names unknown messages."""
    upload = AcknowledgementUploadForm()
    file = upload.file.data if upload.validate_on_submit() else None
    if not file or not file.filename:
        upload.file.errors.append(_("Choose the acknowledgement file."))
        return acknowledgement_page(upload), 422
    try:
        content = file.read(acknowledgements.MAX_BYTES + 1)
        result = acknowledgements.import_acknowledgement(content, current_user.email)
    except acknowledgements.AcknowledgementError as error:
        upload.file.errors.append(str(error))
        return acknowledgement_page(upload), 422
    page = acknowledgement_page(AcknowledgementUploadForm(formdata=None), result)
    return page, 422 if result.unknown else 200
