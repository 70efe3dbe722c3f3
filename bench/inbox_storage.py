"""Inbox storage: 10,000 messages with attachments, read from a real IMAP server into the database.

Dovecot (`tests/imap.py`, on 127.0.0.1) is filled by IMAP APPEND with a safety inbox's mix,
received over a year: 35 % plain text, 15 % HTML, 30 % with a photo, 15 % with a scanned PDF,
5 % with both; each attachment 100 KB to 2 MB (log-uniform), of incompressible bytes as JPEG
and scans are. Then `adr.inbox.fetch.fetch_mail` reads the folder as `adr fetch-mail` does:
headers 50 at a time, each message downloaded alone, stored with its triage row in one
transaction (fsync), then flagged on the server. Printed: the database's growth, in all and a
message, against the messages' own bytes; the time a message fetched; and the inbox page's
query (the untriaged messages, oldest first, 50 of them, and their count) with every message
untriaged (an old mailbox read the first time) and with 50 left (a mailbox kept up to date).
When the app has `/staff/inbox`, the page itself is timed too, as a signed-in reviewer: its
first load, then the median of 20.

Run: `make bench` (or `.venv/bin/python -m bench.inbox_storage --messages 10000
[--engine sqlite|postgresql|both]`); without Dovecot it says it skipped.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import sqlalchemy as sa

sys.path.append(str(Path(__file__).resolve().parent.parent))  # bench, tests: run as a file

from adr import accounts, create_app
from adr.extensions import db
from adr.inbox import fetch
from adr.models import InboxMessage
from bench.load import database
from tests.conftest import app_config, hidden_inputs
from tests.imap import MISSING, Dovecot

KB, MB = 1024, 1024 * 1024
FOLDER = "INBOX"
MIX = [(0.35, "text"), (0.15, "html"), (0.30, "photo"), (0.15, "scan"), (0.05, "photo and scan")]
SENTENCES = [
    "您好,我母亲服用贵公司的阿莫西林胶囊后第二天躯干出现红色皮疹,伴瘙痒。",
    "已停药,并在社区医院口服氯雷他定,三天后皮疹逐渐消退。",
    "药品批号见附件照片,购于县城药店。请问是否需要进一步检查?",
    "患者女,68岁,既往有青霉素过敏史,本次因急性支气管炎就诊。",
    "附件为门诊病历及化验单扫描件,请查收。",
]
STAFF, PASSWORD = "bench@tianning.example", "inbox bench password"


def text(rng: random.Random, low: int, high: int) -> str:
    """Return Chinese prose of about `low` to `high` characters."""
    wanted = rng.randint(low, high)
    parts: list[str] = []
    while sum(map(len, parts)) < wanted:
        parts.append(rng.choice(SENTENCES))
    return "".join(parts)


def attachment_size(rng: random.Random) -> int:
    return int(math.exp(rng.uniform(math.log(100 * KB), math.log(2 * MB))))


def message(rng: random.Random, number: int) -> bytes:
    """Return one message of the mix, as a mail client would send it."""
    kind = rng.choices([kind for _share, kind in MIX], [share for share, _kind in MIX])[0]
    mail = EmailMessage()
    mail["From"] = f"报告人{number} <reporter{number}@example.com>"
    mail["To"] = "tn@tianning.com.cn"
    mail["Subject"] = f"不良反应报告 {number}"
    mail["Date"] = "Fri, 20 Nov 2026 09:15:00 +0800"
    mail["Message-ID"] = make_msgid(idstring=str(number), domain="example.com")
    body = text(rng, 200, 2500)
    if kind == "html":
        paragraphs = "".join(f"<p>{text(rng, 200, 800)}</p>" for _ in range(rng.randint(5, 40)))
        mail.set_content(body)
        mail.add_alternative(f"<html><body>{paragraphs}</body></html>", subtype="html")
    else:
        mail.set_content(body)
    if "photo" in kind:
        photo = b"\xff\xd8\xff\xe0" + rng.randbytes(attachment_size(rng))
        mail.add_attachment(photo, maintype="image", subtype="jpeg", filename="药盒.jpg")
    if "scan" in kind:
        scan = b"%PDF-1.7\n" + rng.randbytes(attachment_size(rng))
        mail.add_attachment(scan, maintype="application", subtype="pdf", filename="病历.pdf")
    return mail.as_bytes(policy=policy.SMTP)


def fill(server: Dovecot, count: int) -> int:
    """Append `count` messages received over the last year; return their bytes."""
    rng = random.Random(20261120)
    first = datetime.now(UTC) - timedelta(days=365)
    client = server.client()
    total = 0
    try:
        for number in range(count):
            raw = message(rng, number)
            total += len(raw)
            received = first + timedelta(days=365 * number / count)
            client.append(FOLDER, raw, msg_time=received)
    finally:
        client.logout()
    return total


def unflag(server: Dovecot) -> None:
    """Take the fetcher's flags off every message, for the next engine's run."""
    client = server.client()
    try:
        client.select_folder(FOLDER)
        client.remove_flags(client.search(), [b"\\Seen", fetch.KEYWORD.encode()], silent=True)
    finally:
        client.logout()


def size(engine: str, folder: Path) -> tuple[int, str]:
    """Return the database's bytes, and what its two inbox tables take where that is known."""
    if engine == "sqlite":
        db.session.execute(sa.text("PRAGMA wal_checkpoint(TRUNCATE)"))
        db.session.commit()
        return (folder / "adr.sqlite3").stat().st_size, "SQLite file"
    total, documents, messages = db.session.execute(
        sa.text(
            "SELECT pg_database_size(current_database()),"
            " pg_total_relation_size('source_document'), pg_total_relation_size('inbox_message')"
        )
    ).one()
    db.session.commit()
    return total, (
        f"pg_database_size; source_document {documents / MB:,.0f} MiB, "
        f"inbox_message {messages / MB:,.1f} MiB (pg_total_relation_size)"
    )


