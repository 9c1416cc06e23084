"""A worker on the in-memory store and a fake bot, stopped mid-shot: pause, resume, cancel, a
lease taken away or run out, SIGTERM. Each stop is triggered by the 40th request, so it lands
mid-batch with requests in flight; times are the fake clock's."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from engine_fakes import TOKEN, FakeBot, FakeBots, Request, running_worker, stocked_store, until

from disparo.domain import pacing
from disparo.domain.statuses import DeliveryStatus, ShotStatus
from disparo.engine.clock import FakeClock
from disparo.engine.lease_keeper import CONTROL_INTERVAL_S
from disparo.engine.memory_store import MemoryShotStore

EPS = 1e-9


class At40:
    """Runs `action` when the bot receives its 40th request, and keeps that request's time."""

    def __init__(self, clock: FakeClock, action: Callable[[], object]) -> None:
        self.clock, self.action = clock, action
        self.at: float | None = None

    def __call__(self, request: Request) -> None:
        if request.n == 40:
            self.at = self.clock.monotonic()
            self.action()


def scene(
    clock: FakeClock, action: Callable[[], object], *, contacts: int = 100
) -> tuple[MemoryShotStore, int, FakeBot, At40]:
    """`contacts` contacts, one shot due, a bot whose 40th request runs `action`."""
    store, shot_id = stocked_store(clock, contacts=contacts)
    trigger = At40(clock, action)
    return store, shot_id, FakeBot(clock, on_request=trigger), trigger


def sent_once_each(bot: FakeBot, contacts: int) -> bool:
    """Every contact got exactly one message."""
    return bot.delivered() == dict.fromkeys(range(1, contacts + 1), 1)


async def test_a_pause_stops_at_once_and_a_resume_finishes_the_rest(clock: FakeClock) -> None:
    """Paused (with a wake-up): no request after the pause, in-flight answers recorded, the
    rest back to pending, the lease freed and the attempt not counted; resumed, the shot ends
    with everyone sent once."""
    store: MemoryShotStore
    shot_id: int
    store, shot_id, bot, pause = scene(
        clock, lambda: store.set_shot(shot_id, status=ShotStatus.PAUSED)
    )
    async with running_worker(store, FakeBots({TOKEN: bot}), clock):
        await until(lambda: pause.at is not None and store.shots[shot_id].locked_by is None)
        assert pause.at is not None
        assert max(r.at for r in bot.requests) <= pause.at
        shot = store.shots[shot_id]
        assert (shot.status, shot.attempt_count) == (ShotStatus.PAUSED, 0)
        assert store.counts(shot_id) == {"sent": 40, "pending": 60}
        await asyncio.sleep(5.0)
        assert len(bot.requests) == 40
        store.set_shot(shot_id, status=ShotStatus.PENDING)  # resume, as the API does
        await until(lambda: store.shots[shot_id].status is ShotStatus.SENT)
    assert store.shots[shot_id].attempt_count == 1
    assert store.counts(shot_id) == {"sent": 100}
    assert sent_once_each(bot, 100)


async def test_a_pause_nobody_announced_is_seen_within_the_control_interval(
    clock: FakeClock,
) -> None:
    """Paused with no wake-up (another process, NOTIFY lost): the worker's periodic check
    stops the sends within its interval."""
    store: MemoryShotStore
    shot_id: int
    store, shot_id, bot, pause = scene(
        clock, lambda: store.set_shot(shot_id, status=ShotStatus.PAUSED, wake=False)
    )
    async with running_worker(store, FakeBots({TOKEN: bot}), clock):
        await until(lambda: pause.at is not None and store.shots[shot_id].locked_by is None)
    assert pause.at is not None
    last = max(r.at for r in bot.requests)
    assert pause.at < last <= pause.at + CONTROL_INTERVAL_S + EPS
    assert "sending" not in store.counts(shot_id)
    assert store.counts(shot_id)["sent"] == len(bot.requests)


async def test_a_pause_resumed_before_the_worker_noticed_is_a_clean_hand_back(
    clock: FakeClock,
) -> None:
    """Paused and resumed at once: the worker sees its shot pending, hands it back as for a
    pause (attempt not counted), claims it again and finishes; nobody gets it twice."""
    store: MemoryShotStore
    shot_id: int

    def pause_and_resume() -> None:
        store.set_shot(shot_id, status=ShotStatus.PAUSED, wake=False)
        store.set_shot(shot_id, status=ShotStatus.PENDING)

    store, shot_id, bot, _ = scene(clock, pause_and_resume)
    async with running_worker(store, FakeBots({TOKEN: bot}), clock):
        await until(lambda: store.shots[shot_id].status is ShotStatus.SENT)
    assert store.calls["release_shot"] == 1
    assert store.shots[shot_id].attempt_count == 1
    assert sent_once_each(bot, 100)


