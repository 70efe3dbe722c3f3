"""The safety inbox read by the app: `adr fetch-mail` against a real Dovecot on 127.0.0.1.

Each message is stored once, whole, at the time the server received it, and only then flagged
on the server; nothing is deleted; the app's own mails come back reconciled by themselves.
"""

from __future__ import annotations

import base64
import hashlib
import io
import itertools
import os
import queue
import random
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import date, datetime, timedelta, timezone
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image
from sqlalchemy.orm import Session

from adr import create_app, mailer
from adr.extensions import db
from adr.inbox import fetch, messages
from adr.models import AuditEntry, InboxMessage, OutboxMail, Report
from tests.conftest import app_config, reference_of, send_report, valid_report
from tests.imap import MISSING, PASSWORD, USER, Dovecot
from tests.smtp import SMTPServer, free_port
from tests.test_batches import catalogued
from tests.test_documents import pdf
from tests.test_inbox_triage import form_values
from tests.test_review import REVIEWER, signed_in

pytestmark = pytest.mark.skipif(MISSING is not None, reason=f"the IMAP tests: {MISSING}")

CHINA = timezone(timedelta(hours=8))
MB = 1024 * 1024
KEYWORD = b"$AdrStored"
ROOT = Path(__file__).resolve().parent.parent
_folders = itertools.count(1)


@pytest.fixture(scope="session")
def dovecot():
    server = Dovecot()
    yield server
    server.stop()


class Mailbox:
    """A folder of its own on the server, and a connection to fill and inspect it."""

    def __init__(self, dovecot: Dovecot, name: str) -> None:
        self.client = dovecot.client()
        self.name = name
        self.client.create_folder(name)

    def append(self, raw: bytes, at: datetime) -> int:
        reply = self.client.append(self.name, raw, msg_time=at).decode()
        return int(re.search(r"APPENDUID \d+ (\d+)", reply).group(1))

    def copy_from(self, folder: str) -> None:
        self.client.select_folder(folder, readonly=True)
        self.client.copy(self.client.search(), self.name)

    def state(self) -> dict[int, dict[bytes, object]]:
        """Every message's flags, INTERNALDATE and size, by UID (read-only: changes nothing)."""
        self.client.select_folder(self.name, readonly=True)
        return self.client.fetch(self.client.search(), ["FLAGS", "INTERNALDATE", "RFC822.SIZE"])

    def raw(self, uid: int) -> bytes:
        self.client.select_folder(self.name, readonly=True)
        return self.client.fetch([uid], ["BODY.PEEK[]"])[uid][b"BODY[]"]

    def unflag(self) -> None:
        """Take \\Seen and $AdrStored off every message, as a fetcher that died before it."""
        self.client.select_folder(self.name)
        self.client.remove_flags(self.client.search(), [b"\\Seen", KEYWORD], silent=True)


@pytest.fixture
def mailbox(dovecot):
    box = Mailbox(dovecot, f"test-{os.getpid()}-{next(_folders)}")
    yield box
    box.client.logout()


def make_app(tmp_path, monkeypatch, dovecot, folder, **settings):
    monkeypatch.setenv("ADR_INSTANCE_PATH", str(tmp_path))
    return create_app(app_config(tmp_path, **dovecot.settings(folder, **settings)))


@pytest.fixture
def fetcher(tmp_path, monkeypatch, dovecot, mailbox):
    return make_app(tmp_path, monkeypatch, dovecot, mailbox.name)


def fetch_mail(app, *args):
    return app.test_cli_runner().invoke(args=["fetch-mail", *args])


def stored(app) -> list[InboxMessage]:
    with app.app_context():
        rows = list(db.session.scalars(sa.select(InboxMessage).order_by(InboxMessage.uid)))
        for row in rows:
            row.document_sha256 = row.document.sha256 if row.document else None
            row.document_bytes = (
                hashlib.sha256(row.document.data).hexdigest() if row.document else None
            )
        db.session.expunge_all()
        return rows


