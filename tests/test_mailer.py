"""Mail through the outbox, against a real SMTP server on 127.0.0.1: nothing mocked in between."""

from __future__ import annotations

import email
import email.header
import email.policy
import gc
import os
import re
import signal
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from adr import create_app, mailer
from adr.extensions import db
from adr.models import OutboxMail, Report
from tests.conftest import ReportSender, app_config, reference_of, send_report, valid_report
from tests.smtp import HangingServer, SMTPServer, body, free_port

INBOX = ["safety@tianning.example", "qa@tianning.example"]
PERSONAL = ["王丽", "张某某", "139 1234 5678", "0912-5647197", "wangli@example.com"]


@pytest.fixture
def smtp():
    server = SMTPServer()
    server.start()
    yield server
    server.stop()


STARTED: list = []  # apps whose background sender a test may have started


@pytest.fixture(autouse=True)
def stop_background_senders():
    """End the background threads a test started, so none outlives it."""
    yield
    while STARTED:
        STARTED.pop().extensions[mailer.EXTENSION].stop()


def make_app(tmp_path, monkeypatch, port: int, **settings):
    monkeypatch.setenv("ADR_INSTANCE_PATH", str(tmp_path))
    mail_settings = {
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": port,
        "MAIL_SUPPRESS_SEND": False,  # Flask-Mail would suppress it under TESTING
        # MAIL_TIMEOUT stays the app's 10 s: a busy CI machine once kept a reply past 2 s.
        "SAFETY_INBOX": INBOX,
        "BASE_URL": "https://adr.tianning.example",
    }
    config = app_config(tmp_path, **(mail_settings | settings))
    app = create_app(config)
    STARTED.append(app)
    return app


@pytest.fixture
def mail_app(tmp_path, monkeypatch, smtp):
    return make_app(tmp_path, monkeypatch, smtp.port)


def submit(app, fields=None, path="/report") -> str:
    return reference_of(send_report(app, valid_report() | (fields or {}), path=path))


def deliver(app, **options) -> mailer.Delivery:
    with app.app_context():
        return mailer.deliver_pending_mail(**options)


def outbox(app) -> list[OutboxMail]:
    with app.app_context():
        mails = list(db.session.scalars(sa.select(OutboxMail).order_by(OutboxMail.id)))
        db.session.expunge_all()
        return mails


def by_kind(smtp, app) -> dict[str, object]:
    kinds = {mail.message_id: mail.kind for mail in outbox(app)}
    return {kinds[message["Message-ID"]]: message for message in smtp.inbox.messages}


def test_a_report_and_its_mails_commit_together(mail_app):
    reference = submit(mail_app)
    mails = outbox(mail_app)
    assert [(m.kind, m.status, m.attempts) for m in mails] == [
        ("safety_inbox", "pending", 0),
        ("acknowledgement", "pending", 0),
    ]
    with mail_app.app_context():
        report = db.session.scalar(sa.select(Report).where(Report.reference == reference))
        assert {m.report_id for m in mails} == {report.id}
    assert mails[0].recipients == INBOX
    assert mails[1].recipients == ["wangli@example.com"]


def test_no_acknowledgement_without_an_address(mail_app):
    submit(mail_app, {"reporter-email": ""})
    assert [m.kind for m in outbox(mail_app)] == ["safety_inbox"]


def test_the_safety_inbox_gets_the_case_essentials_and_no_personal_data(mail_app, smtp):
    reference = submit(mail_app, {"event-serious": ["hospitalization"]})
    assert len(deliver(mail_app).sent) == 2
    message = by_kind(smtp, mail_app)["safety_inbox"]
    [recipients] = [r for r, m in smtp.inbox.received if m is message]
    assert sorted(recipients) == sorted(INBOX)
    assert message["From"] == "safety@tianning.example"
    assert message["Subject"].startswith("【严重】药品不良反应报告 " + reference + "，报告时限 ")
    text, html = body(message, "plain"), body(message, "html")
    for part in (text, html):
        assert reference in part
        assert "阿莫西林胶囊" in part and "[天宁]" in part and "20260315A" in part
        assert "皮疹、瘙痒" in part and "2026-11-21" in part and "好转" in part
        assert "药师" in part and "导致住院或住院时间延长" in part
        assert "完整度" in part and "100%" in part
        assert f"https://adr.tianning.example/staff/reports/{reference}" in part
        for personal in PERSONAL:
            assert personal not in part
    assert not any(p in str(v) for p in PERSONAL for _, v in message.items())


