"""Two workers on one database, rescue of a dead worker's shot, attempts, and NOTIFY wake-up."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import URL
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
)

from disparo.db import deliveries as dq
from disparo.db import leases, outcomes, rescue
from disparo.db.engine import Database


@pytest.fixture
async def other_db(db_url: URL) -> AsyncIterator[Database]:
    """A second handle on the test database, as another process would hold (own pool)."""
    database = Database(db_url, pool_size=5)
    yield database
    await database.dispose()


async def test_two_workers_never_send_twice_nor_run_one_bot_twice(
    db: Database, other_db: Database, sim: Sim, start_worker: StartWorker
) -> None:
    """Two workers share four bots with two shots each: no duplicate, no overlap per bot."""
    tokens = {}
    shots: dict[int, tuple[str, str]] = {}
    for b in range(4):
        slug = f"bot{b}"
        tokens[slug] = await add_bot(db, slug, rate_per_s=200)
        await add_contacts(db, slug, range(1, 121))
        for n in range(2):
            label = f"{slug}-shot{n}"
            shots[await add_shot(db, slug, copy=label)] = (slug, label)
    first = await start_worker(worker_id="w1", max_bots=2)
    second = await start_worker(other_db, worker_id="w2", max_bots=2)
    for shot_id in shots:
        assert (await wait_for_status(db, shot_id, timeout_s=30))["status"] == "sent"
        assert statuses(await deliveries(db, shot_id)) == {"sent": 120}
    assert first.claims > 0
    assert second.claims > 0
    for slug, token in tokens.items():
        stats = await sim.stats(token)
        assert stats["delivered"] == 240
        assert stats["messages_per_chat_max"] == 2  # one message per shot per person
        timeline = sorted(await sim.messages(token), key=lambda m: (m["time"], m["message_id"]))
        runs = [label for label, _ in itertools.groupby(m["text"] for m in timeline)]
        assert sorted(runs) == [f"{slug}-shot0", f"{slug}-shot1"]  # one shot after the other


async def test_second_claim_for_a_busy_bot_finds_nothing(db: Database) -> None:
    """While one shot of a bot runs, no worker can claim another shot of the same bot."""
    await add_bot(db, "loja")
    await add_bot(db, "outra")
    first = await add_shot(db, "loja")
    await add_shot(db, "loja")
    other = await add_shot(db, "outra")
    now = datetime.now(UTC)
    lease = now + timedelta(seconds=30)
    a = await leases.claim_due_shot(db, worker_id="w1", now=now, lease_expires_at=lease)
    b = await leases.claim_due_shot(db, worker_id="w2", now=now, lease_expires_at=lease)
    c = await leases.claim_due_shot(db, worker_id="w3", now=now, lease_expires_at=lease)
    assert a is not None
    assert b is not None
    assert (a.id, b.id, c) == (first, other, None)


async def test_a_batch_claim_takes_the_oldest_shot_of_each_free_bot(db: Database) -> None:
    """One batch claim takes at most one shot per bot, the oldest, and none of a busy bot."""
    for slug in ("a", "b", "c"):
        await add_bot(db, slug)
    now = datetime.now(UTC)
    lease = now + timedelta(seconds=30)
    busy = await add_shot(db, "c")
    assert (
        await leases.claim_due_shot(db, worker_id="w0", now=now, lease_expires_at=lease)
    ) is not None
    await add_shot(db, "c")
    a_old = await add_shot(db, "a", scheduled_at=now - timedelta(seconds=5))
    await add_shot(db, "a", scheduled_at=now)
    b_old = await add_shot(db, "b", scheduled_at=now)
    claimed = await leases.claim_due_shots(
        db, worker_id="w1", now=now, lease_expires_at=lease, limit=10
    )
    assert [s.id for s in claimed] == [a_old, b_old]
    assert all(s.attempt_count == 1 for s in claimed)
    again = await leases.claim_due_shots(
        db, worker_id="w2", now=now, lease_expires_at=lease, limit=10
    )
    assert again == []
    assert (await shot(db, busy))["locked_by"] == "w0"


async def test_concurrent_batch_claims_never_run_one_bot_twice(
    db: Database, other_db: Database
) -> None:
    """Two workers claiming in batches at once end with at most one running shot per bot."""
    for b in range(6):
        await add_bot(db, f"bot{b}")
        for _ in range(3):
            await add_shot(db, f"bot{b}")
    now = datetime.now(UTC)
    lease = now + timedelta(seconds=30)
    results = await asyncio.gather(
        *(
            leases.claim_due_shots(
                database, worker_id=f"w{n}", now=now, lease_expires_at=lease, limit=6
            )
            for n, database in enumerate((db, other_db, db, other_db))
        ),
        return_exceptions=True,
    )
    claimed = [s for result in results if isinstance(result, list) for s in result]
    assert not [r for r in results if isinstance(r, BaseException)]
    assert claimed
    slugs = [s.bot_slug for s in claimed]
    assert len(slugs) == len(set(slugs))


async def test_a_dead_workers_shot_is_rescued_and_finished_by_another(
    db: Database, sim: Sim, start_worker: StartWorker
) -> None:
    """After the lease expires, the dead worker's reserved rows become unknown (never resent)
    and another worker finishes the rest."""
    token = await add_bot(db, "loja")
    await add_contacts(db, "loja", range(1, 101))
    shot_id = await add_shot(db, "loja")
    now = datetime.now(UTC)
    dead = await leases.claim_due_shot(
        db, worker_id="dead", now=now, lease_expires_at=now + timedelta(seconds=1)
    )
    assert dead is not None
    await dq.snapshot_audience(
        db,
        shot_id,
        bot_slug="loja",
        target="started",
        recency_days=None,
        worker_id="dead",
        now=now,
    )
    reserved = await dq.reserve_batch(db, shot_id, worker_id="dead", now=now, limit=10)
    assert len(reserved.rows) == 10  # ... and then the worker died mid-batch
    await start_worker(worker_id="alive")
    row = await wait_for_status(db, shot_id)
    assert (row["status"], row["attempt_count"]) == ("sent", 2)
    rows = await deliveries(db, shot_id)
    assert statuses(rows) == {"sent": 90, "unknown": 10}
    unknown = {r["telegram_id"] for r in rows if r["status"] == "unknown"}
    assert unknown == {r.telegram_id for r in reserved.rows}
    assert {r["reason"] for r in rows if r["status"] == "unknown"} == {"worker_lost"}
    stats = await sim.stats(token)
    assert (stats["delivered"], stats["duplicates"]["count"]) == (90, 0)


async def test_a_shot_whose_workers_keep_dying_ends_in_error(db: Database) -> None:
    """The spec's rule: after three lost attempts the shot stops with an error."""
    await add_bot(db, "loja")
    await add_contacts(db, "loja", range(1, 4))
    shot_id = await add_shot(db, "loja")
    now = datetime.now(UTC)
    for attempt in range(1, 4):
        claimed = await leases.claim_due_shot(
            db, worker_id=f"dead{attempt}", now=now, lease_expires_at=now + timedelta(seconds=1)
        )
        assert claimed is not None
        assert claimed.attempt_count == attempt
        now += timedelta(seconds=2)
        (rescued,) = await rescue.rescue_expired(db, now=now)
        assert rescued.status == ("error" if attempt == 3 else "pending")
    row = await shot(db, shot_id)
    assert row["status"] == "error"
    assert "stopped 3 times" in row["last_error"]


