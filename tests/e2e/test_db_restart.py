"""PostgreSQL goes away in the middle of a shot and comes back: the worker says so, reconnects
by itself and finishes the shot without sending anyone twice; the API answers 503 in the one
error shape meanwhile and recovers by itself. Runs on a private PostgreSQL server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from chaos_harness import (
    ADMIN_TOKEN,
    Simulator,
    Slot,
    check_alive,
    delivery_counts,
    engine_env,
    free_port,
    ledger,
    log_time,
    reconcile,
    seed,
    shot_rows,
    wait_until,
)
from private_postgres import PrivatePostgres

from disparo.db import migrate
from disparo.db.engine import Database

pytestmark = pytest.mark.slow

RECIPIENTS = 1200
RATE_PER_S = 200


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    """A PostgreSQL server of this test alone, on a free port; removed at the end."""
    server = PrivatePostgres()
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client with the admin token."""
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(headers=headers, timeout=timeout) as session:
        yield session


async def _get(http: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    try:
        async with http.get(url) as response:
            return response.status, await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError) as exc:
        return 0, repr(exc)


def _worker_lines(slot: Slot, *, since: float) -> list[dict[str, Any]]:
    """The worker's warnings and errors logged from `since` (wall time) on."""
    return [
        line
        for _, line in slot.log_lines()
        if line.get("level") in ("WARNING", "ERROR") and log_time(line) >= since
    ]


@pytest.mark.parametrize("outage_s", [3.0, 8.0], ids=["restart", "outage_past_the_lease"])
async def test_postgresql_restart_mid_shot(
    private_pg: PrivatePostgres, http: aiohttp.ClientSession, tmp_path: Path, outage_s: float
) -> None:
    """The database stops mid-shot for `outage_s` (3 s, or 8 s: longer than the 5 s lease):
    the worker logs it, reconnects and finishes; 0 duplicates; the API answers 503
    `unavailable` meanwhile and 200 again once the database is back, without a restart."""
    url = private_pg.create_database("disparo")
    await asyncio.to_thread(migrate.upgrade, url)
    db = Database(url, pool_size=2)
    (shot,) = await seed(
        db, bot_count=1, recipients=RECIPIENTS, rate_per_s=RATE_PER_S, paid_broadcast=True
    )
    await db.dispose()
    logs = tmp_path / "logs"
    sim = Simulator(logs, latency_ms=20.0)
    api_port = free_port()
    env = engine_env(url, sim.base, lease_s=5.0)
    worker = Slot("worker", ["worker"], env, logs)
    api = Slot("api", ["api", "--port", str(api_port)], env, logs)
    shot_url = f"http://127.0.0.1:{api_port}/admin/api/shots/{shot.shot_id}"
    ready_url = f"http://127.0.0.1:{api_port}/readyz"
    try:
        worker.start()
        api.start()

        async def api_up() -> bool:
            check_alive([worker, api])
            return (await _get(http, shot_url))[0] == 200

        async def sent_some() -> bool:
            check_alive([worker, api])
            delivered = sim.stats().get(shot.token.partition(":")[0], {}).get("delivered", 0)
            return int(delivered) >= RECIPIENTS // 4

        await wait_until(api_up, timeout_s=30, what="the API answers")
        await wait_until(sent_some, timeout_s=30, what="a quarter of the shot delivered")

        down_at = time.time()
        await asyncio.to_thread(private_pg.stop, "fast")
        outage_started = time.monotonic()
        during: list[tuple[int, Any]] = []

        async def api_says_unavailable() -> bool:
            during.append(await _get(http, shot_url))
            return during[-1][0] == 503

        await wait_until(api_says_unavailable, timeout_s=10, what="503 from the API")
        _, body = during[-1]
        assert body["error"]["code"] == "unavailable"
        assert "database" in body["error"]["message"]
        assert set(body) == {"error"}
        assert {s for s, _ in during} <= {200, 503}  # never a 500, never a hang
        assert (await _get(http, ready_url))[0] == 503

        async def worker_noticed() -> bool:
            return bool(_worker_lines(worker, since=down_at))

        await wait_until(worker_noticed, timeout_s=10, what="the worker logs the outage")
        # The outage itself: the database stays down for `outage_s` in all.
        await asyncio.sleep(max(0.0, outage_s - (time.monotonic() - outage_started)))
        await asyncio.to_thread(private_pg.start)
        back = time.monotonic()

        recovered_s = await wait_until(api_up, timeout_s=15, what="the API recovers")
        db = Database(url, pool_size=2)
        try:

            async def finished() -> bool:
                check_alive([worker, api])
                return (await shot_rows(db))[shot.shot_id]["status"] in ("sent", "error")

            await wait_until(finished, timeout_s=60, what="the shot finishes")
            finished_s = time.monotonic() - back
            row = (await shot_rows(db))[shot.shot_id]
            counts = (await delivery_counts(db))[shot.shot_id]
            rows = await ledger(db, shot.shot_id)
        finally:
            await db.dispose()
        stats = sim.stats()[shot.token.partition(":")[0]]
        messages = sim.messages(shot.token)
        worker.stop()
        api.stop()
    finally:
        worker.stop()
        api.stop()
        sim.stop()

    problems = _worker_lines(worker, since=down_at)
    back_lines = [
        line["msg"]
        for _, line in worker.log_lines()
        if line["msg"].startswith("[SHOTS][WORKER] database reachable again")
    ]
    print(
        f"outage {outage_s} s: API back {recovered_s:.2f} s and shot done {finished_s:.2f} s "
        f"after the database; outcomes {dict(counts)}; "
        f"{len(problems)} warnings: {sorted({p['msg'] for p in problems})}; {back_lines}"
    )
    # The worker said so once per loop that hit the outage, with no traceback, and said when
    # it was over; it did not flood its log while retrying.
    assert "[SHOTS][WORKER] database unavailable; could not record outcomes, retrying" in {
        p["msg"] for p in problems
    }
    assert all(p["level"] == "WARNING" and "exc" not in p for p in problems), problems
    assert len(problems) <= 20
    assert "[SHOTS][WORKER] database reachable again; record outcomes resumed" in back_lines
    assert row["status"] == "sent", row
    # Nothing lost, nothing in doubt: the answers that came during the outage were kept in
    # memory and written once the database was back (the live worker never rescues itself).
    assert dict(counts) == {"sent": RECIPIENTS}
    assert stats["duplicates"]["count"] == 0
    assert set(reconcile(rows, messages).values()) == {0}
    assert stats["429"] == 0
    assert worker.runs[0].how == "terminated"  # the same process throughout: no restart
    assert len(worker.runs) == 1
    assert len(api.runs) == 1
