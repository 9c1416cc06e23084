"""The send-time rules as the worker applies them, on the in-memory store and a fake bot: quiet
hours hold a shot back (running or due) until they end, an expiry ends a shot `expired` with
the unsent skipped, the housekeeping expires shots nobody holds, and each reservation gets the
cap and the stop-on-conversion. Times are the fake clock's (it starts at 12:00 UTC, 09:00 in
São Paulo)."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

import pytest
from engine_fakes import (
    TOKEN,
    FakeBot,
    FakeBots,
    Request,
    claimed,
    running_worker,
    send_shot,
    stocked_store,
    until,
)

from disparo.domain.statuses import DeliveryStatus, PaymentStatus, ShotStatus
from disparo.engine.clock import FakeClock
from disparo.engine.memory_rows import StoredDelivery
from disparo.engine.memory_store import MemoryShotStore

ZONE = "America/Sao_Paulo"  # UTC-3 all year
START = 1000.0  # the fake monotonic clock at 12:00 UTC
OTHER_TOKEN = "7000000002:" + "T" * 35
QUIET_LOG = "[SHOTS][SENDER] quiet hours: waiting until 2026-11-30T12:10:00+00:00"


def quiet_store(clock: FakeClock, *, contacts: int, start: str, end: str) -> tuple[Any, int]:
    """Bot `loja` in São Paulo, quiet from `start` to `end` local time, with `contacts`
    contacts and one shot due now; the store and the shot's id."""
    store, shot_id = stocked_store(clock, contacts=contacts)
    store.add_bot("loja", TOKEN, timezone=ZONE, quiet_hours_start=start, quiet_hours_end=end)
    return store, shot_id


def delivered_once(bot: FakeBot, store: MemoryShotStore, shot_id: int) -> bool:
    """Every message went to a different chat, and exactly to the deliveries recorded sent."""
    delivered = bot.delivered()
    sent = {d.telegram_id for d in store.shot_deliveries(shot_id) if d.status.value == "sent"}
    return set(delivered.values()) <= {1} and set(delivered) == sent


