"""A lean HTTP/1.1 keep-alive pool for the Bot API's JSON POSTs: the broadcast hot path.

A broadcast makes thousands of identical small POSTs a second to one host. A general client
(aiohttp) spends most of a request's CPU on machinery this traffic never needs (redirects,
cookies, multipart, tracing, per-request tasks and timers). This pool writes each request
with one `transport.write` on a pooled connection, parses the answer with httptools, and
arms one timer per request. It knows whether the request's bytes were handed to a connection
(`SendFailed.maybe_sent`), which is what the caller needs to tell "never delivered" from
"delivery unknown". Nothing here logs, and no error carries the path (it holds the token).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import httptools


class SendFailed(Exception):  # noqa: N818 - a transport outcome, mapped to typed errors by Bot
    """The HTTP exchange failed; `maybe_sent` tells whether the request may have gone out."""

    def __init__(self, reason: str, *, maybe_sent: bool, timed_out: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.maybe_sent = maybe_sent
        self.timed_out = timed_out


class _Connection(asyncio.Protocol):
    """One keep-alive connection; at most one request in flight on it."""

    __slots__ = (
        "_body",
        "_parser",
        "_pool",
        "_status",
        "_waiter",
        "closed",
        "idle_since",
        "keep_alive",
        "owned",
        "transport",
    )

    def __init__(self, pool: HttpPool) -> None:
        self._pool = pool
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self._body: list[bytes] = []
        self._status = 0
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.keep_alive = True
        self.idle_since = 0.0
        self.owned = False  # holds one of the pool's places (set once the connect succeeded)

    # asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            self._fail("the answer is not valid HTTP")

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._pool._forget(self)
        if self._status and self._waiter is not None:  # a body delimited by the close
            self.on_message_complete()
        self._fail("the server closed the connection without answering")

    # httptools callbacks -------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._body = []
        self._status = 0

    def on_headers_complete(self) -> None:
        self._status = self._parser.get_status_code()
        self.keep_alive = self._parser.should_keep_alive()

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result((self._status, b"".join(self._body)))
        self._body = []
        self._status = 0

    # requests ------------------------------------------------------------------------------

    def send(self, data: bytes, waiter: asyncio.Future[tuple[int, bytes]]) -> None:
        """Write one request; `waiter` gets (status, body) or a SendFailed."""
        self._waiter = waiter
        assert self.transport is not None
        self.transport.write(data)

    def _fail(self, reason: str) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(SendFailed(reason, maybe_sent=True))
        self.close()

    def close(self) -> None:
        """Close the connection (its request, if any, fails)."""
        self.closed = True
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()


class HttpPool:
    """Pooled keep-alive connections to one host; `await pool.post(path, body, timeout_s)`.

    At most `limit` connections (0: unbounded); a request waits for a free one at most
    `connect_timeout_s`, including opening it. Idle connections older than
    `keepalive_timeout_s` are closed instead of reused, before servers close them.
    """

    def __init__(
        self,
        *,
        scheme: str,
        host: str,
        port: int,
        limit: int = 1000,
        connect_timeout_s: float = 5.0,
        keepalive_timeout_s: float = 10.0,
        user_agent: str = "disparo",
    ) -> None:
        self._host = host
        self._port = port
        self._ssl: ssl.SSLContext | None = (
            ssl.create_default_context() if scheme == "https" else None
        )
        self._limit = limit
        self._connect_timeout_s = connect_timeout_s
        self._keepalive_s = keepalive_timeout_s
        host_header = host if port in (80, 443) else f"{host}:{port}"
        self._head_tail = (
            f" HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: {user_agent}\r\n"
            "Content-Type: application/json\r\nContent-Length: "
        ).encode("latin-1")
        self._idle: list[_Connection] = []
        self._open = 0
        self._waiters: deque[asyncio.Future[_Connection | None]] = deque()
        self._closed = False

    @property
    def open_connections(self) -> int:
        """Connections open now (idle or busy)."""
        return self._open

    async def post(
        self,
        path: str,
        body: bytes,
        timeout_s: float,
        on_write: Callable[[], object] | None = None,
    ) -> tuple[int, bytes]:
        """POST `body` (JSON) to `path`; (HTTP status, answer body). Raises SendFailed.

        `on_write` is called right before the request is written to its connection (after any
        wait for a free or new one), never when it is not written.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        connection = await self._acquire(loop, min(self._connect_timeout_s, timeout_s))
        data = b"".join(
            (b"POST ", path.encode("latin-1"), self._head_tail, b"%d\r\n\r\n" % len(body), body)
        )
        waiter: asyncio.Future[tuple[int, bytes]] = loop.create_future()
        timer = loop.call_at(deadline, _expire, waiter)
        try:
            if on_write is not None:
                on_write()
            connection.send(data, waiter)
            status, answer = await waiter
        except asyncio.CancelledError:
            connection.close()
            raise
        except SendFailed:
            connection.close()
            raise
        finally:
            timer.cancel()
        self._release(connection)
        return status, answer

    async def _acquire(self, loop: asyncio.AbstractEventLoop, timeout_s: float) -> _Connection:
        if self._closed:
            raise SendFailed("the client is closed", maybe_sent=False)
        now = time.monotonic()
        idle = self._idle
        while idle:
            connection = idle.pop()
            if not connection.closed and now - connection.idle_since < self._keepalive_s:
                return connection
            connection.close()
        if self._limit and self._open >= self._limit:
            waiter: asyncio.Future[_Connection | None] = loop.create_future()
            self._waiters.append(waiter)
            try:
                async with asyncio.timeout(timeout_s):
                    handed = await waiter
            except TimeoutError:
                raise SendFailed(
                    "no connection within the connect timeout; is the pool exhausted?",
                    maybe_sent=False,
                    timed_out=True,
                ) from None
            finally:
                if not waiter.done():
                    waiter.cancel()
            if handed is not None:
                return handed
        return await self._connect(loop, timeout_s)

    async def _connect(self, loop: asyncio.AbstractEventLoop, timeout_s: float) -> _Connection:
        self._open += 1
        try:
            async with asyncio.timeout(timeout_s):
                _, connection = await loop.create_connection(
                    lambda: _Connection(self),
                    self._host,
                    self._port,
                    ssl=self._ssl,
                    server_hostname=self._host if self._ssl else None,
                )
        except TimeoutError:
            self._open -= 1
            self._wake_one()
            raise SendFailed(
                "no connection within the connect timeout", maybe_sent=False, timed_out=True
            ) from None
        except OSError as exc:
            self._open -= 1
            self._wake_one()
            raise SendFailed(exc.strerror or type(exc).__name__, maybe_sent=False) from None
        except BaseException:
            self._open -= 1
            self._wake_one()
            raise
        connection.owned = True
        return connection

    def _release(self, connection: _Connection) -> None:
        if connection.closed or not connection.keep_alive or self._closed:
            connection.close()
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(connection)
                return
        connection.idle_since = time.monotonic()
        self._idle.append(connection)

    def _forget(self, connection: _Connection) -> None:
        """A connection closed: free its place for a waiter."""
        if not connection.owned:
            return  # its connect failed or was cancelled: the place was already given back
        connection.owned = False
        self._open -= 1
        if connection in self._idle:
            self._idle.remove(connection)
        self._wake_one()

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # it may open a connection now
                return

    async def close(self) -> None:
        """Close every connection; requests in flight fail as maybe sent."""
        self._closed = True
        for connection in self._idle:
            connection.close()
        self._idle.clear()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
        await asyncio.sleep(0)  # let connection_lost run


def _expire(waiter: asyncio.Future[Any]) -> None:
    if not waiter.done():
        waiter.set_exception(
            SendFailed("no answer came before the timeout", maybe_sent=True, timed_out=True)
        )
