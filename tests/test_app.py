"""The app as a whole: configuration, health check, headers, schema, errors."""

from __future__ import annotations

import re
import threading

import pytest
import sqlalchemy as sa

from adr import create_app
from adr.extensions import db
from adr.models import Report, write_transaction
from tests.conftest import ReportSender, app_config, reference_of, valid_report


def test_healthz_answers_ok_when_the_database_answers(client):
    response = client.get("/healthz")
    assert (response.status_code, response.get_data(as_text=True)) == (200, "ok")


def test_healthz_answers_503_when_the_database_does_not(tmp_path):
    app = create_app(
        app_config(tmp_path, SQLALCHEMY_DATABASE_URI="sqlite:////nonexistent/dir/adr.sqlite3")
    )
    response = app.test_client().get("/healthz")
    assert response.status_code == 503


def test_settings_come_from_instance_config_then_adr_variables(tmp_path, monkeypatch):
    (tmp_path / "config.py").write_text(
        "COMPANY_ADDRESS = 'instance address'\n"
        "SAFETY_INBOX = 'one@example.com'\n"
        "REPORT_RATE_LIMIT = '1 per day'\n"
    )
    monkeypatch.setenv("ADR_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("ADR_SAFETY_INBOX", '["safety@example.com", "qa@example.com"]')
    monkeypatch.setenv("ADR_RATELIMIT_ENABLED", "false")
    monkeypatch.setenv("ADR_MAIL_BACKGROUND", "false")  # no sender thread outlives the test
    monkeypatch.setenv("ADR_SQLALCHEMY_DATABASE_URI", f"sqlite:///{tmp_path / 'env.sqlite3'}")
    app = create_app()
    assert app.config["COMPANY_ADDRESS"] == "instance address"
    assert app.config["REPORT_RATE_LIMIT"] == "1 per day"
    assert app.config["SAFETY_INBOX"] == ["safety@example.com", "qa@example.com"]
    assert app.config["RATELIMIT_ENABLED"] is False
    page = app.test_client().get("/").get_data(as_text=True)
    assert "instance address" in page and "qa@example.com" in page
    with app.app_context():
        assert db.engine.url.database == str(tmp_path / "env.sqlite3")


def test_the_safety_inbox_may_be_a_comma_separated_list(tmp_path, monkeypatch):
    monkeypatch.setenv("ADR_SAFETY_INBOX", "a@example.com, b@example.com")
    app = create_app(app_config(tmp_path))
    assert app.config["SAFETY_INBOX"] == ["a@example.com", "b@example.com"]


def test_the_secret_key_is_made_once_and_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("ADR_INSTANCE_PATH", str(tmp_path))
    config = {"SQLALCHEMY_DATABASE_URI": "sqlite://"}
    first, second = create_app(config), create_app(config)
    assert len(first.config["SECRET_KEY"]) == 64
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


@pytest.mark.sqlite_only
def test_sqlite_runs_in_wal_mode_with_full_sync_and_foreign_keys(app):
    with app.app_context():
        pragmas = {
            name: db.session.execute(sa.text(f"PRAGMA {name}")).scalar()
            for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
        }
    assert pragmas == {
        "journal_mode": "wal",
        "synchronous": 2,
        "foreign_keys": 1,
        "busy_timeout": 15000,
    }


@pytest.mark.empty_database
def test_adr_db_upgrade_creates_the_schema_the_models_describe(tmp_path, monkeypatch):
    monkeypatch.setenv("ADR_INSTANCE_PATH", str(tmp_path))
    app = create_app(app_config(tmp_path))
    runner = app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    check = runner.invoke(args=["db", "check"])
    assert check.exit_code == 0, check.output
    with app.app_context():
        tables = set(sa.inspect(db.engine).get_table_names())
    assert {"report", "drug", "alembic_version"} <= tables
    response = ReportSender(app.test_client()).send(valid_report())
    assert reference_of(response)


def test_pages_carry_security_headers_and_load_nothing_from_elsewhere(client):
    response = client.get("/report")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    page = response.get_data(as_text=True)
    assert not re.search(r'(src|href)="(https?:)?//', page)
    for asset in ("site.css", "form.js", "error-summary.js", "sent.js", "favicon.svg"):
        with client.get(f"/static/{asset}") as served:
            assert served.status_code == 200


def test_the_session_cookie_is_http_only(client):
    client.get("/report")
    assert client.get_cookie("session").http_only


def test_an_oversized_post_is_refused_without_a_crash(client):
    response = client.post("/report", data={"remarks": "x" * (2 * 1024 * 1024)})
    assert response.status_code == 413
    assert "太大" in response.get_data(as_text=True) or "过长" in response.get_data(as_text=True)


def test_an_unknown_page_is_a_friendly_404(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "此地址没有页面" in response.get_data(as_text=True)


def test_concurrent_submissions_each_store_their_report(app):
    """Writers wait for each other (BEGIN IMMEDIATE and the busy timeout) instead of failing."""
    barrier = threading.Barrier(8)
    statuses: list[int] = []

    def submit() -> None:
        client = app.test_client()
        data = {**ReportSender(client).open(), **valid_report()}
        barrier.wait()
        statuses.append(client.post("/report", data=data).status_code)

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [303] * 8
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Report)) == 8


