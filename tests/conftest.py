"""Fixtures: a real app on a real database, and a helper that sends the form as a browser.

Every test runs on SQLite and, when PostgreSQL's `initdb` and `pg_ctl` are found, again on a
throwaway PostgreSQL cluster: each test gets a database of its own on either engine, a copy of
one the migrations built once per process (a file copy on SQLite, `CREATE DATABASE … TEMPLATE`
on PostgreSQL). Mark a test `sqlite_only` or `postgresql_only` when it checks one engine's own
behaviour, and `empty_database` when it needs a database without the schema (a migration test).

`make test` runs the suite on a process a core (pytest-xdist), each with its own PostgreSQL.
"""

from __future__ import annotations

import ast
import collections
import itertools
import os
import re
import shutil
import threading
import time
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import jinja2
import pytest
import sqlalchemy as sa

from adr import create_app, http
from adr.extensions import db
from adr.models import Batch, Product
from tests import imap, pdf_tools
from tests.browser.live import CHROMIUM, MISSING
from tests.postgres import Cluster, server_binaries

# CPython 3.11's ast.parse is not thread-safe ("SystemError: AST constructor recursion depth
# mismatch", gh-106905): Werkzeug parses as each app of the suite registers its routes, while
# threads of earlier apps (mail senders, live servers) may parse too. One at a time, then.
_parse = ast.parse
_parsing = threading.Lock()


def _parse_alone(*args, **kwargs):
    with _parsing:
        return _parse(*args, **kwargs)


ast.parse = _parse_alone  # type: ignore[assignment]


class SharedBytecode(jinja2.BytecodeCache):
    """Templates compiled once per test process, not once for each of its thousand apps."""

    def __init__(self) -> None:
        self.compiled: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        if bucket.key in self.compiled:  # the bucket checks the template's source is unchanged
            bucket.bytecode_from_string(self.compiled[bucket.key])

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self.compiled[bucket.key] = bucket.bytecode_to_string()


http.App.jinja_options = {**http.App.jinja_options, "bytecode_cache": SharedBytecode()}

COMPANY = "陕西医药控股集团天宁制药有限责任公司"
ENGINES = ("sqlite", "postgresql")
_database_names = itertools.count(1)
STARTED = pytest.StashKey[float]()


def pytest_addoption(parser):
    parser.addoption(
        "--engine", choices=ENGINES, help="run on this engine only (default: both, if found)"
    )


def pytest_configure(config):
    config.addinivalue_line("markers", "sqlite_only: checks SQLite's own behaviour")
    config.addinivalue_line("markers", "postgresql_only: checks PostgreSQL's own behaviour")
    config.addinivalue_line("markers", "empty_database: the test's database has no schema yet")


def engines_to_run(config) -> tuple[str, ...]:
    chosen = config.getoption("--engine")
    if chosen:
        return (chosen,)
    return ENGINES if server_binaries() else ("sqlite",)


def pytest_report_header(config):
    browser = f"browser: {CHROMIUM}" if CHROMIUM else f"browser: none, SKIPPED ({MISSING})"
    pdf = (
        f"PDF: none, SKIPPED ({pdf_tools.MISSING})"
        if pdf_tools.MISSING
        else "PDF: WeasyPrint with Pango; read back with poppler-utils"
    )
    mail = f"IMAP: none, SKIPPED ({imap.MISSING})" if imap.MISSING else f"IMAP: {imap.DOVECOT}"
    if "postgresql" in engines_to_run(config):
        return [f"engines: SQLite and PostgreSQL ({server_binaries()})", browser, pdf, mail]
    if config.getoption("--engine"):
        return ["engines: SQLite only (--engine sqlite)", browser, pdf, mail]
    return [
        "engines: SQLite only; SKIPPED every PostgreSQL run: initdb and pg_ctl were not found",
        browser,
        pdf,
        mail,
    ]


