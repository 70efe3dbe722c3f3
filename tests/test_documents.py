"""Source documents: typed by content, pictures defused, kept with the case, downloaded by staff
only; photos sent with the public form, with the report, in its transaction."""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime

import pytest
import sqlalchemy as sa
from PIL import ExifTags, Image
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from adr import accounts, create_app, mailer
from adr.extensions import db
from adr.inbox import documents
from adr.models import AuditEntry, CaseMerge, Document, Report
from tests.conftest import (
    ReportSender,
    app_config,
    hidden_inputs,
    new_database,
    reference_of,
    valid_report,
)
from tests.smtp import SMTPServer, body
from tests.test_review import PASSWORD, REVIEWER, signed_in

MB = 1024 * 1024


# Files as people send them.


def photo(orientation: int = 6) -> bytes:
    """Return a phone's JPEG: 40 × 20 pixels, to be turned upright, with its GPS location."""
    image = Image.new("RGB", (40, 20), (200, 30, 30))
    image.paste((0, 0, 255), (0, 0, 10, 10))  # a blue corner, to see where it goes
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Phone"
    exif[ExifTags.Base.Orientation] = orientation
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef], gps[ExifTags.GPS.GPSLatitude] = "N", (37.0, 30.0, 0.0)
    gps[ExifTags.GPS.GPSLongitudeRef], gps[ExifTags.GPS.GPSLongitude] = "E", (110.0, 15.0, 0.0)
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, comment=b"Zhang San, Suide", quality=90)
    return out.getvalue()


def scan_bomb() -> bytes:
    """Return a progressive JPEG whose last scan is repeated: cheap to send, slow to decode."""
    out = io.BytesIO()
    Image.new("L", (64, 64), 128).save(out, "JPEG", progressive=True)
    data = out.getvalue()
    scan, end = data.rindex(b"\xff\xda"), data.rindex(b"\xff\xd9")
    return data[:end] + data[scan:end] * 300 + data[end:]


def pdf() -> bytes:
    out = io.BytesIO()
    Image.new("L", (60, 80), 255).save(out, "PDF")
    return out.getvalue()