async def test_a_running_shot_waits_out_quiet_hours_and_resumes_at_their_end(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """Sending from 12:00:58 UTC, quiet from 09:01 local (12:01 UTC): what was reserved before
    still goes (at most a batch and a half), then nothing until 12:10 UTC, when the shot goes
    on where it stopped; the lease is kept all along, the wait logged once, everyone sent
    once."""
    caplog.set_level(logging.INFO, logger="disparo.engine")
    store, shot_id = quiet_store(clock, contacts=200, start="09:01", end="09:10")
    clock.advance(58.0)
    bot = FakeBot(clock)
    async with running_worker(store, FakeBots({TOKEN: bot}), clock):
        await until(
            lambda: store.shots[shot_id].status is ShotStatus.SENT, within_s=700, step_s=1.0
        )
    times = [r.at for r in bot.requests]
    quiet_from, quiet_to = START + 60, START + 600
    assert not [t for t in times if quiet_from + 1.5 < t < quiet_to - 1e-6]
    assert min(t for t in times if t > quiet_from + 1.5) == pytest.approx(quiet_to, abs=0.1)
    assert 2 * 25 <= len([t for t in times if t < quiet_to]) <= 2 * 25 + 38
    shot = store.shots[shot_id]
    assert (shot.attempt_count, store.counts(shot_id)) == (1, {"sent": 200})
    assert delivered_once(bot, store, shot_id)
    assert [r.getMessage() for r in caplog.records].count(QUIET_LOG) == 1


async def test_a_shot_due_inside_quiet_hours_starts_at_their_end(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """Due at 09:00 local inside 08:00-09:10: claimed, held (no snapshot, no request) with its
    lease renewed, and started at 09:10 local, its audience taken then."""
    caplog.set_level(logging.INFO, logger="disparo.engine")
    store, shot_id = quiet_store(clock, contacts=50, start="08:00", end="09:10")
    bot = FakeBot(clock)
    async with running_worker(store, FakeBots({TOKEN: bot}), clock):
        await asyncio.sleep(300)
        shot = store.shots[shot_id]
        assert (shot.status, shot.locked_by, shot.audience_total) == (
            ShotStatus.RUNNING,
            "w1",
            None,
        )
        assert shot.lease_expires_at is not None
        assert shot.lease_expires_at > clock.now()
        assert bot.requests == []
        store.add_contacts("loja", [51], last_interaction_at=clock.now())  # joins meanwhile
        await until(
            lambda: store.shots[shot_id].status is ShotStatus.SENT, within_s=700, step_s=1.0
        )
    assert min(r.at for r in bot.requests) == pytest.approx(START + 600, abs=0.1)
    assert store.counts(shot_id) == {"sent": 51}
    assert [r.getMessage() for r in caplog.records].count(QUIET_LOG) == 1


async def test_a_shot_that_expires_during_quiet_hours_never_starts(clock: FakeClock) -> None:
    """Held by quiet hours until 12:10 UTC but expiring at 12:05: it ends expired at 12:05,
    with no delivery written and nothing sent."""
    store, shot_id = quiet_store(clock, contacts=10, start="08:00", end="09:10")
    expires_at = clock.now() + timedelta(minutes=5)
    store.set_shot(shot_id, expires_at=expires_at)
    bot = FakeBot(clock)
    async with running_worker(store, FakeBots({TOKEN: bot}), clock):
        await until(
            lambda: store.shots[shot_id].status is ShotStatus.EXPIRED, within_s=700, step_s=0.5
        )
    shot = store.shots[shot_id]
    assert shot.finished_at is not None
    assert expires_at <= shot.finished_at <= expires_at + timedelta(seconds=0.5)
    assert (shot.locked_by, shot.audience_total) == (None, None)
    assert shot.last_error is not None
    assert "before it started" in shot.last_error
    assert store.shot_deliveries(shot_id) == []
    assert bot.requests == []


async def test_a_shot_expired_between_its_claim_and_its_snapshot_writes_no_delivery(
    clock: FakeClock,
) -> None:
    """Claimed a second before it expires, its sender starting a second later: it finds it
    expired before the snapshot, and ends it expired with no delivery and no request."""
    store, shot_id = stocked_store(clock, contacts=10)
    store.set_shot(shot_id, expires_at=clock.now() + timedelta(seconds=1))
    shot = await claimed(store, clock)
    clock.advance(1.0)
    bot = FakeBot(clock)
    await send_shot(store, clock, bot, shot=shot)
    stored = store.shots[shot_id]
    assert (stored.status, stored.finished_at) == (ShotStatus.EXPIRED, clock.now())
    assert store.shot_deliveries(shot_id) == []
    assert bot.requests == []


async def test_an_expired_shot_is_left_to_the_sweep_not_claimed(clock: FakeClock) -> None:
    """Due behind a 2 s shot of its bot and expiring after 1 s: when the bot is free (between
    two sweeps) it is not claimed; the next sweep, at 5 s, ends it expired, never started."""
    store, first = stocked_store(clock, contacts=50)
    started = clock.now()
    expires_at = started + timedelta(seconds=1)
    waiting = store.add_shot("loja", scheduled_at=clock.now(), expires_at=expires_at)
    bot = FakeBot(clock)
    async with running_worker(store, FakeBots({TOKEN: bot}), clock, rescue_interval_s=5.0):
        await until(lambda: store.shots[first].status is ShotStatus.SENT)
        assert clock.monotonic() < START + 4
        assert store.shots[waiting].status is ShotStatus.PENDING
        await until(lambda: store.shots[waiting].status is ShotStatus.EXPIRED)
    shot = store.shots[waiting]
    assert shot.finished_at is not None  # at the second sweep (the first ran at the start)
    assert started + timedelta(seconds=5) <= shot.finished_at <= started + timedelta(seconds=6)
    assert (shot.attempt_count, shot.started_at, shot.locked_by) == (0, None, None)
    assert shot.last_error is not None
    assert "before it started" in shot.last_error
    assert len(bot.requests) == 50


async def test_an_expiry_mid_shot_skips_the_rest_and_sends_nobody_twice(clock: FakeClock) -> None:
    """Expiring 10 s into a 40 s shot: no request leaves after the first reservation at or
    after the expiry (at most a batch, 1 s, later), the answers in flight are recorded, every
    other delivery ends skipped (expired), the shot expired and free."""
    store, shot_id = stocked_store(clock, contacts=1000)
    store.set_shot(shot_id, expires_at=clock.now() + timedelta(seconds=10))
    bot = FakeBot(clock)
    async with running_worker(store, FakeBots({TOKEN: bot}), clock):
        await until(lambda: store.shots[shot_id].status is ShotStatus.EXPIRED)
        await asyncio.sleep(5)
    assert START + 9.9 < max(r.at for r in bot.requests) <= START + 10 + 1.0 + 1 / 25
    counts = store.counts(shot_id)
    assert counts == {"sent": len(bot.requests), "skipped": 1000 - len(bot.requests)}
    skipped = [d for d in store.shot_deliveries(shot_id) if d.status is DeliveryStatus.SKIPPED]
    assert {d.reason for d in skipped} == {"expired"}
    shot = store.shots[shot_id]
    assert (shot.locked_by, shot.attempt_count) == (None, 1)
    assert shot.last_error == (
        f"the shot expired at 2026-11-30 12:00:10 UTC; {len(skipped)} deliveries never sent "
        "were skipped (expired)"
    )
    assert delivered_once(bot, store, shot_id)


async def test_the_housekeeping_expires_a_paused_shot(clock: FakeClock) -> None:
    """Paused at its 40th request, expiring 30 s later: the worker's periodic sweep ends it
    expired without claiming it, its pending deliveries skipped (expired)."""
    store: MemoryShotStore
    shot_id: int

    def pause_at_40(request: Request) -> None:
        if request.n == 40:
            store.set_shot(shot_id, status=ShotStatus.PAUSED)

    store, shot_id = stocked_store(clock, contacts=100)
    expires_at = clock.now() + timedelta(seconds=30)
    store.set_shot(shot_id, expires_at=expires_at)
    bot = FakeBot(clock, on_request=pause_at_40)
    async with running_worker(store, FakeBots({TOKEN: bot}), clock, rescue_interval_s=5.0):
        await until(lambda: store.shots[shot_id].status is ShotStatus.EXPIRED)
    shot = store.shots[shot_id]
    assert shot.finished_at is not None  # at the first sweep after it expired
    assert expires_at <= shot.finished_at <= expires_at + timedelta(seconds=5 + 1)
    assert (shot.locked_by, shot.attempt_count) == (None, 0)  # the pause's hand-back only
    assert store.counts(shot_id) == {"sent": 40, "skipped": 60}
    assert len(bot.requests) == 40


async def test_the_housekeeping_expires_a_shot_never_claimed(clock: FakeClock) -> None:
    """Due while its bot sends a long shot, expiring before that one ends: it ends expired
    without ever being claimed (no attempt, never started, no delivery)."""
    store, long_shot = stocked_store(clock, contacts=2000)
    expires_at = clock.now() + timedelta(seconds=20)
    waiting = store.add_shot("loja", scheduled_at=clock.now(), expires_at=expires_at)
    async with running_worker(store, FakeBots({TOKEN: FakeBot(clock)}), clock):
        await until(lambda: store.shots[waiting].status is ShotStatus.EXPIRED)
        assert store.shots[long_shot].status is ShotStatus.RUNNING
    shot = store.shots[waiting]
    assert shot.finished_at is not None
    assert expires_at <= shot.finished_at <= expires_at + timedelta(seconds=5 + 1)
    assert (shot.attempt_count, shot.started_at, shot.locked_by) == (0, None, None)
    assert store.shot_deliveries(waiting) == []


async def test_each_reservation_gets_the_bots_cap_and_the_shots_stop_on(clock: FakeClock) -> None:
    """A cap of one shot per contact a day: contacts 1 and 2, sent another shot an hour ago,
    are skipped (frequency_cap) by a plain shot and sent by a service message; contact 3, who
    paid after the third shot was created, is skipped (converted) by it."""
    store = MemoryShotStore()
    store.add_bot("loja", TOKEN, max_shots_per_contact=1, cap_window_hours=24)
    store.add_contacts("loja", range(1, 6), last_interaction_at=clock.now())
    now, hour = clock.now(), timedelta(hours=1)
    earlier = store.add_shot("loja", scheduled_at=now - 2 * hour, status="sent")
    for tid in (1, 2):
        store.deliveries[earlier, tid] = StoredDelivery(
            earlier, tid, tid, DeliveryStatus.SENT, sent_at=now - hour
        )
    capped = store.add_shot("loja", scheduled_at=now)
    service = store.add_shot("loja", scheduled_at=now, ignore_frequency_cap=True)
    stopping = store.add_shot(
        "loja",
        scheduled_at=now,
        ignore_frequency_cap=True,
        stop_on="paid",
        created_at=now - hour,
    )
    store.add_payment("loja", 3, PaymentStatus.PAID, created_at=now - 2 * hour, paid_at=now)
    async with running_worker(store, FakeBots({TOKEN: FakeBot(clock)}), clock):
        await until(lambda: store.shots[stopping].status is ShotStatus.SENT)

    def outcomes(shot_id: int) -> dict[int, str]:
        return {d.telegram_id: d.reason or d.status.value for d in store.shot_deliveries(shot_id)}

    assert outcomes(capped) == {
        1: "frequency_cap",
        2: "frequency_cap",
        3: "sent",
        4: "sent",
        5: "sent",
    }
    assert set(outcomes(service).values()) == {"sent"}
    assert outcomes(stopping) == {1: "sent", 2: "sent", 3: "converted", 4: "sent", 5: "sent"}
