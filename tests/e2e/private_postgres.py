"""A private PostgreSQL server a test can stop and start at will (never the shared one).

`initdb` + `pg_ctl` from the PostgreSQL 15 binaries into a temporary directory, on a free
port, as the `postgres` OS user when the tests run as root (PostgreSQL refuses to run as
root). Trust authentication on 127.0.0.1 only; fsync off (a test server).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
from chaos_harness import free_port
from sqlalchemy.engine import URL, make_url

PG_BIN = Path(os.environ.get("DISPARO_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))


def _as_postgres(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", "postgres", "--", *argv]


class PrivatePostgres:
    """One throw-away PostgreSQL cluster: `start()`, `stop()`, `close()` (removes it all)."""

    def __init__(self) -> None:
        if not (PG_BIN / "pg_ctl").exists():
            raise RuntimeError(
                f"no PostgreSQL binaries in {PG_BIN}: install postgresql-15, or point "
                "DISPARO_TEST_PG_BIN at the directory holding initdb and pg_ctl"
            )
        self.root = Path(tempfile.mkdtemp(prefix="disparo-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port()
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "-A",
                "trust",
                "--no-sync",
                "--no-instructions",
            ]
        )
        self.running = False

    def _run(self, argv: list[str]) -> None:
        result = subprocess.run(
            _as_postgres(argv), capture_output=True, text=True, timeout=60, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed: {result.stdout}{result.stderr}")

    def url(self, database: str = "postgres") -> URL:
        """The URL of a database on this server."""
        return make_url(f"postgresql://postgres@127.0.0.1:{self.port}/{database}")

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100"
        )
        self._run(
            [
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.log),
                "-o",
                options,
                "-w",
                "-t",
                "30",
                "start",
            ]
        )
        self.running = True
        deadline = time.monotonic() + 30
        while True:
            try:
                psycopg.connect(str(self.url()), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (`fast`: every connection is cut, as in a restart)."""
        self._run([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"])
        self.running = False

    def create_database(self, name: str) -> URL:
        """Create a database; its URL."""
        with psycopg.connect(str(self.url()), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def close(self) -> None:
        """Stop the server if it runs and remove its files."""
        if self.running:
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
