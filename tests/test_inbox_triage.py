"""The safety inbox for staff: each message read safely, triaged once, the month reconciled."""

from __future__ import annotations

import base64
import io
import re
from datetime import UTC, datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from html.parser import HTMLParser

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook
from PIL import Image

from adr import regulatory
from adr.cases import merges
from adr.extensions import db
from adr.inbox import messages, reading
from adr.models import AuditEntry, CaseMerge, Document, InboxMessage, Report, write_transaction
from tests.test_documents import EXECUTABLE, pdf, photo
from tests.test_export import case_id_of, merge
from tests.test_i18n import LATIN_ON_CHINESE_PAGES, latin_words
from tests.test_review import REVIEWER, csrf, signed_in, staff, submit  # noqa: F401

NOW = datetime.now(UTC)
LETTER = pdf()  # a scanned letter


def mail(
    subject: str,
    text: str | None = "",
    *,
    html_body: str | None = None,
    files: tuple[tuple[bytes, str, str], ...] = (),
    **headers: str,
) -> bytes:
    """Return a message as a mail program sends it: text and/or HTML, and files."""
    message = EmailMessage()
    message["From"] = Address("王医生", addr_spec="doctor@hospital.example")
    message["To"] = "tn@tianning.com.cn"
    message["Subject"] = subject
    message["Date"] = format_datetime(NOW)
    message["Message-ID"] = make_msgid(domain="hospital.example")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    if text is not None:
        message.set_content(text)
    if html_body is not None:
        if text is None:
            message.set_content(html_body, subtype="html")
        else:
            message.add_alternative(html_body, subtype="html")
    for data, content_type, filename in files:
        maintype, subtype = content_type.split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message.as_bytes()


def store(app, raw: bytes, received_at: datetime = NOW, **columns) -> int:
    with app.app_context(), write_transaction() as session:
        message = messages.store(session, raw, received_at=received_at)
        for name, value in columns.items():
            setattr(message, name, value)
        return message.id


def loaded(app, message_id: int) -> InboxMessage:
    with app.app_context():
        message = db.session.get(InboxMessage, message_id)
        message.case, message.report, message.document  # noqa: B018 - load before the session ends
        db.session.expunge_all()
        return message


def actions(app) -> list[tuple[str, str | None, str | None, str | None]]:
    with app.app_context():
        entries = db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id))
        return [(e.action, e.field, e.old_value, e.new_value) for e in entries]


