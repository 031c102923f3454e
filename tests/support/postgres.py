"""PostgreSQL for the history tests: a database of its own on the machine's server per test,
and a private server a test may stop and start (never the shared one).

The machine's server (127.0.0.1:5432, trust auth, user postgres) is shared by every test
process: each test creates a database with a unique name and drops it. A private server is
made with initdb in a temporary directory; as root it runs as the `postgres` user (initdb
refuses root), and it is stopped by its own data directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg

from streamq.devredis import free_port

SHARED_HOST, SHARED_PORT = "127.0.0.1", int(os.environ.get("STREAMQTEST_PG_PORT", "5432"))
BIN = Path(os.environ.get("STREAMQTEST_PG_BIN", "/usr/lib/postgresql/15/bin"))


def url(port: int, database: str, host: str = SHARED_HOST) -> str:
    return f"postgresql://postgres@{host}:{port}/{database}"


async def create_database(port: int = SHARED_PORT) -> str:
    """A new empty database; returns its URL."""
    name = f"streamq_test_{uuid.uuid4().hex[:16]}"
    conn = await asyncpg.connect(url(port, "postgres"), timeout=10)
    try:
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    return url(port, name)


async def drop_database(db_url: str, port: int = SHARED_PORT) -> None:
    name = db_url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(url(port, "postgres"), timeout=10)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await conn.close()


class PrivatePostgres:
    """A PostgreSQL server of one test, on a free port, in a temporary directory."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="streamq-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self._as_postgres: list[str] = []
        self._started = False
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
            self._as_postgres = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str) -> None:
        subprocess.run([*self._as_postgres, *args], check=True, capture_output=True,
                       timeout=90)

    def init(self) -> PrivatePostgres:
        self._run(str(BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                  "-E", "UTF8", "--no-sync")
        return self

    def start(self) -> PrivatePostgres:
        """Start the server; a port taken between `free_port` and the bind is retried.

        The kernel hands out the same range for listening ports and for the local end of
        outgoing connections, so a port free a moment ago may be taken by the time the
        postmaster binds it; the server's log says so, and another port is tried. A restart
        keeps its port (clients know it) and waits for it instead.
        """
        for attempt in range(3):
            try:
                self._start_on(self.port)
                self._started = True
                return self
            except subprocess.CalledProcessError as exc:
                log = self._log_tail()
                if attempt == 2 or ("could not bind" not in log and "in use" not in log):
                    raise RuntimeError(
                        f"private PostgreSQL did not start on port {self.port}: "
                        f"{exc.stderr!r}\n{log}"
                    ) from exc
                if self._started:
                    time.sleep(1.0)
                else:
                    self.port = free_port()
        return self

    def _start_on(self, port: int) -> None:
        # fsync off: only the OS could lose what PostgreSQL wrote, and the OS does not
        # crash here. synchronous_commit stays on: a commit is in the WAL before its reply,
        # so an immediate stop (a crash of PostgreSQL) loses nothing it acknowledged.
        options = (f"-p {port} -k {self.root} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c full_page_writes=off")
        self._run(str(BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"),
                  "-o", options, "-w", "-t", "60", "start")

    def _log_tail(self) -> str:
        try:
            return "\n".join((self.root / "log").read_text(errors="replace").splitlines()[-20:])
        except OSError:
            return ""

    def stop(self, mode: str = "immediate") -> None:
        """Stop the server (`immediate`: like a crash, no checkpoint)."""
        if (self.data / "postmaster.pid").exists():
            self._run(str(BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return url(self.port, database)