def test_a_mail_goes_on_the_wire_as_smtp_wants_it(mail_app, smtp):
    """CRLF line ends, no line past RFC 5322's 998 characters, a long Chinese subject folded
    and decoded whole, the Message-ID on its own header line, the parts under a boundary that
    the text does not hold."""
    death = {"event-outcome": "death", "event-death_cause": "过敏性休克",
             "event-death_date": "2026-11-22", "event-serious": ["hospitalization"]}  # fmt: skip
    submit(mail_app, death)
    deliver(mail_app)
    mails = {mail.message_id: mail for mail in outbox(mail_app)}
    assert len(smtp.inbox.raw) == len(mails) == 2
    for raw in smtp.inbox.raw:
        lines = raw.split(b"\r\n")
        assert b"\n" not in b"".join(lines) and max(map(len, lines)) <= 998
        message = email.message_from_bytes(raw, policy=email.policy.default)
        mail = mails[message["Message-ID"]]
        assert f"Message-ID: {mail.message_id}".encode() in lines
        assert message["Subject"] == mail.subject
        [alternative] = message.iter_parts()
        boundary = b"--" + alternative.get_boundary().encode()
        assert lines.count(boundary) == 2 and lines.count(boundary + b"--") == 1
        if message["X-ADR-Kind"] == "safety_inbox":  # 【死亡】【严重】…: folded, as encoded words
            subject = next(i for i, line in enumerate(lines) if line.startswith(b"Subject: "))
            assert lines[subject + 1].startswith(b" =?utf-8?")


def test_a_death_is_marked_in_the_subject_and_the_body(mail_app, smtp):
    death = {
        "event-outcome": "death",
        "event-death_cause": "过敏性休克",
        "event-death_date": "2026-11-22",
    }
    submit(mail_app, death)
    deliver(mail_app)
    message = by_kind(smtp, mail_app)["safety_inbox"]
    assert message["Subject"].startswith("【死亡】【严重】")
    assert "患者死亡" in body(message, "plain")


def test_personal_data_is_included_when_the_deployment_asks(tmp_path, monkeypatch, smtp):
    app = make_app(tmp_path, monkeypatch, smtp.port, MAIL_INCLUDE_PERSONAL_DATA=True)
    submit(app)
    deliver(app)
    text = body(by_kind(smtp, app)["safety_inbox"], "plain")
    for personal in PERSONAL:
        assert personal in text


def test_the_safety_mail_in_english(tmp_path, monkeypatch, smtp):
    app = make_app(tmp_path, monkeypatch, smtp.port, MAIL_LANGUAGE="en")
    reference = submit(app)
    deliver(app)
    message = by_kind(smtp, app)["safety_inbox"]
    assert message["Subject"].startswith(f"ADR report {reference}, due ")
    text = body(message, "plain")
    assert "Outcome: Getting better" in text and "Reporter is: Pharmacist" in text
    assert "好转" not in text


