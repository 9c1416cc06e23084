"""The lease keeper on the in-memory store and the fake clock: renewals keep the local deadline
ahead, failed renewals let it run out exactly, and a look at the shots reports why to stop."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from engine_fakes import TOKEN, WORKER, until

from disparo.domain import pacing
from disparo.domain.statuses import ShotStatus
from disparo.engine.clock import FakeClock
from disparo.engine.items import Stop
from disparo.engine.lease_keeper import LeaseKeeper
from disparo.engine.memory_store import MemoryShotStore

LEASE_S = 6.0


async def claim_shots(store: MemoryShotStore, clock: FakeClock, bots: int) -> list[int]:
    """One due shot on each of `bots` bots, all claimed by this worker."""
    for n in range(bots):
        store.add_bot(f"bot{n}", TOKEN)
        store.add_shot(f"bot{n}", scheduled_at=clock.now())
    now = clock.now()
    claimed = await store.claim_due_shots(
        worker_id=WORKER, now=now, lease_expires_at=now + timedelta(seconds=LEASE_S), limit=bots
    )
    return [shot.id for shot in claimed]


def keeper_of(store: MemoryShotStore, clock: FakeClock, changes: dict[int, Stop]) -> LeaseKeeper:
    """A keeper for worker `w1` that notes each reported stop in `changes`."""
    return LeaseKeeper(
        store, clock, worker_id=WORKER, lease_s=LEASE_S, on_change=changes.__setitem__
    )


async def test_renewals_hold_the_lease_and_failures_let_the_deadline_run_out(
    clock: FakeClock,
) -> None:
    """Renewed every second, the lease stays valid for a minute; once renewals fail, the
    worker stops considering it valid at the last renewal's start + lease - margin (before the
    database's expiry), and a renewal that works again restores it."""
    store = MemoryShotStore()
    (shot_id,) = await claim_shots(store, clock, 1)
    changes: dict[int, Stop] = {}
    keeper = keeper_of(store, clock, changes)
    keeper.hold(shot_id, clock.monotonic())
    stop = asyncio.Event()
    running = asyncio.create_task(keeper.run(stop))
    await asyncio.sleep(60.0)
    assert keeper.valid(shot_id)
    expires_at = store.shots[shot_id].lease_expires_at
    assert expires_at is not None
    assert expires_at - clock.now() > timedelta(seconds=LEASE_S - 1.01)
    store.failing.update({"renew_leases", "shot_states"})
    failed_at = clock.monotonic()
    await until(lambda: not keeper.valid(shot_id), step_s=0.001)
    ran_out = clock.monotonic() - failed_at
    margin = pacing.lease_margin_s(LEASE_S)
    renew_every = pacing.lease_renew_interval_s(LEASE_S)
    assert LEASE_S - margin - renew_every <= ran_out <= LEASE_S - margin
    assert clock.now() < expires_at + timedelta(seconds=renew_every)
    store.failing.clear()
    await until(lambda: keeper.valid(shot_id), step_s=0.001)
    assert changes == {}
    stop.set()
    await running


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"status": ShotStatus.PAUSED}, Stop.PAUSED),
        ({"status": ShotStatus.CANCELLED}, Stop.CANCELLED),
        ({"status": ShotStatus.PENDING}, Stop.PAUSED),  # paused and resumed meanwhile
        ({"locked_by": "another"}, Stop.LOST),
        ({"status": ShotStatus.ERROR, "locked_by": None}, Stop.LOST),
        ({}, None),
    ],
    ids=["paused", "cancelled", "resumed", "taken", "ended", "running"],
)
async def test_a_look_reports_why_each_shot_must_stop(
    clock: FakeClock, change: dict[str, object], expected: Stop | None
) -> None:
    """A shot paused, cancelled, resumed, taken by another worker or ended by someone else is
    reported with its stop reason; a shot still running under this worker is not."""
    store = MemoryShotStore()
    (shot_id,) = await claim_shots(store, clock, 1)
    changes: dict[int, Stop] = {}
    keeper = keeper_of(store, clock, changes)
    keeper.hold(shot_id, clock.monotonic())
    store.set_shot(shot_id, wake=False, **change)
    await keeper.check()
    assert changes.get(shot_id) == expected


async def test_a_renewal_that_finds_the_lease_gone_reports_it_lost(clock: FakeClock) -> None:
    """Renewing extends only this worker's leases; a shot another worker holds is lost."""
    store = MemoryShotStore()
    kept, taken = await claim_shots(store, clock, 2)
    changes: dict[int, Stop] = {}
    keeper = keeper_of(store, clock, changes)
    for shot_id in (kept, taken):
        keeper.hold(shot_id, clock.monotonic())
    store.set_shot(taken, locked_by="another", wake=False)
    await asyncio.sleep(3.0)
    await keeper.renew()
    assert changes == {taken: Stop.LOST}
    assert store.shots[kept].lease_expires_at == clock.now() + timedelta(seconds=LEASE_S)
    assert store.shots[taken].lease_expires_at != clock.now() + timedelta(seconds=LEASE_S)
