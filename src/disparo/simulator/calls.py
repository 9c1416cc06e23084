"""One Bot API call as a method sees it, and the checks every method shares: the 429 storm
and the message identifier.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from disparo.simulator.bodies import Params
from disparo.simulator.errors import too_many_requests
from disparo.simulator.limits import retry_after_s
from disparo.simulator.state import BotState
from disparo.simulator.world import World


@dataclass(slots=True)
class Call:
    """One Bot API request to one bot."""

    world: World
    bot: BotState
    params: Params


@dataclass(slots=True)
class Described:
    """A result Telegram sends with a `description` (setWebhook, deleteWebhook)."""

    result: Any
    description: str


Method = Callable[[Call], Any]


def check_storm(call: Call) -> None:
    """The 429 of an injected storm on this bot, if one is raging."""
    wait = call.world.faults.storm_wait_s(call.bot.bot_id, call.world.clock())
    if wait > 0:
        raise too_many_requests(retry_after_s(wait))


def message_id_of(params: Params, name: str = "message_id") -> int:
    """A message identifier read as Telegram reads it: absent, negative or not a number is 0."""
    value = params.get(name)
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return max(0, value)
    if isinstance(value, float) and value.is_integer():
        return max(0, int(value))
    if isinstance(value, str):
        try:
            return max(0, int(value.strip()))
        except ValueError:
            return 0
    return 0
