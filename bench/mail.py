"""Mail: 1,000 reports queued while the mail server is down, then the outbox drained.

The SMTP server (`bench.smtp_sink`, started as bench/load.py starts it) runs in a process of
its own and writes down the Message-ID of each mail it receives, so duplicates can be counted.
Run: `make bench` (or `.venv/bin/python -m bench.mail --reports 1000`).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

import sqlalchemy as sa

from adr import create_app, mailer
from adr.extensions import db
from adr.models import OutboxMail, Report
from bench.load import MailServer, received_ids
from tests.conftest import ReportSender, app_config, valid_report
from tests.smtp import free_port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reports", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        os.environ["ADR_INSTANCE_PATH"] = folder
        port = free_port()  # nothing listens there while the reports come in
        app = create_app(
            app_config(
                Path(folder),
                MAIL_SERVER="127.0.0.1",
                MAIL_PORT=port,
                MAIL_SUPPRESS_SEND=False,
                MAIL_BACKGROUND=False,
            )
        )
        with app.app_context():
            db.create_all()
        print("== mail ==")
        client = app.test_client()
        sender = ReportSender(client)
        for number in range(args.reports):
            fields = valid_report()
            if number % 2:
                fields["reporter-email"] = ""  # half the reporters give no address
            assert sender.send(fields).status_code == 303
        with app.app_context():
            stored = db.session.scalar(sa.select(sa.func.count()).select_from(Report))
            queued = db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMail))
            started = time.process_time()
            down = mailer.deliver_pending_mail(ignore_backoff=True)
            down_cpu = time.process_time() - started
        print(f"reports stored        {stored} of {args.reports}")
        print(f"mails queued          {queued} (one per report, one per reporter address)")
        print(
            f"server down: sent {len(down.sent)}, to retry {len(down.retrying)} "
            f"({down_cpu * 1000 / queued:.2f} ms of CPU a mail)"
        )

        log = Path(folder) / "received.txt"
        log.touch()
        server = MailServer(port, log)
        server.start()
        try:
            started = time.perf_counter()
            with app.app_context():
                delivery = mailer.deliver_pending_mail(ignore_backoff=True)
            drain = time.perf_counter() - started
            received = received_ids(log, queued, seconds=30)
        finally:
            server.stop()
        duplicates = sum(count - 1 for count in Counter(received).values())
        delivered = len(set(received))
        print(f"mails delivered       {delivered} of {queued} ({len(delivery.sent)} marked sent)")
        print(f"duplicates            {duplicates}")
        print(f"drain time            {drain:.1f} s ({queued / drain:.0f} mails/s, one sender)")


if __name__ == "__main__":
    main()
