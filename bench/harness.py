"""The frame of a scale benchmark: print the machine and the parameters, run the measurement
against the simulator in its own process (at a raised CPU priority), each run on a fresh
migrated database that is removed afterwards.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent))

from disparo.db.engine import Database
from throughput import Databases, free_port, machine, start_simulator

T = TypeVar("T")
SIMULATOR_NICE = -10


def print_setup(parameters: dict[str, Any]) -> None:
    """The first lines of a benchmark's output: what machine ran it, with which parameters."""
    print("machine:", json.dumps(machine()))
    print("parameters:", json.dumps(parameters), flush=True)


def prioritize_simulator(pid: int) -> int | None:
    """Run the simulator at a higher CPU priority than the worker and PostgreSQL; the niceness
    set, or None if this user may not raise priorities.

    The simulator stands in for Telegram's servers, which do not share the worker's CPU. On a
    2-core machine a worker and PostgreSQL busy at once can starve it for tens of milliseconds;
    it then reads the requests queued meanwhile together and stamps them together, and its
    sliding second sees bursts that left the worker evenly spaced (429s Telegram would not
    send). With priority, what it measures is the engine's pacing, not the scheduler's.
    """
    try:
        os.setpriority(os.PRIO_PROCESS, pid, SIMULATOR_NICE)
    except PermissionError:
        return None
    return SIMULATOR_NICE


def run_with_simulator(port: int, measure: Callable[[str, int], Awaitable[T]]) -> T:
    """Start the simulator on `port` (0: a free one) and print its niceness, run
    `measure(simulator base URL, simulator pid)` to its end, then stop the simulator."""
    port = port or free_port()
    simulator = start_simulator(port)
    print("simulator nice:", prioritize_simulator(simulator.pid), flush=True)
    try:
        return asyncio.run(measure(f"http://127.0.0.1:{port}", simulator.pid))
    finally:
        simulator.terminate()
        simulator.wait(timeout=10)


@asynccontextmanager
async def fresh_database(backend: str, name: str) -> AsyncIterator[Database]:
    """A fresh migrated database (`postgresql` or `sqlite`) for one run, dropped afterwards."""
    databases = Databases()
    try:
        db = Database(databases.fresh(backend, name))
        try:
            yield db
        finally:
            await db.dispose()
    finally:
        databases.close()