class TypedIn(HTMLParser):
    """What a browser would send of a form as it is shown: inputs, ticks, choices, text areas."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self.select: str | None = None
        self.textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        name = attrs.get("name")
        if tag == "input" and name and attrs.get("type") not in ("submit", "button"):
            if attrs.get("type") not in ("radio", "checkbox") or "checked" in attrs:
                self.values.setdefault(name, attrs.get("value") or "")
        elif tag == "select":
            self.select = name
        elif tag == "option" and self.select and "selected" in attrs:
            self.values[self.select] = attrs.get("value") or ""
        elif tag == "textarea":
            self.textarea = name
            self.values[name] = ""

    def handle_endtag(self, tag):
        self.select = None if tag == "select" else self.select
        self.textarea = None if tag == "textarea" else self.textarea

    def handle_data(self, data):
        if self.textarea:
            self.values[self.textarea] += data


def form_values(page: str) -> dict[str, str]:
    parser = TypedIn()
    parser.feed(page[page.index('id="report-form"') :])
    return parser.values


def test_a_scanned_letter_becomes_a_case_from_the_day_it_arrived(staff):  # noqa: F811
    arrived = NOW - timedelta(days=2)
    raw = mail(
        "患者用药后皮疹的报告",
        "您好:\n附件为我院患者的不良反应报告表扫描件。\n\n绥德县医院 药剂科",
        files=(
            (LETTER, "application/pdf", "报告表扫描件.pdf"),
            (photo(), "image/jpeg", "药盒.jpg"),
            (EXECUTABLE, "image/jpeg", "照片.jpg"),  # not a picture, whatever its name says
        ),
    )
    message_id = store(staff, raw, arrived)
    client = signed_in(staff, REVIEWER)

    listed = client.get("/staff/inbox").get_data(as_text=True)
    assert "患者用药后皮疹的报告" in listed and "doctor@hospital.example" in listed
    assert f"{arrived.astimezone(regulatory.CHINA):%Y-%m-%d %H:%M}" in listed
    row = re.search(r"<tr[^>]*>.*?患者用药后皮疹的报告.*?</tr>", listed, re.S).group(0)
    assert re.search(r'data-label="附件">3</td>', row)
    assert "安全邮箱 (1)" in client.get("/staff/").get_data(as_text=True)  # the menu counts it

    page = client.get(f"/staff/inbox/{message_id}").get_data(as_text=True)
    assert "附件为我院患者的不良反应报告表扫描件" in page and "报告表扫描件.pdf" in page

    form = client.get(f"/staff/reports/new?inbox={message_id}").get_data(as_text=True)
    typed = form_values(form)
    assert typed["inbox_message"] == str(message_id)
    assert typed["case-source"] == "email"
    assert typed["case-awareness_date"] == regulatory.china_date(arrived).isoformat()
    assert "> 附件为我院患者的不良反应报告表扫描件。" in typed["event-description"]
    typed |= {"event-name": "皮疹", "drugs-0-generic_name": "阿莫西林胶囊"}
    first, again = (client.post("/staff/reports/new", data=typed) for _ in range(2))
    assert first.status_code == again.status_code == 303
    assert first.location == again.location  # a double click makes one report
    reference = first.location.rsplit("/", 1)[1]

    message = loaded(staff, message_id)
    assert (message.outcome, message.report.reference) == ("new_report", reference)
    with staff.app_context():
        kept = db.session.scalars(sa.select(Document).order_by(Document.id)).all()
        assert [(d.origin, d.filename, d.report_id) for d in kept] == [
            ("email", message.document.filename, message.report_id),
            ("attachment", "报告表扫描件.pdf", message.report_id),
            ("attachment", "药盒.jpg", message.report_id),
        ]
        assert kept[1].data == LETTER and not Image.open(io.BytesIO(kept[2].data)).getexif()
    case_page = client.get(first.location).get_data(as_text=True)
    assert "附件 照片.jpg 未随病例保存" in case_page  # said once, after the save
    with staff.app_context():
        report = db.session.scalar(sa.select(Report).where(Report.reference == reference))
        assert report.aware_on == regulatory.china_date(arrived)  # whatever day it is triaged
        assert report.source == "email"
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Report)) == 1
    triaged = [a for a in actions(staff) if a[0] == "message triaged"]
    assert len(triaged) == 1 and '"outcome": "new_report"' in triaged[0][3]
    case_page = client.get(first.location).get_data(as_text=True)
    assert "未随病例保存" not in case_page
    assert f"邮件分拣: 安全邮箱邮件</td><td>#{message_id} · 未分拣</td>" in case_page
    assert f"<td>#{message_id} · 新报告 · {reference}</td>" in case_page

    # Decided once: a second form for it, or one opened before, is refused and stores nothing.
    assert client.get(f"/staff/reports/new?inbox={message_id}").status_code == 409
    typed["submission_token"] = "B" * len(typed["submission_token"])
    refused = client.post("/staff/reports/new", data=typed)
    assert refused.status_code == 409 and "已分拣" in refused.get_data(as_text=True)
    with staff.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Report)) == 1
    assert "安全邮箱 (" not in client.get("/staff/").get_data(as_text=True)


def test_an_awareness_date_other_than_the_arrival_is_shown_wherever_the_message_is(staff):  # noqa: F811
    arrived = NOW - timedelta(days=2)
    message_id = store(staff, mail("电话随访记录", "患者皮疹"), arrived)
    client = signed_in(staff, REVIEWER)
    form = client.get(f"/staff/reports/new?inbox={message_id}").get_data(as_text=True)
    later = regulatory.china_date(arrived) + timedelta(days=1)  # when the minimum was met, say
    typed = form_values(form) | {
        "event-name": "皮疹", "drugs-0-generic_name": "阿莫西林胶囊",
        "case-awareness_date": later.isoformat(),
    }  # fmt: skip
    assert client.post("/staff/reports/new", data=typed).status_code == 303
    month = f"{arrived.astimezone(regulatory.CHINA):%Y-%m}"
    page = client.get(f"/staff/inbox/reconciliation?month={month}").get_data(as_text=True)
    assert f"{later.isoformat()} (与邮件到达日期不同)" in page
    triaged = next(a for a in actions(staff) if a[0] == "message triaged")
    assert f'"aware_on": "{later.isoformat()}"' in triaged[3]
    assert f'"received_on": "{regulatory.china_date(arrived).isoformat()}"' in triaged[3]


def test_a_reply_to_an_acknowledgement_is_proposed_as_a_follow_up(staff):  # noqa: F811
    first = submit(staff)
    with staff.app_context():
        case_id = db.session.scalar(sa.select(Report.case_id).where(Report.reference == first))
    token = "GMpz" + "x" * 39  # the acknowledgement's private link, quoted in the reply
    quoted = f"患者皮疹已痊愈。\n> 补充信息:https://adr.example/report/follow-up/{token}\n"
    raw = mail("Re: 您的报告已收到", quoted, In_Reply_To="<ack@tianning.example>")
    message_id = store(staff, raw, proposed_case_id=case_id)
    client = signed_in(staff, REVIEWER)
    page = client.get(f"/staff/inbox/{message_id}").get_data(as_text=True)
    assert f"是否为病例 {first} 的跟踪报告？" in page

    form = client.get(f"/staff/reports/new?follow_up_of={first}&inbox={message_id}")
    typed = form_values(form.get_data(as_text=True)) | {"follow_up_of": first}
    assert token not in typed["event-description"]
    assert "/report/follow-up/…" in typed["event-description"]
    response = client.post("/staff/reports/new", data=typed)
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    message = loaded(staff, message_id)
    assert message.outcome == "follow_up" and message.case_id == case_id
    assert message.report.follow_up_of_id is not None


def test_the_messages_of_a_case_merged_as_a_duplicate_follow_its_reports(staff):  # noqa: F811
    original, duplicate = submit(staff), submit(staff)
    client = signed_in(staff, REVIEWER)
    linked = store(staff, mail("网站报告的副本", "同网站报告"))
    reply = store(
        staff, mail("Re: 您的报告已收到", "已痊愈"), proposed_case_id=case_id_of(staff, duplicate)
    )
    data = {"csrf_token": csrf(client), "decision": "existing", "case": duplicate}
    assert client.post(f"/staff/inbox/{linked}", data=data).status_code == 303
    merge(staff, duplicate, original)
    assert loaded(staff, linked).case_id == loaded(staff, reply).proposed_case_id
    assert loaded(staff, reply).proposed_case_id == case_id_of(staff, original)
    month = f"{NOW.astimezone(regulatory.CHINA):%Y-%m}"
    shown = {
        "/staff/inbox": original,  # the reply, proposed for the original now
        f"/staff/inbox/{reply}": original,
        f"/staff/inbox/{linked}": duplicate,  # the report it was linked to, in its new case
        f"/staff/inbox/reconciliation?month={month}": original,
    }
    for path, reference in shown.items():
        page = client.get(path)
        assert page.status_code == 200 and reference in page.get_data(as_text=True), path
    with staff.app_context(), write_transaction() as session:
        merges.undo(session, session.scalar(sa.select(CaseMerge.id)), "test", "不是重复")
    assert loaded(staff, linked).case_id == case_id_of(staff, duplicate)  # back with its report


def test_messages_linked_set_aside_corrected_and_the_month_reconciled(staff):  # noqa: F811
    reference = submit(staff)
    october = datetime(2026, 10, 15, 2, tzinfo=UTC)
    enquiry = store(staff, mail("请问药品说明书", "请问阿莫西林胶囊的说明书在哪里下载?"), october)
    copy = store(staff, mail("网站报告的副本", "同网站报告"), october + timedelta(hours=1))
    waiting = store(staff, mail("还未分拣", "内容"), october + timedelta(hours=2))
    store(staff, mail("十一月的邮件", "内容"), datetime(2026, 10, 31, 17, tzinfo=UTC))  # Nov 1st
    client = signed_in(staff, REVIEWER)

    def decide(message_id: int, **fields: str):
        data = {"csrf_token": csrf(client), **fields}
        return client.post(f"/staff/inbox/{message_id}", data=data)

    assert decide(enquiry, decision="not_report", reason="other").status_code == 422
    assert decide(enquiry, decision="not_report", reason="enquiry").status_code == 303
    assert decide(enquiry, decision="not_report", reason="enquiry").status_code == 303  # twice
    assert decide(enquiry, decision="not_report", reason="spam").status_code == 409
    assert decide(copy, decision="existing", case="ADR-202601-000000").status_code == 422
    assert decide(copy, decision="existing", case=reference.lower()).status_code == 303
    linked = loaded(staff, copy)
    assert linked.case_id is not None and linked.outcome == "existing"
    assert linked.document.report_id == linked.report_id  # the message kept with the case

    # A correction needs a reason, and is audited: old → new, then why.
    assert decide(enquiry, decision="reopen", why=" ").status_code == 422
    assert decide(enquiry, decision="reopen", why="其实是投诉").status_code == 303
    assert loaded(staff, enquiry).outcome is None
    assert decide(enquiry, decision="not_report", reason="complaint").status_code == 303
    trail = [a for a in actions(staff) if a[1] == "message"]
    assert [a[0] for a in trail[-5:]] == [
        *("message triaged", "message triaged", "message triaged", "reason", "message triaged"),
    ]
    assert trail[-2][3] == "其实是投诉" and '"reason": "enquiry"' in trail[-3][2]
    assert len([a for a in trail if a[0] == "message triaged"]) == 4  # the double click: once
    history = client.get(f"/staff/inbox/{enquiry}").get_data(as_text=True)
    history = history.split('id="message-history"')[1]
    assert history.count("<tr><td>") == 5  # stored, set aside, reopened, why, set aside again
    assert "其实是投诉" in history and "投诉(无不良事件)" in history and "收取邮件" in history

    shown_in_chinese = LATIN_ON_CHINESE_PAGES | {"KB", "B", "eml", "xlsx"}
    for path in (
        "/staff/inbox",
        f"/staff/inbox/{waiting}",
        f"/staff/inbox/{enquiry}",
        "/staff/inbox/reconciliation?month=2026-10",
    ):
        words = latin_words(client.get(path).get_data(as_text=True)) - shown_in_chinese
        assert {w for w in words if w not in reference} == set(), path

    page = client.get("/staff/inbox/reconciliation?month=2026-10").get_data(as_text=True)
    assert "请问药品说明书" in page and "网站报告的副本" in page and "十一月的邮件" not in page
    assert f'href="/staff/reports/{reference}"' in page
    assert "本月尚未核对完毕" in page and "1" in re.search(r'id="reconciles".*?</p>', page).group(0)
    with client.get("/staff/inbox/reconciliation.xlsx?month=2026-10") as response:
        assert response.status_code == 200
        sheet = load_workbook(io.BytesIO(response.data))["安全邮箱核对"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:4] == ("收到时间（北京时间）", "发件人", "主题", "分拣结果")
    assert [r[2:6] for r in rows[1:]] == [
        ("请问药品说明书", "非不良事件报告", "投诉(无不良事件)", None),
        ("网站报告的副本", "已在系统中", None, reference),
        ("还未分拣", None, None, None),
    ]
    assert ("reconciliation downloaded", "2026-10", None, None) in actions(staff)

    assert decide(waiting, decision="not_report", reason="spam").status_code == 303
    assert decide(copy, decision="reopen", why="不是这份报告").status_code == 303
    assert loaded(staff, copy).document.case_id is None  # the link undone, the message too
    assert ("document taken back", None, None, f"#{linked.document_id}") in actions(staff)
    assert decide(copy, decision="existing", case=reference).status_code == 303
    page = client.get("/staff/inbox/reconciliation?month=2026-10").get_data(as_text=True)
    assert "本月核对完毕" in page


def test_a_message_is_shown_as_text_only(staff):  # noqa: F811
    page_html = (
        "<html><head><title>t</title><style>p{color:red}</style></head><body>"
        "<p>患者服药后<b>头晕</b></p><script>alert('x')</script>"
        '<img src="https://tracker.example/pixel.gif"><div>第二行 &amp; 更多</div></body></html>'
    )
    html_only = store(staff, mail("=?utf-8?b?5aS05pmV?=", None, html_body=page_html))

    def word(text: str) -> str:  # an encoded word, as a Chinese mail program writes it
        return f"=?GB18030?B?{base64.b64encode(text.encode('gb18030')).decode()}?="

    chinese = (
        f"From: {word('王医生')} <a@b.example>\r\nSubject: {word('皮疹')}\r\n"
        "Content-Type: text/plain\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    ).encode() + "患者出现皮疹,已停药。".encode("gb18030")  # no charset declared
    undeclared = store(staff, chinese)
    broken = store(
        staff,
        b"From: a@b.example\r\nSubject: broken\r\nContent-Type: multipart/mixed\r\n\r\nno part\r\n",
    )
    too_large = store(staff, mail("很大的邮件", "x"))
    with staff.app_context(), write_transaction() as session:
        message = session.get(InboxMessage, too_large)
        message.document, message.too_large = None, True
    client = signed_in(staff, REVIEWER)

    page = client.get(f"/staff/inbox/{html_only}").get_data(as_text=True)
    text = re.search(r'<pre class="mail-text">(.*?)</pre>', page, re.S).group(1)
    assert text == "患者服药后头晕\n\n第二行 &amp; 更多"
    assert "alert" not in page and "tracker.example" not in page and "<title>t" not in page
    assert "<h1>头晕</h1>" in page  # the subject, decoded

    page = client.get(f"/staff/inbox/{undeclared}").get_data(as_text=True)
    assert "患者出现皮疹,已停药。" in page and "<h1>皮疹</h1>" in page

    page = client.get(f"/staff/inbox/{broken}").get_data(as_text=True)
    assert 'id="cannot-display"' in page
    with client.get(f"/staff/inbox/{broken}/message.eml") as response:
        assert response.headers["Content-Disposition"].startswith("attachment")
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.data.startswith(b"From: a@b.example")
    assert any(a[0] == "document downloaded" for a in actions(staff))

    page = client.get(f"/staff/inbox/{too_large}").get_data(as_text=True)
    assert "仅保存在邮箱中" in page
    assert client.get(f"/staff/inbox/{too_large}/message.eml").status_code == 404


def test_attachments_are_named_safely_and_downloaded_as_files(staff):  # noqa: F811
    raw = mail(
        "附件",
        "见附件",
        files=(
            (LETTER, "application/pdf", "../../etc/\u202etxt.pdf"),
            (b"<script>alert(1)</script>", "text/html", "page.html"),
        ),
    )
    found = reading.read(raw)
    assert [(a.filename, a.content_type) for a in found.attachments] == [
        ("txt.pdf", "application/pdf"),
        ("page.html", "text/html"),
    ]
    message_id = store(staff, raw)
    client = signed_in(staff, REVIEWER)
    with client.get(f"/staff/inbox/{message_id}/attachments/2") as response:
        assert response.status_code == 200 and response.data == b"<script>alert(1)</script>"
        assert response.headers["Content-Type"] == "application/octet-stream"
        assert response.headers["Content-Disposition"].startswith(
            'attachment; filename="page.html"'
        )
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert ("document downloaded", "message", None, f"{message_id}/2 page.html") in actions(staff)
    assert client.get(f"/staff/inbox/{message_id}/attachments/3").status_code == 404


def test_nothing_for_anonymous_and_no_error_on_odd_requests(staff):  # noqa: F811
    message_id = store(staff, mail("主题", "内容"), NOW - timedelta(days=5))
    anonymous = staff.test_client()
    for path in (
        "/staff/inbox",
        f"/staff/inbox/{message_id}",
        f"/staff/inbox/{message_id}/message.eml",
    ):
        response = anonymous.get(path)
        assert response.status_code == 302 and response.location.startswith("/login")
    assert anonymous.post(f"/staff/inbox/{message_id}", data={}).status_code in (302, 400)

    client = signed_in(staff, REVIEWER)
    dashboard = client.get("/staff/").get_data(as_text=True)
    tile = re.search(r'id="inbox-tile".*?</li>', dashboard, re.S).group(0)
    assert "<strong>1</strong>" in tile and "超过一个工作日" in tile
    statuses = {
        "/staff/inbox/abc": 404,
        "/staff/inbox/99999999999999999999": 404,
        "/staff/inbox/-1": 404,
        f"/staff/inbox/{message_id}/attachments/abc": 404,
        f"/staff/inbox/{message_id}/attachments/0": 404,
        "/staff/inbox?page=0": 404,
        "/staff/inbox?page=abc": 200,
        "/staff/inbox?page=2": 404,
        "/staff/inbox/reconciliation?month=2026-13": 400,
        "/staff/inbox/reconciliation?month=0000-01": 400,
        "/staff/inbox/reconciliation": 200,
        "/staff/inbox/reconciliation.xlsx?month=abc": 400,
        "/staff/reports/new?inbox=abc": 404,
        "/staff/reports/new?inbox=4711": 404,
    }
    assert {path: client.get(path).status_code for path in statuses} == statuses
    data = {"csrf_token": csrf(client), "decision": "burn"}
    assert client.post(f"/staff/inbox/{message_id}", data=data).status_code == 400


@pytest.mark.sqlite_only
def test_a_message_is_late_after_one_working_day():
    china = regulatory.CHINA

    def late_before(day: int, hour: int) -> str:  # December 2026: the 7th is a Monday
        now = datetime(2026, 12, day, hour, tzinfo=china)
        return f"{regulatory.triage_late_before(now).astimezone(china):%a %d %H}"

    assert late_before(8, 10) == "Mon 07 10"  # Tuesday: Monday's messages after one day
    assert late_before(7, 10) == "Fri 04 10"  # Monday: the weekend does not count
    assert late_before(12, 15) == "Fri 11 00"  # Saturday: Friday counts whole, no more
    assert late_before(13, 9) == "Fri 11 00"


@pytest.mark.sqlite_only
def test_a_message_of_many_parts_is_only_downloaded_and_a_wrong_byte_hides_nothing():
    head = "From: a@b.example\r\nSubject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
    part = "--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment\r\n\r\nx\r\n"
    many = (head + "".join([part] * 2000) + "--b--\r\n").encode()
    assert reading.read(many) == reading.Reading(readable=False)
    assert reading.files(many) == [] and reading.attachment_count(many) is None

    raw = mail("皮疹", "", files=((LETTER, "application/pdf", "报告表.pdf"),))
    text = "患者出现皮疹".encode() + b"\xff" + "已停药".encode()  # one byte neither UTF-8 nor GB
    raw = raw.replace(b"7bit\n\n\n", b"8bit\n\n" + text + b"\n", 1)
    shown = reading.read(raw)
    assert shown.readable and shown.text == "患者出现皮疹\ufffd已停药"
    assert [(a.filename, data) for a, data in reading.files(raw)] == [("报告表.pdf", LETTER)]


def test_a_header_keeps_no_control_or_direction_character():
    raw = (
        "From: =?utf-8?b?5byg5LiJ4oCuZ3BqLmV4ZQ==?= <a@example.com>\r\n"  # 张三 RLO gpj.exe
        "Subject: =?utf-8?b?5oql5ZGKAOS4gA==?=\r\n\r\n正文"  # 报告 NUL 一
    ).encode()
    headers = messages.Headers.of(messages.parse_header(raw))
    assert headers.sender == '"张三 gpj.exe" <a@example.com>'  # the override gone
    assert headers.subject == "报告 一"