# The messages: what people and machines send to a safety inbox.


def mail(subject: str, text: str | None = "", *, html: str | None = None,
         sender: str = "王丽 <wangli@example.com>", message_id: str | None = "new",
         attachments=(), **headers: str) -> bytes:  # fmt: skip
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "tn@tianning.com.cn"
    message["Subject"] = subject
    message["Date"] = "Fri, 20 Nov 2026 09:15:00 +0800"
    if message_id:
        message["Message-ID"] = (
            make_msgid(domain="example.com") if message_id == "new" else message_id
        )
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    if text is not None:
        message.set_content(text)
    if html is not None:
        (message.add_alternative if text is not None else message.set_content)(html, subtype="html")
    for filename, data, kind in attachments:
        maintype, subtype = kind.split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message.as_bytes(policy=policy.SMTP)


def photo_with_location() -> bytes:
    """A JPEG of a pack whose EXIF says where it was taken (Suide, Shaanxi)."""
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (37.0, 30.0, 0.0), 3: "E", 4: (110.0, 15.0, 0.0)}
    output = io.BytesIO()
    Image.new("RGB", (64, 48), "white").save(output, "JPEG", exif=exif)
    return output.getvalue()


PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


def gb18030_mail() -> bytes:
    """A hospital's mail in GB18030, its header in encoded words, its body in 8 bits."""

    def word(text: str) -> str:
        return f"=?GB18030?B?{base64.b64encode(text.encode('gb18030')).decode()}?="

    head = (
        f"From: {word('绥德县医院药剂科')} <yjk@suide-hospital.example>\r\n"
        f"To: tn@tianning.com.cn\r\nSubject: {word('患者用药后出现皮疹')}\r\n"
        f"Message-ID: {make_msgid(domain='suide-hospital.example')}\r\n"
        "Date: Fri, 20 Nov 2026 10:00:00 +0800\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=GB18030\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    )
    return head.encode() + "患者服用阿莫西林胶囊后躯干出现红色皮疹。\r\n".encode("gb18030")


def eight_bit_header_mail() -> bytes:
    """An old client's mail: its header in raw GB18030 bytes, no encoded words."""
    return (
        "From: 李医生 <li@clinic.example>\r\nTo: tn@tianning.com.cn\r\n"
        "Subject: 药品不良反应报告\r\nMessage-ID: <old-client-1@clinic.example>\r\n\r\n正文。\r\n"
    ).encode("gb18030")


MALFORMED = (
    b"From: =?utf-8?B?5peg5ZCNAOawjw==?= <nobody>\r\n"  # a NUL inside: 无名\x00氏
    b"Subject: =?utf-8?B?not base64 at all?=\r\nDate: the day before yesterday\r\n"
    b'Content-Type: multipart/mixed; boundary="never-closed"\r\n'
    b"a header line without a colon\r\n\r\n"
    b"--never-closed\r\nContent-Type: text/plain; charset=no-such-charset\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\n!!! not base64 !!!\r\n"
    b"--never-closed\r\nContent-Type: application/pdf\r\n\r\n\xff\xfe binary \x80\x81\r\n"
)


def big_attachment_mail(megabytes: int, subject: str) -> bytes:
    scan = random.Random(megabytes).randbytes(megabytes * MB)
    return mail(subject, "扫描件见附件。", attachments=[("scan.pdf", scan, "application/pdf")])


@pytest.fixture(scope="session")
def big(dovecot):
    """A folder holding a 25 MB attachment's mail and a 50 MB mail, made once a session."""
    box = Mailbox(dovecot, f"big-{os.getpid()}")
    box.append(
        big_attachment_mail(25, "病历扫描件(25 MB)"), datetime(2026, 11, 20, 11, 0, tzinfo=CHINA)
    )
    fifty = big_attachment_mail(37, "整本病历(50 MB)")  # 37 MB in base64, with its header
    assert 50 * MB <= len(fifty) < 51 * MB
    box.append(fifty, datetime(2026, 11, 20, 11, 30, tzinfo=CHINA))
    box.client.logout()
    return box.name


def test_every_message_is_stored_once_whole_then_flagged_and_nothing_is_deleted(
    fetcher, mailbox, big, dovecot
):
    same_id = make_msgid(domain="example.com")
    corpus = {
        "plain": mail("服用阿莫西林后皮疹", "您好,我母亲服用阿莫西林胶囊后出现皮疹。"),
        "html": mail(
            "Rash after amoxicillin",
            None,
            html='<p>Rash</p><script>alert(1)</script><img src="http://tracker.example/1.gif">',
        ),
        "attachments": mail(
            "药盒照片和化验单",
            "见附件。",
            attachments=[
                ("pack.jpg", photo_with_location(), "image/jpeg"),
                ("lab.pdf", PDF, "application/pdf"),
            ],
        ),
        "gb18030": gb18030_mail(),
        "eight bit": eight_bit_header_mail(),
        "malformed": MALFORMED,
        "no message-id": mail("无编号的邮件", "正文", message_id=None),
        "first copy": mail("重复", "第一份", message_id=same_id),
        "second copy": mail("重复", "第二份:同一 Message-ID", message_id=same_id),
    }
    uids = {
        name: mailbox.append(raw, datetime(2026, 11, 20, 8, minute, tzinfo=CHINA))
        for minute, (name, raw) in enumerate(corpus.items())
    }
    mailbox.copy_from(big)
    on_server = mailbox.state()
    uids |= dict(zip(["25 MB", "50 MB"], sorted(set(on_server) - set(uids.values())), strict=True))

    result = fetch_mail(fetcher)

    assert result.exit_code == 0, result.output
    assert "10 stored (1 too large to download, 0 reconciled), 1 stored before" in result.output
    rows = {row.uid: row for row in stored(fetcher)}
    assert sorted(rows) == sorted(uid for name, uid in uids.items() if name != "second copy")
    for uid, row in rows.items():
        assert row.received_at == on_server[uid][b"INTERNALDATE"]
        assert row.outcome is None and row.folder == mailbox.name
        if row.too_large:
            continue
        whole = hashlib.sha256(mailbox.raw(uid)).hexdigest()  # what the server holds, byte for byte
        assert row.sha256 == row.document_sha256 == row.document_bytes == whole
        assert row.size == on_server[uid][b"RFC822.SIZE"]
    assert [row.uid for row in rows.values() if row.too_large] == [uids["50 MB"]]
    too_large = rows[uids["50 MB"]]
    assert (
        too_large.document_sha256 is None
        and too_large.size == on_server[uids["50 MB"]][b"RFC822.SIZE"]
    )
    assert (
        too_large.subject == "整本病历(50 MB)" and too_large.sender == "王丽 <wangli@example.com>"
    )
    assert rows[uids["plain"]].subject == "服用阿莫西林后皮疹"
    assert rows[uids["gb18030"]].subject == "患者用药后出现皮疹"
    assert rows[uids["gb18030"]].sender == "绥德县医院药剂科 <yjk@suide-hospital.example>"
    assert rows[uids["eight bit"]].subject == "药品不良反应报告"
    assert rows[uids["eight bit"]].sender == "李医生 <li@clinic.example>"
    assert rows[uids["malformed"]].sender == "无名 氏 <nobody>"
    assert rows[uids["malformed"]].sent_at is None
    assert rows[uids["no message-id"]].message_id is None

    after = mailbox.state()
    assert sorted(after) == sorted(on_server)  # nothing deleted, nothing expunged
    for state in after.values():
        assert {b"\\Seen", KEYWORD} <= set(state[b"FLAGS"]) and b"\\Deleted" not in state[b"FLAGS"]
    # The server counted what was downloaded: every body but the copy's and the 50 MB one's.
    logout = dovecot.wait_for_log(r"hdr_count=11 hdr_bytes=\d+ body_count=(\d+) body_bytes=(\d+)")
    assert int(logout.group(1)) == 9 and int(logout.group(2)) < 40 * MB
    with fetcher.app_context():
        audit = sa.select(sa.func.count()).where(AuditEntry.action == "message stored")
        assert db.session.scalar(audit) == 10

    again = fetch_mail(fetcher)
    assert again.exit_code == 0, again.output
    assert "0 stored (0 too large to download, 0 reconciled), 0 stored before" in again.output
    assert len(stored(fetcher)) == 10


def test_a_crash_between_the_commit_and_the_flag_stores_nothing_twice(fetcher, mailbox):
    for minute, raw in enumerate(
        [mail("一", "一"), mail("二", "二", message_id=None), mail("三", None, html="<p>三</p>")]
    ):
        mailbox.append(raw, datetime(2026, 11, 21, 9, minute, tzinfo=CHINA))
    assert "3 stored" in fetch_mail(fetcher).output
    # The fetcher died after its commits, before its flags; and the folder was rebuilt on the
    # server since (a new UIDVALIDITY, new UIDs).
    first = stored(fetcher)
    mailbox.client.rename_folder(mailbox.name, mailbox.name + "-old")
    mailbox.client.create_folder(mailbox.name)
    mailbox.copy_from(mailbox.name + "-old")
    mailbox.unflag()

    result = fetch_mail(fetcher)

    assert result.exit_code == 0, result.output
    assert "0 stored (0 too large to download, 0 reconciled), 3 stored before" in result.output
    assert [(row.id, row.uidvalidity) for row in stored(fetcher)] == [
        (row.id, row.uidvalidity) for row in first
    ]
    for state in mailbox.state().values():
        assert {b"\\Seen", KEYWORD} <= set(state[b"FLAGS"])


def test_a_strange_date_or_a_reused_message_id_loses_no_message(fetcher, mailbox):
    reused = "<scan-1@copier.example>"  # a scanner that numbers its mails from 1 again
    for minute, raw in enumerate([
        mail("日期异常", "正文").replace(b"09:15:00 +0800", b"09:15:00 +" + b"9" * 20),
        mail("扫描件", "第一份扫描件", message_id=reused),
        mail("扫描件", "第一份扫描件", message_id=reused, Received="by relay.example"),
        mail("患者死亡报告", "另一份报告", sender="赵医生 <zhao@example.org>", message_id=reused),
    ]):  # fmt: skip
        mailbox.append(raw, datetime(2026, 11, 22, 9, minute, tzinfo=CHINA))

    result = fetch_mail(fetcher)

    assert result.exit_code == 0, result.output
    assert "3 stored (0 too large to download, 0 reconciled), 1 stored before" in result.output
    rows = stored(fetcher)
    assert [(row.subject, row.message_id) for row in rows] == [
        ("日期异常", rows[0].message_id),
        ("扫描件", reused),  # delivered twice: the same message, stored once
        ("患者死亡报告", None),  # another message under the same id: stored, its bytes name it
    ]
    assert rows[0].sent_at is None


@pytest.mark.postgresql_only
def test_two_fetchers_racing_for_one_message_store_it_once(fetcher, mailbox):
    raw = mail("同时收取", "正文")
    mailbox.append(raw, datetime(2026, 11, 21, 10, 0, tzinfo=CHINA))
    with fetcher.app_context():
        engine = db.engine

    def the_other_fetcher_first(connection, cursor, statement, *args):
        if statement.startswith("INSERT INTO inbox_message") and not raced:
            raced.append(True)
            with fetcher.app_context(), Session(engine) as other:
                messages.store(other, raw, received_at=datetime.now(CHINA), folder="other")
                other.commit()

    raced: list[bool] = []
    sa.event.listen(engine, "before_cursor_execute", the_other_fetcher_first)
    try:
        result = fetch_mail(fetcher)
    finally:
        sa.event.remove(engine, "before_cursor_execute", the_other_fetcher_first)

    assert raced and result.exit_code == 0, result.output
    assert "0 stored (0 too large to download, 0 reconciled), 1 stored before" in result.output
    assert [row.folder for row in stored(fetcher)] == ["other"]
    [state] = mailbox.state().values()
    assert KEYWORD in state[b"FLAGS"]


def test_the_apps_own_mails_are_reconciled_and_a_reply_to_an_acknowledgement_is_proposed(
    tmp_path, monkeypatch, dovecot, mailbox
):
    smtp = SMTPServer()
    smtp.start()
    try:
        app = make_app(
            tmp_path, monkeypatch, dovecot, mailbox.name,
            MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port, MAIL_SUPPRESS_SEND=False,
            SAFETY_INBOX=[USER], BATCH_ALERT_COUNT=1,
        )  # fmt: skip
        catalogued(app)  # the company's amoxicillin and its batch: one case on it alerts
        reference = reference_of(send_report(app, valid_report()))
        with app.app_context():
            assert len(mailer.deliver_pending_mail().sent) == 3
            kinds = {m.message_id: m.kind for m in db.session.scalars(sa.select(OutboxMail))}
            report_id, case_id = db.session.execute(sa.select(Report.id, Report.case_id)).one()
        sent = {kinds[re.search(rb"Message-ID: (<[^>]+>)", raw).group(1).decode()]: raw
                for raw in smtp.inbox.raw}  # fmt: skip
    finally:
        smtp.stop()
    acknowledgement = next(m for m, kind in kinds.items() if kind == "acknowledgement")
    assert b"X-ADR-Kind: safety_inbox" in sent["safety_inbox"]
    assert f"X-ADR-Reference: {reference}".encode() in sent["safety_inbox"]
    assert b"X-ADR-Kind: batch_alert" in sent["batch_alert"]
    came_in = {
        "notification": sent["safety_inbox"],
        "batch alert": sent["batch_alert"],
        "reply": mail(
            f"Re: 我们已收到您的报告 {reference}",
            "皮疹已经消退了。",
            In_Reply_To=acknowledgement,
            References=acknowledgement,
        ),
        "forged": mail(  # our headers, written by a stranger
            f"药品不良反应报告 {reference}",
            "……",
            X_ADR_Kind="safety_inbox",
            X_ADR_Reference=reference,
        ),
        "stranger": mail("咨询", "请问这个药孕妇能用吗?"),
        "letter": mail(  # a hospital's scanned report form
            "不良反应报告表",
            "见附件扫描件。",
            attachments=[("报告表.pdf", pdf(), "application/pdf")],
        ),
    }
    uids = {
        name: mailbox.append(raw, datetime(2026, 11, 22, 9, minute, tzinfo=CHINA))
        for minute, (name, raw) in enumerate(came_in.items())
    }

    result = fetch_mail(app)

    assert result.exit_code == 0, result.output
    assert "6 stored (0 too large to download, 2 reconciled)" in result.output
    rows = {name: row for row in stored(app) for name, uid in uids.items() if row.uid == uid}
    triaged = {
        name: (row.outcome, row.case_id, row.triaged_by_id, row.proposed_case_id)
        for name, row in rows.items()
    }
    assert triaged == {
        "notification": ("existing", case_id, None, None),
        "batch alert": ("existing", None, None, None),  # about several cases: none
        "reply": (None, None, None, case_id),
        "forged": (None, None, None, case_id),  # proposed, never reconciled on a header
        "stranger": (None, None, None, None),
        "letter": (None, None, None, None),
    }
    assert rows["notification"].triaged_at is not None
    assert rows["notification"].report_id == report_id and rows["batch alert"].report_id is None
    # On the triage page: what waits, with the case proposed; the app's own mails are done.
    client = signed_in(app, REVIEWER)
    page = client.get("/staff/inbox").get_data(as_text=True)
    assert "4 封邮件待分拣，最早一封收到于 2026-11-22 09:02" in page
    assert page.count(f"是否为 {reference} 的跟踪报告？") == 2
    assert "请问这个药孕妇能用吗" not in page and "咨询" in page  # subjects only, never bodies
    with app.app_context():
        reconciled = db.session.execute(
            sa.select(AuditEntry.actor, AuditEntry.report_id, AuditEntry.new_value).where(
                AuditEntry.action == "message reconciled"
            )
        ).all()
    assert sorted(reconciled, key=str) == sorted(
        [
            ("fetch-mail", report_id, str(rows["notification"].id)),
            ("fetch-mail", None, str(rows["batch alert"].id)),
        ],
        key=str,
    )
    # The letter becomes a case through the staff form, from the day it reached the inbox.
    form = client.get(f"/staff/reports/new?inbox={rows['letter'].id}").get_data(as_text=True)
    typed = form_values(form) | {"event-name": "皮疹", "drugs-0-generic_name": "阿莫西林胶囊"}
    made = client.post("/staff/reports/new", data=typed)
    assert made.status_code == 303, made.get_data(as_text=True)[:2000]
    with app.app_context():
        new = db.session.scalar(
            sa.select(Report).where(Report.reference == made.location.rsplit("/", 1)[1])
        )
        assert (new.source, new.aware_on) == ("email", date(2026, 11, 22))
        kept = {(d.origin, d.filename) for d in new.case.documents}
        assert ("attachment", "报告表.pdf") in kept and (
            "email",
            rows["letter"].document.filename,
        ) in kept
    month = client.get("/staff/inbox/reconciliation?month=2026-11").get_data(as_text=True)
    assert "本月尚未核对完毕" in month and month.count("<tr class=") == 6


def test_a_wrong_password_or_an_unreachable_server_is_an_error_without_a_traceback(
    tmp_path, monkeypatch, dovecot, mailbox
):
    cases = {
        "logging in (are the user and the password right?)": {"IMAP_PASSWORD": "wrong"},
        "connecting to the IMAP server": {"IMAP_PORT": free_port()},  # nobody listens
        "certificate verify failed": {"IMAP_SECURITY": "ssl", "IMAP_PORT": dovecot.ssl_port},
        "refused unless ADR_IMAP_HOST is this machine": {
            "IMAP_HOST": "imap.tianning.com.cn"  # none: the password would cross the network
        },
        "ADR_IMAP_SECURITY must be ssl, starttls or none": {"IMAP_SECURITY": "tls"},
        "opening the folder": {"IMAP_FOLDER": "no such folder"},
    }
    for said, settings in cases.items():
        app = make_app(tmp_path, monkeypatch, dovecot, mailbox.name, **settings)
        result = fetch_mail(app)
        assert result.exit_code == 1, (said, result.output)
        assert said in result.stderr and "Traceback" not in result.output, result.output
        assert "wrong" not in result.output and USER not in result.output


def test_settings_typed_as_numbers_stay_text_and_only_this_machine_may_go_unencrypted():
    config = {
        "IMAP_HOST": "imap.tianning.com.cn",
        "IMAP_PORT": None,
        "IMAP_USER": "tn@tianning.com.cn",
        "IMAP_PASSWORD": 123456,  # ADR_IMAP_PASSWORD=123456 arrives as JSON: a number
        "IMAP_FOLDER": "INBOX",
        "IMAP_SECURITY": "ssl",
        "IMAP_CA_FILE": None,
        "IMAP_TIMEOUT": 60,
        "IMAP_MAX_MESSAGE_MB": 40,
    }
    settings = fetch.Settings.of(config)
    assert (settings.password, settings.port, settings.max_bytes) == ("123456", 993, 40 * MB)
    assert "123456" not in repr(settings)
    assert fetch.Settings.of(config | {"IMAP_SECURITY": "starttls"}).port == 143
    for host in ("127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost", "LOCALHOST"):
        assert fetch.Settings.of(config | {"IMAP_HOST": host, "IMAP_SECURITY": "none"})
    for host in ("10.0.0.1", "::ffff:8.8.8.8", "localhost.tianning.com.cn", "127.0.0.1.nip.io",
                 "localhost.", "localhost.localdomain"):  # fmt: skip  # names DNS answers
        with pytest.raises(fetch.SettingsError, match="refused unless"):
            fetch.Settings.of(config | {"IMAP_HOST": host, "IMAP_SECURITY": "none"})


def test_the_inbox_is_read_over_starttls_or_imaps_with_the_certificate_verified(
    tmp_path, monkeypatch, dovecot, mailbox
):
    verified = {"IMAP_CA_FILE": dovecot.ca_file}
    for minute, settings in enumerate(
        [
            {"IMAP_SECURITY": "starttls", "IMAP_HOST": "localhost", **verified},
            {"IMAP_SECURITY": "ssl", "IMAP_PORT": dovecot.ssl_port, **verified},
        ]
    ):
        mailbox.append(mail("加密连接", "正文"), datetime(2026, 11, 23, 9, minute, tzinfo=CHINA))
        result = fetch_mail(make_app(tmp_path, monkeypatch, dovecot, mailbox.name, **settings))
        assert result.exit_code == 0, result.output
        assert "1 stored" in result.output


class Lines:
    """The lines a process writes, read as they come."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, args=(process.stdout,), daemon=True).start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, pattern: str, seconds: float = 30) -> re.Match:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            self.seen.append(line)
            if found := re.search(pattern, line):
                return found
        raise AssertionError(f"no line matching {pattern!r} in {self.seen}")


def test_the_loop_stores_what_arrives_backs_off_while_the_login_fails_and_stops_on_sigterm(
    database, tmp_path, dovecot, mailbox
):
    settings = dovecot.settings(mailbox.name, IMAP_POLL_SECONDS=0.1, IMAP_RETRY_MAX_SECONDS=0.4)
    environment = os.environ | {f"ADR_{name}": str(value) for name, value in settings.items()}
    environment |= {
        "ADR_SQLALCHEMY_DATABASE_URI": database,
        "ADR_SECRET_KEY": "the tests' secret key, long enough for production",
        "ADR_INSTANCE_PATH": str(tmp_path),
        "PYTHONUNBUFFERED": "1",
    }
    mailbox.append(mail("第一封", "正文"), datetime(2026, 11, 24, 9, 0, tzinfo=CHINA))
    process = subprocess.Popen(
        [sys.executable, "-c", "from adr.cli import main; main()", "fetch-mail", "--loop"],
        cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        output = Lines(process)
        output.wait_for(r"^stored: message 1$")
        with dovecot.password_changed():  # the mailbox's password changed: the login fails
            waits = [float(output.wait_for(r"logging in .*trying again in ([\d.]+) s").group(1))
                     for _ in range(4)]  # fmt: skip
        assert waits == [0.1, 0.2, 0.4, 0.4]  # doubling, up to IMAP_RETRY_MAX_SECONDS
        mailbox.append(mail("第二封", "正文"), datetime(2026, 11, 24, 9, 1, tzinfo=CHINA))
        output.wait_for(r"^stored: message 2$")
        process.send_signal(signal.SIGTERM)
        output.wait_for(r"^stopped$")
        assert process.wait(30) == 0
    finally:
        process.kill()
        process.wait()
        process.stdout.close()
    assert PASSWORD not in "\n".join(output.seen) and USER not in "\n".join(output.seen)
