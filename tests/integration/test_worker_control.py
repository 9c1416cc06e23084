"""Pause, resume, cancel, clean stop, 429 storms and a stolen lease, against the simulator."""

from __future__ import annotations

import asyncio
import time

from worker_support import (
    Sim,
    StartWorker,
    add_bot,
    add_contacts,
    add_shot,
    deliveries,
    set_shot,
    shot,
    statuses,
    wait_for_status,
    wait_until,
    worker_settings,
)

from disparo.db.engine import Database
from disparo.db.secrets import TokenCipher
from disparo.db.store import SqlShotStore
from disparo.engine.worker import Worker
from disparo.telegram import BotAPI


async def delivered(sim: Sim, token: str) -> int:
    """Messages the simulator delivered for the bot."""
    return int((await sim.stats(token)).get("delivered", 0))


async def test_pause_stops_within_a_second_and_resume_continues(
    db: Database, sim: Sim, start_worker: StartWorker
) -> None:
    """Pause: no new sends, the lease is released, nothing sending; resume finishes the rest."""
    token = await add_bot(db, "loja", rate_per_s=100)
    await add_contacts(db, "loja", range(1, 301))
    shot_id = await add_shot(db, "loja", wake=True)
    await start_worker()
    await wait_until(lambda: _at_least(sim, token, 40), what="40 deliveries")
    paused_at = time.monotonic()
    await set_shot(db, shot_id, status="paused")
    await wait_until(lambda: _unlocked(db, shot_id), timeout_s=5, what="lease released")
    latency_s = time.monotonic() - paused_at
    print(f"pause took effect in {latency_s:.3f} s")
    row = await shot(db, shot_id)
    assert (row["status"], row["attempt_count"]) == ("paused", 0)  # a pause is no failure
    counts = statuses(await deliveries(db, shot_id))
    assert "sending" not in counts
    assert counts["sent"] == await delivered(sim, token)
    assert counts["pending"] > 0
    await asyncio.sleep(0.5)
    assert counts["sent"] == await delivered(sim, token)  # nothing more went out
    await set_shot(db, shot_id, status="pending")  # resume, as the API does
    row = await wait_for_status(db, shot_id)
    assert row["status"] == "sent"
    assert statuses(await deliveries(db, shot_id)) == {"sent": 300}
    stats = await sim.stats(token)
    assert (stats["delivered"], stats["duplicates"]["count"]) == (300, 0)


async def test_pause_and_immediate_resume_is_a_clean_hand_back(
    db: Database, sim: Sim, start_worker: StartWorker
) -> None:
    """Resumed before the worker noticed the pause: it hands back cleanly and finishes."""
    token = await add_bot(db, "loja", rate_per_s=200)
    await add_contacts(db, "loja", range(1, 301))
    shot_id = await add_shot(db, "loja", wake=True)
    await start_worker()
    await wait_until(lambda: _at_least(sim, token, 40), what="40 deliveries")
    await set_shot(db, shot_id, status="paused", wake=False)
    await set_shot(db, shot_id, status="pending")
    row = await wait_for_status(db, shot_id)
    assert (row["status"], row["attempt_count"]) == ("sent", 1)
    stats = await sim.stats(token)
    assert (stats["delivered"], stats["duplicates"]["count"]) == (300, 0)


async def test_cancel_skips_every_never_sent_recipient(
    db: Database, sim: Sim, start_worker: StartWorker
) -> None:
    """Cancel mid-shot: in-flight finish; every never-sent delivery ends skipped (cancelled)."""
    token = await add_bot(db, "loja", rate_per_s=100)
    await add_contacts(db, "loja", range(1, 301))
    shot_id = await add_shot(db, "loja", wake=True)
    await start_worker()
    await wait_until(lambda: _at_least(sim, token, 40), what="40 deliveries")
    await set_shot(db, shot_id, status="cancelled")
    await wait_until(lambda: _unlocked(db, shot_id), timeout_s=5, what="lease released")
    rows = await deliveries(db, shot_id)
    counts = statuses(rows)
    assert set(counts) == {"sent", "skipped"}
    assert counts["sent"] == await delivered(sim, token)
    assert {r["reason"] for r in rows if r["status"] == "skipped"} == {"cancelled"}
    assert (await shot(db, shot_id))["status"] == "cancelled"