async def test_crashes_after_progress_are_not_counted_as_attempts(db: Database) -> None:
    """Five workers die one after the other, each after recording an outcome: the shot is
    never stopped; a sixth dies before recording anything and that attempt counts."""
    await add_bot(db, "loja")
    await add_contacts(db, "loja", range(1, 21))
    shot_id = await add_shot(db, "loja")
    now = datetime.now(UTC)
    for attempt in range(1, 6):
        worker_id = f"dead{attempt}"
        claimed = await leases.claim_due_shot(
            db, worker_id=worker_id, now=now, lease_expires_at=now + timedelta(seconds=1)
        )
        assert claimed is not None
        assert claimed.attempt_count == 1  # earlier crashes made progress: none counted
        await dq.snapshot_audience(
            db,
            shot_id,
            bot_slug="loja",
            target="started",
            recency_days=None,
            worker_id=worker_id,
            now=now,
        )
        batch = await dq.reserve_batch(db, shot_id, worker_id=worker_id, now=now, limit=2)
        sent = dq.DeliveryOutcome(shot_id, batch.rows[0].telegram_id, "sent", message_id=attempt)
        await outcomes.record_outcomes(db, [sent], now=now)  # one answer recorded, then the crash
        now += timedelta(seconds=2)
        (rescued,) = await rescue.rescue_expired(db, now=now)
        assert (rescued.status, rescued.unknown) == ("pending", 1)
    assert (await shot(db, shot_id))["attempt_count"] == 0
    claimed = await leases.claim_due_shot(
        db, worker_id="dead6", now=now, lease_expires_at=now + timedelta(seconds=1)
    )
    assert claimed is not None
    await dq.reserve_batch(db, shot_id, worker_id="dead6", now=now, limit=2)
    (rescued,) = await rescue.rescue_expired(db, now=now + timedelta(seconds=2))
    assert rescued.status == "pending"
    row = await shot(db, shot_id)
    assert row["attempt_count"] == 1  # no outcome recorded: this crash counts
    assert statuses(await deliveries(db, shot_id)) == {"sent": 5, "unknown": 7, "pending": 8}


