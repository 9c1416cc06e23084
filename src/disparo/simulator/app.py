"""A Bot API call to the simulated Telegram: token, method, faults, parameters, the method.

Answers get the configured latency and injected faults; every one is counted in the bot's
stats. Log lines name a bot by its id, never by its token.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable
from typing import Any

from disparo.simulator.bodies import parse_params
from disparo.simulator.calls import Call, Described
from disparo.simulator.errors import ApiError, error_body, not_found, ok_body, unauthorized
from disparo.simulator.exchange import Request, Response
from disparo.simulator.faults import Fault
from disparo.simulator.methods import METHODS, get_updates
from disparo.simulator.state import BotState
from disparo.simulator.world import World

log = logging.getLogger("disparo.simulator")

_UNAUTHORIZED = unauthorized().body()
_NOT_FOUND = not_found().body()
_BAD_GATEWAY = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


class App:
    """Answers `/bot<token>/<method>` requests, now or later."""

    def __init__(self, world: World) -> None:
        self.world = world

    def bot_api(self, request: Request, token: str, method: str) -> Response | Awaitable[Response]:
        """A Bot API call: token, method, faults, parameters, then the method itself."""
        world = self.world
        bot = world.bot(token)
        delay_s = world.latency.sample_s(world.rng) if world.latency.mean_ms > 0 else 0.0
        if bot is None or bot.revoked:
            world.unauthorized += 1
            return Response(401, _UNAUTHORIZED, delay_s=delay_s)
        stats = bot.stats
        stats.requests += 1
        handler = METHODS.get(method.rstrip("/").lower())
        if handler is None:
            stats.client_errors += 1
            return Response(404, _NOT_FOUND, delay_s=delay_s)
        if handler is get_updates:
            stats.get_updates += 1
        fault = world.faults.pick(world.rng) if world.faults.active else None
        if fault is Fault.SERVER_ERROR:
            stats.server_errors += 1
            if world.rng.random() < 0.5:
                return Response(502, _BAD_GATEWAY, "text/html", delay_s=delay_s)
            return Response(500, error_body(500, "Internal Server Error"), delay_s=delay_s)
        if fault is Fault.DROP:
            stats.dropped += 1
            return Response(0, b"", delay_s=delay_s, drop=True)
        if fault is Fault.SLOW:
            stats.slow += 1
            delay_s += world.faults.slow_s
        elif fault is Fault.DROP_DELIVERED:
            stats.dropped += 1
        try:
            params = parse_params(
                request.query, request.headers.get("content-type", ""), request.body
            )
            result = handler(Call(world, bot, params))
        except ApiError as error:
            return self._refused(bot, method, error, delay_s)
        if inspect.isawaitable(result):
            return self._later(bot, method, result, delay_s)
        if fault is Fault.DROP_DELIVERED:
            return Response(0, b"", delay_s=delay_s, drop=True)
        return self._answer(bot, method, result, delay_s)

    def _answer(self, bot: BotState, method: str, result: Any, delay_s: float) -> Response:
        if isinstance(result, Described):
            body = ok_body(result.result, result.description)
        else:
            body = ok_body(result)
        if self.world.config.log_requests:
            log.info("bot %d %s -> 200", bot.bot_id, method)
        return Response(200, body, delay_s=delay_s)

    def _refused(self, bot: BotState, method: str, error: ApiError, delay_s: float) -> Response:
        if error.code == 429:
            bot.stats.too_many += 1
        elif error.code >= 500:
            bot.stats.server_errors += 1
        else:
            bot.stats.client_errors += 1
        if self.world.config.log_requests:
            log.info("bot %d %s -> %d %s", bot.bot_id, method, error.code, error.description)
        return Response(error.code, error.body(), delay_s=delay_s)

    async def _later(
        self, bot: BotState, method: str, pending: Awaitable[Any], delay_s: float
    ) -> Response:
        try:
            result = await pending
        except ApiError as error:
            return self._refused(bot, method, error, delay_s)
        return self._answer(bot, method, result, delay_s)
