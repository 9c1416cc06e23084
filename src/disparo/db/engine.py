"""Engine set-up for SQLite and PostgreSQL, and the `Database` handle the rest of Disparo uses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from typing import Any

import psycopg
from sqlalchemy import event
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from disparo.db.raw import RawPool
from disparo.db.urls import async_url, parse_database_url
from disparo.db.wake_signal import WakeSignal

SQLITE_BUSY_TIMEOUT_MS = 30_000
WAKE_CHANNEL = "disparo_shots"  # PostgreSQL LISTEN/NOTIFY channel of due shots


def is_unavailable(exc: BaseException) -> bool:
    """True when `exc` means the database cannot be reached or is busy right now (a restart,
    a network cut, a full pool, a locked SQLite file), so the call may work if tried later."""
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeoutError):
        return True
    # The engine's raw psycopg connections (`db.raw`) raise the driver's own errors.
    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OSError | TimeoutError)


# The connection type named by code outside db/ (which never imports SQLAlchemy itself).
Connection = AsyncConnection


def _configure_sqlite(engine: AsyncEngine, *, immediate: bool) -> None:
    """WAL, busy timeout, foreign keys; writers take the lock at BEGIN (no upgrade deadlocks)."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(begin)


def create_engine(url: URL, *, write: bool = True, pool_size: int = 10) -> AsyncEngine:
    """An async engine for `url`; on SQLite `write` picks BEGIN IMMEDIATE transactions."""
    if url.get_backend_name() == "sqlite":
        engine = create_async_engine(
            async_url(url),
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            pool_size=pool_size,
            max_overflow=0,
        )
        _configure_sqlite(engine, immediate=write)
        return engine
    return create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args={"connect_timeout": 5, "application_name": "disparo"},
    )


def _wake_signal(url: URL) -> WakeSignal | None:
    """The cross-process wake-up of a SQLite file (none in memory nor on PostgreSQL)."""
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return None
    if database.startswith("file:"):
        return None  # a URI filename (uri=true): polling only, rather than guess its path
    return WakeSignal(database)


class Database:
    """The database seam: write and read transactions, and the shot wake-up signal.

    The wake-up after a commit that queued work: NOTIFY inside the commit on PostgreSQL (see
    `disparo.db.notify`); on SQLite a datagram to each worker process's socket beside the
    database file after it (see `disparo.db.wake_signal`); and this process's callbacks.
    """

    def __init__(self, url: str | URL, *, pool_size: int = 10) -> None:
        self.url = parse_database_url(url) if isinstance(url, str) else url
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self.writer = create_engine(self.url, write=True, pool_size=pool_size)
        self.reader = (
            create_engine(self.url, write=False, pool_size=pool_size)
            if self.is_sqlite
            else self.writer
        )
        # The engine's hottest single statements skip SQLAlchemy on PostgreSQL (see db.raw).
        self.raw = None if self.is_sqlite else RawPool(self.url)
        self._wake_listeners: list[Callable[[], None]] = []
        self.wake_signal = _wake_signal(self.url)

    @asynccontextmanager
    async def write(self, *, wake: bool = False) -> AsyncIterator[AsyncConnection]:
        """A write transaction (BEGIN IMMEDIATE on SQLite), committed on success.

        `wake=True` wakes the workers when the transaction commits: NOTIFY inside it on
        PostgreSQL, a datagram to every other worker process after it on SQLite (neither fails
        the write), and this process's in-memory event.
        """
        async with self.writer.begin() as conn:
            yield conn
            if wake and not self.is_sqlite:
                await conn.exec_driver_sql(f"NOTIFY {WAKE_CHANNEL}")
        if wake:
            if self.wake_signal is not None:
                self.wake_signal.send()
            self.wake_local()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read-only transaction that never waits for writers on SQLite (WAL)."""
        async with self.reader.connect() as conn:
            yield conn

    def on_wake(self, callback: Callable[[], None]) -> None:
        """Call `callback` in this process whenever a shot becomes due (SQLite wake-up)."""
        self._wake_listeners.append(callback)

    def receive_wake_ups(self, callback: Callable[[], None]) -> AbstractAsyncContextManager[None]:
        """While inside, call `callback` when another process's commit queued work, on SQLite
        (this process's socket, see `disparo.db.wake_signal`). On PostgreSQL it does nothing:
        `disparo.db.notify.ShotListener` LISTENs there."""
        if self.wake_signal is None:
            return nullcontext()
        return self.wake_signal.receive(callback)

    def wake_local(self) -> None:
        """Wake this process's workers now (after a commit that queued or resumed a shot)."""
        for callback in self._wake_listeners:
            callback()

    async def dispose(self) -> None:
        """Close every pooled connection."""
        if self.raw is not None:
            await self.raw.close()
        await self.writer.dispose()
        if self.reader is not self.writer:
            await self.reader.dispose()

    async def ping(self, timeout_s: float = 2.0) -> None:
        """Raise if the database cannot answer a trivial query within `timeout_s`."""
        async with asyncio.timeout(timeout_s), self.read() as conn:
            await conn.exec_driver_sql("SELECT 1")
