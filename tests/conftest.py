"""Shared fixtures: a fresh migrated database per test on SQLite and on PostgreSQL.

PostgreSQL: one template database is migrated per test session and cloned for each test
(CREATE DATABASE ... TEMPLATE). SQLite: one migrated file per session, copied for each test.
Every database this suite makes is named `disparo_test_<pid>_*` and dropped at the end.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import URL, make_url

from disparo.db import migrate
from disparo.db.engine import Database

POSTGRES_ADMIN_URL = os.environ.get(
    "DISPARO_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
PREFIX = f"disparo_test_{os.getpid()}"
_counter = itertools.count()

BACKENDS = ("sqlite", "postgresql")


def _pg_admin() -> psycopg.Connection[tuple[object, ...]]:
    try:
        return psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.exit(
            f"PostgreSQL is unreachable at {POSTGRES_ADMIN_URL} ({exc}). The suite runs on "
            "SQLite and PostgreSQL and never skips one: start PostgreSQL 15+ with a superuser "
            "that may create databases, or point DISPARO_TEST_POSTGRES_URL at one.",
            returncode=3,
        )


def pg_url(name: str) -> URL:
    """The URL of database `name` on the test server."""
    return make_url(POSTGRES_ADMIN_URL).set(database=name)


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated PostgreSQL database to clone; dropped with every clone at the end."""
    name = f"{PREFIX}_template"
    with _pg_admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    migrate.upgrade(pg_url(name))
    yield name
    with _pg_admin() as admin:
        rows = admin.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", (PREFIX + "%",)
        ).fetchall()
        for (db_name,) in rows:
            admin.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file to copy."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    migrate.upgrade(make_url(f"sqlite:///{path}"))
    return path


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each test that uses a database runs once per backend."""
    return str(request.param)


@pytest.fixture
def db_url(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> Iterator[URL]:
    """The URL of a fresh, migrated, empty database of the test's backend."""
    if backend == "sqlite":
        path = tmp_path / "disparo.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield make_url(f"sqlite:///{path}")
        return
    template = request.getfixturevalue("pg_template")
    name = f"{PREFIX}_{next(_counter)}"
    with _pg_admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY')
    yield pg_url(name)
    with _pg_admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def empty_db_url(backend: str, tmp_path: Path) -> Iterator[URL]:
    """The URL of a fresh database with no tables at all (for migration tests)."""
    if backend == "sqlite":
        yield make_url(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
        return
    name = f"{PREFIX}_{next(_counter)}"
    with _pg_admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield pg_url(name)
    with _pg_admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def db(db_url: URL) -> AsyncIterator[Database]:
    """An open `Database` on a fresh migrated database."""
    database = Database(db_url, pool_size=5)
    yield database
    await database.dispose()
