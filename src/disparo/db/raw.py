"""A few raw psycopg connections in autocommit, for the engine's hottest single statements on
PostgreSQL (the reservation runs once per sending bot per second).

Through SQLAlchemy's async layer a round trip costs about 250 µs of CPU (greenlet hand-offs,
pool events, pre-ping); on the driver directly it costs about 50 µs. Each statement sent here
is atomic on its own (autocommit: it commits before its rows come back). A connection that
fails is closed and replaced on the next use; the caller sees the error and retries as it
would for any database error. Nothing here holds a transaction open.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

import psycopg
from sqlalchemy.dialects.postgresql import psycopg as sa_psycopg
from sqlalchemy.engine import URL
from sqlalchemy.sql.elements import TextClause

CONNECT_TIMEOUT_S = 5


def driver_sql(statement: TextClause) -> str:
    """The statement in psycopg's own placeholder style (`%(name)s`), compiled once."""
    return str(statement.compile(dialect=sa_psycopg.dialect()))  # type: ignore[no-untyped-call]


class RawPool:
    """Up to `size` autocommit psycopg connections, opened on demand, shared by every caller."""

    def __init__(self, url: URL, *, size: int = 2) -> None:
        self._conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._size = size
        self._idle: list[psycopg.AsyncConnection[Any]] = []
        self._open = 0
        self._freed = asyncio.Condition()
        self._closed = False

    async def fetchall(self, sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Run one statement (its own transaction) and return its rows."""
        conn = await self._acquire()
        try:
            cursor = await conn.execute(sql, params, prepare=True)
            rows = await cursor.fetchall() if cursor.description is not None else []
        except BaseException:
            await self._discard(conn)
            raise
        await self._release(conn)
        return rows

    async def _acquire(self) -> psycopg.AsyncConnection[Any]:
        async with self._freed:
            while True:
                if self._closed:
                    raise RuntimeError("the raw connection pool is closed")
                if self._idle:
                    return self._idle.pop()
                if self._open < self._size:
                    self._open += 1
                    break
                await self._freed.wait()
        try:
            return await psycopg.AsyncConnection.connect(
                self._conninfo,
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT_S,
                application_name="disparo-engine",
            )
        except BaseException:
            async with self._freed:
                self._open -= 1
                self._freed.notify()
            raise

    async def _release(self, conn: psycopg.AsyncConnection[Any]) -> None:
        async with self._freed:
            if self._closed or conn.closed:
                self._open -= 1
                await conn.close()
            else:
                self._idle.append(conn)
            self._freed.notify()

    async def _discard(self, conn: psycopg.AsyncConnection[Any]) -> None:
        async with self._freed:
            self._open -= 1
            self._freed.notify()
        with contextlib.suppress(Exception):  # it is dropped because it failed already
            await conn.close()

    async def close(self) -> None:
        """Close every idle connection; busy ones close when they come back."""
        async with self._freed:
            self._closed = True
            idle, self._idle = self._idle, []
            self._open -= len(idle)
            self._freed.notify_all()
        for conn in idle:
            await conn.close()