@pytest.mark.parametrize(
    ("path", "subject", "thanks", "care"),
    [
        ("/report", "我们已收到您的报告", "感谢您的报告", "请立即就医"),
        (
            "/report?lang=en",
            "We have received your report",
            "Thank you for your report",
            "seek medical care",
        ),
    ],
)
def test_the_reporter_is_thanked_in_their_language(mail_app, smtp, path, subject, thanks, care):
    serious = submit(mail_app, {"event-serious": ["life_threatening"]}, path=path)
    deliver(mail_app)
    message = by_kind(smtp, mail_app)["acknowledgement"]
    assert message["To"] == "wangli@example.com"
    assert message["Subject"] == f"{subject} {serious}"
    text, html = body(message, "plain"), body(message, "html")
    for part in (text, html):
        assert thanks in part and serious in part and care in part
        assert re.search(r"https://adr\.tianning\.example/report/follow-up/[\w-]{43}\b", part)
        assert "400-840-1008" in part and "safety@tianning.example" in part
        assert (
            "阿莫西林" not in part and "皮疹" not in part
        )  # no health data in the reporter's mail


def test_a_general_report_does_not_send_the_reporter_to_a_doctor(mail_app, smtp):
    submit(mail_app)
    deliver(mail_app)
    assert "请立即就医" not in body(by_kind(smtp, mail_app)["acknowledgement"], "plain")


def test_each_mail_keeps_its_message_id(mail_app, smtp):
    submit(mail_app)
    deliver(mail_app)
    assert sorted(m["Message-ID"] for m in smtp.inbox.messages) == sorted(
        m.message_id for m in outbox(mail_app)
    )


def test_line_breaks_typed_by_a_reporter_never_reach_a_header(mail_app, smtp):
    submit(
        mail_app,
        {"event-name": "皮疹\r\nBcc: victim@example.com", "reporter-name": "王\nX-Evil: 1"},
    )
    deliver(mail_app)
    for recipients, message in smtp.inbox.received:
        assert "victim@example.com" not in recipients
        assert message["Bcc"] is None and message["X-Evil"] is None


# When the mail server fails.


def test_a_dead_mail_server_loses_nothing(tmp_path, monkeypatch):
    port = free_port()  # nothing listens here yet
    app = make_app(tmp_path, monkeypatch, port)
    client = app.test_client()
    response = ReportSender(client).send(valid_report())
    reference = reference_of(response)
    assert client.get(response.location).status_code == 200
    delivery = deliver(app)
    assert len(delivery.retrying) == 2 and not delivery.sent
    assert all(
        m.status == "pending" and m.attempts == 1 and "Connection" in m.last_error
        for m in outbox(app)
    )

    server = SMTPServer()
    server.port = port
    server.start()
    try:
        assert deliver(app).sent == []  # still backing off
        assert len(deliver(app, ignore_backoff=True).sent) == 2
        assert deliver(app, ignore_backoff=True).sent == []
        messages = server.inbox.messages
        assert len(messages) == 2 and all(reference in m["Subject"] for m in messages)
        assert {m.status for m in outbox(app)} == {"sent"}
    finally:
        server.stop()


def test_a_temporary_refusal_is_retried_later(mail_app, smtp):
    submit(mail_app, {"reporter-email": ""})
    smtp.inbox.data_reply = "451 4.3.0 Try again later"
    started = datetime.now(UTC)
    assert len(deliver(mail_app).retrying) == 1
    [mail] = outbox(mail_app)
    assert (mail.status, mail.attempts, mail.last_error) == (
        "pending",
        1,
        "451 4.3.0 Try again later",
    )
    assert mail.next_attempt_at >= started + timedelta(seconds=30)

    smtp.inbox.data_reply = None
    assert deliver(mail_app).sent == []  # not due yet
    assert len(deliver(mail_app, now=mail.next_attempt_at + timedelta(seconds=1)).sent) == 1
    [mail] = outbox(mail_app)
    assert (mail.status, mail.attempts, mail.last_error) == ("sent", 2, None)
    assert len(smtp.inbox.messages) == 1


