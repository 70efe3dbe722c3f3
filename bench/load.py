"""Load and faults: 16 browsers send reports to gunicorn while a worker, mail and the DB fail.

The app runs as production does (README, "Production"): gunicorn with gunicorn.conf.py (2 sync
workers) and one `adr send-mail --loop` at nice 10 delivering the mail, on SQLite, then on a
durable PostgreSQL cluster; the catalogue holds the company's product the reports name, with its
batch, so each report is linked to it and counted by the batch alert and the group-event check
(every report of the run names that batch, without a place: a product's scare in one week).
`--history N` starts from N demo reports of the last three months and the demo's catalogue,
its tables analysed on PostgreSQL, as a deployment that has been running; `--uncatalogued`
from an empty catalogue, as the runs before intake8 did (docs/benchmarks.md).
Each client opens the form, then posts a report, and retries a failed post with the same
submission token, as a browser's second click would. A third of the way in, one worker is
killed and the mail server stops; two thirds in, the mail server comes back and PostgreSQL
restarts. Afterwards the outbox drains and the database, the clients' receipts and the mail
server's log are compared; then the ceilings of `GET /healthz` and `GET /report` are measured.
`--statements N` counts PostgreSQL's statements over the run (pg_stat_statements, from after
the history) and prints what they took for each report, the N longest one by one.
Run: `make bench` (or `.venv/bin/python -m bench.load --seconds 60 --engine both`).
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import re
import resource
import runpy
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

import sqlalchemy as sa
from flask import Flask

from adr import batches, create_app, demo
from adr.extensions import db as app_db  # `db` is the run's database below
from adr.models import write_transaction
from adr.regulator import compliance
from bench.smtp_sink import COMMAND as SINK
from tests.conftest import amoxicillin, hidden_inputs, valid_report
from tests.postgres import Cluster, server_binaries
from tests.smtp import free_port

BIN = Path(sys.executable).parent
CONFIG = Path(__file__).parents[1] / "gunicorn.conf.py"
HOST = "127.0.0.1"
REFERENCE = re.compile(r"/report/submitted/(ADR-\d{6}-[0-9A-Z]{6})$")
HIDDEN = re.compile(r"<input[^>]*type=\"hidden\"[^>]*>")
# Until the app's logger is first used, Flask has not given it a handler and Python prints
# warnings bare; afterwards they carry Flask's "[time] LEVEL in module:" prefix.
MAIL_RETRY = re.compile(r"(^|: )mail \d+ to the \w+: ")
PROBLEM = re.compile(
    r"\[ERROR\]|(ERROR|WARNING) in|^\w[\w.]*(Error|Exception)\b|^mail \d+ to the|delivery pass"
)
TIMESTAMP = re.compile(r"^\[[^]]*\] (\[\d+\] )?")
POST_ATTEMPTS = 6
RETRY_BASE_SECONDS = 0.25
# The sender runs at README's adr-mail.service niceness; the bench's mail server, which stands
# in for the company's on another machine, gives way to the app too. The clients do not: gunicorn
# waits for a client to close its side of the connection before it takes the next request.
NICE = 10
NICED = [shutil.which("nice") or "/usr/bin/nice", "-n", str(NICE)]
SENDERS = {"process": f"adr send-mail --loop (nice {NICE})", "thread": "a thread in each worker"}


# The processes: mail server, gunicorn, database.


class MailServer:
    """`bench.smtp_sink` in a process of its own, appending each Message-ID it receives to `log`."""

    def __init__(self, port: int, log: Path) -> None:
        self.port = port
        self.log = log
        self.process: subprocess.Popen[str] | None = None
        self.spent = 0.0  # the CPU seconds of the processes stopped

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - our own script
            [*NICED, *SINK, str(self.port), str(self.log)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "ready"

    def stop(self) -> None:
        if self.process is not None:
            self.spent += cpu_seconds(self.process.pid)
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def cpu_seconds(self) -> float:
        """Return the CPU time of the server's processes, the stopped ones included."""
        return self.spent + (cpu_seconds(self.process.pid) if self.process else 0.0)