def png(width: int, height: int, declared: tuple[int, int] | None = None) -> bytes:
    """Return a PNG; `declared` makes its header claim another size (a pixel bomb)."""
    if declared is None:
        out = io.BytesIO()
        Image.new("RGB", (width, height), (0, 128, 0)).save(out, "PNG")
        return out.getvalue()

    def chunk(kind: bytes, content: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + content))
        return struct.pack(">I", len(content)) + kind + content + crc

    header = struct.pack(">IIBBBBB", *declared, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def eml() -> bytes:
    message = EmailMessage()
    message["From"] = "李医生 <li@hospital.example>"
    message["To"] = "tn@tianning.com.cn"
    message["Subject"] = "患者用药后出现皮疹"
    message["Date"] = format_datetime(datetime(2026, 11, 23, 9, 30, tzinfo=UTC))
    message.set_content("患者服用阿莫西林胶囊后出现皮疹。")
    return message.as_bytes()


def zipped() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("photo.jpg", b"\xff\xd8\xff" + b"0" * 100)
    return out.getvalue()


HTML = b"<!doctype html><html><body><script>fetch('/staff/users')</script>%PDF-1.4</body></html>"
POLYGLOT = (  # a PDF to us, a web page to a browser that guesses
    b"%PDF-1.4\n<HTML><SCRIPT>fetch('/staff/users')</script>\n1 0 obj\n<<>>\nendobj\n"
    b"startxref\n0\n%%EOF\n"
)
EXECUTABLE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 100


def exif_of(data: bytes) -> dict:
    with Image.open(io.BytesIO(data)) as image:
        exif = image.getexif()
        return {**exif, **exif.get_ifd(ExifTags.IFD.GPSInfo)}


def file(data: bytes, name: str) -> tuple[io.BytesIO, str]:
    return io.BytesIO(data), name


def multipart(fields: dict, name: str, data: bytes, filename: str) -> dict:
    """Return a large post's body built in memory: the test client would spool it to a file it
    never closes."""
    upload = FileStorage(io.BytesIO(data), filename, content_type="application/octet-stream")
    boundary, body = encode_multipart(
        MultiDict([*MultiDict(fields).items(multi=True), (name, upload)])
    )
    return {"data": body, "content_type": f"multipart/form-data; boundary={boundary}"}


# One app for the module: staff, a mail server, reports the tests add to.


@pytest.fixture(scope="module")
def smtp():
    server = SMTPServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def docs_app(request, engine, tmp_path_factory, smtp):
    folder = tmp_path_factory.mktemp("documents")
    for uri in new_database(request, engine, folder):
        mail = {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp.port, "MAIL_SUPPRESS_SEND": False}
        app = create_app(app_config(folder, SQLALCHEMY_DATABASE_URI=uri, **mail))
        with app.app_context():
            accounts.create_user(REVIEWER, "审核员", "reviewer", PASSWORD, "test")
        yield app
        with app.app_context():
            db.engine.dispose()


@pytest.fixture(scope="module")
def staff(docs_app):
    return signed_in(docs_app, REVIEWER)


def submit(app, **fields) -> str:
    return reference_of(ReportSender(app.test_client()).send(valid_report() | fields))


def case_page(client, reference: str) -> str:
    return client.get(f"/staff/reports/{reference}").get_data(as_text=True)


def add(client, reference: str, data: bytes, name: str, **fields: str):
    """Post a file to the case page's source documents form, as the browser sends it."""
    token = hidden_inputs(case_page(client, reference))["document-csrf_token"]
    posted = {
        "document-csrf_token": token,
        "document-file": file(data, name),
        "document-report": "",
    }
    posted |= {f"document-{key}": value for key, value in fields.items()}
    return client.post(f"/staff/reports/{reference}/documents", data=posted)


def kept(app, reference: str) -> list[Document]:
    """Return the documents of the reference's case, their bytes loaded."""
    with app.app_context():
        report = db.session.scalar(sa.select(Report).where(Report.reference == reference))
        found = list(
            db.session.scalars(
                sa.select(Document)
                .where(Document.case_id == report.case_id)
                .options(sa.orm.undefer(Document.data), sa.orm.joinedload(Document.report))
                .order_by(Document.id)
            )
        )
        db.session.expunge_all()
        return found


def trail(app, action: str) -> list[AuditEntry]:
    with app.app_context():
        entries = list(db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action)))
        db.session.expunge_all()
        return entries


# Typed by content, made safe.


