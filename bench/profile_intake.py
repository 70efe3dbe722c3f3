"""Intake: CPU per `GET /report`, per `POST /report` and per report's mails, and where it goes.

Run: `.venv/bin/python -m bench.profile_intake --requests 300 [--engine postgresql] [--top 25]
[--profile mail] [--history 30000] [--against-flush]`.
The app runs in-process through Flask's test client, with real CSRF tokens, on a SQLite file or
a durable PostgreSQL cluster of its own, whose processes' CPU per report is printed too; each
round opens the form, then posts the tests' realistic report varied as bench/load.py varies it
(the patient's age and reaction; every other one without an e-mail address), all of one batch
of the product bench/load.py puts in the catalogue.
CPU is counted around the app's WSGI call, so the test client's own work is left out. Then the
same reports are sent again and their mails delivered to bench/smtp_sink.py (a process of its
own) by passes of 1 and of 10 reports' mails, as the background sender does when reports come one by
one and under load, one SMTP connection kept across passes; CPU is counted around each pass.
`--history N` stores N demo reports first, as bench/load.py does. `--against-flush` then
alternates blocks of 25 forms and posts between the intake as it is, which inserts a new case
by Core (`adr.cases.reports.insert_new_case`), and the ORM's unit of work that did it before,
and prints the CPU of a form and post for each: the two are compared in one process, as the
machine's speed drifts between runs.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any
from unittest.mock import patch

from sqlalchemy.orm import Session

from adr import create_app, freeze_loaded, mailer
from adr.cases import reports
from adr.extensions import db
from adr.models import Case, Report
from bench.load import HOST, MailServer, cpu_seconds, register_product, store_history, varied_report
from tests.conftest import hidden_inputs
from tests.postgres import Cluster
from tests.smtp import free_port


class CPUMeter:
    """WSGI middleware that adds up the CPU time the app spends on each request method."""

    def __init__(self, wsgi_app: Any) -> None:
        self.wsgi_app = wsgi_app
        self.seconds: Counter[str] = Counter()
        self.profile: cProfile.Profile | None = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        started = time.process_time()
        if self.profile:
            self.profile.enable()
        try:
            return list(self.wsgi_app(environ, start_response))  # the body is made here too
        finally:
            if self.profile:
                self.profile.disable()
            self.seconds[environ["REQUEST_METHOD"]] += time.process_time() - started


def rounds(client, meter: CPUMeter, count: int) -> tuple[float, float]:
    """Open the form and post a report `count` times; return the app's CPU ms per GET and POST."""
    meter.seconds.clear()
    for number in range(count):
        post(client, number)
    return meter.seconds["GET"] * 1000 / count, meter.seconds["POST"] * 1000 / count


def post(client, number: int) -> None:
    """Open the form and send the tests' report, varied as bench/load.py sends it."""
    page = client.get("/report").get_data(as_text=True)
    response = client.post("/report", data={**hidden_inputs(page), **varied_report(number)})
    assert response.status_code == 303, response.status_code


def mail_rounds(
    app, client, count: int, per_pass: int, profile: cProfile.Profile | None = None
) -> float:
    """Post `count` reports, delivering their mails every `per_pass` reports; return the CPU
    ms of delivery per report."""
    seconds = 0.0
    smtp = mailer.SMTPSession()
    for number in range(count):
        post(client, number)
        if (number + 1) % per_pass:
            continue
        with app.app_context():
            started = time.process_time()
            if profile:
                profile.enable()
            delivery = mailer.deliver_pending_mail(smtp=smtp)
            if profile:
                profile.disable()
            seconds += time.process_time() - started
        assert not (delivery.retrying or delivery.failed or delivery.unrecorded)
    smtp.close()
    return seconds * 1000 / count


def flushed(session: Session, case: Case, report: Report) -> None:
    """Store a new case as the intake did before `insert_new_case`: by the ORM's flush."""
    session.add(report)
    session.flush()


