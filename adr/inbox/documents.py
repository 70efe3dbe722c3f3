"""Source documents (原始资料): files typed by their content, made safe, and kept with a case.

`accept` takes a file as received, from staff, the public form or an inbox message: a PDF, a
JPEG or PNG picture, or (not from the public) an e-mail message, and refuses anything else with
a message for the person who sent it. A picture is decoded and encoded again, upright, without
its EXIF (GPS location, camera, time) or any other metadata; one declaring more pixels than
`MAX_PIXELS`, or a JPEG of more than `MAX_SCANS` scans, is refused before it is decoded; a
PDF that is also a web page is refused. `attach` keeps an accepted file with a case (and one of
its reports) in the caller's write transaction, audited.
"""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser

import sqlalchemy as sa
from flask import current_app, has_app_context, has_request_context
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from PIL import Image, ImageOps
from PIL.JpegImagePlugin import get_sampling

from adr import audit
from adr.extensions import db
from adr.models import Case, Document, Report, User

MB = 1024 * 1024
# A phone's largest photos (50 megapixels) pass; a picture declaring more is refused unread, so
# a small file cannot make the server decode gigabytes (a "pixel bomb").
MAX_PIXELS = 50_000_000
# Pillow only warns between its own limit and twice that: refuse those too, in every process
# that may open an image (a warning would let the picture be decoded).
warnings.filterwarnings("error", category=Image.DecompressionBombWarning)
# A progressive JPEG is drawn in scans, each decoded over the whole picture: a camera's has about
# ten. One scan repeated thousands of times would keep a worker decoding for minutes (a "scan
# bomb"). A scan starts with the marker FF DA, never found inside scan data (an FF there is
# followed by 00 or a restart marker): counting them in the bytes counts the scans, and at worst
# a few bytes of metadata too.
MAX_SCANS = 100
SCAN_START = b"\xff\xda"

EXTENSIONS = {
    "application/pdf": ".pdf",
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "message/rfc822": ".eml",
}
# A phone's photo may be a multi-picture JPEG (MPO): its first picture is kept.
IMAGE_TYPES = {"JPEG": "image/jpeg", "MPO": "image/jpeg", "PNG": "image/png"}
JPEG_START, PNG_START = b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n"
PDF_HEADER = re.compile(rb"%PDF-[12]\.\d")
PDF_TAIL = 2048  # readers look for startxref and %%EOF this near the end
# A "PDF" that is also a web page, for a browser that guesses a file's type from its first bytes:
# the tags browsers sniff HTML by (WHATWG MIME Sniffing) in its first KB, where a real PDF holds
# its header and first objects. Tags of one or two letters are left out: <b> or <a > may be a
# PDF's hex string, and compressed bytes would match them by chance.
PDF_HEAD = 4096
HTML_TAG = re.compile(
    rb"<(!doctype\s+html|html|head|body|script|iframe|style|title|svg|img|meta|object|embed"
    rb"|div|table|font)[\s>/]",
    re.IGNORECASE,
)
MESSAGE_HEAD = 256 * 1024  # where an e-mail message's header must lie
HEADER_LINE = re.compile(rb"(From |[A-Za-z0-9-]+:)")  # an mbox "From " line, or a header field
UNSAFE_IN_NAMES = re.compile(r'[<>:"|?*\s]+')  # and path separators, taken apart first
MAX_STEM = 100  # characters of a file's name before its extension
KEPT_IMAGE_INFO = ("icc_profile", "dpi", "transparency")  # colours, scale, see-through


class Refused(ValueError):
    """A file that is not kept; its text says why, in the page's language (in a command, such
    as the inbox's fetch, in the default language)."""

    def __str__(self) -> str:
        if has_request_context() or not has_app_context():
            return str(self.args[0])  # a lazy text, translated as it is shown
        with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
            return str(self.args[0])


@dataclass(frozen=True)
class Accepted:
    """A file made safe to keep: its safe name, its type as the content showed it, its bytes."""

    filename: str
    content_type: str
    data: bytes


def accept(data: bytes, filename: str, *, public: bool = False) -> Accepted:
    """Return the file made safe to keep, or raise `Refused` saying why not.

    Staff may send a PDF, a JPEG or PNG picture or an e-mail message (.eml); the public
    (`public`) a photo or a PDF, each up to its setting's size.
    """
    limit_mb = current_app.config["PUBLIC_UPLOAD_MAX_MB" if public else "DOCUMENT_MAX_MB"]
    if not data:
        raise Refused(_l("The file is empty."))
    if len(data) > limit_mb * MB:
        raise Refused(
            _l(
                "The file is %(size)s MB; a file may be at most %(limit)s MB.",
                size=f"{len(data) / MB:.1f}",
                limit=limit_mb,
            )
        )
    if data.startswith((JPEG_START, PNG_START)):
        content_type, data = clean_image(data)
    elif PDF_HEADER.match(data):
        if not is_pdf(data):
            raise Refused(_l("The file starts as a PDF but is not a whole one: it cannot be kept."))
        if HTML_TAG.search(data[:PDF_HEAD]):
            raise Refused(_l("The file starts as a PDF but holds a web page: it cannot be kept."))
        content_type = "application/pdf"
    elif not public and is_message(data):
        content_type = "message/rfc822"
    else:
        raise Refused(
            _l("This is not a photo (JPEG or PNG) or a PDF file, whatever its name says.")
            if public
            else _l(
                "This is not a PDF, a JPEG or PNG picture or a saved e-mail (.eml), "
                "whatever its name says."
            )
        )
    return Accepted(safe_filename(filename, content_type), content_type, data)


