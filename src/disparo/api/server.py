"""How uvicorn serves the app: connections bounded in number and in time.

uvicorn closes a connection left idle after an answer (`timeout_keep_alive`) and answers 503
past `limit_concurrency`, but it waits forever for a request's headers: a socket that sends
nothing, or half a header a byte at a time, stays open. `HeadTimeoutProtocol` closes it once
DISPARO_HTTP_READ_TIMEOUT_S has passed since the connection opened or the request began.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from disparo.config import Settings


class HeadTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with a deadline for each request's head."""

    head_timeout_s = 10.0  # set by `head_timeout_protocol`
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._head_timer is None:  # a keep-alive connection's next request starts
            self._arm_head_timer()

    def on_headers_complete(self) -> None:
        self._cancel_head_timer()
        super().on_headers_complete()

    def _arm_head_timer(self) -> None:
        self._head_timer = self.loop.call_later(self.head_timeout_s, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.transport.close()


def head_timeout_protocol(head_timeout_s: float) -> type[HeadTimeoutProtocol]:
    """The protocol class for uvicorn's `http` option, with this deadline."""
    return type(
        "BoundedHeadTimeoutProtocol", (HeadTimeoutProtocol,), {"head_timeout_s": head_timeout_s}
    )


def uvicorn_limits(settings: Settings) -> dict[str, Any]:
    """uvicorn.Config options that bound connections, from the DISPARO_HTTP_* settings."""
    return {
        "http": head_timeout_protocol(settings.http_read_timeout_s),
        "timeout_keep_alive": settings.http_keep_alive_s,
        "limit_concurrency": settings.http_max_connections,
    }
