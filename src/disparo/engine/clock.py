"""The engine's clock: wall time for the database (aware UTC), monotonic time for pacing.

`SystemClock` reads the machine's clocks. `FakeClock` is time that moves only when told, and
`FakeClock.event_loop()` an asyncio loop whose time is that clock's and that never waits: when
every task is blocked, it moves the clock to the next timer at once. Under it, every sleep and
timeout of the engine (pacing, backoffs, lease renewals, flushes) passes instantly and in order,
so tests of the engine's logic take no real time and read one clock.
"""

from __future__ import annotations

import asyncio
import selectors
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from _typeshed import FileDescriptorLike

FAKE_START = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
# A blocked loop with no timer may still be woken by another thread (an executor); it waits
# this long, really, before calling it a deadlock.
IDLE_LIMIT_S = 5.0


class Clock(Protocol):
    """What the engine reads the time from; tests inject their own."""

    def now(self) -> datetime:
        """The current time, an aware UTC datetime (what the database stores)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never jumps (what pacing and lease deadlines use)."""
        ...


class SystemClock:
    """The machine's clocks."""

    def now(self) -> datetime:
        """`datetime.now(UTC)`."""
        return datetime.now(UTC)

    def monotonic(self) -> float:
        """`time.monotonic()`."""
        return time.monotonic()


class FakeClock:
    """Time that moves only by `advance`, or by the sleeps of tasks on `event_loop()`.

    Wall time and monotonic time move together: `now()` is `start` plus the elapsed seconds.
    """

    def __init__(self, start: datetime = FAKE_START) -> None:
        self.start = start
        self.elapsed_s = 0.0

    def now(self) -> datetime:
        """`start` + the elapsed time."""
        return self.start + timedelta(seconds=self.elapsed_s)

    def monotonic(self) -> float:
        """The elapsed time (plus a constant, as a real monotonic clock has)."""
        return 1000.0 + self.elapsed_s

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        if seconds < 0:
            raise ValueError(f"time only moves forward; cannot advance by {seconds} s")
        self.elapsed_s += seconds

    def event_loop(self, *, idle_limit_s: float = IDLE_LIMIT_S) -> asyncio.AbstractEventLoop:
        """A new event loop on this clock's time, jumping to each timer instead of waiting.

        When no timer is left and every task waits, it waits really, up to `idle_limit_s`, for
        another thread to wake it, then raises RuntimeError (a deadlock).
        """
        return _FakeTimeLoop(self, idle_limit_s)


class _JumpingSelector(selectors.BaseSelector):
    """Polls real file descriptors without waiting; a wait for a timer moves the clock."""

    def __init__(self, clock: FakeClock, idle_limit_s: float) -> None:
        self._clock = clock
        self._idle_limit_s = idle_limit_s
        self._inner = selectors.DefaultSelector()

    def register(
        self, fileobj: FileDescriptorLike, events: int, data: object = None
    ) -> selectors.SelectorKey:
        return self._inner.register(fileobj, events, data)

    def unregister(self, fileobj: FileDescriptorLike) -> selectors.SelectorKey:
        return self._inner.unregister(fileobj)

    def modify(
        self, fileobj: FileDescriptorLike, events: int, data: object = None
    ) -> selectors.SelectorKey:
        return self._inner.modify(fileobj, events, data)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = self._inner.select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:  # no timer at all: only another thread could wake the loop
            ready = self._inner.select(self._idle_limit_s)
            if not ready:
                raise RuntimeError(
                    "every task waits for an event that nothing will set, and no timer is due "
                    "(a deadlock under the fake clock)"
                )
            return ready
        self._clock.advance(timeout)
        return []

    def get_map(self) -> Mapping[FileDescriptorLike, selectors.SelectorKey]:
        return self._inner.get_map()

    def close(self) -> None:
        self._inner.close()


class _FakeTimeLoop(asyncio.SelectorEventLoop):
    """An event loop whose time is a `FakeClock`'s."""

    def __init__(self, clock: FakeClock, idle_limit_s: float) -> None:
        self.clock = clock
        super().__init__(_JumpingSelector(clock, idle_limit_s))

    def time(self) -> float:
        return self.clock.monotonic()


def running_fake_clock() -> FakeClock:
    """The clock of the running loop, when it runs on a `FakeClock` (else a RuntimeError)."""
    loop = asyncio.get_running_loop()
    if not isinstance(loop, _FakeTimeLoop):
        raise RuntimeError("the running event loop is not on a FakeClock; use its event_loop()")
    return loop.clock