def test_a_permanent_refusal_fails_the_mail_with_the_reply_kept(mail_app, smtp):
    submit(mail_app, {"reporter-email": ""})
    smtp.inbox.data_reply = "550 5.7.1 Message rejected"
    assert len(deliver(mail_app).failed) == 1
    smtp.inbox.data_reply = None
    assert deliver(mail_app, ignore_backoff=True).sent == []  # never retried on its own
    [mail] = outbox(mail_app)
    assert (mail.status, mail.attempts, mail.last_error) == (
        "failed",
        1,
        "550 5.7.1 Message rejected",
    )
    assert len(deliver(mail_app, retry_failed=True).sent) == 1  # an operator's --retry-failed


def test_a_mail_refused_for_good_in_a_batch_fails_alone_and_the_others_go(
    tmp_path, monkeypatch, smtp
):
    app = make_app(tmp_path, monkeypatch, smtp.port, MAIL_BATCH_SIZE=3)
    submit(app)
    bounced = submit(app, {"reporter-email": "nobody@example.com"})
    submit(app, {"reporter-email": ""})  # five mails: batches of three and two
    smtp.inbox.refused["nobody@example.com"] = "550 5.1.1 No such mailbox"
    delivery = deliver(app)
    [failed] = delivery.failed
    assert (failed.kind, failed.status, failed.attempts) == ("acknowledgement", "failed", 1)
    assert bounced in failed.subject and not delivery.retrying and not delivery.unrecorded
    assert len(delivery.sent) == 4 and len(smtp.inbox.messages) == 4
    assert {(m.status, m.attempts, m.claimed_at) for m in outbox(app) if m.id != failed.id} == {
        ("sent", 1, None)
    }
    assert deliver(app, ignore_backoff=True).sent == []


def test_an_address_smtp_cannot_carry_fails_its_mail_alone_and_the_pass_goes_on(
    tmp_path, monkeypatch, smtp
):
    """A mailbox name in Chinese (王丽@…) needs SMTPUTF8, which Flask-Mail cannot write: that mail
    fails for good, named in the outbox, and the rest of its batch is sent and recorded once."""
    app = make_app(tmp_path, monkeypatch, smtp.port, MAIL_BATCH_SIZE=3)
    unsendable = submit(app)
    submit(app, {"reporter-email": ""})  # three mails: one batch
    with app.app_context():  # stored before the form refused such addresses
        db.session.execute(
            sa.update(OutboxMail)
            .where(OutboxMail.kind == "acknowledgement")
            .values(recipients=["王丽@example.com"])
        )
        db.session.commit()
    delivery = deliver(app)
    [failed] = delivery.failed
    assert failed.kind == "acknowledgement" and unsendable in failed.subject
    assert failed.last_error.startswith("UnicodeEncodeError") and "王丽" not in failed.last_error
    assert len(delivery.sent) == 2 and len(smtp.inbox.messages) == 2
    assert not delivery.retrying and not delivery.unrecorded
    assert {(m.status, m.claimed_at) for m in outbox(app) if m.id != failed.id} == {("sent", None)}
    assert deliver(app, ignore_backoff=True).sent == []  # never retried on its own


def test_a_kept_connection_the_server_dropped_is_checked_and_opened_again(mail_app, smtp):
    smtp_session = mailer.SMTPSession()  # a background sender keeps one from pass to pass
    submit(mail_app, {"reporter-email": ""})
    assert len(deliver(mail_app, smtp=smtp_session).sent) == 1
    smtp.stop()  # the server restarts while the connection is idle
    smtp.start()
    submit(mail_app, {"reporter-email": ""})
    assert len(deliver(mail_app, smtp=smtp_session).sent) == 1  # not a retry 30 s later
    smtp_session.close()
    first, second = smtp.inbox.peers
    assert first != second


def test_a_mail_still_failing_after_the_retry_window_is_failed(mail_app):
    submit(mail_app, {"reporter-email": ""})
    with mail_app.app_context():
        db.session.execute(
            sa.update(OutboxMail).values(created_at=datetime.now(UTC) - timedelta(days=4))
        )
        db.session.commit()
    mail_app.config["MAIL_PORT"] = free_port()
    mail_app.extensions["mail"].port = mail_app.config["MAIL_PORT"]
    assert len(deliver(mail_app).failed) == 1
    assert outbox(mail_app)[0].status == "failed"


