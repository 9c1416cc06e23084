"""Transient failures at the very end of a shot: retried, never mistaken for `unknown`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack
from typing import Any

import pytest
from worker_support import (
    Sim,
    add_bot,
    add_contacts,
    add_shot,
    deliveries,
    statuses,
    wait_for_status,
    worker_settings,
)

from disparo.db.engine import Database
from disparo.db.secrets import TokenCipher
from disparo.db.store import SqlShotStore
from disparo.engine.worker import Worker
from disparo.telegram import Bot, BotAPI, MaybeDeliveredError, NotDeliveredError, TelegramAPIError


class FlakyBot:
    """A bot whose first request to each chat in `flaky` fails before reaching Telegram."""

    def __init__(self, bot: Bot, flaky: dict[int, Exception]) -> None:
        self._bot = bot
        self._flaky = flaky
        self.bot_id = bot.bot_id

    async def call(self, method: str, params: Mapping[str, Any], **options: Any) -> Any:
        error = self._flaky.pop(int(params["chat_id"]), None)
        if error is not None:
            raise error
        return await self._bot.call(method, params, **options)


class FlakyAPI(BotAPI):
    """The real client, handing out `FlakyBot`s."""

    def __init__(self, base_url: str, flaky: dict[int, Exception]) -> None:
        super().__init__(base_url, timeout_s=5.0)
        self.flaky = flaky

    def bot(self, token: str) -> Any:
        return FlakyBot(super().bot(token), self.flaky)


@pytest.fixture
async def stack() -> AsyncIterator[AsyncExitStack]:
    """Closes what the test started, in reverse order."""
    async with AsyncExitStack() as exits:
        yield exits


@pytest.mark.parametrize(
    "failure",
    [
        NotDeliveredError("sendMessage on sim: could not connect; the request was not sent"),
        TelegramAPIError(
            method="sendMessage",
            host="sim",
            error_code=502,
            description="Bad Gateway",
        ),
        TelegramAPIError(
            method="sendMessage",
            host="sim",
            error_code=429,
            description="Too Many Requests: retry after 1",
            retry_after=1,
        ),
    ],
    ids=["not_delivered", "5xx", "429"],
)
async def test_the_last_delivery_failing_once_is_retried_not_left_unknown(
    db: Database, sim: Sim, stack: AsyncExitStack, failure: Exception
) -> None:
    """The shot's last request fails once (no connection, a 502, a 429) after every other
    answer came back: it is retried and sent, never recorded `unknown` nor lost."""
    token = await add_bot(db, "loja", rate_per_s=20)
    await add_contacts(db, "loja", range(1, 31))
    shot_id = await add_shot(db, "loja", wake=True)
    api = await stack.enter_async_context(FlakyAPI(sim.base_url, {30: failure}))
    worker = Worker(SqlShotStore(db, TokenCipher(None)), api, settings=worker_settings())
    await stack.enter_async_context(worker.running())
    row = await wait_for_status(db, shot_id)
    assert row["status"] == "sent"
    assert statuses(await deliveries(db, shot_id)) == {"sent": 30}
    assert not api.flaky  # the failure did happen
    stats = await sim.stats(token)
    assert (stats["delivered"], stats["duplicates"]["count"]) == (30, 0)


class StormBot:
    """Telegram in a 429 storm of `storm_s` (retry_after 1) that begins at the `begin`-th
    request, answering each request after `latency_s`; the first probe after the first pause
    meets `probe_failure` instead. Records how many requests were in flight at once after it."""

    def __init__(
        self, bot: Bot, probe_failure: Exception, *, begin: int, storm_s: float, latency_s: float
    ) -> None:
        self._bot = bot
        self.bot_id = bot.bot_id
        self._failure = probe_failure
        self._begin, self._storm_s, self._latency_s = begin, storm_s, latency_s
        self.calls = 0
        self.refusals = 0
        self.started: float | None = None
        self.failed_probe_at: float | None = None
        self.in_flight = 0
        self.in_flight_after_failure = 0

    async def call(
        self,
        method: str,
        params: Mapping[str, Any],
        *,
        timeout_s: float | None = None,
        on_write: Callable[[], object] | None = None,
    ) -> Any:
        if on_write is not None:
            on_write()  # the request "leaves" at once
        loop = asyncio.get_running_loop()
        self.calls += 1
        now = loop.time()
        if self.calls == self._begin:
            self.started = now
        self.in_flight += 1
        storming = self.started is not None and now < self.started + self._storm_s
        if self.failed_probe_at is not None and storming:
            self.in_flight_after_failure = max(self.in_flight_after_failure, self.in_flight)
        try:
            await asyncio.sleep(self._latency_s)
            if self.started is None or now >= self.started + self._storm_s:
                return await self._bot.call(method, params, timeout_s=timeout_s)
            if self.failed_probe_at is None and now >= self.started + 1.0:
                self.failed_probe_at = now  # the first request after the first pause
                raise self._failure
            self.refusals += 1
            raise TelegramAPIError(
                method=method,
                host="sim",
                error_code=429,
                description="Too Many Requests: retry after 1",
                retry_after=1,
            )
        finally:
            self.in_flight -= 1


class StormAPI(BotAPI):
    """The real client, handing out one `StormBot`."""

    def __init__(self, base_url: str, probe_failure: Exception) -> None:
        super().__init__(base_url, timeout_s=5.0)
        self.probe_failure = probe_failure
        self.storm: StormBot | None = None

    def bot(self, token: str) -> Any:
        self.storm = StormBot(
            super().bot(token), self.probe_failure, begin=20, storm_s=2.5, latency_s=0.1
        )
        return self.storm


@pytest.mark.parametrize(
    "failure",
    [
        TelegramAPIError(method="sendMessage", host="sim", error_code=502, description="Bad"),
        MaybeDeliveredError("sendMessage on sim: the request was sent but no answer came"),
    ],
    ids=["5xx", "maybe_delivered"],  # a refused connection takes the 5xx's path
)
async def test_a_probe_that_tells_nothing_keeps_the_bot_probing(
    db: Database, sim: Sim, stack: AsyncExitStack, failure: Exception
) -> None:
    """During a 429 storm the probe meets a fault that says nothing of the rate limit (no
    connection, a 5xx, no answer): the next request is a probe too, alone, not the full pace
    into the storm."""
    token = await add_bot(db, "loja", rate_per_s=50)
    await add_contacts(db, "loja", range(1, 81))
    shot_id = await add_shot(db, "loja", wake=True)
    api = await stack.enter_async_context(StormAPI(sim.base_url, failure))
    worker = Worker(SqlShotStore(db, TokenCipher(None)), api, settings=worker_settings())
    await stack.enter_async_context(worker.running())
    row = await wait_for_status(db, shot_id, timeout_s=30)
    assert row["status"] == "sent"
    storm = api.storm
    assert storm is not None
    assert storm.failed_probe_at is not None  # the faulty probe happened
    assert storm.in_flight_after_failure == 1  # while the storm lasted, one request at a time
    counts = statuses(await deliveries(db, shot_id))
    assert sum(counts.values()) == 80
    assert (await sim.stats(token))["duplicates"]["count"] == 0
