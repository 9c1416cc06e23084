"""Checks of the schema version at run time (the migrations themselves live in `migrate`)."""

from __future__ import annotations

from functools import cache

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from disparo.db.engine import Database
from disparo.db.migrate import head_revision


@cache
def _head() -> str | None:
    return head_revision()


async def schema_is_current(db: Database) -> bool:
    """True when the database is at the newest migration."""
    async with db.read() as conn:
        try:
            row = (await conn.execute(text("SELECT version_num FROM alembic_version"))).first()
        except DBAPIError as exc:
            if "alembic_version" in str(exc.orig):
                return False
            raise
    return row is not None and row[0] == _head()