def pytest_collection_modifyitems(config, items):
    """Drop the runs on an engine that is missing, or that a test is not meant for."""
    wanted = engines_to_run(config)
    kept, dropped = [], []
    for item in items:
        engine = getattr(item, "callspec", None) and item.callspec.params.get("engine")
        other = {"sqlite": "postgresql_only", "postgresql": "sqlite_only"}.get(engine or "")
        if engine and (engine not in wanted or item.get_closest_marker(other)):
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def pytest_sessionstart(session):
    session.config.stash[STARTED] = time.monotonic()


def pytest_terminal_summary(terminalreporter, config):
    if "postgresql" not in engines_to_run(config) and not config.getoption("--engine"):
        terminalreporter.write_line(
            "SKIPPED: the PostgreSQL half of the suite (initdb and pg_ctl were not found; "
            "Debian's postgresql package brings them)",
            yellow=True,
        )
    if pdf_tools.MISSING:
        terminalreporter.write_line(
            f"SKIPPED: the PDF tests ({pdf_tools.MISSING})",
            yellow=True,
        )
    if imap.MISSING:
        terminalreporter.write_line(f"SKIPPED: the IMAP tests ({imap.MISSING})", yellow=True)
    write_costs(terminalreporter, config)


def write_costs(terminalreporter, config) -> None:
    """Write the suite's wall time and its ten slowest tests (set-up and tear-down included)."""
    seconds: collections.Counter[str] = collections.Counter()
    for reports in terminalreporter.stats.values():
        for report in reports:
            if isinstance(report, pytest.TestReport):
                seconds[report.nodeid] += report.duration
    if not seconds:
        return
    wall = time.monotonic() - config.stash[STARTED]
    workers = getattr(config.option, "numprocesses", None) or 1
    terminalreporter.write_sep("-", "what the suite costs")
    terminalreporter.write_line(
        f"{len(seconds)} tests in {wall // 60:.0f} min {wall % 60:.0f} s wall time on "
        f"{workers} process{'es' if workers > 1 else ''}; "
        f"{sum(seconds.values()):.0f} s of tests; the ten slowest:"
    )
    for nodeid, duration in seconds.most_common(10):
        terminalreporter.write_line(f"{duration:7.2f} s  {nodeid}")


@pytest.fixture(scope="session")
def postgres_cluster():
    cluster = Cluster()
    yield cluster
    cluster.destroy()


@pytest.fixture(scope="module", params=ENGINES, autouse=True)
def engine(request):
    """The database engine this module's tests run on."""
    return request.param


class Schemas:
    """A database per engine that the migrations built, made on first use, for tests to copy."""

    POSTGRES_NAME = "adr_schema"

    def __init__(self, request, folder: Path) -> None:
        self.request = request
        self.folder = folder
        self.made: dict[str, str | BaseException] = {}

    def source(self, engine: str) -> str:
        """Return the SQLite file or the PostgreSQL database holding the migrated schema.

        A migration that fails fails every test of its engine, each with its error.
        """
        if engine not in self.made:
            try:
                self.made[engine] = self.build(engine)
            except Exception as error:
                self.made[engine] = error
        made = self.made[engine]
        if isinstance(made, BaseException):
            raise RuntimeError(f"the migrations failed on {engine}") from made
        return made

    def build(self, engine: str) -> str:
        if engine == "sqlite":
            path = str(self.folder / "adr.sqlite3")
            migrate(f"sqlite:///{path}", self.folder)
            return path
        cluster = self.request.getfixturevalue("postgres_cluster")
        migrate(cluster.create_database(self.POSTGRES_NAME), self.folder)
        return self.POSTGRES_NAME


def migrate(uri: str, folder: Path) -> None:
    """Build the schema at `uri` as `adr db upgrade` does, then close every connection to it."""
    import flask_migrate

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ADR_INSTANCE_PATH", str(folder))
        app = create_app(app_config(folder, SQLALCHEMY_DATABASE_URI=uri))
        with app.app_context():
            flask_migrate.upgrade()
            db.engine.dispose()


@pytest.fixture(scope="session")
def schemas(request, tmp_path_factory) -> Schemas:
    return Schemas(request, tmp_path_factory.mktemp("schema"))


