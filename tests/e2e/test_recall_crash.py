"""kill -9 in the middle of a recall: a new worker takes the job over once the lease runs out;
no message is deleted twice (a second delete would be answered "not found", recorded `gone`),
none is left without an outcome, and only what the killed worker had in flight is `unknown`.
Both backends, real `disparo worker` processes and the simulator in its own process."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from chaos_harness import Simulator, Slot, check_alive, engine_env, seed, wait_until
from sqlalchemy import func, select
from sqlalchemy.engine import URL

from disparo.db.engine import Database
from disparo.db.jobs import get_job, insert_job
from disparo.db.tables import shots_queue
from disparo.db.tables_jobs import shot_job_items

pytestmark = pytest.mark.slow

RECIPIENTS = 600
RATE_PER_S = 60  # a recall of 600 takes about 10 s: room for a kill in the middle


async def _outcomes(db: Database, job_id: int) -> dict[str, int]:
    async with db.read() as conn:
        rows = await conn.execute(
            select(shot_job_items.c.status, shot_job_items.c.outcome, func.count())
            .where(shot_job_items.c.job_id == job_id)
            .group_by(shot_job_items.c.status, shot_job_items.c.outcome)
        )
        return {f"{status}/{outcome}": count for status, outcome, count in rows}


async def test_kill_9_mid_recall_deletes_nothing_twice_and_leaves_nothing_out(
    backend: str, db_url: URL, tmp_path: Path
) -> None:
    log_dir = tmp_path / "logs"
    db = Database(db_url, pool_size=3)
    sim = Simulator(log_dir, latency_ms=10.0)
    slot = Slot("worker", ["worker"], engine_env(db_url, sim.base, lease_s=5.0), log_dir)
    try:
        [bot] = await seed(
            db, bot_count=1, recipients=RECIPIENTS, rate_per_s=RATE_PER_S, paid_broadcast=False
        )
        slot.start()

        async def sent() -> bool:
            check_alive([slot])
            async with db.read() as conn:
                status = await conn.scalar(
                    select(shots_queue.c.status).where(shots_queue.c.id == bot.shot_id)
                )
            return status == "sent"

        await wait_until(sent, timeout_s=60, what="the shot sent")
        async with db.write(wake=True) as conn:
            job = await insert_job(
                conn, now=datetime.now(UTC), shot_id=bot.shot_id, bot_slug=bot.slug,
                kind="recall",
            )  # fmt: skip

        async def halfway() -> bool:
            done = (await _outcomes(db, job.id)).get("done/deleted", 0)
            return done >= RECIPIENTS // 4

        await wait_until(halfway, timeout_s=60, what="a quarter deleted", every_s=0.05)
        slot.kill()
        before = await _outcomes(db, job.id)
        in_flight = before.get("sending/None", 0)
        slot.start()

        async def ended() -> bool:
            async with db.read() as conn:
                found = await get_job(conn, job.id)
            return found is not None and found.status == "done"

        await wait_until(ended, timeout_s=90, what="the recall done after the restart")
        after = await _outcomes(db, job.id)
        deleted = sum(int(counts.get("deleted", 0)) for counts in sim.stats().values())
        gone = [m for m in sim.messages(bot.token) if not m.get("deleted")]
    finally:
        slot.stop()
        sim.stop()
        await db.dispose()

    print({"before_kill": before, "after": after})
    assert sum(after.values()) == RECIPIENTS
    assert set(after) <= {"done/deleted", "unknown/unknown"}, after  # no gone: none twice
    assert after.get("unknown/unknown", 0) == in_flight  # exactly what the kill left in flight
    assert after["done/deleted"] >= RECIPIENTS - in_flight
    # Telegram's side: every message recorded deleted is gone, and the unknown ones either way.
    assert after["done/deleted"] <= deleted <= after["done/deleted"] + in_flight
    assert len(gone) == RECIPIENTS - deleted
