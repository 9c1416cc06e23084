"""Fixtures of the API tests: the Telegram simulator and the API, both on real sockets.

Every test gets a fresh migrated database (SQLite and PostgreSQL), a simulator on an ephemeral
port, and uvicorn serving the app on another, with an aiohttp client talking to it.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import uvicorn
from api_support import ADMIN_TOKEN, SECRET_KEY, TOKEN, BuildApp, Client, Serve
from fastapi import FastAPI
from sqlalchemy.engine import URL

from disparo.api.app import create_app
from disparo.config import Settings
from disparo.db.engine import Database
from disparo.db.secrets import TokenCipher
from disparo.simulator import SimulatorConfig, SimulatorServer
from disparo.telegram import BotAPI


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """One HTTP client session for the test."""
    async with aiohttp.ClientSession() as client_session:
        yield client_session


@pytest.fixture
async def simulator() -> AsyncIterator[SimulatorServer]:
    """The Telegram simulator, without latency, on an ephemeral port."""
    server = SimulatorServer(SimulatorConfig(latency_ms=0.0, latency_jitter_ms=0.0, seed=7))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def sim(simulator: SimulatorServer, session: aiohttp.ClientSession) -> Client:
    """A client of the simulator (Bot API and /sim control calls)."""
    return Client(simulator.base_url, session)


@pytest.fixture
def listen_socket() -> socket.socket:
    """A bound socket for the API, so its URL is known before the app is built."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it; without it every answer waits ~40 ms (Nagle + delayed
    # ACK), as asyncio only sets TCP_NODELAY on the sockets it creates itself.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture
def settings(db_url: URL, simulator: SimulatorServer, listen_socket: socket.socket) -> Settings:
    """Settings of the API under test: the simulator as Telegram, a public URL, a secret key."""
    port = listen_socket.getsockname()[1]
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=db_url.render_as_string(hide_password=False),
        admin_token=ADMIN_TOKEN,
        telegram_api_url=simulator.base_url,
        public_url=f"http://127.0.0.1:{port}",
        secret_key=SECRET_KEY,
    )


@pytest.fixture
def build_app(db: Database, settings: Settings) -> BuildApp:
    """Builds the app under test; keyword arguments go to `create_app`."""

    def build(**overrides: Any) -> FastAPI:
        options: dict[str, Any] = {
            "telegram": BotAPI(settings.telegram_api_url, timeout_s=5.0),
            "cipher": TokenCipher(SECRET_KEY),
            "long_poll_s": 1,
        }
        options.update(overrides)
        app_db = options.pop("db", db)
        app_settings = options.pop("settings", settings)
        return create_app(app_db, app_settings, **options)

    return build


@pytest.fixture
async def serve(
    listen_socket: socket.socket, session: aiohttp.ClientSession
) -> AsyncIterator[Serve]:
    """Serves an app with uvicorn on the test's socket (lifespan included) until the end.

    uvicorn's startup is called directly (its main loop only waits for signals), and the
    shutdown done by hand: close the listener and connections, then run the lifespan's end.
    """
    servers: list[uvicorn.Server] = []

    async def start(app: FastAPI) -> Client:
        config = uvicorn.Config(
            app, log_config=None, access_log=False, lifespan="on", timeout_graceful_shutdown=2
        )
        config.load()
        server = uvicorn.Server(config)
        server.lifespan = config.lifespan_class(config)
        await server.startup(sockets=[listen_socket])
        servers.append(server)
        host, port = listen_socket.getsockname()
        return Client(f"http://{host}:{port}", session)

    yield start
    await session.close()
    for server in servers:  # uvicorn's own shutdown sleeps a fixed 0.1 s first
        for listener in server.servers:
            listener.close()
        for connection in list(server.server_state.connections):
            connection.shutdown()
        for listener in server.servers:
            await listener.wait_closed()
        await server.lifespan.shutdown()
    listen_socket.close()


@pytest.fixture
async def api(build_app: BuildApp, serve: Serve) -> Client:
    """The API under test, served on a real socket, with the simulator as Telegram."""
    return await serve(build_app())


@pytest.fixture
async def bot(api: Client) -> dict[str, Any]:
    """A registered bot `loja` (token TOKEN)."""
    answer = await api.post("/admin/api/bots", {"slug": "loja", "token": TOKEN, "name": "Loja"})
    assert answer.status == 201, answer.body
    body: dict[str, Any] = answer.body
    return body
