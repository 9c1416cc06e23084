"""A sender whose audience is written in chunks while it sends (the in-memory store and a fake
bot, on the fake clock): everyone once and in send order, the first message before the rest
is written, a database away in the middle of the writing waited out."""

from __future__ import annotations

import asyncio

from engine_fakes import FakeBot, Request, send_shot, stocked_store

from disparo.domain.statuses import ShotStatus
from disparo.engine.clock import FakeClock
from disparo.engine.memory_store import MemoryShotStore
from disparo.engine.snapshotter import SnapshotPlan, SnapshotSlots


def progress(store: MemoryShotStore, shot_id: int) -> tuple[int | None, bool]:
    shot = store.shots[shot_id]
    return shot.audience_total, shot.audience_complete


async def test_everyone_gets_the_shot_once_in_send_order(clock: FakeClock) -> None:
    """100 recipients, 7 written first, then chunks of 10: the first request goes out while
    only the first 7 are written; each contact receives one message, in send order; the shot
    ends sent with its audience complete."""
    store, shot_id = stocked_store(clock, contacts=100)
    at_first: list[tuple[int | None, bool]] = []

    def first_request(request: Request) -> None:
        if request.n == 1:
            at_first.append(progress(store, shot_id))

    bot = FakeBot(clock, on_request=first_request)
    await send_shot(store, clock, bot, snapshots=SnapshotPlan(first=7, chunk=10))
    assert at_first == [(7, False)]
    assert [r.chat_id for r in bot.written()] == list(range(1, 101))
    assert bot.delivered() == dict.fromkeys(range(1, 101), 1)
    assert store.counts(shot_id) == {"sent": 100}
    assert store.shots[shot_id].status is ShotStatus.SENT
    assert progress(store, shot_id) == (100, True)


async def test_a_database_away_while_writing_the_rest_is_waited_out(clock: FakeClock) -> None:
    """The writing of the rest fails while the database is away: the first recipients are
    sent, the sender waits (it does not end the shot with the audience half written), and once
    the database is back the rest is written and sent, each once."""
    store, shot_id = stocked_store(clock, contacts=40)
    store.failing.add("continue_snapshot")

    async def come_back() -> None:
        await asyncio.sleep(5.0)  # the fake clock's seconds
        store.failing.discard("continue_snapshot")

    start = clock.monotonic()

    returning = asyncio.create_task(come_back())
    bot = FakeBot(clock)
    await send_shot(store, clock, bot, snapshots=SnapshotPlan(first=5, chunk=8))
    await returning
    first_five = [r for r in bot.written() if r.chat_id <= 5]
    assert max(r.at for r in first_five) < min(r.at for r in bot.written() if r.chat_id > 5)
    assert min(r.at for r in bot.written() if r.chat_id > 5) >= start + 5.0
    assert bot.delivered() == dict.fromkeys(range(1, 41), 1)
    assert store.counts(shot_id) == {"sent": 40}
    assert progress(store, shot_id) == (40, True)


async def test_background_writing_waits_for_a_free_slot() -> None:
    """With one slot, a second writer waits until the first gives it back; a writer told to
    stop while waiting takes nothing."""
    slots = SnapshotSlots(1)
    stop, never = asyncio.Event(), asyncio.Event()
    assert await slots.take(never)
    waiting = asyncio.create_task(slots.take(never))
    giving_up = asyncio.create_task(slots.take(stop))
    await asyncio.sleep(0.01)
    assert not waiting.done()
    assert not giving_up.done()
    stop.set()
    assert await giving_up is False
    slots.give_back()
    assert await waiting is True
    assert slots.free == 0
    slots.give_back()
    assert slots.free == 1
