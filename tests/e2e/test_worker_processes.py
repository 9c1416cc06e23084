"""Real `disparo worker` processes on one database and a simulator process: SIGTERM hand-off,
two workers, never twice."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.engine import URL

from disparo.db.engine import Database
from disparo.db.tables import bots, shots_queue, shots_sent, telegram_contacts

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())["result"]


@pytest.fixture
def simulator() -> Iterator[str]:
    """`python -m disparo simulator` in its own process; its base URL."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "disparo", "simulator", "--port", str(port), "--latency-ms", "5"],
        stdout=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while True:
        assert process.poll() is None, "the simulator exited"
        try:
            _get(f"{base}/sim/stats")
            break
        except OSError:
            assert time.monotonic() < deadline, "the simulator did not start"
            time.sleep(0.1)
    yield base
    process.terminate()
    process.wait(timeout=10)


def _worker(db_url: URL, simulator: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DISPARO_DATABASE_URL": db_url.render_as_string(hide_password=False),
        "DISPARO_TELEGRAM_API_URL": simulator,
        "DISPARO_WORKER_MAX_BOTS": "1",
        "DISPARO_LOG_FORMAT": "json",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "disparo", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


async def _seed(db: Database, slugs: list[str], contacts: int) -> dict[str, tuple[int, str]]:
    shots = {}
    async with db.write() as conn:
        for index, slug in enumerate(slugs):
            token = f"{8_000_000_001 + index}:{'E' * 20}{8_000_000_001 + index:015d}"
            await conn.execute(
                insert(bots).values(
                    slug=slug,
                    token=token,
                    # 600 contacts at 60/s: 10 s a shot, so the SIGTERM lands mid-shot even
                    # when a loaded machine takes seconds to boot the second worker.
                    rate_per_s=60,
                    paid_broadcast=True,
                    webhook_secret="s" * 20,
                )
            )
            await conn.execute(
                insert(telegram_contacts),
                [{"bot_slug": slug, "telegram_id": n} for n in range(1, contacts + 1)],
            )
            shot_id = (
                await conn.execute(
                    insert(shots_queue)
                    .values(
                        bot_slug=slug,
                        target="started",
                        copy=f"<b>{slug}</b>",
                        scheduled_at=datetime.now(UTC) - timedelta(seconds=1),
                    )
                    .returning(shots_queue.c.id)
                )
            ).scalar_one()
            shots[slug] = (shot_id, token)
    return shots


async def _shot(db: Database, shot_id: int) -> Any:
    async with db.read() as conn:
        query = select(shots_queue).where(shots_queue.c.id == shot_id)
        return (await conn.execute(query)).mappings().one()


async def _statuses(db: Database, shot_id: int) -> dict[str, int]:
    async with db.read() as conn:
        rows = await conn.execute(
            select(shots_sent.c.status).where(shots_sent.c.shot_id == shot_id)
        )
        counts: dict[str, int] = {}
        for (status,) in rows:
            counts[status] = counts.get(status, 0) + 1
        return counts


async def _wait(predicate: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not await predicate():
        assert time.monotonic() < deadline, f"{what} not reached in {timeout_s} s"
        await asyncio.sleep(0.1)


async def test_sigterm_hands_the_shot_over_and_nobody_gets_it_twice(
    db: Database, db_url: URL, simulator: str
) -> None:
    """Two worker processes, one bot each; SIGTERM to one mid-shot: it exits cleanly, its shot
    goes back to pending (attempt not counted), the other process finishes both shots."""
    shots = await _seed(db, ["alfa", "beta"], contacts=600)
    first = _worker(db_url, simulator)
    await _wait(
        lambda: _running_by(db, [s for s, _ in shots.values()], 1), 15, "first worker claims"
    )
    second = _worker(db_url, simulator)
    try:
        await _wait(
            lambda: _running_by(db, [s for s, _ in shots.values()], 2), 15, "both shots run"
        )
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=20) == 0
        log = first.stderr.read().decode() if first.stderr else ""
        assert "[SHOTS][WORKER] job handed back" in log
        for shot_id, token in shots.values():
            await _wait(lambda shot_id=shot_id: _final(db, shot_id), 60, f"shot {shot_id} done")
            row = await _shot(db, shot_id)
            assert row["status"] == "sent"
            assert row["attempt_count"] == 1  # the SIGTERM'd attempt was not counted
            assert await _statuses(db, shot_id) == {"sent": 600}
            stats = _get(f"{simulator}/sim/stats")["bots"][token.partition(":")[0]]
            assert (stats["delivered"], stats["duplicates"]["count"]) == (600, 0)
            assert token.partition(":")[2] not in log  # no token in any log line
    finally:
        for process in (first, second):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=20)
            if process.stderr:
                process.stderr.close()


async def _running_by(db: Database, shot_ids: list[int], count: int) -> bool:
    rows = [await _shot(db, shot_id) for shot_id in shot_ids]
    return sum(1 for row in rows if row["status"] == "running") >= count


async def _final(db: Database, shot_id: int) -> bool:
    return (await _shot(db, shot_id))["status"] in ("sent", "error", "skipped", "cancelled")
