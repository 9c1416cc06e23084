"""The outcome recorder on the in-memory store and the fake clock: outcomes of every sender are
written together each interval (at once when the buffer fills), and kept while the database is
away."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from engine_fakes import TOKEN, WORKER, until

from disparo.db.deliveries import ContactChange, DeliveryOutcome
from disparo.domain.statuses import ChatState, DeliveryStatus
from disparo.engine.clock import FakeClock
from disparo.engine.memory_store import DatabaseAwayError, MemoryShotStore
from disparo.engine.recorder import FLUSH_INTERVAL_S, OutcomeRecorder


async def reserved_shot(store: MemoryShotStore, clock: FakeClock, contacts: int) -> int:
    """A claimed shot whose `contacts` deliveries are all reserved (`sending`)."""
    store.add_bot("loja", TOKEN)
    store.add_contacts("loja", range(1, contacts + 1))
    shot_id = store.add_shot("loja", scheduled_at=clock.now())
    now = clock.now()
    shot = await store.claim_due_shot(
        worker_id=WORKER, now=now, lease_expires_at=now + timedelta(seconds=30)
    )
    assert shot is not None
    await store.snapshot_audience(
        shot_id,
        bot_slug="loja",
        target="started",
        recency_days=None,
        worker_id=WORKER,
        now=now,
        reserve=contacts,
    )
    return shot_id


def sent(shot_id: int, telegram_id: int) -> DeliveryOutcome:
    """A `sent` outcome."""
    return DeliveryOutcome(shot_id, telegram_id, DeliveryStatus.SENT.value, message_id=telegram_id)


async def test_outcomes_are_written_together_once_per_interval(clock: FakeClock) -> None:
    """Outcomes added within one interval are written by one call at the interval's end, with
    the contact changes they prove."""
    store = MemoryShotStore()
    shot_id = await reserved_shot(store, clock, 4)
    recorder = OutcomeRecorder(store, clock)
    stop = asyncio.Event()
    running = asyncio.create_task(recorder.run(stop))
    await asyncio.sleep(0)
    start = clock.monotonic()
    recorder.add(sent(shot_id, 1))
    await asyncio.sleep(FLUSH_INTERVAL_S / 2)
    blocked = DeliveryOutcome(shot_id, 2, DeliveryStatus.SKIPPED.value, reason="blocked")
    recorder.add(blocked, ContactChange("loja", 2, ChatState.BLOCKED.value))
    assert store.counts(shot_id) == {"sending": 4}
    await until(lambda: store.calls["record_outcomes"] > 0, step_s=0.001)
    assert clock.monotonic() - start == pytest.approx(FLUSH_INTERVAL_S, abs=0.002)
    assert store.calls["record_outcomes"] == 1
    assert store.counts(shot_id) == {"sent": 1, "skipped": 1, "sending": 2}
    assert store.contacts["loja", 2].chat_state is ChatState.BLOCKED
    stop.set()
    await running


async def test_a_full_buffer_is_written_at_once(clock: FakeClock) -> None:
    """Reaching the flush size writes the buffer without waiting for the interval."""
    store = MemoryShotStore()
    shot_id = await reserved_shot(store, clock, 5)
    recorder = OutcomeRecorder(store, clock, flush_interval_s=60.0, flush_size=5)
    stop = asyncio.Event()
    running = asyncio.create_task(recorder.run(stop))
    start = clock.monotonic()
    for telegram_id in range(1, 6):
        recorder.add(sent(shot_id, telegram_id))
    await until(lambda: store.calls["record_outcomes"] > 0, step_s=0.001)
    assert clock.monotonic() - start < 0.01
    assert store.counts(shot_id) == {"sent": 5}
    stop.set()
    await running


async def test_outcomes_stay_buffered_while_the_database_is_away(clock: FakeClock) -> None:
    """A failed write keeps its outcomes, ahead of the ones added since; the next write that
    works records them all; the loop's last flush on stop writes what is left."""
    store = MemoryShotStore()
    shot_id = await reserved_shot(store, clock, 5)
    recorder = OutcomeRecorder(store, clock)
    for telegram_id in (1, 2, 3):
        recorder.add(sent(shot_id, telegram_id))
    store.down = True
    with pytest.raises(DatabaseAwayError):
        await recorder.flush()
    recorder.add(sent(shot_id, 4))
    assert recorder.buffered == 4
    store.down = False
    await recorder.flush()
    assert recorder.buffered == 0
    assert store.counts(shot_id) == {"sent": 4, "sending": 1}
    recorder.add(sent(shot_id, 5))
    stop = asyncio.Event()
    stop.set()
    await recorder.run(stop)
    assert store.counts(shot_id) == {"sent": 5}