def untriaged_query() -> float:
    """Time the inbox page's query: 50 untriaged, oldest first, and how many there are (ms)."""
    started = time.perf_counter()
    untriaged = InboxMessage.outcome.is_(None)
    rows = db.session.scalars(
        sa.select(InboxMessage).where(untriaged).order_by(InboxMessage.received_at).limit(50)
    ).all()
    db.session.scalar(sa.select(sa.func.count()).where(untriaged))
    assert len(rows) <= 50
    db.session.rollback()
    return (time.perf_counter() - started) * 1000


def page(client) -> float:
    started = time.perf_counter()
    assert client.get("/staff/inbox").status_code == 200
    return (time.perf_counter() - started) * 1000


def timings(measure, repeat: int = 20) -> str:
    """Time `measure` `repeat` times more after a first, which is given apart."""
    first, *values = [measure() for _ in range(repeat + 1)]
    return f"first {first:.1f} ms, then median {statistics.median(values):.1f} ms"


def run(engine: str, server: Dovecot, count: int, appended: int) -> None:
    with tempfile.TemporaryDirectory() as scratch, database(engine, Path(scratch)) as where:
        folder = Path(scratch)
        os.environ["ADR_INSTANCE_PATH"] = scratch
        settings = server.settings(FOLDER, SQLALCHEMY_DATABASE_URI=where.uri)
        app = create_app(app_config(folder, TESTING=False, LOG_LEVEL="WARNING", **settings))
        with app.app_context():
            db.create_all()
            accounts.create_user(STAFF, "bench", "reviewer", PASSWORD, "bench")
            before, _ = size(engine, folder)
            started = time.perf_counter()
            fetched = fetch.fetch_mail(fetch.Settings.of(app.config))
            took = time.perf_counter() - started
            after, where_it_is = size(engine, folder)
            kept = db.session.scalar(sa.select(sa.func.sum(InboxMessage.size)))
            print(f"== inbox storage ({engine}) ==")
            print(f"messages stored       {len(fetched.stored):,} of {count:,}")
            print(f"their bytes           {appended / MB:,.0f} MiB ({kept / MB:,.0f} MiB kept)")
            grown = after - before
            print(f"database growth       {grown / MB:,.0f} MiB ({where_it_is})")
            print(
                f"a message             {grown / count / KB:,.0f} KiB in the database for "
                f"{appended / count / KB:,.0f} KiB of message ({grown / appended:.2f} ×)"
            )
            print(
                f"fetch                 {took:,.0f} s: {took / count * 1000:.1f} ms a message, "
                f"{appended / MB / took:,.0f} MiB/s"
            )
            print(f"untriaged query, {count:,} untriaged    {timings(untriaged_query)}")
            client = None
            if any(rule.rule == "/staff/inbox" for rule in app.url_map.iter_rules()):
                client = app.test_client()
                token = hidden_inputs(client.get("/login").get_data(as_text=True))["csrf_token"]
                client.post(
                    "/login", data={"email": STAFF, "password": PASSWORD, "csrf_token": token}
                )
                print(f"/staff/inbox, {count:,} untriaged       {timings(lambda: page(client))}")
            newest = sa.select(InboxMessage.id).order_by(InboxMessage.received_at.desc())
            keep = list(db.session.scalars(newest.limit(50)))
            db.session.execute(
                sa.update(InboxMessage)
                .where(InboxMessage.id.not_in(keep))
                .values(outcome="not_report", reason="spam", triaged_at=datetime.now(UTC))
            )
            db.session.commit()
            if engine == "postgresql":  # what autovacuum does in a while: dead rows out, statistics
                with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                    c.execute(sa.text("VACUUM ANALYZE inbox_message"))
            print(f"untriaged query, 50 untriaged       {timings(untriaged_query)}")
            if client is not None:
                print(f"/staff/inbox, 50 untriaged          {timings(lambda: page(client))}")
            db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--engine", choices=("sqlite", "postgresql", "both"), default="sqlite")
    args = parser.parse_args()
    if MISSING:
        print(f"== inbox storage ==\nskipped: {MISSING}")
        return
    server = Dovecot()
    try:
        started = time.perf_counter()
        appended = fill(server, args.messages)
        took = time.perf_counter() - started
        print(
            f"== inbox storage: {args.messages:,} messages, {appended / MB:,.0f} MiB, appended "
            f"to Dovecot in {took:,.0f} s =="
        )
        engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
        for number, engine in enumerate(engines):
            if number:
                unflag(server)
            run(engine, server, args.messages, appended)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