def new_database(request, engine: str, folder: Path, empty: bool = False):
    """Yield a URI to a database of its own on `engine`, the schema made unless `empty`."""
    template = None if empty else request.getfixturevalue("schemas").source(engine)
    if engine == "sqlite":
        path = folder / "adr.sqlite3"
        if template:
            shutil.copy2(template, path)  # and its mode: the app made it private
        yield f"sqlite:///{path}"
        return
    cluster = request.getfixturevalue("postgres_cluster")
    name = f"adr_test_{os.getpid()}_{next(_database_names)}"
    yield cluster.create_database(name, template=template)
    close_connections()
    cluster.drop_database(name)


def close_connections() -> None:
    """Close the pooled connections of every app a test made, before its database goes."""
    for engines in list(db._app_engines.values()):
        for engine in engines.values():
            engine.dispose()


def app_on_new_database(request, engine: str, folder: Path):
    """Yield an app on a database of its own, schema made (for wider-scoped fixtures)."""
    for uri in new_database(request, engine, folder):
        app = create_app(app_config(folder, SQLALCHEMY_DATABASE_URI=uri))
        yield app
        with app.app_context():
            db.engine.dispose()


@pytest.fixture(autouse=True)
def database(request, engine, tmp_path, monkeypatch):
    """This test's database, with the schema (none if marked `empty_database`); `app_config`
    points the app at it."""
    empty = request.node.get_closest_marker("empty_database") is not None
    for uri in new_database(request, engine, tmp_path, empty):
        monkeypatch.setenv("ADR_TEST_DATABASE_URI", uri)
        yield uri