def clean_image(data: bytes) -> tuple[str, bytes]:
    """Return a picture's type and the picture decoded and encoded again: upright, in its own
    format, with its colour profile and scale, without EXIF, comments or other metadata."""
    if data.startswith(JPEG_START) and data.count(SCAN_START) > MAX_SCANS:
        raise Refused(
            _l(
                "The picture is stored in too many passes to open: "
                "save it again or send another one."
            )
        )
    try:
        with Image.open(io.BytesIO(data), formats=["JPEG", "PNG"]) as image:
            if image.width * image.height > MAX_PIXELS:
                raise too_many_pixels(image.width, image.height)
            content_type = IMAGE_TYPES[str(image.format)]
            ImageOps.exif_transpose(image, in_place=True)  # upright before the EXIF goes
            kept = {key: image.info[key] for key in KEPT_IMAGE_INFO if key in image.info}
            image.info = {}  # JPEG comments and XMP are read from here when saving
            out = io.BytesIO()
            if content_type == "image/jpeg":  # with its own quantisation: nearly no loss
                tables = {
                    "qtables": getattr(image, "quantization", None),
                    "subsampling": get_sampling(image),
                }
                image.save(out, "JPEG", **tables, **kept)
            else:
                image.save(out, "PNG", **kept)
    except Refused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise Refused(_l("The picture is too large to open: send a smaller photo.")) from None
    except Exception:  # Pillow raises many kinds (OSError, ValueError, SyntaxError…) on a bad file
        raise Refused(
            _l("The picture cannot be read: it may be damaged. Send it again or another one.")
        ) from None
    return content_type, out.getvalue()


def too_many_pixels(width: int, height: int) -> Refused:
    return Refused(
        _l(
            "The picture is %(width)s × %(height)s pixels; at most %(limit)s million pixels "
            "are taken: send a smaller photo.",
            width=width,
            height=height,
            limit=MAX_PIXELS // 1_000_000,
        )
    )


def is_pdf(data: bytes) -> bool:
    """Tell whether a file that starts as a PDF has what every PDF ends with."""
    tail = data[-PDF_TAIL:]
    return b"startxref" in tail and b"%%EOF" in tail and b" obj" in data


def is_message(data: bytes) -> bool:
    """Tell whether the bytes are an e-mail message (RFC 5322): a header naming its sender
    and its date, and a subject, a recipient or a message id."""
    head = data[:MESSAGE_HEAD]
    if b"\x00" in head or not HEADER_LINE.match(head):
        return False
    message = BytesParser(policy=policy.compat32).parsebytes(head, headersonly=True)
    names = {name.lower() for name in message}
    return {"from", "date"} <= names and bool(names & {"subject", "to", "message-id"})


def plain_name(name: str) -> str:
    """Return a file's name without its folders, control or invisible characters, or the
    characters file systems refuse."""
    name = unicodedata.normalize("NFC", re.split(r"[/\\]", name or "")[-1])
    name = "".join(char for char in name if unicodedata.category(char)[0] != "C")
    return UNSAFE_IN_NAMES.sub(" ", name).strip()


def safe_filename(name: str, content_type: str) -> str:
    """Return a name fit to keep and to offer as a download: a plain name (`plain_name`) of at
    most MAX_STEM characters before the extension of its real type."""
    name = plain_name(name)
    stem = name.rsplit(".", 1)[0] if "." in name else name
    stem = stem.strip(" .-_")[:MAX_STEM].rstrip(" .") or "document"
    return stem + EXTENSIONS[content_type]


def case_total(case: Case) -> int:
    """Return the bytes of the source documents a case holds."""
    total = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Document.size), 0)).where(
            Document.case_id == case.id
        )
    )
    return int(total or 0)


def attach(
    case: Case,
    report: Report | None,
    accepted: Accepted,
    *,
    origin: str,
    user: User | None,
    description: str | None = None,
    actor: str | None = None,
) -> Document:
    """Keep an accepted file with a case, or one of its reports, and audit it; call it inside
    the write transaction of the change it belongs to. Raise `Refused` when the case would
    hold more than CASE_DOCUMENTS_MAX_MB.

    `user` is the member of staff who added it; `actor` names who did in the audit trail
    when no one did (default: the public form).
    """
    if report is not None and report.case_id != case.id:
        raise ValueError("the report is not one of the case's")
    limit_mb = current_app.config["CASE_DOCUMENTS_MAX_MB"]
    if case_total(case) + len(accepted.data) > limit_mb * MB:
        raise Refused(
            _l(
                "The case's source documents would then take more than %(limit)s MB: "
                "it cannot keep this file.",
                limit=limit_mb,
            )
        )
    session = db.session()
    document = Document(
        case=case,
        report=report,
        origin=origin,
        filename=accepted.filename,
        content_type=accepted.content_type,
        size=len(accepted.data),
        sha256=hashlib.sha256(accepted.data).hexdigest(),
        data=accepted.data,
        description=description or None,
        added_at=datetime.now(UTC),
        added_by=user,
    )
    session.add(document)
    session.flush()
    audit.record(
        session,
        user.email if user else actor or audit.PUBLIC_FORM,
        "document added",
        report.id if report else case.first_report.id,
        new=f"#{document.id} {document.filename}",
    )
    return document


def size_text(size: int) -> str:
    """Return a file's size as people read it: 340 KB, 2.5 MB."""
    if size < MB:
        return f"{max(1, round(size / 1024))} KB"
    return f"{size / MB:.1f} MB"