def test_files_are_typed_by_their_content_and_pictures_lose_their_metadata(docs_app):
    with docs_app.app_context():  # as a command (the inbox's fetch) calls it
        assert 34853 in exif_of(photo())  # the GPS IFD, before
        upright = documents.accept(photo(), "../../DCIM/IMG_0001.JPG", public=True)
        assert (upright.filename, upright.content_type) == ("IMG_0001.jpg", "image/jpeg")
        assert exif_of(upright.data) == {} and b"Exif" not in upright.data
        assert b"Zhang San" not in upright.data  # the JPEG comment went too
        with Image.open(io.BytesIO(upright.data)) as image:
            assert image.size == (20, 40)  # turned upright before its EXIF went
            red, _, blue = image.getpixel((15, 0))  # the blue corner, now at the top right
            assert blue > 200 and red < 60

        assert documents.accept(png(30, 30), "scan", public=True).filename == "scan.png"
        assert documents.accept(pdf(), "信函.PDF").content_type == "application/pdf"
        assert documents.accept(pdf(), "信函.PDF").filename == "信函.pdf"
        mail = documents.accept(eml(), "来信.eml")
        assert (mail.content_type, mail.filename) == ("message/rfc822", "来信.eml")

        hostile = "a/b\\c\x00\x1b[31m\u202egpj.exe" + "长" * 300 + ".jpg"
        name = documents.accept(photo(), hostile).filename
        assert name.endswith(".jpg") and len(name) <= documents.MAX_STEM + 4
        assert not re.search(r"[/\\\x00-\x1f\u202e]", name) and name.startswith("c[31mgpj.exe")

        refused = {
            "a zip under a photo's name": (zipped(), "pack.jpg"),
            "HTML with a script under a PDF's name": (HTML, "report.pdf"),
            "an executable": (EXECUTABLE, "photo.jpg"),
            "a PDF's start without its end": (b"%PDF-1.7\n1 0 obj\n<<>>\n" + b"x" * 100, "a.pdf"),
            "a damaged JPEG": (b"\xff\xd8\xff\xe0" + b"\x00" * 200, "broken.jpg"),
            "a pixel bomb": (png(1, 1, declared=(100_000, 100_000)), "bomb.png"),
            "a scan bomb": (scan_bomb(), "scans.jpg"),
            "a PDF that is a web page too": (POLYGLOT, "report.pdf"),
            "pixels above our limit": (png(1, 1, declared=(8000, 8000)), "large.png"),
            "an empty file": (b"", "empty.jpg"),
            "an e-mail from the public": (eml(), "mail.eml"),
        }
        reasons = {}
        for case, (data, name) in refused.items():
            with pytest.raises(documents.Refused) as caught:
                documents.accept(data, name, public=True)
            reasons[case] = str(caught.value)
        assert reasons["a zip under a photo's name"] == (
            "无论文件名是什么，此文件都不是照片（JPEG或PNG）或PDF文件。"
        )
        assert reasons["a pixel bomb"] == "图片太大，无法打开：请发送较小的照片。"
        assert "8000 × 8000" in reasons["pixels above our limit"]
        web_page = reasons["a PDF that is a web page too"]
        assert web_page == "此文件开头像PDF文件，但含有网页代码，无法保存。"
        assert (
            reasons["a scan bomb"]
            == "图片分成的扫描层过多，无法打开：请重新保存后发送，或发送另一张。"
        )
        with pytest.raises(documents.Refused, match="不是PDF文件"):
            documents.accept(HTML, "report.pdf")  # staff get their own list


# Staff: attached to a case or a report, downloaded, audited.


def test_staff_keep_a_photo_with_a_report_and_download_it_without_its_location(docs_app, staff):
    reference = submit(docs_app)
    added = add(staff, reference, photo(), "皮疹照片.jpg", report=reference, description="手臂皮疹")
    assert added.status_code == 303 and added.location.endswith(f"{reference}#documents")

    [document] = kept(docs_app, reference)
    assert (document.origin, document.report.reference, document.description) == (
        "upload",
        reference,
        "手臂皮疹",
    )
    assert document.size == len(document.data) and exif_of(document.data) == {}
    page = case_page(staff, reference)
    assert "皮疹照片.jpg" in page and "JPEG图片" in page and "工作人员上传" in page
    assert "审核员" in page and "手臂皮疹" in page

    response = staff.get(f"/staff/documents/{document.id}")
    assert response.status_code == 200 and response.data == document.data
    headers = response.headers
    assert headers["Content-Type"] == "image/jpeg"
    assert headers["Content-Disposition"] == (
        "attachment; filename=\"____.jpg\"; filename*=UTF-8''"
        "%E7%9A%AE%E7%96%B9%E7%85%A7%E7%89%87.jpg"
    )
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"] == "no-store"
    assert "sandbox" in headers["Content-Security-Policy"]
    [downloaded] = [e for e in trail(docs_app, "document downloaded") if e.report_id]
    [added_entry] = [
        e for e in trail(docs_app, "document added") if e.new_value.endswith("皮疹照片.jpg")
    ]
    for entry in (added_entry, downloaded):
        assert (entry.actor, entry.new_value) == (REVIEWER, f"#{document.id} 皮疹照片.jpg")

    anonymous = docs_app.test_client().get(f"/staff/documents/{document.id}")
    assert anonymous.status_code == 302 and "/login" in anonymous.location
    assert document.data not in anonymous.data
    assert docs_app.test_client().get("/staff/documents/99999999999").status_code == 302


