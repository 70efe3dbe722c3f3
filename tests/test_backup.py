"""`adr backup`: a copy taken while reports come in holds every report acknowledged before it."""

from __future__ import annotations

import shutil
import subprocess
import threading

import pytest
import sqlalchemy as sa

from tests.conftest import ReportSender, reference_of, valid_report


def restored_references(app, copy, engine, request) -> set[str]:
    """Open the copy as an operator restoring it would, and read its references."""
    if engine == "sqlite":
        uri = f"sqlite:///{copy}"
    else:
        cluster = request.getfixturevalue("postgres_cluster")
        uri = cluster.create_database("adr_restored")
        request.addfinalizer(lambda: cluster.drop_database("adr_restored"))
        subprocess.run(
            [shutil.which("pg_restore"), "--no-owner", "--dbname",
             uri.replace("+psycopg", ""), str(copy)],
            check=True, capture_output=True,
        )  # fmt: skip
    restored = sa.create_engine(uri)
    try:
        with restored.connect() as connection:
            if engine == "sqlite":
                assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
            return set(connection.execute(sa.text("SELECT reference FROM report")).scalars())
    finally:
        restored.dispose()


def test_a_backup_taken_during_writes_holds_every_acknowledged_report(
    app, runner, tmp_path, engine, request
):
    if engine == "postgresql" and not shutil.which("pg_restore"):
        pytest.skip("pg_restore was not found")
    acknowledged: list[str] = []
    stop = threading.Event()

    def write_reports() -> None:
        sender = ReportSender(app.test_client())
        while not stop.is_set() and len(acknowledged) < 200:
            acknowledged.append(reference_of(sender.send(valid_report())))

    writer = threading.Thread(target=write_reports)
    writer.start()
    try:
        while len(acknowledged) < 5 and writer.is_alive():
            stop.wait(0.05)
        before = set(acknowledged)
        copy = tmp_path / "backups" / "adr.backup"
        result = runner.invoke(args=["backup", str(copy)])
        during = len(acknowledged) - len(before)
    finally:
        stop.set()
        writer.join()
    assert result.exit_code == 0, result.output
    assert copy.stat().st_mode & 0o077 == 0
    references = restored_references(app, copy, engine, request)
    assert before <= references, before - references
    assert references <= set(acknowledged)
    print(f"{len(before)} reports before the backup, {during} acknowledged while it ran")


def test_a_backup_never_overwrites_a_file(runner, tmp_path):
    existing = tmp_path / "kept.backup"
    existing.write_text("an earlier backup")
    result = runner.invoke(args=["backup", str(existing)])
    assert result.exit_code == 1 and "exists already" in result.output
    assert existing.read_text() == "an earlier backup"
