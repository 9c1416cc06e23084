"""The engine's clock: wall time for the database (aware UTC), monotonic time for pacing."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


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
