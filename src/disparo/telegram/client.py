"""The pooled Bot API client: one aiohttp session, shared by the handles of every bot.

Build one ``BotAPI`` per process (in ``services``), start it, and get a ``Bot`` handle per token
with ``api.bot(token)``. The base URL is injectable so tests, benchmarks and the demo point the
client at the simulator or a local Bot API server.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

import aiohttp
from yarl import URL

from disparo.telegram.bot import Bot
from disparo.telegram.redact import install_log_redaction

DEFAULT_BASE_URL = "https://api.telegram.org"


class BotAPI:
    """A pool of keep-alive HTTP connections to one Bot API server.

    ``timeout_s`` bounds a whole request (connect, send, answer); ``connect_timeout_s`` bounds
    obtaining a connection, including waiting for a free one when ``limit`` connections are
    busy. Keep ``connect_timeout_s`` below ``timeout_s``: a connect-phase timeout is reported as
    NotDeliveredError, while the overall timeout cannot tell the phases apart and is reported,
    conservatively, as MaybeDeliveredError. ``keepalive_timeout_s`` closes idle pooled
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
        self.timeout_s = timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.limit = limit
        self.keepalive_timeout_s = keepalive_timeout_s
        self._timeout = aiohttp.ClientTimeout(total=timeout_s, connect=connect_timeout_s)
        self._session: aiohttp.ClientSession | None = None

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
        return self._session is not None

    def request_timeout(self, total_s: float | None = None) -> aiohttp.ClientTimeout:
        """The timeout of one request: the default one, or one lasting ``total_s``."""
        if total_s is None:
            return self._timeout
        return aiohttp.ClientTimeout(total=total_s, connect=self.connect_timeout_s)

    def session(self) -> aiohttp.ClientSession:
        """The pooled session; raises if the client was not started."""
        session = self._session
        if session is None:
            raise RuntimeError(
                "BotAPI is not started: use 'async with BotAPI(...)' or 'await api.start()'"
            )
        return session

    def bot(self, token: str) -> Bot:
        """A handle sending as the bot with this token (the token stays inside it)."""
        return Bot(self, token)

    async def start(self) -> None:
        """Open the connection pool (inside the running event loop); idempotent."""
        if self._session is not None:
            return
        install_log_redaction()
        connector = aiohttp.TCPConnector(
            limit=self.limit,
            limit_per_host=0,
            keepalive_timeout=self.keepalive_timeout_s,
            ttl_dns_cache=300,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=self._timeout,
            # Every call is a JSON POST: set the header once instead of per request.
            headers={"Content-Type": "application/json", "User-Agent": "disparo"},
            cookie_jar=aiohttp.DummyCookieJar(),
            raise_for_status=False,
        )

    async def aclose(self) -> None:
        """Close the pool and its connections; idempotent."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()

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
        state = "started" if self._session is not None else "closed"
        return f"<BotAPI {self._base_url} {state}>"
