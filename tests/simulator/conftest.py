"""Fixtures: a simulator served in-process on an ephemeral port, and a client for it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from disparo.simulator import SimulatorConfig, SimulatorServer

TOKEN = "123456789:TTHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"
OTHER_TOKEN = "987654321:ZZHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw2"


class SimClient:
    """Talks to the simulator: Bot API calls and control API calls."""

    def __init__(self, base_url: str, session: aiohttp.ClientSession) -> None:
        self.base_url = base_url
        self.session = session

    async def call(
        self,
        method: str,
        token: str = TOKEN,
        *,
        json: Any = None,
        data: Any = None,
        params: dict[str, str] | None = None,
        http_method: str = "POST",
    ) -> tuple[int, dict[str, Any]]:
        """One Bot API request; the HTTP status and the decoded body (raw text if not JSON)."""
        url = f"{self.base_url}/bot{token}/{method}"
        async with self.session.request(
            http_method, url, json=json, data=data, params=params
        ) as response:
            if response.content_type != "application/json":
                return response.status, {"raw": await response.text()}
            return response.status, await response.json()

    async def send(
        self, chat_id: int, text: str = "oi", **extra: Any
    ) -> tuple[int, dict[str, Any]]:
        """sendMessage as JSON."""
        return await self.call("sendMessage", json={"chat_id": chat_id, "text": text, **extra})

    async def control(self, path: str, body: Any = None, *, method: str = "POST") -> Any:
        """A control API call; its `result`, after checking it succeeded."""
        async with self.session.request(
            method, f"{self.base_url}/sim/{path}", json=body
        ) as response:
            answer = await response.json()
            assert response.status == 200, answer
            return answer["result"]

    async def users(self, *users: dict[str, Any], token: str = TOKEN) -> None:
        """Upsert simulated users of a bot."""
        await self.control(f"bots/{token}/users", list(users))

    async def messages(self, chat_id: int | None = None, token: str = TOKEN) -> list[Any]:
        """Delivered messages of a bot (one chat, or all)."""
        query = "" if chat_id is None else f"?chat_id={chat_id}"
        result: list[Any] = await self.control(f"bots/{token}/messages{query}", method="GET")
        return result


StartSimulator = Callable[..., Awaitable[SimClient]]


@pytest.fixture
async def start_simulator() -> AsyncIterator[StartSimulator]:
    """Start simulators with given settings (latency 0 unless said); all stopped at the end."""
    servers: list[SimulatorServer] = []
    sessions: list[aiohttp.ClientSession] = []

    async def start(**settings: Any) -> SimClient:
        settings.setdefault("latency_ms", 0.0)
        settings.setdefault("latency_jitter_ms", 0.0)
        settings.setdefault("seed", 7)
        server = SimulatorServer(SimulatorConfig(**settings))
        await server.start()
        servers.append(server)
        session = aiohttp.ClientSession()
        sessions.append(session)
        return SimClient(server.base_url, session)

    yield start
    for session in sessions:
        await session.close()
    for server in servers:
        await server.stop()


@pytest.fixture
async def sim(start_simulator: StartSimulator) -> SimClient:
    """A simulator with default limits, lenient users and no latency."""
    return await start_simulator()


@pytest.fixture
def token() -> str:
    """The token of the bot most tests talk to."""
    return TOKEN


@pytest.fixture
def other_token() -> str:
    """A second bot's token."""
    return OTHER_TOKEN


@pytest.fixture
def base_url(sim: SimClient) -> str:
    """The simulator's base URL (`http://127.0.0.1:<port>`)."""
    return sim.base_url
