"""Apply, revert and inspect the schema migrations (Alembic, run with a blocking driver)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, MetaData, create_engine
from sqlalchemy.engine import URL

from disparo.db.engine import SQLITE_BUSY_TIMEOUT_MS
from disparo.db.schema import metadata
from disparo.db.tables_contacts import TRIGGER_OBJECTS
from disparo.db.urls import sync_url

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def _with_connection(url: URL, action: Callable[[Connection], Any]) -> Any:
    connect_args = (
        {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000} if url.get_backend_name() == "sqlite" else {}
    )
    engine = create_engine(sync_url(url), connect_args=connect_args)
    try:
        with engine.begin() as connection:
            if url.get_backend_name() == "sqlite":
                connection.exec_driver_sql("PRAGMA journal_mode=WAL")
            return action(connection)
    finally:
        engine.dispose()


def upgrade(url: URL, revision: str = "head") -> None:
    """Bring the database up to `revision` (default: the newest)."""
    _with_connection(url, lambda c: command.upgrade(_config(c), revision))


def downgrade(url: URL, revision: str) -> None:
    """Take the database back to `revision` (`base` removes every table)."""
    _with_connection(url, lambda c: command.downgrade(_config(c), revision))


def head_revision() -> str | None:
    """The newest revision in the migration history."""
    return ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(url: URL) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    return _with_connection(  # type: ignore[no-any-return]
        url, lambda c: MigrationContext.configure(c).get_current_revision()
    )


def _defined(name: str | None, type_: str, parent_names: object) -> bool:
    """Whether a reflected object is one the table definitions describe: the name search's
    backend-specific index (a GIN index; an FTS5 table) is kept by migration 0014 alone."""
    return name not in TRIGGER_OBJECTS


def _created_on(dialect: str) -> Any:
    """Whether a defined object is created on `dialect`: a constraint made for other backends
    only (`ddl_if`, e.g. shots_sent's foreign key, SQLite's alone) is not expected on it."""

    def include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        rule = getattr(obj, "_ddl_if", None)
        if reflected or rule is None or rule.dialect is None:
            return True
        wanted = {rule.dialect} if isinstance(rule.dialect, str) else set(rule.dialect)
        return dialect in wanted

    return include


def schema_differences(url: URL, expected: MetaData = metadata) -> list[Any]:
    """What differs between the migrated database and the table definitions (empty when none)."""

    def compare(connection: Connection) -> list[Any]:
        opts = {
            "compare_type": True,
            "include_name": _defined,
            "include_object": _created_on(connection.dialect.name),
        }
        context = MigrationContext.configure(connection, opts=opts)
        return list(compare_metadata(context, expected))

    return _with_connection(url, compare)  # type: ignore[no-any-return]
