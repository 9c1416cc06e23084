"""The worker's loop on the in-memory store and fake bots: it sleeps until the next scheduled
shot rather than the poll, and its rescue leaves alone a shot it still keeps."""

from __future__ import annotations

from datetime import timedelta

from engine_fakes import TOKEN, FakeBot, FakeBots, Request, running_worker, stocked_store, until

from disparo.domain.statuses import ShotStatus
from disparo.engine.clock import FakeClock
from disparo.engine.worker import MIN_TICK_GAP_S

OTHER_TOKEN = "7000000002:" + "T" * 35


async def test_after_a_claim_the_worker_wakes_for_the_next_scheduled_shot(
    clock: FakeClock,
) -> None:
    """One shot due now and one of another bot due 1.5 s later, the poll 30 s: the tick that
    claims the first sleeps until the second is due, which starts on time."""
    store, first = stocked_store(clock, contacts=60, rate_per_s=10)
    store.add_bot("outra", OTHER_TOKEN)
    store.add_contacts("outra", [1, 2, 3], last_interaction_at=clock.now())
    due_at = clock.now() + timedelta(seconds=1.5)
    later = store.add_shot("outra", scheduled_at=due_at)
    bots = FakeBots({TOKEN: FakeBot(clock), OTHER_TOKEN: FakeBot(clock)})
    async with running_worker(store, bots, clock, poll_interval_s=30.0):
        await until(lambda: store.shots[later].status is ShotStatus.SENT)
        assert store.shots[first].status is ShotStatus.RUNNING  # 6 s of sending: still going
    started_at = store.shots[later].started_at
    assert started_at is not None
    assert due_at <= started_at <= due_at + timedelta(seconds=MIN_TICK_GAP_S)


async def test_the_rescue_leaves_alone_a_shot_its_worker_still_keeps(clock: FakeClock) -> None:
    """After an outage longer than the lease the store says the lease ran out, but the live
    worker that keeps it does not rescue it: its outcomes are recorded, none `unknown`."""
    store, shot_id = stocked_store(clock, contacts=200)
    rescues_before: list[int] = []

    def outage_passed(request: Request) -> None:
        if request.n == 20:  # the next renewal is 4 s away
            rescues_before.append(store.calls["rescue_expired"])
            expired = clock.now() - timedelta(seconds=1)
            store.set_shot(shot_id, lease_expires_at=expired, wake=False)

    bot = FakeBot(clock, on_request=outage_passed)
    fast = {"poll_interval_s": 0.1, "rescue_interval_s": 0.1}
    async with running_worker(store, FakeBots({TOKEN: bot}), clock, **fast):
        await until(lambda: store.shots[shot_id].status is ShotStatus.SENT)
    assert store.calls["rescue_expired"] - rescues_before[0] > 30  # it looked, often
    assert store.counts(shot_id) == {"sent": 200}
    assert bot.delivered() == dict.fromkeys(range(1, 201), 1)