@pytest.fixture
def hanging():
    server = HangingServer()
    yield server
    server.close()


def test_a_hanging_server_times_out_once_a_pass_not_once_a_mail(tmp_path, monkeypatch, hanging):
    app = make_app(tmp_path, monkeypatch, hanging.port, MAIL_TIMEOUT=1, MAIL_BATCH_SIZE=3)
    submit(app)
    submit(app)  # four mails: a batch of three, then one
    started = time.monotonic()
    delivery = deliver(app, ignore_backoff=True)
    assert time.monotonic() - started < 1 + 1.5  # one timeout, not four
    assert len(hanging.connections) == 1
    assert len(delivery.retrying) == 4 and not delivery.sent
    assert all(
        (m.status, m.attempts) == ("pending", 1) and m.last_error.endswith("timed out")
        for m in outbox(app)
    )
    deliver(app, ignore_backoff=True)  # the next pass tries the server again
    assert len(hanging.connections) == 2


def test_a_hanging_server_never_blocks_the_web_request(tmp_path, monkeypatch, hanging):
    app = make_app(tmp_path, monkeypatch, hanging.port, MAIL_TIMEOUT=1, MAIL_BACKGROUND=True)
    client = app.test_client()
    data = {**ReportSender(client).open(), **valid_report()}  # starts the background sender
    started = time.monotonic()
    assert client.post("/report", data=data).status_code == 303
    assert time.monotonic() - started < 1
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline and not all(m.last_error for m in outbox(app)):
        time.sleep(0.1)
    assert all(m.attempts >= 1 and m.last_error.endswith("timed out") for m in outbox(app))