async def test_clean_stop_hands_the_shot_to_the_next_worker(
    db: Database, sim: Sim, start_worker: StartWorker
) -> None:
    """Stopping a worker (SIGTERM) finishes in-flight, releases the shot, not as an attempt."""
    token = await add_bot(db, "loja", rate_per_s=100)
    await add_contacts(db, "loja", range(1, 301))
    shot_id = await add_shot(db, "loja", wake=True)
    async with BotAPI(sim.base_url) as api:
        first = Worker(
            SqlShotStore(db, TokenCipher(None)), api, settings=worker_settings(), worker_id="first"
        )
        async with first.running():
            await wait_until(lambda: _at_least(sim, token, 40), what="40 deliveries")
        # leaving running() is what SIGTERM does in `disparo worker` and `disparo serve`
    row = await shot(db, shot_id)
    assert (row["status"], row["locked_by"], row["attempt_count"]) == ("pending", None, 0)
    counts = statuses(await deliveries(db, shot_id))
    assert "sending" not in counts
    assert counts["sent"] == await delivered(sim, token)
    await start_worker(worker_id="second")
    row = await wait_for_status(db, shot_id)
    assert (row["status"], row["attempt_count"]) == ("sent", 1)
    stats = await sim.stats(token)
    assert (stats["delivered"], stats["duplicates"]["count"]) == (300, 0)


async def test_429_storm_pauses_the_bot_without_a_cascade(
    db: Database, sim: Sim, start_worker: StartWorker
) -> None:
    """A 429 storm: the bot pauses for retry_after, probes once, retries; no recipient lost."""
    token = await add_bot(db, "loja", rate_per_s=30, paid_broadcast=False)
    await add_contacts(db, "loja", range(1, 121))
    shot_id = await add_shot(db, "loja", wake=True)
    await start_worker()
    await wait_until(lambda: _at_least(sim, token, 20), what="20 deliveries")
    await sim.faults(retry_after_storm={"bot": token, "seconds": 2})
    row = await wait_for_status(db, shot_id)
    assert row["status"] == "sent"
    assert statuses(await deliveries(db, shot_id)) == {"sent": 120}
    stats = await sim.stats(token)
    assert stats["duplicates"]["count"] == 0
    # One refusal opens the pause (plus, at most, the one request already in flight), and the
    # probe after it either passes or opens the next window: never a burst of refusals.
    assert 1 <= stats["429"] <= 3, stats


async def test_a_worker_that_loses_its_lease_stops_sending_at_once(
    db: Database, sim: Sim, start_worker: StartWorker
) -> None:
    """When the lease is taken away the worker sends nothing more and changes nothing."""
    token = await add_bot(db, "loja", rate_per_s=100)
    await add_contacts(db, "loja", range(1, 301))
    shot_id = await add_shot(db, "loja", wake=True)
    worker = await start_worker()
    await wait_until(lambda: _at_least(sim, token, 40), what="40 deliveries")
    await set_shot(db, shot_id, locked_by="thief", wake=False)
    await wait_until(lambda: _idle(worker), timeout_s=5, what="sender stopped")
    sent_then = await delivered(sim, token)
    await asyncio.sleep(0.5)
    assert await delivered(sim, token) == sent_then
    row = await shot(db, shot_id)
    assert (row["status"], row["locked_by"]) == ("running", "thief")  # fenced: left as it was


async def _at_least(sim: Sim, token: str, count: int) -> bool:
    return await delivered(sim, token) >= count


async def _unlocked(db: Database, shot_id: int) -> bool:
    return (await shot(db, shot_id))["locked_by"] is None


async def _idle(worker: object) -> bool:
    return not worker.senders