class Sender:
    """`adr send-mail --loop` in a process of its own, the web workers' own threads off."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        with open(log, "w") as output:
            self.process = subprocess.Popen(  # noqa: S603 - our own venv's adr
                [*NICED, str(BIN / "adr"), "send-mail", "--loop"],
                env=env, stdout=output, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.process.pid)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)


class Gunicorn:
    """The app under gunicorn on 127.0.0.1, with gunicorn.conf.py (N > 1 threads: gthread)."""

    def __init__(
        self, env: dict[str, str], workers: int, threads: int | None, log: Path, app: str
    ) -> None:
        self.port = free_port()
        self.log = log
        per_worker = ["--worker-class", "gthread", "--threads", str(threads)] if threads else []
        with open(log, "w") as output:
            self.process = subprocess.Popen(  # noqa: S603 - our own venv's gunicorn
                [str(BIN / "gunicorn"), "--config", str(CONFIG), "-w", str(workers), *per_worker,
                 "-b", f"{HOST}:{self.port}", "--log-level", "warning", app],
                env=env, stdout=output, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def worker_pids(self) -> list[int]:
        """Return the pids of the master's children, read from /proc."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]

    def wait_until_ready(self, workers: int, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if len(self.worker_pids()) >= workers and request(self.port, "GET", "/healthz")[0]:
                return
            time.sleep(0.2)
        raise RuntimeError("gunicorn did not answer /healthz")

    def cpu_seconds(self) -> float:
        """Return the CPU time of the master, its live workers and the workers it reaped."""
        seconds = cpu_seconds(self.process.pid, reaped=True)
        for pid in self.worker_pids():
            with suppress(FileNotFoundError):  # a worker that just ended
                seconds += cpu_seconds(pid)
        return seconds

    def kill_worker(self) -> int:
        """SIGKILL one worker, as the kernel's OOM killer would; the master starts another."""
        pid = self.worker_pids()[0]
        os.kill(pid, signal.SIGKILL)
        return pid

    def stop(self) -> None:
        """Ask the master to stop its workers gracefully; kill it if it takes too long."""
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def cpu_seconds(pid: int, reaped: bool = False) -> float:
    """Return a process's CPU time from /proc, with its reaped children's if asked."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return sum(int(n) for n in fields[11 : 15 if reaped else 13]) / os.sysconf("SC_CLK_TCK")


def request(port: int, method: str, path: str) -> tuple[int, bytes]:
    """Send one request on a fresh connection; (0, b"") when the connection fails."""
    connection = http.client.HTTPConnection(HOST, port, timeout=5)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        return response.status, response.read()
    except (OSError, http.client.HTTPException):
        return 0, b""
    finally:
        connection.close()


@dataclass
class Database:
    """Where the app keeps its data, and how to bring it down for a moment (PostgreSQL only)."""

    engine: str
    uri: str
    restart: Callable[[], None] | None = None


@contextmanager
def database(engine: str, folder: Path, statements: bool = False) -> Iterator[Database]:
    """Yield an empty database on `engine`; a PostgreSQL cluster is destroyed afterwards, and
    counts its statements (pg_stat_statements) if asked."""
    if engine == "sqlite":
        yield Database(engine, f"sqlite:///{folder / 'adr.sqlite3'}")
        return
    cluster = Cluster(durable=True, settings=STATEMENTS_LIBRARY if statements else None)
    try:

        def restart() -> None:
            cluster.stop("fast")
            cluster.start()

        cluster.create_database("adr_load")
        # Through the server's Unix socket, as README's production connects on one host.
        yield Database(engine, cluster.url("adr_load", socket=True), restart)
    finally:
        cluster.destroy()


def app_env(folder: Path, uri: str, mail_port: int) -> dict[str, str]:
    """Return the environment of `adr db upgrade` and gunicorn: the app's settings as ADR_*."""
    return os.environ | {
        "ADR_INSTANCE_PATH": str(folder),
        "ADR_SQLALCHEMY_DATABASE_URI": uri,
        "ADR_SECRET_KEY": "a long random secret key for the load run only",
        "ADR_RATELIMIT_ENABLED": "false",
        "ADR_MAIL_SERVER": HOST,
        "ADR_MAIL_PORT": str(mail_port),
        "ADR_MAIL_POLL_SECONDS": "1",
        "ADR_MAIL_RETRY_BASE_SECONDS": "2",
        "ADR_MAIL_RETRY_MAX_SECONDS": "5",
        # A worker killed mid-send leaves its claim behind; release it within the run.
        "ADR_MAIL_CLAIM_TIMEOUT_SECONDS": "20",
    }


# What each statement cost PostgreSQL during the run (--statements).
STATEMENTS_LIBRARY = {"shared_preload_libraries": "'pg_stat_statements'"}
ALL_STATEMENTS = sa.text("SELECT sum(calls), sum(total_exec_time) FROM pg_stat_statements")
LONGEST_STATEMENTS = sa.text(  # by its text: the runs count some statements in two entries
    "SELECT sum(calls)::float8, sum(total_exec_time), sum(shared_blks_hit)::float8,"
    " sum(shared_blks_read)::float8, query"
    " FROM pg_stat_statements GROUP BY query ORDER BY 2 DESC LIMIT :top"
)


def count_statements(app: Flask) -> None:
    """Count PostgreSQL's statements from now on: the run's, not the history's."""
    with app.app_context():
        with app_db.engine.begin() as connection:
            connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            connection.exec_driver_sql("SELECT pg_stat_statements_reset()")
        app_db.engine.dispose()


def print_statements(app: Flask, reports: int, top: int) -> None:
    """Print what PostgreSQL's statements took during the run for each report acknowledged,
    the `top` longest one by one. Their time is wall time: waits for a lock or a core count."""
    with app.app_context():
        with app_db.engine.connect() as connection:
            calls, took = connection.execute(ALL_STATEMENTS).one()
            longest = connection.execute(LONGEST_STATEMENTS, {"top": top}).all()
        app_db.engine.dispose()
    print(
        f"statements            {calls / reports:.1f} a report, {took / reports:.2f} ms a report; "
        f"the {top} longest (calls a report, µs a call, buffers hit and read a call):"
    )
    for calls, took, hit, read, query in longest:
        text = " ".join(query.split())
        text = text if len(text) <= 100 else f"{text[:66]} … {text[-30:]}"  # FOR UPDATE, LIMIT
        print(
            f"  {calls / reports:5.2f} {took / calls * 1000:7.0f} µs "
            f"{hit / calls:7.1f} {read / calls:5.1f}  {text}"
        )


def register_product(app: Flask) -> None:
    """Put the product the reports name in the catalogue, with their batch, as a company's
    catalogue holds its own products (staff add them at /staff/products)."""
    with app.app_context():
        with write_transaction() as session:
            session.add(amoxicillin())
        app_db.engine.dispose()  # no connection of the bench's kept open through the run


def store_history(app: Flask, reports: int, engine: str) -> None:
    """Store `reports` demo reports received over the three months before this one, the demo's
    catalogue with them (the reports' product and batch among it), count the batch tally's
    window from today, and analyse the tables on PostgreSQL: the database of a deployment that
    has been running, whose staff read the batch table daily and whose tables autovacuum has
    analysed. A run from an empty database runs its whole minute on plans made without
    statistics, as autovacuum first visits a new database a minute after it starts."""
    first, this_month = compliance.last_months(datetime.now(UTC), 4)
    months = compliance.months_between(first, this_month)[:-1]
    per_month = reports // len(months)
    started = time.perf_counter()
    with app.app_context():
        for number, month in enumerate(months):
            demo.make_demo_data(per_month, month, seed=number)
        # Staff have opened the batch table today: the batch tally counts today's window.
        batches.count_window(batches.window_start(batches.alert_settings()[1]))
        if engine == "postgresql":
            with app_db.engine.begin() as connection:
                connection.exec_driver_sql("ANALYZE")
        app_db.engine.dispose()
    took = time.perf_counter() - started
    stored = per_month * len(months)
    print(f"history               {stored} demo reports stored in {took:.0f} s", flush=True)


# The clients.


@dataclass
class Sample:
    """One HTTP request as a client saw it; status 0 means the connection failed."""

    kind: str
    started: float
    seconds: float
    status: int


@dataclass
class Submission:
    """One report a client tried to send: its token, and the reference it was given, if any."""

    token: str
    reference: str | None = None
    attempts: int = 0
    pair_seconds: float | None = None


@dataclass
class Record:
    """What all clients saw, appended from their threads."""

    samples: list[Sample] = field(default_factory=list)
    submissions: list[Submission] = field(default_factory=list)


@dataclass
class Answer:
    """What a client got back: status, Location header and body."""

    status: int
    location: str = ""
    text: str = ""


class Browser:
    """One client: a keep-alive connection (reopened when gunicorn closes it) and a cookie jar."""

    def __init__(self, port: int, record: Record, origin: float) -> None:
        self.port = port
        self.record = record
        self.origin = origin
        self.cookies: dict[str, str] = {}
        self.connection = http.client.HTTPConnection(HOST, port, timeout=30)

    def send(self, kind: str, method: str, path: str, body: str | None = None) -> Answer:
        """Send one request and record it; status 0 means the connection failed."""
        headers = {"Accept-Language": "zh-CN,zh;q=0.9"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.perf_counter()
        try:
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
            text = response.read().decode()
        except (OSError, http.client.HTTPException):
            self.connection.close()
            self.record.samples.append(Sample(kind, started - self.origin, 0.0, 0))
            return Answer(0)
        elapsed = time.perf_counter() - started
        self.record.samples.append(Sample(kind, started - self.origin, elapsed, response.status))
        for header in response.headers.get_all("Set-Cookie") or []:
            self.cookies |= {name: morsel.value for name, morsel in SimpleCookie(header).items()}
        if response.will_close:
            self.connection.close()
        return Answer(response.status, response.getheader("Location", ""), text)


def varied_report(number: int) -> dict[str, object]:
    """Return the tests' realistic report, varied a little; every other one without an e-mail."""
    fields = valid_report()
    age = random.randint(18, 90)  # born in March, the reaction in November 2026
    fields |= {"patient-age": str(age), "patient-birth_date": f"{2026 - age}-03-14"}
    fields["event-name"] = random.choice(["皮疹、瘙痒", "恶心、呕吐", "头晕", "腹泻"])
    fields["event-outcome"] = random.choice(["improving", "recovered", "unknown"])
    if number % 2:
        fields["reporter-email"] = ""
    return fields


def open_and_submit(browser: Browser, number: int) -> None:
    """Open the form, then post one report, retrying a failed post with the same token."""
    started = time.perf_counter()
    form = browser.send("GET", "GET", "/report")
    if form.status != 200:
        time.sleep(RETRY_BASE_SECONDS)
        return
    hidden = hidden_inputs("".join(HIDDEN.findall(form.text)))
    submission = Submission(hidden["submission_token"])
    browser.record.submissions.append(submission)
    body = urlencode({**hidden, **varied_report(number)}, doseq=True)
    for attempt in range(POST_ATTEMPTS):
        submission.attempts += 1
        answer = browser.send("POST", "POST", "/report", body)
        match = REFERENCE.search(answer.location) if answer.status == 303 else None
        if match:
            submission.reference = match.group(1)
            submission.pair_seconds = time.perf_counter() - started
            return
        if 0 < answer.status < 500:
            return  # refused for good (a 4xx): a browser would show the page, not retry
        time.sleep(RETRY_BASE_SECONDS * 2**attempt)


def run_clients(
    port: int, clients: int, seconds: float, step: Callable[[Browser, int], None]
) -> Record:
    """Run `clients` browsers for `seconds`, each repeating `step`; return what they saw."""
    record = Record()
    origin = time.perf_counter()
    deadline = origin + seconds

    def loop(client: int) -> None:
        browser = Browser(port, record, origin)
        number = client
        while time.perf_counter() < deadline:
            step(browser, number)
            number += clients
        browser.connection.close()

    threads = [threading.Thread(target=loop, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 120)
    return record


# The faults.


@dataclass
class Faults:
    """When each fault happened, in seconds since the clients started."""

    events: list[str] = field(default_factory=list)
    outage: tuple[float, float] | None = None
    killed: int | None = None
    done: bool = False  # every fault injected: figures from a run without them would mislead


def inject_faults(
    seconds: float, server: Gunicorn, mail: MailServer, db: Database, faults: Faults
) -> None:
    """Kill a worker and stop mail at a third of the run; restore both, restart the DB, at 2/3."""
    origin = time.perf_counter()

    def now() -> float:
        return time.perf_counter() - origin

    def wait_until(moment: float) -> None:
        time.sleep(max(0.0, moment - now()))

    wait_until(seconds / 3)
    faults.killed = server.kill_worker()
    faults.events.append(f"{now():5.1f} s  SIGKILL worker {faults.killed}")
    mail.stop()
    faults.events.append(f"{now():5.1f} s  mail server stopped")
    wait_until(seconds * 2 / 3)
    mail.start()
    faults.events.append(f"{now():5.1f} s  mail server started again")
    if db.restart is not None:
        down = now()
        db.restart()
        faults.outage = (down, now())
        faults.events.append(f"{down:5.1f} s  PostgreSQL stopped (fast), up again at {now():.1f} s")
    faults.events.append(f"{now():5.1f} s  workers now {server.worker_pids()}")
    faults.done = True


# The figures.


def percentiles(values: list[float]) -> str:
    """Return the 50th, 95th and 99th percentiles in milliseconds."""
    if len(values) < 2:
        return "n/a"
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return " / ".join(f"{cuts[p - 1] * 1000:.0f}" for p in (50, 95, 99)) + " ms"


def in_outage(sample: Sample, outage: tuple[float, float] | None) -> bool:
    """Tell whether a request was under way while the database was down."""
    if outage is None:
        return False
    return sample.started <= outage[1] and sample.started + sample.seconds >= outage[0]


def wait_for_outbox(uri: str, seconds: float = 60) -> float:
    """Poll until every mail is sent (or failed for good); return the time it took."""
    engine = sa.create_engine(uri)
    started = time.perf_counter()
    try:
        while time.perf_counter() - started < seconds:
            with engine.connect() as connection:
                waiting = connection.scalar(
                    sa.text(
                        "SELECT count(*) FROM outbox_mail WHERE status NOT IN ('sent', 'failed')"
                    )
                )
            if not waiting:
                break
            time.sleep(1)
    finally:
        engine.dispose()
    return time.perf_counter() - started


def received_ids(log: Path, expected: int, seconds: float = 10) -> list[str]:
    """Return the Message-IDs the SMTP server logged, once `expected` are in or time is up."""
    deadline = time.monotonic() + seconds
    ids = log.read_text().split()
    while len(ids) < expected and time.monotonic() < deadline:
        time.sleep(0.2)
        ids = log.read_text().split()
    return ids


@dataclass
class Stored:
    """What the database holds after the run."""

    references: set[str]
    statuses: Counter[str]
    mails: dict[str, tuple[int, str, int]]  # Message-ID: outbox id, kind, attempts
    mails_expected: int


def read_database(uri: str) -> Stored:
    """Read the reports and the outbox with a plain SQLAlchemy engine, not through the app."""
    engine = sa.create_engine(uri)
    try:
        with engine.connect() as connection:
            # The run's reports, not a stored history's (demo reports, with tokens of their own).
            sent = f"FROM report WHERE submission_token NOT LIKE '{demo.TOKEN_PREFIX}%'"
            references = set(connection.scalars(sa.text(f"SELECT reference {sent}")))
            by_status = sa.text("SELECT status, count(*) FROM outbox_mail GROUP BY status")
            statuses: Counter[str] = Counter(dict(connection.execute(by_status).all()))
            rows = connection.execute(
                sa.text("SELECT message_id, id, kind, attempts FROM outbox_mail")
            )
            mails = {message_id: (number, kind, tries) for message_id, number, kind, tries in rows}
            with_address = connection.scalar(
                sa.text(f"SELECT count(*) {sent} AND coalesce(reporter_email, '') <> ''")
            )
    finally:
        engine.dispose()
    # One mail to the safety inbox per report, one acknowledgement per reporter address, and the
    # batch alerts and group-event mails the reports made (those as the outbox holds them).
    per_report = ("safety_inbox", "acknowledgement")
    signals = sum(kind not in per_report for _number, kind, _tries in mails.values())
    return Stored(references, statuses, mails, len(references) + (with_address or 0) + signals)


def ceiling(port: int, clients: int, seconds: float, path: str) -> float:
    """Return the requests/s that `clients` browsers get from `path`, counting 200s only."""

    def fetch(browser: Browser, _number: int) -> None:
        browser.send(path, "GET", path)

    record = run_clients(port, clients, seconds, fetch)
    return sum(1 for sample in record.samples if sample.status == 200) / seconds


def report(record: Record, faults: Faults, seconds: float) -> None:
    """Print what the clients saw during the load and the faults."""
    acknowledged = [s for s in record.submissions if s.reference]
    samples = record.samples
    statuses = Counter(s.status for s in samples)
    print("faults:\n    " + "\n    ".join(faults.events))
    answers = ", ".join(f"{code or 'no answer'} × {n}" for code, n in sorted(statuses.items()))
    print(f"requests              {len(samples)}: {answers}")
    print(f"reports acknowledged  {len(acknowledged)} ({len(acknowledged) / seconds:.1f}/s)")
    given_up = len(record.submissions) - len(acknowledged)
    retried = sum(1 for s in acknowledged if s.attempts > 1)
    print(f"posts given up        {given_up} (after {POST_ATTEMPTS} attempts, or refused)")
    print(f"acknowledged on retry {retried}")
    for kind, status in (("GET", 200), ("POST", 303)):
        times = [s.seconds for s in samples if s.kind == kind and s.status == status]
        print(f"{kind + ' /report':<21} p50/p95/p99 {percentiles(times)}")
    pairs = [s.pair_seconds for s in acknowledged if s.pair_seconds is not None]
    print(f"{'form + post pair':<21} p50/p95/p99 {percentiles(pairs)}")
    failed = [s for s in samples if s.status >= 500 or s.status == 0]
    windows = [("outside the outage", False), ("inside the outage", True)]
    for name, inside in windows[: 2 if faults.outage else 1]:
        group = [s for s in failed if in_outage(s, faults.outage) == inside]
        errors = sum(1 for s in group if s.status)
        seen = ", ".join(f"{s.kind} {s.status or '-'} at {s.started:.1f} s" for s in group[:6])
        print(f"5xx {name:<17} {errors}; no answer {len(group) - errors}  {seen}")


def check_delivery(db: Database, record: Record, faults: Faults, log: Path, app_log: Path) -> None:
    """Drain the outbox, then compare the receipts, the database and the mail server's log."""
    drain = 0.0
    for _read in range(4):  # the sender's pass queues join notices: some after the outbox is read
        drain += wait_for_outbox(db.uri)
        stored = read_database(db.uri)
        received = Counter(received_ids(log, len(stored.mails)))
        late = len(received.keys() - stored.mails.keys())
        if not late:
            break
        print(f"mails sent after the outbox was read: {late}; reading it again")
    acknowledged = {s.reference for s in record.submissions if s.reference}
    missing = sorted(acknowledged - stored.references)
    unacknowledged = sorted(stored.references - acknowledged)
    print(f"outbox                {dict(stored.statuses)}, {drain:.1f} s after the load")
    print(f"reports stored        {len(stored.references)}")
    print(f"acknowledged, missing {len(missing)} {missing[:5]}")
    print(f"stored, never acked   {len(unacknowledged)} {unacknowledged[:5]}")
    not_received = len(set(stored.mails) - set(received))
    print(
        f"mails delivered       {len(received)} of {stored.mails_expected} expected "
        f"({len(stored.mails)} in the outbox, {not_received} of them not received)"
    )
    duplicates = {message_id: n for message_id, n in received.items() if n > 1}
    print(f"duplicate mails       {sum(n - 1 for n in duplicates.values())}")
    lines = app_log.read_text(errors="replace").splitlines()
    for message_id, count in list(duplicates.items())[:8]:
        number, kind, attempts = stored.mails[message_id]
        failures = [line for line in lines if f"mail {number} to the " in line]
        pid = int(message_id.split(".")[1])  # make_msgid puts the pid of its process there
        made_by = "the killed worker" if pid == faults.killed else f"worker {pid}"
        print(
            f"    outbox mail {number} ({kind}, made by {made_by}) received {count}×, "
            f"{attempts} attempts, {len(failures)} failed attempts logged"
        )
        for line in failures[-2:]:
            print(f"        {line[:140]}")


def app_log(log: Path, name: str = "app log") -> None:
    """Summarise what gunicorn and the app wrote: each kind of error once, with its count."""
    lines = log.read_text(errors="replace").splitlines()
    retries = sum(1 for line in lines if MAIL_RETRY.search(line))
    print(f"{name:<21} {len(lines)} lines, {retries} failed mail attempts")
    kinds = Counter(
        re.sub(r"\d+", "N", TIMESTAMP.sub("", line))[:150] for line in lines if PROBLEM.search(line)
    )
    for line, count in kinds.most_common(16):
        print(f"    {count:4} × {line}")


def own_cpu_seconds() -> float:
    """Return the CPU time of this process: the client threads and the checks."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def machine_cpu_seconds() -> tuple[float, float]:
    """Return the machine's CPU time, busy and idle, summed over its cores (/proc/stat)."""
    ticks = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]]
    idle, tick = ticks[3] + ticks[4], os.sysconf("SC_CLK_TCK")  # idle, or waiting for the disk
    return (sum(ticks) - idle) / tick, idle / tick


def run_engine(engine: str, args: argparse.Namespace) -> None:
    """Run the load and the faults against one engine, then check and print the figures."""
    kind = runpy.run_path(str(CONFIG))["worker_class"]
    if args.threads:
        kind = f"gthread × {args.threads} threads"
    print(
        f"== load and faults: {engine}, {args.workers} {kind} workers, "
        f"{args.clients} clients, mail sent by {SENDERS[args.mail_sender]}, "
        f"{'an empty catalogue' if args.uncatalogued else 'the product catalogued'}, "
        f"{args.history} reports stored before, "
        f"the mail server at nice {NICE}, "
        f"{args.seconds:.0f} s ==",
        flush=True,
    )
    statements = bool(args.statements) and engine == "postgresql"
    with tempfile.TemporaryDirectory() as name, database(engine, Path(name), statements) as db:
        folder = Path(name)
        log = folder / "received.txt"
        log.touch()
        mail = MailServer(free_port(), log)
        env = app_env(folder, db.uri, mail.port)
        if args.mail_sender == "process":
            env["ADR_MAIL_BACKGROUND"] = "false"
        upgrade = [str(BIN / "adr"), "db", "upgrade"]
        subprocess.run(upgrade, env=env, check=True, capture_output=True)  # noqa: S603
        os.environ["ADR_INSTANCE_PATH"] = str(folder)
        setup = create_app({"SQLALCHEMY_DATABASE_URI": db.uri, "MAIL_BACKGROUND": False})
        if args.history:
            store_history(setup, args.history, engine)
        elif not args.uncatalogued:
            register_product(setup)
        if statements:
            count_statements(setup)
        server: Gunicorn | None = None
        sender: Sender | None = None
        try:
            mail.start()
            server = Gunicorn(env, args.workers, args.threads, folder / "gunicorn.log", args.app)
            server.wait_until_ready(args.workers)
            if args.mail_sender == "process":
                sender = Sender(env, folder / "sender.log")
            faults = Faults()
            injector = threading.Thread(
                target=inject_faults, args=(args.seconds, server, mail, db, faults)
            )

            def cpu() -> list[float]:
                """gunicorn, the sender, this process (the clients), the mail server, the machine
                and its idle."""
                sending = sender.cpu_seconds() if sender else 0
                own = [server.cpu_seconds(), sending, own_cpu_seconds(), mail.cpu_seconds()]
                return [*own, *machine_cpu_seconds()]

            before = cpu()
            injector.start()
            record = run_clients(server.port, args.clients, args.seconds, open_and_submit)
            injector.join()
            if not faults.done:
                raise RuntimeError("the faults were not all injected (the traceback above)")
            report(record, faults, args.seconds)
            web, sending, clients, mailing, machine, idle = (
                b - a for b, a in zip(cpu(), before, strict=True)
            )
            rest = machine - web - sending - clients - mailing
            available = (os.cpu_count() or 1) * args.seconds
            acknowledged = sum(1 for s in record.submissions if s.reference) or 1
            app = "gunicorn and sender" if sender else "gunicorn"
            each = (
                f": {web / acknowledged * 1000:.0f} ms gunicorn, "
                f"{sending / acknowledged * 1000:.0f} ms sender"
                if sender
                else ""
            )
            print(
                f"CPU during the load   {app} {web + sending:.1f} s, clients {clients:.1f} s "
                f"(of {available:.0f} s on {os.cpu_count()} cores); {app} "
                f"{(web + sending) / acknowledged * 1000:.0f} ms per report (form, post and its "
                f"mails{each}); the mail server {mailing:.1f} s; the rest of the machine (the "
                f"database server, the system) {rest:.1f} s, idle {idle:.1f} s"
            )
            if statements:  # before the checks' own queries
                print_statements(setup, acknowledged, args.statements)
            check_delivery(db, record, faults, log, server.log)
            for path in ("/healthz", "/report"):
                rate = ceiling(server.port, args.clients, args.ceiling_seconds, path)
                print(f"ceiling GET {path:<9} {rate:.0f} req/s", flush=True)
        finally:
            if server is not None:
                server.stop()
                app_log(server.log)
            if sender is not None:
                sender.stop()
                app_log(sender.log, "sender's log")
            mail.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--threads", type=int, help="gthread workers with this many threads (default: sync)"
    )
    parser.add_argument("--ceiling-seconds", type=float, default=10)
    parser.add_argument(
        "--mail-sender",
        choices=SENDERS,
        default="process",
        help="who delivers: `adr send-mail --loop` (MAIL_BACKGROUND off), or a thread a worker",
    )
    parser.add_argument(
        "--app", default="adr:create_app()", help="what gunicorn serves, to measure a variant"
    )
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--uncatalogued",
        action="store_true",
        help="start from an empty catalogue, as the runs before intake8 did: no report is "
        "linked to a product, so no batch alert or group event counts it",
    )
    parser.add_argument(
        "--history",
        type=int,
        default=0,
        help="start from this many demo reports of the last three months, the demo's catalogue "
        "and, on PostgreSQL, analysed tables: a deployment that has been running",
    )
    parser.add_argument(
        "--statements",
        type=int,
        default=0,
        metavar="N",
        help="on PostgreSQL, count the run's statements (pg_stat_statements) and print what "
        "they took for each report, the N longest one by one",
    )
    args = parser.parse_args()
    if args.history and args.uncatalogued:
        parser.error("--history brings the demo's catalogue: not with --uncatalogued")
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    for engine in engines:
        if engine == "postgresql" and server_binaries() is None:
            print("== load and faults: postgresql SKIPPED: initdb and pg_ctl were not found ==")
            continue
        run_engine(engine, args)


if __name__ == "__main__":
    main()
