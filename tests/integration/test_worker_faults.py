"""Transient failures at the very end of a shot: retried, never mistaken for `unknown`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
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
from disparo.engine.worker import Worker
from disparo.telegram import Bot, BotAPI, NotDeliveredError, TelegramAPIError


class FlakyBot:
    """A bot whose first request to each chat in `flaky` fails before reaching Telegram."""

    def __init__(self, bot: Bot, flaky: dict[int, Exception]) -> None:
        self._bot = bot
        self._flaky = flaky
        self.bot_id = bot.bot_id

    async def call(
        self, method: str, params: Mapping[str, Any], *, timeout_s: float | None = None
    ) -> Any:
        error = self._flaky.pop(int(params["chat_id"]), None)
        if error is not None:
            raise error
        return await self._bot.call(method, params, timeout_s=timeout_s)


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
    worker = Worker(db, api, TokenCipher(None), settings=worker_settings())
    await stack.enter_async_context(worker.running())
    row = await wait_for_status(db, shot_id)
    assert row["status"] == "sent"
    assert statuses(await deliveries(db, shot_id)) == {"sent": 30}
    assert not api.flaky  # the failure did happen
    stats = await sim.stats(token)
    assert (stats["delivered"], stats["duplicates"]["count"]) == (30, 0)
