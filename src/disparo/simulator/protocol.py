"""A small HTTP/1.1 server protocol (httptools parser, keep-alive, pipelining-safe).

Each parsed request goes to a handler that answers at once or with an awaitable; answers are
written in request order whatever order they complete in, after their own delay, if any.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import cast

import httptools

log = logging.getLogger("disparo.simulator")

JSON = b"application/json"
MAX_BODY_BYTES = 60 * 1024 * 1024  # Telegram takes 50 MB uploads; a little room for framing

_SERVER_ERROR = b'{"ok":false,"error_code":500,"description":"Internal Server Error"}'

_REASONS = {
    100: b"Continue",
    200: b"OK",
    400: b"Bad Request",
    401: b"Unauthorized",
    403: b"Forbidden",
    404: b"Not Found",
    409: b"Conflict",
    413: b"Request Entity Too Large",
    429: b"Too Many Requests",
    500: b"Internal Server Error",
    502: b"Bad Gateway",
}


@dataclass(slots=True)
class Request:
    """One parsed HTTP request; header names are lower case."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


@dataclass(slots=True)
class Response:
    """What to answer, after `delay_s`; `drop` closes the connection without answering."""

    status: int
    body: bytes
    content_type: bytes = JSON
    delay_s: float = 0.0
    drop: bool = False
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)


Handler = Callable[[Request], Response | Awaitable[Response]]


class _Slot:
    """A place in the connection's answer queue, kept in request order."""

    __slots__ = ("keep_alive", "response")

    def __init__(self, keep_alive: bool) -> None:
        self.keep_alive = keep_alive
        self.response: Response | None = None


class _DateHeader:
    """The `Date` header value, formatted once a second rather than once a request."""

    __slots__ = ("_second", "_value")

    def __init__(self) -> None:
        self._second = -1
        self._value = b""

    def get(self) -> bytes:
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._value = formatdate(now, usegmt=True).encode()
        return self._value


_date = _DateHeader()


def render(response: Response, keep_alive: bool) -> bytes:
    """The bytes on the wire for `response`: status line, headers, body."""
    reason = _REASONS.get(response.status, b"Unknown")
    head = [
        b"HTTP/1.1 %d %s\r\nServer: nginx/1.18.0\r\nDate: %s\r\nContent-Type: %s\r\n"
        b"Content-Length: %d\r\nConnection: %s\r\n"
        % (
            response.status,
            reason,
            _date.get(),
            response.content_type,
            len(response.body),
            b"keep-alive" if keep_alive else b"close",
        )
    ]
    head.extend(b"%s: %s\r\n" % pair for pair in response.headers)
    head.append(b"\r\n")
    head.append(response.body)
    return b"".join(head)


class HttpProtocol(asyncio.Protocol):
    """One client connection: parse, dispatch, answer in order, keep alive."""

    def __init__(self, handler: Handler, connections: set[HttpProtocol]) -> None:
        self._handler = handler
        self._connections = connections
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._loop = asyncio.get_running_loop()
        self._slots: deque[_Slot] = deque()
        self._tasks: set[asyncio.Future[Response]] = set()
        self._closing = False
        self._url = b""
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._body_size = 0
        self._too_large = False
        self._broken = False

    # asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it
        self._transport = cast(asyncio.Transport, transport)
        self._connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        self._transport = None
        self._connections.discard(self)
        for task in list(self._tasks):
            task.cancel()

    def data_received(self, data: bytes) -> None:
        if self._closing or self._broken:
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(400, b"upgrade is not supported")
        except httptools.HttpParserError:
            if self._too_large:
                self._fail(413, b"Request Entity Too Large")
            else:
                self._fail(400, b"malformed HTTP request")

    def pause_writing(self) -> None:
        if self._transport is not None:
            self._transport.pause_reading()

    def resume_writing(self) -> None:
        if self._transport is not None and not self._closing:
            self._transport.resume_reading()

    def close(self) -> None:
        """Close the connection now (server shutdown)."""
        self._closing = True
        if self._transport is not None:
            self._transport.close()

    def pending(self) -> list[asyncio.Future[Response]]:
        """Answers still being worked out (long polls), to cancel and await at shutdown."""
        return list(self._tasks)

    # httptools callbacks -----------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = {}
        self._body = []
        self._body_size = 0

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        if self._headers.get("expect", "").lower() == "100-continue" and self._transport:
            self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        self._body_size += len(body)
        if self._body_size > MAX_BODY_BYTES:
            self._too_large = True
            raise httptools.HttpParserError("body too large")
        self._body.append(body)

    def on_message_complete(self) -> None:
        path, _, query = self._url.partition(b"?")
        request = Request(
            self._parser.get_method().decode("latin-1"),
            path.decode("utf-8", "replace"),
            query.decode("utf-8", "replace"),
            self._headers,
            b"".join(self._body),
        )
        slot = _Slot(self._parser.should_keep_alive())
        self._slots.append(slot)
        try:
            answer = self._handler(request)
        except Exception:
            log.exception("simulator handler failed")
            answer = Response(500, _SERVER_ERROR)
        if isinstance(answer, Response):
            self._schedule(slot, answer)
            return
        task = asyncio.ensure_future(answer)
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._on_task_done(slot, done))

    # answering --------------------------------------------------------------------------

    def _on_task_done(self, slot: _Slot, task: asyncio.Future[Response]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is None:
            self._schedule(slot, task.result())
            return
        log.error("simulator handler failed", exc_info=error)
        self._schedule(slot, Response(500, _SERVER_ERROR))

    def _schedule(self, slot: _Slot, response: Response) -> None:
        if response.delay_s > 0:
            self._loop.call_later(response.delay_s, self._complete, slot, response)
        else:
            self._complete(slot, response)

    def _complete(self, slot: _Slot, response: Response) -> None:
        slot.response = response
        slots = self._slots
        while slots and slots[0].response is not None and not self._closing:
            head = slots.popleft()
            answer = head.response
            assert answer is not None
            transport = self._transport
            if transport is None:
                return
            if answer.drop:
                self.close()
                return
            transport.write(render(answer, head.keep_alive))
            if not head.keep_alive:
                self.close()

    def _fail(self, status: int, reason: bytes) -> None:
        """Answer an unparseable request after the ones before it, then close."""
        self._broken = True
        body = b'{"ok":false,"error_code":%d,"description":"%s"}' % (status, reason)
        slot = _Slot(keep_alive=False)
        self._slots.append(slot)
        self._complete(slot, Response(status, body))
