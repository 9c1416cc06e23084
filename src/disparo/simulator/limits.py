"""Flood control as Telegram applies it: a per-bot sliding second and a per-chat token bucket.

Pure values over a monotonic `now`; nothing here reads a clock. A refused request is not
recorded, so it never counts as a sent message.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

DEFAULT_PER_SECOND = 30
DEFAULT_PAID_PER_SECOND = 1000
DEFAULT_PER_CHAT_BURST = 3
DEFAULT_PER_CHAT_PER_SECOND = 1.0


@dataclass(slots=True)
class Limits:
    """One bot's flood limits; the defaults are Telegram's documented ones."""

    per_second: int = DEFAULT_PER_SECOND
    paid_per_second: int = DEFAULT_PAID_PER_SECOND
    per_chat_burst: int = DEFAULT_PER_CHAT_BURST
    per_chat_per_second: float = DEFAULT_PER_CHAT_PER_SECOND


def retry_after_s(wait_s: float) -> int:
    """Telegram's `retry_after`: whole seconds, rounded up, at least one."""
    return max(1, math.ceil(wait_s))


class SlidingWindow:
    """At most `limit` events in any window of one second."""

    __slots__ = ("_times", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._times: deque[float] = deque()

    def wait_s(self, now: float) -> float:
        """Seconds until one more event fits; 0 when it fits now."""
        times = self._times
        horizon = now - 1.0
        while times and times[0] <= horizon:
            times.popleft()
        if len(times) < self.limit:
            return 0.0
        # the event that frees a place is the one `limit` back from the end
        return times[len(times) - self.limit] + 1.0 - now

    def record(self, now: float) -> None:
        """Count one event at `now`."""
        self._times.append(now)

    def clear(self) -> None:
        """Forget every event."""
        self._times.clear()


class TokenBucket:
    """A bucket of `capacity` tokens refilled at `rate_per_s`; one token per message."""

    __slots__ = ("_tokens", "_updated", "capacity", "rate_per_s")

    def __init__(self, capacity: int, rate_per_s: float, now: float) -> None:
        self.capacity = capacity
        self.rate_per_s = rate_per_s
        self._tokens = float(capacity)
        self._updated = now

    def wait_s(self, now: float) -> float:
        """Seconds until a token is available; 0 when one is."""
        elapsed = now - self._updated
        if elapsed > 0:
            self._tokens = min(float(self.capacity), self._tokens + elapsed * self.rate_per_s)
            self._updated = now
        if self._tokens >= 1.0:
            return 0.0
        return (1.0 - self._tokens) / self.rate_per_s

    def take(self) -> None:
        """Spend one token (call after `wait_s` said one is there)."""
        self._tokens -= 1.0
