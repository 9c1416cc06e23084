"""The fake clock's event loop: timers fire at once and in order, moving the clock to each;
a loop where every task waits forever is reported, not left hanging."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from disparo.engine.clock import FakeClock


async def test_sleeps_end_in_order_and_move_the_clock(clock: FakeClock) -> None:
    """Concurrent sleeps end in the order of their deadlines, the clock reading each one;
    wall time moves with monotonic time."""
    start = clock.monotonic()
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await asyncio.sleep(seconds)
        woke.append((name, clock.monotonic() - start))

    await asyncio.gather(sleeper("c", 3.0), sleeper("a", 0.5), sleeper("b", 1.25))
    assert woke == [("a", 0.5), ("b", 1.25), ("c", 3.0)]
    assert clock.now() == clock.start + timedelta(seconds=3)


async def test_a_timeout_fires_at_its_deadline(clock: FakeClock) -> None:
    """A wait for an event nobody sets ends by its timeout, 30 s later on the fake clock."""
    start = clock.monotonic()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(asyncio.Event().wait(), timeout=30.0)
    assert clock.monotonic() - start == 30.0


def test_a_deadlock_is_reported() -> None:
    """Every task waiting on an event nobody sets, with no timer: the loop raises."""
    loop = FakeClock().event_loop(idle_limit_s=0.01)
    try:
        with pytest.raises(RuntimeError, match="deadlock"):
            loop.run_until_complete(asyncio.Event().wait())
    finally:
        loop.close()


def test_time_only_moves_forward() -> None:
    """`advance` moves both clocks; a negative step is refused."""
    clock = FakeClock()
    before = clock.monotonic()
    clock.advance(2.5)
    assert (clock.monotonic() - before, clock.now() - clock.start) == (2.5, timedelta(seconds=2.5))
    with pytest.raises(ValueError, match="only moves forward"):
        clock.advance(-1)
