"""Consistent copies of a live database: SQLite's online backup, or pg_dump for PostgreSQL."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import sqlalchemy as sa


class BackupError(RuntimeError):
    """The copy could not be made; the message says why."""


def back_up(engine: sa.Engine, target: Path) -> None:
    """Write a consistent copy of the database to `target`, readable by its owner only."""
    if target.exists():
        raise BackupError(f"{target} exists already: choose a new file")
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        if engine.dialect.name == "sqlite":
            _sqlite_backup(engine, target)
        elif engine.dialect.name == "postgresql":
            _pg_dump(engine.url, target)
        else:
            raise BackupError(f"no backup for {engine.dialect.name}")
    except BaseException:
        target.unlink(missing_ok=True)
        raise


def _sqlite_backup(engine: sa.Engine, target: Path) -> None:
    """Copy every page in one step: one read snapshot, committed WAL frames included."""
    with engine.connect() as connection:
        source = connection.connection.driver_connection
        assert isinstance(source, sqlite3.Connection)
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        finally:
            copy.close()


def _pg_dump(url: sa.URL, target: Path) -> None:
    """Run pg_dump in its custom format (restore with pg_restore)."""
    program = shutil.which("pg_dump")
    if program is None:
        raise BackupError("pg_dump was not found: install PostgreSQL's client (postgresql-client)")
    environment = os.environ | ({"PGPASSWORD": url.password} if url.password else {})
    libpq = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    done = subprocess.run(  # noqa: S603 - our own arguments, no shell
        [program, "--format=custom", "--file", str(target), libpq],
        env=environment,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise BackupError(f"pg_dump failed: {done.stderr.strip()}")
