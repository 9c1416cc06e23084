"""The pooled Bot API client: one keep-alive connection pool, shared by the handles of every bot.

Build one ``BotAPI`` per process (in ``services``), start it, and get a ``Bot`` handle per token
with ``api.bot(token)``. The base URL is injectable so tests, benchmarks and the demo point the
client at the simulator or a local Bot API server. Requests travel over the lean HTTP/1.1 pool
of ``transport`` (every Bot API call is a small JSON POST to one host).
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from yarl import URL

from disparo.telegram.bot import Bot
from disparo.telegram.redact import install_log_redaction
from disparo.telegram.transport import HttpPool

DEFAULT_BASE_URL = "https://api.telegram.org"


class BotAPI:
    """A pool of keep-alive HTTP connections to one Bot API server.

    ``timeout_s`` bounds a whole request (connect, send, answer); ``connect_timeout_s`` bounds
    obtaining a connection, including waiting for a free one when ``limit`` connections are
    busy (at most ``timeout_s``). A request that got no connection is reported as
    NotDeliveredError; once its bytes were handed to a connection, a timeout or a dropped
    connection is reported as MaybeDeliveredError. ``keepalive_timeout_s`` closes idle pooled
    connections on our side before servers close them, which keeps rare the race where a request
    is written to a connection the server has just closed.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout_s: float = 10.0,
        connect_timeout_s: float = 5.0,
        limit: int = 1000,
        keepalive_timeout_s: float = 10.0,
    ) -> None:
        url = URL(base_url)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(
                "base_url must be an http:// or https:// URL with a host, such as "
                f"{DEFAULT_BASE_URL!r} or 'http://127.0.0.1:8081'"
            )
        if url.user or url.password or url.query_string or url.fragment:
            raise ValueError("base_url must not contain credentials, a query or a fragment")
        if timeout_s <= 0 or connect_timeout_s <= 0 or keepalive_timeout_s < 0:
            raise ValueError(
                "timeout_s and connect_timeout_s must be > 0, keepalive_timeout_s >= 0"
            )
        if limit < 0:
            raise ValueError("limit must be >= 0 (0 means no limit on open connections)")
        self._base_url = str(url).rstrip("/")
        self._host = f"{url.host}:{url.explicit_port}" if url.explicit_port else url.host
        self._scheme, self._hostname, self._port = url.scheme, url.host, url.port or 0
        self.path_prefix = url.path.rstrip("/")  # a local Bot API server may sit under a path
        self.timeout_s = timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.limit = limit
        self.keepalive_timeout_s = keepalive_timeout_s
        self._pool: HttpPool | None = None

    @property
    def base_url(self) -> str:
        """The server's base URL, e.g. ``https://api.telegram.org``."""
        return self._base_url

    @property
    def host(self) -> str:
        """The server's host (and port if explicit): what error messages name."""
        return self._host

    @property
    def started(self) -> bool:
        """Whether the pool is open."""
        return self._pool is not None

    @property
    def open_connections(self) -> int:
        """Connections the pool holds now (0 when closed)."""
        return self._pool.open_connections if self._pool is not None else 0

    def pool(self) -> HttpPool:
        """The connection pool; raises if the client was not started."""
        pool = self._pool
        if pool is None:
            raise RuntimeError(
                "BotAPI is not started: use 'async with BotAPI(...)' or 'await api.start()'"
            )
        return pool

    def bot(self, token: str) -> Bot:
        """A handle sending as the bot with this token (the token stays inside it)."""
        return Bot(self, token)

    async def start(self) -> None:
        """Open the connection pool (inside the running event loop); idempotent."""
        if self._pool is not None:
            return
        install_log_redaction()
        self._pool = HttpPool(
            scheme=self._scheme,
            host=self._hostname,
            port=self._port,
            limit=self.limit,
            connect_timeout_s=self.connect_timeout_s,
            keepalive_timeout_s=self.keepalive_timeout_s,
        )

    async def aclose(self) -> None:
        """Close the pool and its connections; idempotent."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        state = "started" if self._pool is not None else "closed"
        return f"<BotAPI {self._base_url} {state}>"