async def test_a_cancel_skips_every_recipient_never_sent(clock: FakeClock) -> None:
    """Cancelled mid-shot: in-flight answers recorded, every delivery never sent (reserved or
    not) ends skipped with reason cancelled, the shot stays cancelled and unlocked."""
    store: MemoryShotStore
    shot_id: int
    store, shot_id, bot, cancel = scene(
        clock, lambda: store.set_shot(shot_id, status=ShotStatus.CANCELLED)
    )
    async with running_worker(store, FakeBots({TOKEN: bot}), clock):
        await until(lambda: cancel.at is not None and store.shots[shot_id].locked_by is None)
    assert cancel.at is not None
    assert max(r.at for r in bot.requests) <= cancel.at
    assert store.counts(shot_id) == {"sent": 40, "skipped": 60}
    skipped = [d for d in store.shot_deliveries(shot_id) if d.status is DeliveryStatus.SKIPPED]
    assert {d.reason for d in skipped} == {"cancelled"}
    assert store.shots[shot_id].status is ShotStatus.CANCELLED


async def test_a_worker_whose_lease_was_taken_stops_and_changes_nothing(
    clock: FakeClock,
) -> None:
    """Another worker took the lease: within the control interval no request goes out; the
    shot row is left as the other worker has it, and what this worker had reserved is not
    handed back (it is the rescue's)."""
    store: MemoryShotStore
    shot_id: int
    store, shot_id, bot, theft = scene(
        clock, lambda: store.set_shot(shot_id, locked_by="thief", wake=False)
    )
    async with running_worker(store, FakeBots({TOKEN: bot}), clock) as worker:
        await until(lambda: theft.at is not None and not worker.senders)
        requests = len(bot.requests)
        await asyncio.sleep(5.0)
        assert len(bot.requests) == requests
    assert theft.at is not None
    assert max(r.at for r in bot.requests) <= theft.at + CONTROL_INTERVAL_S + EPS
    shot = store.shots[shot_id]
    assert (shot.status, shot.locked_by) == (ShotStatus.RUNNING, "thief")
    counts = store.counts(shot_id)
    assert counts["sent"] == requests  # the answers in flight were still recorded
    assert counts["sending"] > 0  # reserved, never sent, never handed back by this worker
    assert store.calls["release_shot"] == 1  # tried, fenced off


async def test_a_lease_that_cannot_be_renewed_stops_the_sends_at_its_local_deadline(
    clock: FakeClock,
) -> None:
    """Renewals fail from the 40th request on while reservations and outcomes still work: the
    worker keeps sending until its local deadline (last renewal + lease - margin), not a
    request later, then hands the shot back with the attempt counted. (Claims fail too, so the
    worker does not take the shot again before the test looks.)"""
    store: MemoryShotStore
    shot_id: int
    away = {"renew_leases", "shot_states", "claim_due_shots", "claim_due_shot"}
    store, shot_id, bot, outage = scene(clock, lambda: store.failing.update(away), contacts=1000)
    lease_s = 6.0
    async with running_worker(store, FakeBots({TOKEN: bot}), clock, lease_s=lease_s):
        await until(lambda: store.calls["release_shot"] > 0)
        store.failing.clear()
    assert outage.at is not None
    renew_every = pacing.lease_renew_interval_s(lease_s)
    deadline_max = outage.at + lease_s - pacing.lease_margin_s(lease_s)
    last = max(r.at for r in bot.requests)
    assert deadline_max - renew_every - 1 / 25 <= last < deadline_max
    shot = store.shots[shot_id]
    assert (shot.status, shot.locked_by, shot.attempt_count) == (ShotStatus.PENDING, None, 1)
    assert store.counts(shot_id).get("sending", 0) == 0
    assert store.counts(shot_id)["sent"] == len(bot.requests)


async def test_sigterm_finishes_in_flight_and_hands_the_shot_to_the_next_worker(
    clock: FakeClock,
) -> None:
    """SIGTERM (the worker's stop) mid-batch: no new request, in-flight answers recorded, the
    shot pending and unlocked at once with the attempt not counted; a second worker finishes
    it and nobody gets it twice."""
    stop = asyncio.Event()
    store, shot_id, bot, sigterm = scene(clock, stop.set)
    bots = FakeBots({TOKEN: bot})
    async with running_worker(store, bots, clock, stop=stop):
        await stop.wait()
    assert sigterm.at is not None
    assert max(r.at for r in bot.requests) <= sigterm.at
    shot = store.shots[shot_id]
    assert (shot.status, shot.locked_by, shot.attempt_count) == (ShotStatus.PENDING, None, 0)
    assert store.counts(shot_id) == {"sent": 40, "pending": 60}
    async with running_worker(store, bots, clock, worker_id="w2"):
        await until(lambda: store.shots[shot_id].status is ShotStatus.SENT)
    assert store.shots[shot_id].attempt_count == 1
    assert sent_once_each(bot, 100)
