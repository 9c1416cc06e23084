"""The simulated Telegram as a whole: every bot by token, faults, latency, dice and clocks.

Also owns the HTTP client that pushes updates to webhooks (created on first use, closed by
`close`).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

import aiohttp

from disparo.simulator.config import SimulatorConfig
from disparo.simulator.faults import Faults, Latency
from disparo.simulator.limits import Limits
from disparo.simulator.state import BotState, bot_id_of


class World:
    """All simulated state; `reset` brings it back to how it started."""

    def __init__(
        self,
        config: SimulatorConfig,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.clock = clock
        self.wall_clock = wall_clock
        self.rng = random.Random(config.seed)
        self.bots: dict[str, BotState] = {}
        self.faults = Faults(slow_s=config.slow_s)
        self.latency = Latency(config.latency_ms, config.latency_jitter_ms)
        self.unauthorized = 0
        self._session: aiohttp.ClientSession | None = None

    @property
    def strict_users(self) -> bool:
        """Unknown chat ids answer `chat not found` instead of being active users."""
        return self.config.strict_users

    def default_limits(self) -> Limits:
        """The flood limits a new bot starts with."""
        config = self.config
        return Limits(
            config.per_second,
            config.paid_per_second,
            config.per_chat_burst,
            config.per_chat_per_second,
        )

    def bot(self, token: str) -> BotState | None:
        """The bot of a well-formed token (created on first sight), else None."""
        bot = self.bots.get(token)
        if bot is None:
            bot_id = bot_id_of(token)
            if bot_id is None:
                return None
            bot = BotState(token, bot_id, self.default_limits(), self.post_webhook)
            self.bots[token] = bot
        return bot

    def bot_by_id(self, bot_id: int) -> BotState | None:
        """A bot already seen, found by its id."""
        return next((bot for bot in self.bots.values() if bot.bot_id == bot_id), None)

    async def post_webhook(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        """POST one update to a webhook; the HTTP status of its answer."""
        if self._session is None or self._session.closed:
            timeout = aiohttp.ClientTimeout(total=self.config.webhook_timeout_s)
            self._session = aiohttp.ClientSession(timeout=timeout)
        async with self._session.post(url, data=body, headers=headers) as response:
            await response.read()
            return response.status

    def reset(self) -> None:
        """Forget every bot, user, message, update and fault; latency back to the flags."""
        for bot in self.bots.values():
            bot.feed.close()
        self.bots.clear()
        self.faults = Faults(slow_s=self.config.slow_s)
        self.latency.set(self.config.latency_ms, self.config.latency_jitter_ms)
        self.unauthorized = 0

    async def close(self) -> None:
        """Stop webhook tasks and close the webhook client."""
        for bot in self.bots.values():
            await bot.feed.aclose()
        if self._session is not None:
            await self._session.close()
            self._session = None