@pytest.mark.sqlite_only
def test_a_process_s_writers_queue_on_its_own_lock_before_sqlite_s(app):
    """A second writer of the process begins once the first commits, woken by the process's
    lock, not by SQLite's wait (which polls, sleeping up to 100 ms between tries)."""
    seen: list[str] = []
    holding, release = threading.Event(), threading.Event()

    def write(hold: bool) -> None:
        with app.app_context(), write_transaction() as session:
            session.execute(sa.text("SELECT 1"))
            if hold:
                holding.set()
                release.wait(30)

    def began(connection, cursor, statement, *_args) -> None:
        if statement == "BEGIN IMMEDIATE":  # noted before SQLite may make it wait
            seen.append(f"begin {threading.current_thread().name}")

    def committed(connection) -> None:
        seen.append(f"commit {threading.current_thread().name}")

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", began)
    sa.event.listen(engine, "commit", committed)
    first = threading.Thread(target=write, args=(True,), name="first")
    second = threading.Thread(target=write, args=(False,), name="second")
    try:
        first.start()
        assert holding.wait(30)
        second.start()
        second.join(0.5)  # time to reach its BEGIN, were it not held back
        release.set()
        first.join()
        second.join()
    finally:
        sa.event.remove(engine, "before_cursor_execute", began)
        sa.event.remove(engine, "commit", committed)
    assert seen == ["begin first", "commit first", "begin second", "commit second"]


@pytest.mark.parametrize("method", ["put", "delete"])
def test_other_methods_are_refused_politely(client, method):
    assert getattr(client, method)("/report").status_code == 405


@pytest.mark.empty_database
def test_migrations_keep_the_data_of_an_older_database(tmp_path, monkeypatch):
    """Upgrading a database that holds reports copies tables on SQLite: nothing may be lost."""
    monkeypatch.setenv("ADR_INSTANCE_PATH", str(tmp_path))
    app = create_app(app_config(tmp_path))
    runner = app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade", "0001"]).exit_code == 0
    with app.app_context():
        columns = {
            "id": 1, "reference": "ADR-202611-OLD001", "submission_token": "old-token-1234567890",
            "received_at": "2026-11-01 02:00:00", "language": "zh_CN", "reporter_kind": "patient",
            "reporter_consent_contact": False, "reporter_consent_privacy": True,
            "patient_history": "[]", "event_serious": "[]", "serious": False,
            "report_category": "general", "due_at": "2026-12-01 15:59:59", "valid_case": True,
            "completeness": 50, "status": "received",
        }  # fmt: skip
        old_report = sa.table("report", *map(sa.column, columns))  # the table as 0001 made it
        db.session.execute(sa.insert(old_report).values(**columns))
        db.session.execute(
            sa.text(
                "INSERT INTO drug (report_id, position, role, generic_name) "
                "VALUES (1, 0, 'suspect', '阿莫西林胶囊')"
            )
        )
        db.session.commit()
    upgraded = runner.invoke(args=["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    with app.app_context():
        report = db.session.scalar(sa.select(Report))
        assert (
            report.reference == "ADR-202611-OLD001"
            and report.drugs[0].generic_name == "阿莫西林胶囊"
        )
        if db.engine.dialect.name == "sqlite":  # batch migrations turned foreign keys off
            assert db.session.execute(sa.text("PRAGMA foreign_key_check")).all() == []
            assert db.session.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1


@pytest.mark.empty_database
def test_the_migrations_build_the_schema_the_models_describe(app, runner):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with app.app_context():
        db.drop_all()
    upgraded = runner.invoke(args=["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, db.metadata) == []