async def test_only_consecutive_deaths_while_sending_count_as_attempts(db: Database) -> None:
    """Dying before sending anything is not counted, recording an outcome clears the count, and
    three deaths in a row with deliveries reserved and nothing recorded stop the shot."""
    await add_bot(db, "loja")
    await add_contacts(db, "loja", range(1, 41))
    shot_id = await add_shot(db, "loja")
    now = datetime.now(UTC)
    counts = []

    async def attempt(worker_id: str, *, reserve: bool, record: bool) -> str:
        nonlocal now
        claimed = await leases.claim_due_shot(
            db, worker_id=worker_id, now=now, lease_expires_at=now + timedelta(seconds=1)
        )
        assert claimed is not None
        await dq.snapshot_audience(
            db,
            shot_id,
            bot_slug="loja",
            target="started",
            recency_days=None,
            worker_id=worker_id,
            now=now,
        )
        if reserve:
            batch = await dq.reserve_batch(db, shot_id, worker_id=worker_id, now=now, limit=3)
            if record:
                done = dq.DeliveryOutcome(shot_id, batch.rows[0].telegram_id, "sent", message_id=1)
                await outcomes.record_outcomes(db, [done], now=now)
        now += timedelta(seconds=2)
        (rescued,) = await rescue.rescue_expired(db, now=now)
        counts.append((await shot(db, shot_id))["attempt_count"])
        return rescued.status

    assert await attempt("a", reserve=False, record=False) == "pending"  # snapshot, then died
    assert await attempt("b", reserve=True, record=False) == "pending"
    assert await attempt("c", reserve=True, record=False) == "pending"
    assert await attempt("d", reserve=True, record=True) == "pending"  # progress: cleared
    assert await attempt("e", reserve=False, record=False) == "pending"  # sent nothing
    assert await attempt("f", reserve=True, record=False) == "pending"
    assert await attempt("g", reserve=True, record=False) == "pending"
    assert await attempt("h", reserve=True, record=False) == "error"
    assert counts == [0, 1, 2, 0, 0, 1, 2, 3]
    row = await shot(db, shot_id)
    assert "stopped 3 times without recording any outcome" in row["last_error"]


async def test_a_paused_shot_stays_paused_when_its_worker_dies(db: Database) -> None:
    """Rescue frees a paused shot's lease without resuming it."""
    await add_bot(db, "loja")
    shot_id = await add_shot(db, "loja")
    now = datetime.now(UTC)
    assert await leases.claim_due_shot(
        db, worker_id="dead", now=now, lease_expires_at=now + timedelta(seconds=1)
    )
    await set_shot(db, shot_id, status="paused")
    (rescued,) = await rescue.rescue_expired(db, now=now + timedelta(seconds=2))
    assert rescued.status == "paused"
    row = await shot(db, shot_id)
    assert (row["status"], row["locked_by"]) == ("paused", None)


async def test_wake_up_starts_a_due_shot_without_waiting_for_the_poll(
    db: Database, other_db: Database, sim: Sim, start_worker: StartWorker, backend: str
) -> None:
    """A shot queued with wake=True from another connection pool (NOTIFY on PostgreSQL, a
    datagram to the worker's socket on SQLite) starts although the worker's poll is 30 s."""
    await add_bot(db, "loja")
    await add_contacts(db, "loja", range(1, 6))
    worker = await start_worker(poll_interval_s=30.0)
    await wait_until(lambda: _ticked(worker), what="first tick")
    queued_at = time.monotonic()
    shot_id = await add_shot(other_db, "loja", wake=True)
    row = await wait_for_status(db, shot_id, ("running", "sent"), timeout_s=5)
    latency_s = time.monotonic() - queued_at
    print(f"{backend}: queued to started in {latency_s:.3f} s")
    assert row["started_at"] is not None


async def _ticked(worker: object) -> bool:
    return getattr(worker, "_next_rescue", 0.0) > 0
