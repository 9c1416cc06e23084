"""A bot's limiter on the fake clock: even spacing at the rate, a 429's pause then one probe
alone, and a stop that ends any wait."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from disparo.domain import pacing
from disparo.engine.clock import FakeClock
from disparo.engine.limiter import BotLimiter

EPS = 1e-9


async def test_sends_are_spaced_evenly_and_never_exceed_the_rate_in_a_second(
    clock: FakeClock,
) -> None:
    """90 sends at 30/s: at least 1/30 s apart, never 31 within a second plus the guard."""
    limiter = BotLimiter(30, clock)
    never = asyncio.Event()
    times = []
    for _ in range(90):
        assert await limiter.acquire(never) is False
        limiter.went()
        times.append(clock.monotonic())
    assert min(b - a for a, b in itertools.pairwise(times)) >= 1 / 30 - EPS
    assert (
        min(b - a for a, b in zip(times, times[30:], strict=False))
        >= 1 + pacing.DEFAULT_GUARD_S - EPS
    )


async def test_after_a_429_one_probe_goes_and_the_others_wait_for_its_answer(
    clock: FakeClock,
) -> None:
    """A 429 with retry_after 2 pauses every send for 2 s (+ the margin); then one send is the
    probe, and the next waits until the probe's answer, not for the next slot."""
    limiter = BotLimiter(30, clock)
    never = asyncio.Event()
    start = clock.monotonic()
    limiter.rate_limited(2.0)
    assert limiter.paused
    probe = await limiter.acquire(never)
    limiter.went()
    probe_at = clock.monotonic() - start
    follower = asyncio.create_task(limiter.acquire(never))
    await asyncio.sleep(1.0)  # the probe's answer takes a second
    assert not follower.done()
    limiter.answered(probe=True, refused=False)
    assert await follower is False
    assert probe is True
    assert probe_at == pytest.approx(pacing.rate_limit_pause_s(2.0))
    assert clock.monotonic() - start == pytest.approx(probe_at + 1.0)
    assert limiter.paused_total_s == pytest.approx(pacing.rate_limit_pause_s(2.0))


async def test_a_refused_probe_makes_the_next_send_a_probe_too(clock: FakeClock) -> None:
    """A probe answered by something that says nothing of the rate limit leaves the bot
    probing: the next send is a probe as well."""
    limiter = BotLimiter(30, clock)
    never = asyncio.Event()
    limiter.rate_limited(1.0)
    assert await limiter.acquire(never) is True
    limiter.went()
    limiter.answered(probe=True, refused=True)
    assert await limiter.acquire(never) is True


async def test_a_stop_ends_a_wait_for_a_slot(clock: FakeClock) -> None:
    """A sender told to stop during a long pause gets no slot (None), at once."""
    limiter = BotLimiter(30, clock)
    stop = asyncio.Event()
    start = clock.monotonic()
    limiter.rate_limited(60.0)
    waiting = asyncio.create_task(limiter.acquire(stop))
    await asyncio.sleep(1.0)
    stop.set()
    assert await waiting is None
    assert clock.monotonic() - start == 1.0