def test_two_senders_draining_one_outbox_send_each_mail_once(mail_app, smtp):
    for _ in range(15):
        submit(mail_app)  # 30 mails
    barrier = threading.Barrier(2)
    deliveries: list[mailer.Delivery] = []

    def drain() -> None:
        barrier.wait()
        deliveries.append(deliver(mail_app, ignore_backoff=True))

    threads = [threading.Thread(target=drain) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [m["Message-ID"] for m in smtp.inbox.messages]
    assert len(ids) == 30 and len(set(ids)) == 30
    assert sum(len(d.sent) for d in deliveries) == 30
    assert {m.status for m in outbox(mail_app)} == {"sent"}


def test_a_claim_left_by_a_crashed_sender_is_released_and_sent_with_the_same_message_id(
    mail_app, smtp
):
    submit(mail_app, {"reporter-email": ""})
    with mail_app.app_context():
        db.session.execute(
            sa.update(OutboxMail).values(status="sending", claimed_at=datetime.now(UTC), attempts=1)
        )
        db.session.commit()
    assert deliver(mail_app, ignore_backoff=True).sent == []  # a live claim is left alone
    later = datetime.now(UTC) + timedelta(minutes=6)
    assert len(deliver(mail_app, now=later).sent) == 1
    [mail] = outbox(mail_app)
    assert smtp.inbox.messages[0]["Message-ID"] == mail.message_id
    assert (mail.status, mail.attempts) == ("sent", 2)


def test_a_slow_server_never_holds_a_batch_past_half_its_claim(tmp_path, monkeypatch, smtp):
    """Past its claim's timeout, another sender takes a batch's mails, those sent too: a batch
    on a slow server gives back what it has not tried by half of it, and claims it again."""
    settings = {"MAIL_BATCH_SIZE": 4, "MAIL_CLAIM_TIMEOUT_SECONDS": 2}
    app = make_app(tmp_path, monkeypatch, smtp.port, **settings)
    submit(app)
    submit(app)  # four mails: one batch
    smtp.inbox.on_message = lambda: time.sleep(0.6)  # 2.4 s for the four
    first: list[mailer.Delivery] = []
    sender = threading.Thread(target=lambda: first.append(deliver(app)))
    sender.start()
    smtp.inbox.wait_for(1)
    claimed = outbox(app)[0].claimed_at  # the batch's claim
    smtp.inbox.wait_for(3)
    # Another sender once the batch's first claim has run out, its own sender still at work:
    second = deliver(app, now=claimed + timedelta(seconds=2.05))
    sender.join()
    ids = [m["Message-ID"] for m in smtp.inbox.messages]
    assert len(ids) == 4 and len(set(ids)) == 4
    assert len(first[0].sent) + len(second.sent) == 4
    assert {(m.status, m.attempts, m.claimed_at) for m in outbox(app)} == {("sent", 1, None)}


def test_a_mail_the_sender_cannot_write_fails_alone_and_its_batch_is_recorded(mail_app, smtp):
    """An error nobody foresaw (here Flask-Mail's assertion on a row stored without
    recipients) is the mail's: the mails of its batch already sent are recorded, not left
    claimed to be sent again when the claim runs out."""
    submit(mail_app)
    submit(mail_app, {"reporter-email": ""})  # three mails: one batch
    with mail_app.app_context():
        db.session.execute(sa.update(OutboxMail).where(OutboxMail.id == 2).values(recipients=[]))
        db.session.commit()
    delivery = deliver(mail_app)
    [retrying] = delivery.retrying
    assert retrying.id == 2 and retrying.last_error.startswith("AssertionError")
    assert len(delivery.sent) == 2 and len(smtp.inbox.messages) == 2
    assert [(m.status, m.attempts, m.claimed_at is None) for m in outbox(mail_app)] == [
        ("sent", 1, True),
        ("pending", 1, True),
        ("sent", 1, True),
    ]


# When the database blips between the send and the mark.


@pytest.fixture
def outage(engine, database):
    """Make the test's database unreachable for a few seconds, from a call onwards."""
    timers: list[threading.Timer] = []

    def start_outage(seconds: float) -> Callable[[], None]:
        def start() -> None:
            if engine == "sqlite":
                end = hold_sqlite_write_lock(database)
            else:
                end = refuse_postgresql_connections(database)
            timer = threading.Timer(seconds, end)
            timers.append(timer)
            timer.start()

        return start

    yield start_outage
    for timer in timers:
        timer.join()


def hold_sqlite_write_lock(uri: str) -> Callable[[], None]:
    """Take SQLite's write lock from another connection; return what releases it."""
    holder = sqlite3.connect(
        sa.make_url(uri).database, isolation_level=None, check_same_thread=False
    )
    holder.execute("BEGIN IMMEDIATE")

    def release() -> None:
        holder.execute("COMMIT")
        holder.close()

    return release


def refuse_postgresql_connections(uri: str) -> Callable[[], None]:
    """End the database's connections and refuse new ones, as a restart does; return the undo
    (called at once: the connections ended, as by an idle timeout)."""
    url = sa.make_url(uri)
    admin = sa.create_engine(
        url.set(database="postgres"), poolclass=NullPool, isolation_level="AUTOCOMMIT"
    )
    connection = admin.connect()
    connection.exec_driver_sql(f'ALTER DATABASE "{url.database}" ALLOW_CONNECTIONS false')
    ended = connection.execute(
        sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"),
        {"name": url.database},
    )
    assert all(ended.scalars())

    def reopen() -> None:
        connection.exec_driver_sql(f'ALTER DATABASE "{url.database}" ALLOW_CONNECTIONS true')
        connection.close()
        admin.dispose()

    return reopen


def once(action: Callable[[], None]) -> Callable[[], None]:
    """Return `action` made to run on the first call only."""
    calls: list[None] = []

    def first_time_only() -> None:
        if not calls:
            calls.append(None)
            action()

    return first_time_only


def test_a_mail_sent_while_the_database_blips_is_marked_sent_once_it_is_back(
    tmp_path, monkeypatch, smtp, outage
):
    app = make_app(
        tmp_path, monkeypatch, smtp.port, SQLITE_BUSY_TIMEOUT_MS=200, MAIL_RECORD_RETRY_SECONDS=30
    )
    submit(app, {"reporter-email": ""})
    smtp.inbox.on_message = once(outage(seconds=2))  # the server has the mail; no 250 yet
    started = time.monotonic()
    delivery = deliver(app)
    assert time.monotonic() - started >= 1.5  # the mark waited for the database
    assert len(delivery.sent) == 1 and not delivery.unrecorded
    [mail] = outbox(app)
    assert (mail.status, mail.attempts, mail.claimed_at) == ("sent", 1, None)
    long_after = datetime.now(UTC) + timedelta(hours=1)
    assert deliver(app, now=long_after, retry_failed=True).sent == []
    assert len(smtp.inbox.messages) == 1


@pytest.mark.sqlite_only
def test_a_batch_that_cannot_be_marked_does_not_stop_the_next_being_sent_and_marked(
    tmp_path, monkeypatch, smtp, outage
):
    # One mail a batch. The first mark gives up after one try (1.5 s busy timeout, 0.2 s to
    # retry); the lock is free again at 2 s, while the second batch's claim is still waiting.
    app = make_app(
        tmp_path,
        monkeypatch,
        smtp.port,
        SQLITE_BUSY_TIMEOUT_MS=1500,
        MAIL_RECORD_RETRY_SECONDS=0.2,
        MAIL_BATCH_SIZE=1,
    )
    submit(app)
    smtp.inbox.on_message = once(outage(seconds=2))
    delivery = deliver(app)
    first, second = outbox(app)
    assert [m.id for m in delivery.unrecorded] == [first.id]
    assert [m.id for m in delivery.sent] == [second.id]
    assert (first.status, second.status) == ("sending", "sent")
    assert len(smtp.inbox.messages) == 2


def test_the_background_sender_delivers_within_seconds(tmp_path, monkeypatch, smtp):
    app = make_app(tmp_path, monkeypatch, smtp.port, MAIL_BACKGROUND=True, MAIL_POLL_SECONDS=30)
    reference = submit(app)
    messages = smtp.inbox.wait_for(2, seconds=10)
    assert len(messages) == 2 and all(reference in m["Subject"] for m in messages)
    # The next report comes within MAIL_PASS_SECONDS of that pass: its mails follow, long
    # before the 30 s poll, over the connection the sender kept.
    following = submit(app)
    messages = smtp.inbox.wait_for(4, seconds=10)
    assert len(messages) == 4 and all(following in m["Subject"] for m in messages[2:])
    assert len(set(smtp.inbox.peers)) == 1


def test_retry_delays_double_up_to_the_cap(mail_app):
    with mail_app.app_context():
        delays = [mailer.retry_delay(n).total_seconds() for n in range(1, 10)]
    assert delays == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]


