"""Database URLs: what the operator writes, and what the async and sync drivers need."""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from disparo.db.errors import StoreError


class DatabaseURLError(StoreError, ValueError):
    """DISPARO_DATABASE_URL is not a database Disparo can use."""


def parse_database_url(raw: str) -> URL:
    """Parse and check an operator's URL: `sqlite:///path.sqlite3` or `postgresql://...`."""
    try:
        url = make_url(raw)
    except ArgumentError:
        raise DatabaseURLError(
            "DISPARO_DATABASE_URL is not a valid URL; use sqlite:///disparo.sqlite3 "
            "or postgresql://user@host:5432/dbname"
        ) from None
    backend = url.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise DatabaseURLError(
            f"DISPARO_DATABASE_URL uses '{backend}', which Disparo does not support; "
            "use sqlite:///disparo.sqlite3 or postgresql://user@host:5432/dbname"
        )
    if backend == "sqlite" and not url.database:
        raise DatabaseURLError(
            "DISPARO_DATABASE_URL must name a SQLite file (sqlite:///disparo.sqlite3); "
            "an in-memory database would lose every shot at exit"
        )
    return url


def async_url(url: URL) -> URL:
    """The URL with the asyncio driver Disparo runs on."""
    if url.get_backend_name() == "sqlite":
        return url.set(drivername="sqlite+aiosqlite")
    return url.set(drivername="postgresql+psycopg")


def sync_url(url: URL) -> URL:
    """The URL with the blocking driver the migrations run on."""
    if url.get_backend_name() == "sqlite":
        return url.set(drivername="sqlite")
    return url.set(drivername="postgresql+psycopg")


def redacted(url: URL) -> str:
    """The URL as it may appear in a log line: the password hidden."""
    return url.render_as_string(hide_password=True)