def test_a_refused_file_gives_the_case_page_back_with_what_was_typed(docs_app, staff):
    reference = submit(docs_app)
    refused = add(staff, reference, zipped(), "扫描件.pdf", description="医院报告表")
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert "无论文件名是什么，此文件都不是PDF文件" in page and 'value="医院报告表"' in page
    assert 'id="document-file-error"' in page
    assert kept(docs_app, reference) == []

    docs_app.config["CASE_DOCUMENTS_MAX_MB"] = 0  # the case's total reached
    try:
        full = add(staff, reference, pdf(), "信函.pdf")
    finally:
        docs_app.config["CASE_DOCUMENTS_MAX_MB"] = 100
    assert full.status_code == 422 and "添加后本病例的原始资料将超过 0 MB" in full.get_data(
        as_text=True
    )

    token = hidden_inputs(case_page(staff, reference))["document-csrf_token"]
    fields = {"document-csrf_token": token, "document-report": ""}
    too_large = staff.post(
        f"/staff/reports/{reference}/documents",
        **multipart(fields, "document-file", b"%PDF-1.4" * (25 * MB // 8), "大.pdf"),
    )
    assert too_large.status_code == 413
    assert "每份原始资料不能超过 20 MB" in too_large.get_data(as_text=True)
    assert kept(docs_app, reference) == []
    without_token = staff.post(
        f"/staff/reports/{reference}/documents", data={"document-file": file(pdf(), "a.pdf")}
    )
    assert without_token.status_code == 400 and kept(docs_app, reference) == []


def test_a_duplicate_s_documents_join_its_original_and_an_undo_takes_them_back(docs_app, staff):
    original, duplicate = submit(docs_app), submit(docs_app)
    assert add(staff, duplicate, pdf(), "原始记录.pdf").status_code == 303
    token = hidden_inputs(case_page(staff, duplicate))["csrf_token"]
    merged = staff.post(
        f"/staff/reports/{duplicate}/assessment",
        data={"csrf_token": token, "status": "duplicate", "duplicate_of": original},
    )
    assert merged.status_code == 303
    [moved] = kept(docs_app, original)
    assert moved.report.reference == duplicate  # it goes with the duplicate's first report
    assert "原始记录.pdf" in case_page(staff, original)

    with docs_app.app_context():
        merge_id = db.session.scalar(sa.select(sa.func.max(CaseMerge.id)))
    undone = staff.post(
        f"/staff/merges/{merge_id}/undo", data={"csrf_token": token, "reason": "不同患者"}
    )
    assert undone.status_code == 303
    assert kept(docs_app, original) == [] and len(kept(docs_app, duplicate)) == 1


# The public form: photos with the report, in its transaction, never in a mail.


def test_photos_sent_with_a_report_reach_its_case_without_their_location(docs_app, smtp):
    scan = pdf()
    sent = ReportSender(docs_app.test_client()).send(
        valid_report()
        | {
            "drugs-files": [file(photo(), "IMG_2041.HEIC.jpg")],
            "event-files": [file(scan, "化验单.pdf"), file(b"", "")],  # and an empty input
        }
    )
    reference = reference_of(sent)
    lab, pack = kept(docs_app, reference)  # the reaction's step first, as the page asks
    assert [(d.origin, d.report.reference, d.added_by_id) for d in (pack, lab)] == [
        ("web", reference, None)
    ] * 2
    assert (pack.filename, lab.filename) == ("IMG_2041.HEIC.jpg", "化验单.pdf")
    assert exif_of(pack.data) == {} and lab.data == scan
    entries = [e for e in trail(docs_app, "document added") if e.actor == "public form"]
    assert {e.new_value for e in entries} >= {
        f"#{pack.id} IMG_2041.HEIC.jpg",
        f"#{lab.id} 化验单.pdf",
    }

    with docs_app.app_context():
        mailer.deliver_pending_mail()
    [message] = [
        m
        for m in smtp.inbox.wait_for(1)
        if reference in m["Subject"] and m["To"] == docs_app.config["SAFETY_INBOX"][0]
    ]
    for part in (body(message, "plain"), body(message, "html")):
        assert "随报告提交了 2 个文件（照片或PDF），请打开病例查看；邮件不附带文件。" in part
    assert list(message.iter_attachments()) == []


def test_a_refused_photo_gives_the_form_back_with_every_value_kept(docs_app):
    sender = ReportSender(docs_app.test_client())
    token = sender.open()["submission_token"]
    refused = sender.send(
        valid_report()
        | {
            "submission_token": token,
            "drugs-files": [file(zipped(), "批号.jpg")],
            "event-files": [file(photo(), "rash.jpg")],
        }
    )
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert 'id="drugs-files-error"' in page
    assert "“批号.jpg”：无论文件名是什么，此文件都不是照片（JPEG或PNG）或PDF文件。" in page
    assert "请重新选择文件：退回的表格无法保留已选的文件。" in page  # the good photo, at its field
    assert 'value="张某某"' in page and 'value="阿莫西林胶囊"' in page
    assert 'enctype="multipart/form-data"' in page
    too_many = [file(photo(), f"{n}.jpg") for n in range(4)]
    counted = sender.send(valid_report() | {"submission_token": token, "event-files": too_many})
    assert counted.status_code == 422
    assert "每份报告最多可附 3 个照片或PDF文件，现在选择了 4 个。" in counted.get_data(as_text=True)
    fields = {**sender.open(), **valid_report(), "submission_token": token, "csrf_token": ""}
    forged = sender.client.post("/report", data=fields | {"event-files": [file(photo(), "a.jpg")]})
    assert forged.status_code == 400 and "请重新选择文件" in forged.get_data(as_text=True)
    with docs_app.app_context():
        stored = db.session.scalar(sa.select(Report.id).where(Report.submission_token == token))
    assert stored is None

    docs_app.config["PUBLIC_UPLOAD_MAX_MB"] = 1  # a post of 3 × 1 MB and the form's 1 MB
    try:
        fields = {**sender.open(), **valid_report()}
        large = sender.client.post(
            "/report", **multipart(fields, "event-files", b"\xff" * 5 * MB, "a.jpg")
        )
    finally:
        docs_app.config["PUBLIC_UPLOAD_MAX_MB"] = 10
    assert large.status_code == 413
    assert "最多 3 个照片或PDF文件，每个不超过 1 MB" in large.get_data(as_text=True)
    long_text = sender.client.post(
        "/report", **multipart({"remarks": "长" * 200_000}, "event-files", photo(), "a.jpg")
    )
    assert long_text.status_code == 413 and "缩短" in long_text.get_data(as_text=True)


def test_the_rate_limit_counts_each_file(tmp_path, monkeypatch):
    monkeypatch.setenv("ADR_INSTANCE_PATH", str(tmp_path))
    app = create_app(app_config(tmp_path, RATELIMIT_ENABLED=True, REPORT_RATE_LIMIT="4 per minute"))
    sender = ReportSender(app.test_client())
    photos = [file(photo(), "1.jpg"), file(photo(), "2.jpg")]
    assert sender.send(valid_report() | {"drugs-files": photos}).status_code == 303  # counts 3
    refused = sender.send(valid_report() | {"event-files": [file(pdf(), "a.pdf")]})
    assert refused.status_code == 429 and 'value="张某某"' in refused.get_data(as_text=True)
    with app.app_context():
        db.engine.dispose()