# adr send-mail.


def test_send_mail_prints_what_it_sent_and_exits_0(mail_app, smtp):
    reference = submit(mail_app)
    result = mail_app.test_cli_runner().invoke(args=["send-mail"])
    assert result.exit_code == 0, result.output
    assert result.output.count("sent: mail") == 2 and reference in result.output
    assert "2 sent, 0 to retry, 0 failed" in result.output


def test_send_mail_exits_1_when_a_mail_fails_and_retries_failed_on_request(mail_app, smtp):
    submit(mail_app, {"reporter-email": ""})
    smtp.inbox.data_reply = "554 5.7.1 Relay access denied"
    runner = mail_app.test_cli_runner()
    result = runner.invoke(args=["send-mail"])
    assert result.exit_code == 1
    assert "failed: mail 1" in result.output and "554 5.7.1 Relay access denied" in result.output
    smtp.inbox.data_reply = None
    assert "0 sent" in runner.invoke(args=["send-mail"]).output
    result = runner.invoke(args=["send-mail", "--retry-failed"])
    assert result.exit_code == 0 and "1 sent" in result.output


def test_the_sender_loop_delivers_what_comes_outlives_a_failed_pass_and_stops_on_sigterm(
    tmp_path, monkeypatch, smtp, caplog
):
    """`adr send-mail --loop`, the sender of a deployment whose web workers send nothing."""
    app = make_app(tmp_path, monkeypatch, smtp.port, MAIL_POLL_SECONDS=0.05, MAIL_PASS_SECONDS=0)
    submit(app, {"reporter-email": ""})  # one mail, to the safety inbox
    passes: list[dict] = []
    deliver_pending_mail = mailer.deliver_pending_mail
    loop = threading.current_thread()  # the CLI runner runs the loop in this thread

    def a_pass(**options) -> mailer.Delivery:
        if threading.current_thread() is not loop:  # another app's sender left running
            return deliver_pending_mail(**options)
        passes.append(options)
        if len(passes) == 2:
            submit(app, {"reporter-email": ""})  # a report while it runs
            raise sa.exc.OperationalError("SELECT", {}, Exception("the server restarts"))
        assert gc.get_freeze_count() > 0  # what it loaded is left out of collections
        delivery = deliver_pending_mail(**options)
        if len(smtp.inbox.messages) == 2 or len(passes) > 100:
            os.kill(os.getpid(), signal.SIGTERM)  # as systemd stops the service
        return delivery

    handlers = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    monkeypatch.setattr("adr.cli.mailer.deliver_pending_mail", a_pass)
    try:
        result = app.test_cli_runner().invoke(args=["send-mail", "--loop", "--retry-failed"])
    finally:
        signal.signal(signal.SIGTERM, handlers[0])
        signal.signal(signal.SIGINT, handlers[1])
        gc.unfreeze()
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "stopped"
    assert [line.split(":")[0] for line in result.output.splitlines()[1:-1]] == [
        "mail 1 (safety_inbox)",
        "mail 2 (safety_inbox)",
    ]
    assert len(smtp.inbox.messages) == 2
    assert [p["retry_failed"] for p in passes[:3]] == [True, False, False]  # once, as asked
    assert "mail delivery pass failed; trying again later" in caplog.text


