"""The LISTEN side of the shot wake-up on PostgreSQL (the NOTIFY side is `Database.write`;
SQLite's counterpart is `disparo.db.wake_signal`).

One dedicated autocommit connection per worker process runs `LISTEN disparo_shots` and calls
back on each notification. If the connection drops it reconnects with a growing backoff and
calls back once after reconnecting, since notifications sent meanwhile are lost. The worker's
≤1 s poll still runs, so a listener that is down costs latency, never a shot.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from types import TracebackType
from typing import NoReturn, Self

import psycopg
from sqlalchemy.engine import URL

from disparo.db.engine import WAKE_CHANNEL

log = logging.getLogger("disparo.db.notify")

HEALTH_CHECK_S = 15.0  # an idle connection is checked this often (a silent drop ends LISTEN)
BACKOFF_FIRST_S = 0.1
BACKOFF_CAP_S = 5.0


def listen_conninfo(url: URL) -> str:
    """The libpq connection string of `url` for psycopg, with TCP keepalives."""
    base = url.set(drivername="postgresql").render_as_string(hide_password=False)
    keepalive = "keepalives=1&keepalives_idle=10&keepalives_interval=5&keepalives_count=3"
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}{keepalive}&application_name=disparo-listen"


class ShotListener:
    """Calls `on_notify` whenever a shot may have become due (any process's NOTIFY).

    Use as an async context manager; entering waits (briefly) for LISTEN to be in place so a
    NOTIFY sent right after is not missed.
    """

    def __init__(
        self,
        url: URL,
        on_notify: Callable[[], None],
        *,
        channel: str = WAKE_CHANNEL,
        ready_timeout_s: float = 5.0,
    ) -> None:
        self._conninfo = listen_conninfo(url)
        self._on_notify = on_notify
        self._channel = channel
        self._ready_timeout_s = ready_timeout_s
        self._listening = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.reconnects = 0

    @property
    def listening(self) -> bool:
        """True while LISTEN is in place."""
        return self._listening.is_set()

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._run(), name="disparo-listen")
        try:
            await asyncio.wait_for(self._listening.wait(), self._ready_timeout_s)
        except TimeoutError:
            log.warning(
                "[SHOTS][LISTEN] not listening yet; polling until the connection is back",
                extra={"channel": self._channel},
            )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _run(self) -> None:
        backoff_s = BACKOFF_FIRST_S
        while True:
            try:
                await self._listen()
            except (psycopg.Error, OSError) as exc:
                if self._listening.is_set():
                    backoff_s = BACKOFF_FIRST_S  # it worked for a while: retry soon
                self._listening.clear()
                log.warning(
                    "[SHOTS][LISTEN] connection lost; reconnecting",
                    extra={
                        "channel": self._channel,
                        "error": type(exc).__name__,
                        "retry_in_s": backoff_s,
                    },
                )
            self.reconnects += 1
            await asyncio.sleep(backoff_s)
            backoff_s = min(BACKOFF_CAP_S, backoff_s * 2)

    async def _listen(self) -> NoReturn:
        conn = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
        async with conn:
            await conn.execute(f"LISTEN {self._channel}")
            self._listening.set()
            self._on_notify()  # anything notified while we were away
            while True:
                async for _ in conn.notifies(timeout=HEALTH_CHECK_S):
                    self._on_notify()
                await conn.execute("SELECT 1")  # raises if the connection silently died
