"""kill -9 in the middle of a shot's snapshot: the audience is written in chunks while the shot
sends, the worker dies between two chunks, and the worker that takes the shot over once the
lease runs out completes the audience where the committed chunks end: every member once, in
send order, `seq` unique, and no message sent twice. Both backends, real `disparo worker`
processes and the simulator in its own process."""

from __future__ import annotations

from pathlib import Path

import pytest
from chaos_harness import Simulator, Slot, check_alive, engine_env, seed, wait_until
from sqlalchemy import func, select, update
from sqlalchemy.engine import URL

from disparo.db.audience import send_order
from disparo.db.engine import Database
from disparo.db.tables import shots_queue, shots_sent, telegram_contacts

pytestmark = pytest.mark.slow

RECIPIENTS = 20_000
# 300 written before the first send, then chunks of 100: ~200 transactions, a second or more
# in which to kill the worker.
SNAPSHOT = {"DISPARO_SNAPSHOT_FIRST": "300", "DISPARO_SNAPSHOT_CHUNK": "100"}


async def _progress(db: Database, shot_id: int) -> tuple[int | None, bool, str]:
    async with db.read() as conn:
        q = shots_queue.c
        query = select(q.audience_total, q.audience_complete, q.status).where(q.id == shot_id)
        total, complete, status = (await conn.execute(query)).one()
    return total, bool(complete), str(status)


async def test_kill_9_mid_snapshot_resumes_without_duplicates_or_gaps(
    backend: str, db_url: URL, tmp_path: Path
) -> None:
    log_dir = tmp_path / "logs"
    db = Database(db_url, pool_size=3)
    sim = Simulator(log_dir, latency_ms=10.0)
    env = engine_env(db_url, sim.base, lease_s=5.0, extra=SNAPSHOT)
    slot = Slot("worker", ["worker"], env, log_dir)
    try:
        [bot] = await seed(
            db, bot_count=1, recipients=RECIPIENTS, rate_per_s=30, paid_broadcast=False
        )
        slot.start()

        async def mid_snapshot() -> bool:
            check_alive([slot])
            total, complete, _ = await _progress(db, bot.shot_id)
            assert not (complete and total == RECIPIENTS), "the snapshot ended before the kill"
            return total is not None and total > 300 and not complete

        await wait_until(mid_snapshot, timeout_s=60, what="the snapshot half written", every_s=0.01)
        slot.kill()
        at_kill, _, _ = await _progress(db, bot.shot_id)
        slot.start()

        async def complete() -> bool:
            check_alive([slot])
            return (await _progress(db, bot.shot_id))[1]

        await wait_until(complete, timeout_s=90, what="the audience complete after the restart")
        async with db.write(wake=True) as conn:  # enough: what is left is plain sending
            await conn.execute(
                update(shots_queue).where(shots_queue.c.id == bot.shot_id).values(status="paused")
            )

        async def released() -> bool:
            async with db.read() as conn:
                holder = await conn.scalar(
                    select(shots_queue.c.locked_by).where(shots_queue.c.id == bot.shot_id)
                )
            return holder is None

        await wait_until(released, timeout_s=30, what="the paused shot released")
        async with db.read() as conn:
            s, c = shots_sent.c, telegram_contacts.c
            by_seq = (
                await conn.scalars(
                    select(s.telegram_id).where(s.shot_id == bot.shot_id).order_by(s.seq)
                )
            ).all()
            seqs = await conn.scalar(
                select(func.count(func.distinct(s.seq))).where(s.shot_id == bot.shot_id)
            )
            audience = (
                await conn.scalars(
                    select(c.telegram_id).where(c.bot_slug == bot.slug).order_by(*send_order())
                )
            ).all()
        total, complete_now, status = await _progress(db, bot.shot_id)
        stats = sim.stats()
        messages = sim.messages(bot.token)
    finally:
        slot.stop()
        sim.stop()
        await db.dispose()

    print({"written_at_kill": at_kill, "messages": len(messages)})
    assert at_kill is not None
    assert 300 < at_kill < RECIPIENTS
    assert (total, complete_now, status) == (RECIPIENTS, True, "paused")
    assert list(by_seq) == list(audience)  # every member once, in send order
    assert seqs == RECIPIENTS
    assert (
        sum(int(bot_stats.get("duplicates", {}).get("count", 0)) for bot_stats in stats.values())
        == 0
    )
    delivered = [int(m["chat_id"]) for m in messages]
    assert len(delivered) == len(set(delivered)) > 0
