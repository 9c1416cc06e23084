"""Latency and injected faults: 5xx answers, dropped connections, slow answers, 429 storms,
and a getUpdates that ignores its `timeout` (as a proxy or a careless server may).

A 5xx or a `drop` happens before the request reaches the simulated Telegram (nothing is
delivered); a `drop_delivered` closes the connection after delivering, and a slow answer is
delivered at once and answered `slow_s` later: in both the client cannot know it went through.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from enum import Enum
from typing import Any

from disparo.simulator.errors import ApiError


class Fault(Enum):
    """What goes wrong with one Bot API request."""

    SERVER_ERROR = "5xx"
    DROP = "drop"
    DROP_DELIVERED = "drop_delivered"
    SLOW = "slow"


@dataclass(slots=True)
class Latency:
    """Answer delay: lognormal with the given mean and standard deviation, in milliseconds."""

    mean_ms: float = 0.0
    jitter_ms: float = 0.0
    _mu: float = 0.0
    _sigma: float = 0.0

    def __post_init__(self) -> None:
        self.set(self.mean_ms, self.jitter_ms)

    def set(self, mean_ms: float, jitter_ms: float) -> None:
        """Change the distribution (the control API does, at run time)."""
        self.mean_ms = max(0.0, mean_ms)
        self.jitter_ms = max(0.0, jitter_ms)
        if self.mean_ms > 0 and self.jitter_ms > 0:
            sigma2 = math.log1p((self.jitter_ms / self.mean_ms) ** 2)
            self._mu = math.log(self.mean_ms) - sigma2 / 2
            self._sigma = math.sqrt(sigma2)

    def sample_s(self, rng: random.Random) -> float:
        """One delay, in seconds."""
        if self.mean_ms <= 0:
            return 0.0
        if self.jitter_ms <= 0:
            return self.mean_ms / 1000.0
        return rng.lognormvariate(self._mu, self._sigma) / 1000.0


@dataclass(slots=True)
class Storm:
    """Every sending request to one bot gets 429 until `until` (monotonic seconds)."""

    bot_id: int
    until: float


@dataclass(slots=True)
class Faults:
    """The shares of requests that fail, and the current 429 storm, if any."""

    error_5xx: float = 0.0
    drop: float = 0.0
    slow: float = 0.0
    slow_s: float = 15.0
    drop_delivered: float = 0.0
    storm: Storm | None = None
    ignore_poll_timeout: bool = False

    @property
    def active(self) -> bool:
        """True when some request may fail (the hot path skips the dice otherwise)."""
        return self.error_5xx > 0 or self.drop > 0 or self.slow > 0 or self.drop_delivered > 0

    def pick(self, rng: random.Random) -> Fault | None:
        """Roll the dice for one request."""
        roll = rng.random()
        if roll < self.error_5xx:
            return Fault.SERVER_ERROR
        roll -= self.error_5xx
        if roll < self.drop:
            return Fault.DROP
        roll -= self.drop
        if roll < self.slow:
            return Fault.SLOW
        roll -= self.slow
        if roll < self.drop_delivered:
            return Fault.DROP_DELIVERED
        return None

    def storm_wait_s(self, bot_id: int, now: float) -> float:
        """Seconds left of a storm on `bot_id`; 0 when there is none."""
        storm = self.storm
        if storm is None or storm.bot_id != bot_id:
            return 0.0
        left = storm.until - now
        if left <= 0:
            self.storm = None
            return 0.0
        return left

    def describe(self, now: float) -> dict[str, Any]:
        """The current faults as the control API shows them (the bot by id, never token)."""
        storm = None
        if self.storm is not None and self.storm.until > now:
            storm = {"bot": self.storm.bot_id, "seconds_left": round(self.storm.until - now, 3)}
        return {
            "error_5xx": self.error_5xx,
            "drop": self.drop,
            "drop_delivered": self.drop_delivered,
            "slow": self.slow,
            "slow_s": self.slow_s,
            "retry_after_storm": storm,
            "ignore_poll_timeout": self.ignore_poll_timeout,
        }


def share(value: Any, name: str) -> float:
    """A probability from the control API, checked."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ApiError(400, f"Bad Request: {name} must be a number between 0 and 1")
    return float(value)
