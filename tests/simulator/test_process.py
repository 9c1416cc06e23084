"""`python -m disparo.simulator` runs as a process and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import sys

import aiohttp


async def test_module_entry_point_serves_and_stops():
    """The module starts on a free port, answers getMe, and exits 0 on SIGTERM."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "disparo.simulator",
        "--port",
        "0",
        "--latency-ms",
        "0",
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), timeout=10)
        base_url = line.decode().rsplit(" ", 1)[1].strip()
        token = "1:" + "x" * 35
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{base_url}/bot{token}/getMe") as response,
        ):
            assert (await response.json())["result"]["id"] == 1
    finally:
        process.terminate()
        code = await asyncio.wait_for(process.wait(), timeout=10)
    assert code == 0
