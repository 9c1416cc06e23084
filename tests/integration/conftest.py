"""Fixtures of the engine's integration tests: the real simulator over HTTP, and workers.

The simulator is served on an ephemeral port of the test's event loop; every request goes
through a real TCP connection and the real Bot API client.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import aiohttp
import pytest
from worker_support import Sim, StartWorker, worker_settings

from disparo.db.engine import Database
from disparo.db.secrets import TokenCipher
from disparo.db.store import SqlShotStore
from disparo.engine.worker import Worker
from disparo.simulator import SimulatorConfig, SimulatorServer
from disparo.telegram import BotAPI


@pytest.fixture
async def sim() -> AsyncIterator[Sim]:
    """A simulator with Telegram's default limits and a few milliseconds of latency."""
    server = SimulatorServer(SimulatorConfig(latency_ms=3.0, latency_jitter_ms=1.0, seed=7))
    await server.start()
    async with aiohttp.ClientSession() as session:
        yield Sim(server, session)
    await server.stop()


@pytest.fixture
async def start_worker(db: Database, sim: Sim) -> AsyncIterator[StartWorker]:
    """Start workers on the test database and the simulator; all stopped cleanly at the end."""
    async with AsyncExitStack() as stack:

        async def start(
            database: Database | None = None, *, worker_id: str | None = None, **settings: Any
        ) -> Worker:
            api = await stack.enter_async_context(BotAPI(sim.base_url, timeout_s=5.0))
            config = worker_settings(**settings)
            store = SqlShotStore(database or db, TokenCipher(None))
            worker = Worker(store, api, settings=config, worker_id=worker_id, db=database or db)
            await stack.enter_async_context(worker.running())
            return worker

        yield start