def against_flush(client, meter: CPUMeter, count: int, block: int = 25) -> None:
    """Alternate blocks of pairs between the Core insert and the flush; print each one's CPU."""
    variants = {
        "Core insert (as it is)": reports.insert_new_case,
        "the ORM's flush (before)": flushed,
    }
    spent = dict.fromkeys(variants, 0.0)
    blocks = count // block
    for number in range(blocks):
        for name, insert in list(variants.items())[:: 1 if number % 2 else -1]:
            with patch.object(reports, "insert_new_case", insert):
                get_ms, post_ms = rounds(client, meter, block)
            spent[name] += get_ms + post_ms
    for name, ms in spent.items():
        print(f"{name:26} {ms / blocks:6.2f} ms CPU per form and post ({blocks} blocks of {block})")


def cluster_cpu_seconds(cluster: Cluster) -> float:
    """Return the CPU time of a PostgreSQL cluster's processes: the postmaster, its children and
    the children it reaped."""
    postmaster = int((cluster.data / "postmaster.pid").read_text().split()[0])
    children = Path(f"/proc/{postmaster}/task/{postmaster}/children").read_text().split()
    return cpu_seconds(postmaster, reaped=True) + sum(cpu_seconds(int(pid)) for pid in children)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--top", type=int, default=0, help="print the top N functions (cumtime)")
    parser.add_argument("--profile", choices=["requests", "mail"], default="requests")
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--history", type=int, default=0, help="demo reports stored first")
    parser.add_argument("--against-flush", action="store_true", help="compare the case insert")
    args = parser.parse_args()
    random.seed(1)  # the same varied reports in every run
    cluster = Cluster(durable=True) if args.engine == "postgresql" else None
    try:
        profile_intake(args, cluster)
    finally:
        if cluster:
            cluster.destroy()


def profile_intake(args: argparse.Namespace, cluster: Cluster | None) -> None:
    """Measure the form, the post and the mails on the engine given, then profile if asked."""
    with tempfile.TemporaryDirectory() as folder:
        os.environ["ADR_INSTANCE_PATH"] = folder
        server = MailServer(free_port(), Path(folder) / "received.txt")
        server.start()
        uri = (
            cluster.create_database("adr_profile")
            if cluster
            else f"sqlite:///{Path(folder) / 'adr.sqlite3'}"
        )
        config = {
            "TESTING": False,
            "SECRET_KEY": "the benchmark's secret key, long enough for production",
            "SQLALCHEMY_DATABASE_URI": uri,
            "RATELIMIT_ENABLED": False,
            "MAIL_BACKGROUND": False,
            "MAIL_SERVER": HOST,
            "MAIL_PORT": server.port,
            "LOG_LEVEL": "WARNING",
        }
        app = create_app(config)
        with app.app_context():
            db.create_all()
        if args.history:
            store_history(app, args.history, args.engine)
        else:
            register_product(app)
        freeze_loaded()  # as a gunicorn worker does once the app is loaded
        meter = CPUMeter(app.wsgi_app)
        app.wsgi_app = meter  # type: ignore[method-assign]
        client = app.test_client()
        rounds(client, meter, 20)  # warm up: imports, template compilation, caches
        before = cluster_cpu_seconds(cluster) if cluster else 0.0
        get_ms, post_ms = rounds(client, meter, args.requests)
        print(f"GET /report   {get_ms:6.2f} ms CPU per request (in the app, test client aside)")
        print(f"POST /report  {post_ms:6.2f} ms CPU per request (in the app, test client aside)")
        if cluster:
            database_ms = (cluster_cpu_seconds(cluster) - before) * 1000 / args.requests
            print(f"PostgreSQL    {database_ms:6.2f} ms CPU per form and post (its processes)")
        with app.app_context():
            mailer.deliver_pending_mail()  # the mails so far: not counted
        for per_pass in (1, 10):
            mail_ms = mail_rounds(app, client, args.requests, per_pass)
            print(f"mail delivery {mail_ms:6.2f} ms CPU per report (passes of {per_pass} reports)")
        server.stop()
        if args.against_flush:
            against_flush(client, meter, args.requests)
        if args.top:
            profile = cProfile.Profile(time.process_time)  # CPU, as the figures above
            if args.profile == "requests":
                meter.profile = profile
                rounds(client, meter, args.requests)
            else:
                server.start()
                mail_rounds(app, client, args.requests, 10, profile)
                server.stop()
            stats = pstats.Stats(profile).sort_stats("cumulative")
            stats.print_stats(args.top)


if __name__ == "__main__":
    main()
