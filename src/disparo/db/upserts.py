"""INSERT ... ON CONFLICT for the backend at hand (SQLite and PostgreSQL spell it alike)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection


def upsert_into(conn: AsyncConnection, table: Table) -> Any:
    """An INSERT on `table` offering `.on_conflict_do_update` / `.on_conflict_do_nothing`."""
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table)
    return postgresql.insert(table)