def test_a_follow_up_names_the_first_report_in_the_safety_mail(mail_app, smtp):
    first = submit(mail_app)  # its acknowledgement carries the link the follow-up comes by
    submit(mail_app, {"reporter-email": "", "follow_up_of": first})
    deliver(mail_app)
    texts = [body(m, "plain") for m in smtp.inbox.messages]
    assert any("报告：首次报告" in text for text in texts)
    assert any(f"报告：跟踪报告 {first}" in text for text in texts)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("Message-ID", "<179658270257.24534.4561087485747908479.adr.d7ad9a97@tianning.com.cn>"),
        ("X-ADR-Kind", "safety_inbox"),
        ("To", "a@example.com, b@example.com"),
        ("Subject", "  spaces  inside   and around  "),
        ("Subject", "=?utf-8?b?5aSp5a6B?="),
        ("X", "x" * 995),  # the line at the limit
        ("X", "x" * 996),  # past it
        ("Subject", "word " * 300),
        ("Subject", "two\r\n lines"),
        ("Subject", "a form\x0cfeed, which splits a line too"),
        ("Subject", "天宁 ADR report"),
        ("From", email.header.Header("天宁", "utf-8")),
    ],
)
def test_the_wire_writes_each_header_as_compat32_does(name, value):
    """The shortcut for a header of one ASCII line changes no byte of what compat32 writes."""
    compat32 = email.policy.compat32.clone(linesep="\r\n", max_line_length=998)
    assert mailer.WIRE_POLICY.fold_binary(name, value) == compat32.fold_binary(name, value)