def app_config(tmp_path: Path, **overrides: object) -> dict[str, object]:
    return {
        "TESTING": True,
        "SECRET_KEY": "the tests' secret key, long enough for production",
        "SQLALCHEMY_DATABASE_URI": os.environ.get(
            "ADR_TEST_DATABASE_URI", f"sqlite:///{tmp_path / 'adr.sqlite3'}"
        ),
        "RATELIMIT_ENABLED": False,
        "MAIL_BACKGROUND": False,
        # Still scrypt, at a cost the suite can pay a thousand times (2 ms a hash, not 70).
        "PASSWORD_HASH_METHOD": "scrypt:1024:8:1",
        # One person does each step, as most tests need; tests/test_integrity.py turns it on.
        "FOUR_EYES": False,
        **overrides,
    }


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("ADR_INSTANCE_PATH", str(tmp_path))
    app = create_app(app_config(tmp_path))
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class Inputs(HTMLParser):
    """Collect the inputs of a page as a browser would send them."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and attrs.get("type") == "hidden" and attrs.get("name"):
            self.values[attrs["name"]] = attrs.get("value") or ""


def hidden_inputs(html: str) -> dict[str, str]:
    parser = Inputs()
    for tag in re.findall(r"<input\b[^>]*>", html):  # only the inputs: pages are long
        parser.feed(tag)
    return parser.values


BATCH = "20260315A"  # valid_report()'s " 20260315a ", as stored


def amoxicillin(registered: bool = True) -> Product:
    """Return the company's amoxicillin as the catalogue holds it, the product valid_report()
    names, with its batch in the register if asked: to add to a session."""
    product = Product(
        generic_name="阿莫西林胶囊",
        brand_name="天宁",
        approval_number="国药准字H61020123",
        manufacturer=COMPANY,
    )
    if registered:
        made, expires = date(2026, 3, 15), date(2028, 2, 29)
        product.batches = [Batch(batch_number=BATCH, manufactured_on=made, expires_on=expires)]
    return product


def valid_report() -> dict[str, object]:
    """Return a realistic, complete report as the form posts it (a pharmacist reporting a rash)."""
    return {
        "reporter-kind": "pharmacist",
        "reporter-organization_type": "pharmacy",
        "reporter-organization": "榆林市天宁大药房",
        "reporter-name": "王丽",
        "reporter-phone": "139 1234 5678",
        "reporter-email": "wangli@example.com",
        "reporter-consent_contact": "y",
        "reporter-consent_privacy": "y",
        "patient-name": "张某某",
        "patient-sex": "female",
        "patient-birth_date": "1958-03-14",
        "patient-age": "68",
        "patient-age_unit": "year",
        "patient-ethnicity": "汉族",
        "patient-weight_kg": "62.5",
        "patient-phone": "0912-5647197",
        "patient-disease": "急性支气管炎",
        "patient-hospital": "绥德县医院",
        "patient-record_number": "MZ20261120",
        "patient-past_adr": "yes",
        "patient-past_adr_detail": "青霉素皮疹",
        "patient-family_adr": "no",
        "patient-family_adr_detail": "",
        "patient-history": ["smoking", "allergy"],
        "patient-history_detail": "青霉素皮试阳性(2019年)",
        "drugs-0-role": "suspect",
        "drugs-0-approval_number": "国药准字H61020123",
        "drugs-0-brand_name": "天宁",
        "drugs-0-generic_name": "阿莫西林胶囊",
        "drugs-0-manufacturer": COMPANY,
        "drugs-0-batch_number": " 20260315a ",
        "drugs-0-dose": "0.5",
        "drugs-0-dose_unit": "g",
        "drugs-0-route": "oral",
        "drugs-0-frequency": "每日3次",
        "drugs-0-start_date": "2026-11-20",
        "drugs-0-end_date": "2026-11-22",
        "drugs-0-indication": "急性支气管炎",
        "drugs-1-role": "concomitant",
        "drugs-1-generic_name": "盐酸氨溴索片",
        "drugs-1-dose": "30",
        "drugs-1-dose_unit": "mg",
        "drugs-1-route": "oral",
        "drugs-1-frequency": "每日2次",
        "drugs-1-start_date": "2026-11-20",
        "event-name": "皮疹、瘙痒",
        "event-onset_date": "2026-11-21",
        "event-description": "服药第二天躯干出现红色皮疹伴瘙痒,停药并口服氯雷他定后三天内消退。",
        "event-outcome": "improving",
        "event-dechallenge": "yes",
        "event-rechallenge": "not_applicable",
        "event-disease_impact": "not_obvious",
        "event-causality": "probable",
        "remarks": "患者自行停药后好转。",
    }


class ReportSender:
    """Open the form as a browser would, then send it."""

    def __init__(self, client) -> None:
        self.client = client

    def open(self, path: str = "/report", **headers: str) -> dict[str, str]:
        response = self.client.get(path, headers=headers)
        assert response.status_code == 200
        return hidden_inputs(response.get_data(as_text=True))

    def send(self, fields: dict[str, object], path: str = "/report", **headers: str):
        """Open the form at `path` and send it there (the public form, or a private link)."""
        data = {**self.open(path, **headers), **fields}
        return self.client.post(path.split("?")[0], data=data, headers=headers)


@pytest.fixture
def sender(client):
    return ReportSender(client)


def follow_up_link(app, reference: str) -> str:
    """Return the path of the private follow-up link the report's acknowledgement carries."""
    from adr import follow_up_links
    from adr.models import OutboxMail, Report

    with app.app_context():
        message_id = db.session.scalar(
            sa.select(OutboxMail.message_id)
            .join(Report, Report.id == OutboxMail.report_id)
            .where(Report.reference == reference, OutboxMail.kind == "acknowledgement")
        )
        assert message_id, f"{reference} has no acknowledgement, so no private link"
        return f"/report/follow-up/{follow_up_links.token_for(message_id)}"


def send_report(app, fields: dict[str, object], path: str = "/report"):
    """Send a report as its reporter would; a follow-up (`follow_up_of`) through the private
    link of its first report's acknowledgement: on the public form a reference is only a claim."""
    fields = dict(fields)
    first = fields.pop("follow_up_of", None)
    if first:
        path = follow_up_link(app, str(first))
    return ReportSender(app.test_client()).send(fields, path)


def reference_of(response) -> str:
    """Return the reference a confirmation redirect points at."""
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    match = re.fullmatch(r".*/report/submitted/(ADR-\d{6}-[0-9A-Z]{6})", response.location)
    assert match, response.location
    return match.group(1)
