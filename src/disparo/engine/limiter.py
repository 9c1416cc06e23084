"""One bot's rate limiter: waits on the pure `Pacer` schedule, shared by every send of the bot.

Sends are spaced evenly (never bursts); a 429 pauses the whole bot, after which one probe goes
and the others wait for its answer. Waiting is a timer or an event, never a busy loop.
"""

from __future__ import annotations

import asyncio

from disparo.domain.pacing import JitterGuard, Pacer
from disparo.engine.clock import Clock

# Waits shorter than this are plain sleeps: a stop is noticed one send gap later at most.
SHORT_WAIT_S = 0.1


class BotLimiter:
    """`await limiter.acquire()` before each request; report the answer with `answered`."""

    def __init__(self, rate_per_s: float, clock: Clock, *, guard: JitterGuard | None = None):
        self._pacer = Pacer(rate_per_s, guard=guard)
        self._clock = clock
        self._changed = asyncio.Event()
        self.paused_total_s = 0.0

    @property
    def rate_per_s(self) -> float:
        """The pace, in requests per second."""
        return self._pacer.rate_per_s

    @property
    def paused(self) -> bool:
        """True while a pause runs or a probe's answer is awaited."""
        return self._pacer.waiting_for_probe or self._pacer.paused_until > self._clock.monotonic()

    async def acquire(self, stop: asyncio.Event) -> bool | None:
        """Wait for this bot's next send slot; True if the send is a probe, None if `stop` set."""
        pacer, clock = self._pacer, self._clock
        while not stop.is_set():
            at = pacer.ready_at()
            now = clock.monotonic()
            if at is not None and at <= now:
                return pacer.take(now)
            if at is not None and at - now <= SHORT_WAIT_S:
                await asyncio.sleep(at - now)  # the usual gap between two sends: a plain timer
                continue
            self._changed.clear()
            await wait_any(stop, self._changed, within_s=None if at is None else at - now)
        return None

    def went(self) -> float:
        """The request of a granted slot is being written now; returns now (monotonic)."""
        now = self._clock.monotonic()
        self._pacer.went(now)
        self._changed.set()
        return now

    def starting(self) -> None:
        """The bot starts sending (see `JitterGuard.starting`)."""
        self._pacer.guard.starting(self._clock.monotonic())

    def arrived(self, written_at: float) -> None:
        """The server answered the request written at `written_at` (see `JitterGuard`)."""
        now = self._clock.monotonic()
        self._pacer.guard.answered(now, now - written_at)

    def pause(self, seconds: float) -> None:
        """Send nothing for `seconds` (a 429's retry_after, or a server-error backoff)."""
        now = self._clock.monotonic()
        before = max(self._pacer.paused_until, now)
        self._pacer.pause(now, seconds)
        self.paused_total_s += max(0.0, self._pacer.paused_until - before)
        self._changed.set()

    def rate_limited(self, retry_after_s: float) -> None:
        """A 429: pause the bot for `retry_after_s` (and widen the window guard if short)."""
        now = self._clock.monotonic()
        before = max(self._pacer.paused_until, now)
        self._pacer.rate_limited(now, retry_after_s)
        self.paused_total_s += max(0.0, self._pacer.paused_until - before)
        self._changed.set()

    @property
    def guard_s(self) -> float:
        """The current window guard."""
        return self._pacer.guard.value_s

    def answered(self, *, probe: bool, refused: bool) -> None:
        """A request's answer came back (`refused`: it keeps the bot paused)."""
        if probe:
            self._pacer.answered(probe=True, refused=refused)
            self._changed.set()


async def wait_any(*events: asyncio.Event, within_s: float | None) -> None:
    """Return as soon as one of `events` is set, or after `within_s` seconds (None: no limit)."""
    if within_s is not None and within_s <= 0:
        return
    if any(event.is_set() for event in events):
        return
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=within_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
