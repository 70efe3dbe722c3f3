"""Acknowledgements from the national system: read by `adr import-ack` and the staff upload."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from lxml import etree
from lxml.builder import ElementMaker
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from adr.extensions import db
from adr.models import AuditEntry, Case, Report, Submission
from adr.regulator import acknowledgements
from tests.test_review import ADMIN, REVIEWER, csrf, signed_in, staff, submit

__all__ = ["staff"]  # a fixture

V3 = "urn:hl7-org:v3"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
ICH = "2.16.840.1.113883.3.989.2.1"
HOSTILE = '<script>alert("x")</script>\u202eevil & "quoted"'


def device(kind: str, oid: str, extension: str):
    E = ElementMaker(namespace=V3)
    return E(
        kind,
        E.device(E.id(root=oid, extension=extension), classCode="DEV", determinerCode="INSTANCE"),
        typeCode="RCV" if kind == "receiver" else "SND",
    )


def message_ack(
    message_id: str, code: str = "CA", national: str | None = None, texts=("Report loaded",)
):
    """Return one ACK.B.r: a MCCI_IN000002UV01 as the ICH reference instances write it."""
    E = ElementMaker(namespace=V3, nsmap={None: V3, "xsi": XSI})
    local = {"extension": national} if national else {"nullFlavor": "NI"}
    return E.MCCI_IN000002UV01(
        E.id(root=f"{ICH}.3.19", **local),
        E.creationTime(value="20260105101246"),
        E.interactionId(root="2.16.840.1.113883.1.6", extension="MCCI_IN000002UV01"),
        E.processingCode(code="P"),
        E.processingModeCode(code="T"),
        E.acceptAckCode(code="NE"),
        device("receiver", f"{ICH}.3.16", "TIANNING"),
        device("sender", f"{ICH}.3.15", "NMPA"),
        E.attentionLine(
            E.keyWordText(
                code="1", codeSystem=f"{ICH}.1.1.24", displayName="dateOfIcsrMessageCreation"
            ),
            E.value({f"{{{XSI}}}type": "TS"}, value="20260104090000+0800"),
        ),
        E.acknowledgement(
            E.targetMessage(E.id(root=f"{ICH}.3.1", extension=message_id)),
            *[E.acknowledgementDetail(E.text(text)) for text in texts],
            typeCode=code,
        ),
    )


def ack_file(
    *messages,
    batch_id: str = "BATCH-1",
    batch_code: str = "AA",
    batch_texts=(),
    created: str = "20260105101246+0800",
) -> bytes:
    """Return a schema-valid MCCI_IN200101UV01 holding the message acknowledgements."""
    E = ElementMaker(namespace=V3, nsmap={None: V3, "xsi": XSI})
    root = E.MCCI_IN200101UV01(
        E.id(root=f"{ICH}.3.20", extension="ACK-20260105-1"),
        E.creationTime(value=created),
        E.responseModeCode(code="D"),
        E.interactionId(root="2.16.840.1.113883.1.6", extension="MCCI_IN200101UV01"),
        *messages,
        device("receiver", f"{ICH}.3.18", "TIANNING"),
        device("sender", f"{ICH}.3.17", "NMPA"),
        E.acknowledgement(
            E.targetBatch(E.id(root=f"{ICH}.3.22", extension=batch_id)),
            *[E.acknowledgementDetail(E.text(text)) for text in batch_texts],
            typeCode=batch_code,
        ),
        ITSVersion="XML_1.0",
    )
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def sent(app, message_id: str = "MSG-1", batch_id: str = "BATCH-1", **fields) -> str:
    """Post a report through the form, keep an E2B file of its case; return the reference."""
    reference = submit(app, fields)
    with app.app_context():
        report = db.session.scalar(sa.select(Report).where(Report.reference == reference))
        db.session.add(
            Submission(
                case_id=report.case_id,
                version=1,
                latest_report_id=report.id,
                kind="report",
                safety_report_id=f"CN-TN0001-{reference}",
                message_id=message_id,
                batch_id=batch_id,
                created_at=datetime.now(UTC),
                created_by=REVIEWER,
                xml="<x/>",
            )
        )
        db.session.commit()
    return reference


def submission(app, message_id: str) -> Submission:
    with app.app_context():
        found = db.session.scalar(sa.select(Submission).where(Submission.message_id == message_id))
        db.session.expunge_all()
        return found


def national_number(app, reference: str) -> str | None:
    with app.app_context():
        return db.session.scalar(
            sa.select(Case.national_case_number)
            .join(Report, Report.case_id == Case.id)
            .where(Report.reference == reference)
        )


def ack_trail(app) -> list[tuple[str, str, str | None, str | None, str | None]]:
    with app.app_context():
        rows = db.session.execute(
            sa.select(
                Report.reference,
                AuditEntry.actor,
                AuditEntry.field,
                AuditEntry.old_value,
                AuditEntry.new_value,
            )
            .join(Report, Report.id == AuditEntry.report_id)
            .where(AuditEntry.action == "acknowledgement")
            .order_by(AuditEntry.id)
        ).all()
        return [tuple(row) for row in rows]


def import_ack(app, tmp_path, content: bytes, name: str = "ack.xml"):
    path = tmp_path / name
    path.write_bytes(content)
    return app.test_cli_runner().invoke(args=["import-ack", str(path), "--lang", "en"])


# The command.


def test_an_accepted_message_fills_the_national_number_once(staff, tmp_path):
    reference = sent(staff)
    content = ack_file(message_ack("MSG-1", national="2026610000123"))
    result = import_ack(staff, tmp_path, content)
    assert result.exit_code == 0, result.output
    assert result.output == (
        f"{reference} v1 (message MSG-1): accepted; national case number 2026610000123; "
        "messages: Report loaded\n"
    )
    recorded = submission(staff, "MSG-1")
    assert recorded.ack_status == "accepted" and recorded.ack_messages == ["Report loaded"]
    assert recorded.ack_at == datetime(2026, 1, 5, 2, 12, 46, tzinfo=UTC)  # ACK.M.4, +0800
    assert national_number(staff, reference) == "2026610000123"
    trail = ack_trail(staff)
    assert [(ref, actor, name) for ref, actor, name, _, _ in trail] == [
        (reference, "adr import-ack", "acknowledgement"),
        (reference, "adr import-ack", "national_case_number"),
    ]
    assert '"status": "accepted"' in trail[0][4] and '"message_id": "MSG-1"' in trail[0][4]
    assert trail[1][3:] == (None, "2026610000123")

    again = import_ack(staff, tmp_path, content)
    assert again.exit_code == 0 and again.output.rstrip().endswith("; already recorded")
    assert ack_trail(staff) == trail
    assert submission(staff, "MSG-1").ack_at == recorded.ack_at

    with staff.app_context():  # staff correct the number on the case page meanwhile
        case = db.session.get(Case, submission(staff, "MSG-1").case_id)
        case.national_case_number = "2026610000124"
        db.session.commit()
    assert "already recorded" in import_ack(staff, tmp_path, content).output
    assert national_number(staff, reference) == "2026610000124"


def test_a_rejection_keeps_its_texts_cleaned_and_fills_no_number(staff, tmp_path):
    reference = sent(staff)
    texts = ("1: C.1.3 must be provided.\n2: E.i.2.1b is not a current LLT.", HOSTILE)
    content = ack_file(
        message_ack("MSG-1", code="CR", national="2026610000999", texts=texts), batch_code="AE"
    )
    result = import_ack(staff, tmp_path, content)
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"{reference} v1 (message MSG-1): rejected; messages: 1: C.1.3")
    assert "national case number" not in result.output and "\u202e" not in result.output
    assert " / 2: E.i.2.1b" in result.output  # one line per message
    recorded = submission(staff, "MSG-1")
    assert recorded.ack_status == "rejected"
    assert recorded.ack_messages == [texts[0], HOSTILE.replace("\u202e", "")]
    assert national_number(staff, reference) is None


def test_one_batch_acknowledging_two_messages(staff, tmp_path):
    first = sent(staff, "MSG-1", "BATCH-1")
    second = sent(staff, "MSG-2", "BATCH-2")
    content = ack_file(
        message_ack("MSG-1", national="N-1"),
        message_ack("MSG-2", code="CR", texts=("bad", "worse")),
        batch_code="AE",
    )
    result = import_ack(staff, tmp_path, content)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"{first} v1 (message MSG-1): accepted; national case number N-1")
    assert lines[1] == f"{second} v1 (message MSG-2): rejected; messages: bad | worse"
    assert submission(staff, "MSG-2").ack_messages == ["bad", "worse"]
    assert national_number(staff, first) == "N-1" and national_number(staff, second) is None


def test_unknown_message_ids_are_listed_and_the_known_still_recorded(staff, tmp_path):
    reference = sent(staff)
    content = ack_file(message_ack("MSG-1"), message_ack("NOT-OURS", national="N-9"))
    result = import_ack(staff, tmp_path, content)
    assert result.exit_code == 1
    assert result.stdout.startswith(f"{reference} v1 (message MSG-1): accepted")
    assert "unknown message NOT-OURS: no E2B file of ours" in result.stderr
    assert submission(staff, "MSG-1").ack_status == "accepted"


def test_a_single_message_is_found_by_its_batch_and_a_batch_alone_rejects(staff, tmp_path):
    by_batch = sent(staff, "MSG-1", "BATCH-1")
    result = import_ack(staff, tmp_path, ack_file(message_ack("C.1.1-NOT-N.2.r.1")))
    assert result.exit_code == 0
    assert result.output.startswith(f"{by_batch} v1 (message C.1.1-NOT-N.2.r.1): accepted")
    assert "found by its batch number" in result.output

    unread = sent(staff, "MSG-2", "BATCH-2")
    content = ack_file(batch_id="BATCH-2", batch_code="AR", batch_texts=("XML parsing error",))
    result = import_ack(staff, tmp_path, content)
    assert result.exit_code == 0, result.output
    assert result.output == f"{unread} v1 (the batch): rejected; messages: XML parsing error\n"
    assert submission(staff, "MSG-2").ack_status == "rejected"


def test_a_different_national_number_is_replaced_audited_and_said(staff, tmp_path):
    reference = sent(staff)
    import_ack(staff, tmp_path, ack_file(message_ack("MSG-1", national="OLD-1")))
    same_day = import_ack(staff, tmp_path, ack_file(message_ack("MSG-1", national="NEW-2")))
    assert "already recorded" in same_day.output  # the same acknowledgement, as sent
    later = ack_file(message_ack("MSG-1", national="NEW-2"), created="20260107090000+0800")
    result = import_ack(staff, tmp_path, later)
    assert result.exit_code == 0
    assert "national case number NEW-2 (was OLD-1)" in result.output
    assert submission(staff, "MSG-1").ack_at == datetime(2026, 1, 7, 1, 0, tzinfo=UTC)
    assert national_number(staff, reference) == "NEW-2"
    numbers = [
        (old, new) for *_, name, old, new in ack_trail(staff) if name == "national_case_number"
    ]
    assert numbers == [(None, "OLD-1"), ("OLD-1", "NEW-2")]


def test_a_national_number_too_long_for_the_case_is_not_filled(staff, tmp_path):
    reference = sent(staff)
    result = import_ack(staff, tmp_path, ack_file(message_ack("MSG-1", national="9" * 51)))
    assert "not filled in: longer than 50 characters" in result.output
    assert national_number(staff, reference) is None
    assert submission(staff, "MSG-1").ack_status == "accepted"


BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE MCCI_IN200101UV01 [<!ENTITY a "aaaaaaaaaa">'
    b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">'
    b'<!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>'
    b'<MCCI_IN200101UV01 xmlns="urn:hl7-org:v3" ITSVersion="XML_1.0">&d;</MCCI_IN200101UV01>'
)
XXE = b'<!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]><r>&e;</r>'


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (b"MSG-1 accepted", "The file is not XML: Start tag expected"),
        (b"", "The file is not XML"),
        (b"\xff\xfe<\x00", "The file is not XML"),
        (b'<ICSR xmlns="urn:hl7-org:v3"/>', "XML of another kind (ICSR), not an acknowledgement"),
        (b'<MCCI_IN200101UV01 xmlns="urn:hl7-org:v2"/>', "XML of another kind"),
        (b'<MCCI_IN200101UV01 xmlns="urn:hl7-org:v3"/>', "does not follow the ICH acknowledgement"),
        (BILLION_LAUGHS, "declares a DOCTYPE"),
        (XXE, "declares a DOCTYPE"),
        (b" " * (512 * 1024) + b"<a/>", "larger than 512 KB"),
    ],
)
def test_a_file_that_is_not_an_acknowledgement_changes_nothing(staff, tmp_path, content, said):
    sent(staff)
    before = ack_trail(staff)
    result = import_ack(staff, tmp_path, content)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert said in result.stderr and "Traceback" not in result.output
    assert submission(staff, "MSG-1").ack_status is None
    assert ack_trail(staff) == before


def test_a_schema_error_names_its_line(staff, tmp_path):
    content = ack_file(message_ack("MSG-1")).replace(b'<processingCode code="P"/>', b"")
    result = import_ack(staff, tmp_path, content)
    assert result.exit_code == 1
    assert "line 2: Element 'processingModeCode': This element is not expected" in result.stderr


def test_a_missing_file_is_a_usage_error(staff, tmp_path):
    result = staff.test_cli_runner().invoke(args=["import-ack", str(tmp_path / "none.xml")])
    assert result.exit_code == 2 and "does not exist" in result.output


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("20260105101246+0800", datetime(2026, 1, 5, 2, 12, 46, tzinfo=UTC)),
        ("20260105101246.123-0400", datetime(2026, 1, 5, 14, 12, 46, tzinfo=UTC)),
        ("20260105", datetime(2026, 1, 4, 16, 0, tzinfo=UTC)),  # no zone: China time
        ("2026", None),
        ("20261305", None),
        ("", None),
    ],
)
def test_hl7_times(value, expected):
    assert acknowledgements.parse_time(value) == expected


# The staff page.


def upload(client, content: bytes, name: str = "ack.xml", token: str | None = None):
    """Post the file as a browser would (encoded in memory: Werkzeug's test client spools a
    body over 500 KB to a temporary file it never closes)."""
    boundary, body = encode_multipart(
        {"file": FileStorage(io.BytesIO(content), name), "csrf_token": token or csrf(client)}
    )
    return client.post(
        "/staff/acknowledgements?lang=en",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )


def test_the_upload_page_needs_staff_and_a_csrf_token(staff):
    anonymous = staff.test_client()
    assert anonymous.get("/staff/acknowledgements").status_code == 302
    sent(staff)
    refused = upload(anonymous, ack_file(message_ack("MSG-1")))
    assert refused.status_code == 302 and refused.location.startswith("/login")
    reviewer = signed_in(staff, REVIEWER)
    page = reviewer.get("/staff/").get_data(as_text=True)
    assert 'href="/staff/acknowledgements"' in page  # in the staff navigation
    refused = reviewer.post(
        "/staff/acknowledgements",
        data={"file": (io.BytesIO(ack_file(message_ack("MSG-1"))), "ack.xml")},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 400
    assert submission(staff, "MSG-1").ack_status is None
    assert signed_in(staff, ADMIN).get("/staff/acknowledgements").status_code == 200


def test_an_uploaded_acknowledgement_is_recorded_and_shown_escaped(staff):
    reference = sent(staff)
    client = signed_in(staff, REVIEWER)
    assert client.get("/staff/acknowledgements").status_code == 200
    content = ack_file(
        message_ack("MSG-1", code="CR", texts=("First error\nsecond line", HOSTILE)),
        message_ack("NOT-OURS<b>"),
        batch_code="AE",
    )
    response = upload(client, content)
    page = response.get_data(as_text=True)
    assert response.status_code == 422  # one message is not ours
    result = page.split('id="ack-result"')[1].split("</table>")[0]
    assert f'href="/staff/reports/{reference}">{reference}</a>' in result
    assert "rejected" in result and "First error<br>second line" in result
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;evil &amp; &#34;quoted&#34;" in result
    assert "<script>alert" not in page and "\u202e" not in page
    assert "NOT-OURS&lt;b&gt;" in result and "Unknown" in result
    assert submission(staff, "MSG-1").ack_status == "rejected"
    assert [actor for _, actor, *_ in ack_trail(staff)] == [REVIEWER]

    again = upload(client, content).get_data(as_text=True)
    assert "already recorded" in again
    assert len(ack_trail(staff)) == 1


def test_an_accepted_upload_shows_the_national_number(staff):
    reference = sent(staff)
    client = signed_in(staff, ADMIN)
    response = upload(client, ack_file(message_ack("MSG-1", national="2026610000777")))
    assert response.status_code == 200
    assert "2026610000777" in response.get_data(as_text=True)
    assert national_number(staff, reference) == "2026610000777"


@pytest.mark.parametrize(
    ("content", "name", "said"),
    [
        (b"", "", "Choose the acknowledgement file."),
        (b"%PDF-1.7", "ack.pdf", "The file is not XML"),
        (b"<html><body>hi</body></html>", "ack.xml", "XML of another kind (html)"),
        (b" " * (600 * 1024), "big.xml", "larger than 512 KB"),
    ],
)
def test_a_wrong_upload_is_explained(staff, content, name, said):
    client = signed_in(staff, REVIEWER)
    response = upload(client, content, name)
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and 'id="error-summary"' in page and said in page
