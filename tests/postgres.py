"""A throwaway PostgreSQL cluster in a temporary folder, for the tests and the benchmarks."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.smtp import free_port


def server_binaries() -> Path | None:
    """Return the folder holding `initdb` and `pg_ctl`, or None when PostgreSQL is not installed."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(folder, "initdb").exists() and Path(folder, "pg_ctl").exists():
            return Path(folder)
    return None


def memory() -> str | None:
    """Return a folder in memory with room for a few clusters (Linux's /dev/shm), or None."""
    folder = "/dev/shm"  # noqa: S108 - a folder of our own inside it, made by mkdtemp
    if os.path.isdir(folder) and shutil.disk_usage(folder).free >= 2**30:
        return folder
    return None


class Cluster:
    """A PostgreSQL server of our own on 127.0.0.1, owned by `postgres` when we are root."""

    def __init__(self, durable: bool = False, settings: dict[str, str] | None = None) -> None:
        binaries = server_binaries()
        if binaries is None:
            raise RuntimeError("PostgreSQL's initdb and pg_ctl were not found")
        self.bin = binaries
        # On a disk, even without fsync, CREATE DATABASE waits some 80 ms for the copy to be
        # written; in memory it takes 5. The tests make a database each: memory, where there is.
        self.folder = Path(tempfile.mkdtemp(prefix="adr-pg-", dir=None if durable else memory()))
        self.data = self.folder / "data"
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        if self.as_root:  # initdb refuses root: the cluster belongs to the postgres user
            shutil.chown(self.folder, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--no-instructions", "--locale=C.UTF-8")  # fmt: skip
        chosen: dict[str, object] = {
            "listen_addresses": "'127.0.0.1'",
            "port": self.port,
            "unix_socket_directories": f"'{self.folder}'",
            "max_connections": 200,
        }
        if not durable:  # the tests want speed; a crash test wants the real thing
            chosen |= {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
        chosen |= settings or {}  # a benchmark's own (pg_stat_statements)
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.writelines(f"{name} = {value}\n" for name, value in chosen.items())
        self.start()

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin / program), *args]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, cwd=self.folder)

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "log"), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def url(self, database: str = "postgres", socket: bool = False) -> str:
        """Return a database's URL: over TCP, or through the server's Unix socket."""
        if socket:
            return f"postgresql+psycopg://postgres@/{database}?host={self.folder}&port={self.port}"
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def execute(self, *statements: str) -> None:
        """Run statements outside a transaction (CREATE DATABASE needs that)."""
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as connection:
            for statement in statements:
                connection.execute(statement)  # type: ignore[arg-type]

    def create_database(self, name: str, template: str | None = None) -> str:
        """Create a database, empty or a copy of `template`; return its URL."""
        # FILE_COPY copies the template's files: twice as fast as WAL_LOG for a small database.
        copy = f' TEMPLATE "{template}" STRATEGY FILE_COPY' if template else ""
        self.execute(f'CREATE DATABASE "{name}"{copy}')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
