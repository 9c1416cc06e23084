"""Unit tests of the engine run on a fake clock: every async test's event loop is a
`FakeClock.event_loop()`, so sleeps, timeouts and pacing take no real time, and the engine, the
in-memory store and the fake bot all read that one clock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

import pytest

from disparo.engine.clock import FakeClock, running_fake_clock


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    """Each test gets a new event loop on a new fake clock."""
    return {"fake_clock": lambda: FakeClock().event_loop()}


@pytest.fixture
async def clock() -> FakeClock:
    """The fake clock of the test's event loop."""
    return running_fake_clock()
