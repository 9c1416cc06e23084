"""Settling a shot on the in-memory store: each reason ends the shot as docs/engine.md's table
says, a finished shot's accounting matches what is stored, and a database away leaves the shot
to the rescue rather than turning recorded-in-memory outcomes `unknown`."""

from __future__ import annotations

import itertools
import logging
from datetime import timedelta
from typing import Any

import pytest
from engine_fakes import (
    TOKEN,
    WORKER,
    FakeBot,
    Request,
    blocked,
    chat_not_found,
    claimed,
    deactivated,
    no_answer,
    send_shot,
    server_error,
    stocked_store,
)

from disparo.db.deliveries import DeliveryOutcome
from disparo.db.leases import ClaimedShot
from disparo.domain.outcomes import Reason
from disparo.domain.statuses import ChatState, DeliveryStatus, ShotStatus
from disparo.engine.clock import FakeClock
from disparo.engine.finalize import FIRST_RETRY_S, SETTLE_TRIES, Ending, Settler, finalize
from disparo.engine.items import Stop
from disparo.engine.memory_store import MemoryShotStore
from disparo.engine.metrics import engine_metrics
from disparo.engine.recorder import OutcomeRecorder


async def mid_shot(clock: FakeClock) -> tuple[MemoryShotStore, ClaimedShot, Settler]:
    """Bot `loja` with a second, pending shot; its first shot claimed by `w1`, 10 contacts,
    4 reserved, of which 1 and 2 were sent (buffered, not yet written) and 3 and 4 not sent."""
    store, _ = stocked_store(clock, contacts=10)
    shot = await claimed(store, clock)
    store.add_shot("loja", scheduled_at=clock.now() + timedelta(hours=1))
    await store.snapshot_audience(
        shot.id,
        bot_slug="loja",
        target="started",
        recency_days=None,
        worker_id=WORKER,
        now=clock.now(),
        reserve=4,
    )
    recorder = OutcomeRecorder(store, clock)
    for telegram_id in (1, 2):
        recorder.add(DeliveryOutcome(shot.id, telegram_id, "sent", message_id=telegram_id))
    return store, shot, Settler(store, recorder, clock, WORKER, engine_metrics())


def ending(shot: ClaimedShot, reason: Stop, *, unsent: list[int]) -> Ending:
    """How the loop of the shot's sender ended, holding `unsent` reserved and never sent."""
    message = "what went wrong" if reason in (Stop.SHOT_ERROR, Stop.BOT_REVOKED) else None
    return Ending(shot, reason, message, unsent, total=10, counts={"sent": 2}, paused_s=0.0)


@pytest.mark.parametrize(
    ("reason", "status", "counts", "attempts"),
    [
        (Stop.DONE, ShotStatus.SENT, {"sent": 2, "pending": 6, "unknown": 2}, 1),
        (Stop.SHOT_ERROR, ShotStatus.ERROR, {"sent": 2, "pending": 8}, 1),
        (Stop.BOT_REVOKED, ShotStatus.ERROR, {"sent": 2, "pending": 8}, 1),
        (Stop.CANCELLED, ShotStatus.CANCELLED, {"sent": 2, "skipped": 8}, 1),
        (Stop.PAUSED, ShotStatus.PAUSED, {"sent": 2, "pending": 8}, 0),
        (Stop.SHUTDOWN, ShotStatus.PENDING, {"sent": 2, "pending": 8}, 0),
        (Stop.LOST, ShotStatus.PENDING, {"sent": 2, "pending": 8}, 1),
    ],
    ids=lambda value: value.name.lower() if isinstance(value, Stop) else None,
)
async def test_each_end_settles_the_shot_as_documented(
    clock: FakeClock,
    reason: Stop,
    status: ShotStatus,
    counts: dict[str, int],
    attempts: int,
) -> None:
    """Buffered outcomes are written first; then done finishes (anything still reserved is
    unaccounted: unknown), an error keeps the never-sent pending, a revoked token stops the
    bot's other shot too, a cancel skips the never-sent, and pause, SIGTERM or a lost lease
    hand the shot back (only a lost lease counts the attempt)."""
    store, claimed_shot, settler = await mid_shot(clock)
    shot_id = claimed_shot.id
    if reason is Stop.PAUSED:
        store.set_shot(shot_id, status=ShotStatus.PAUSED, wake=False)
    if reason is Stop.CANCELLED:
        store.set_shot(shot_id, status=ShotStatus.CANCELLED, wake=False)
    unsent = [] if reason is Stop.DONE else [3, 4]
    assert await finalize(settler, ending(claimed_shot, reason, unsent=unsent)) is reason
    shot = store.shots[shot_id]
    assert (shot.status, shot.locked_by, shot.attempt_count) == (status, None, attempts)
    assert store.counts(shot_id) == counts
    later = store.shots[shot_id + 1]
    assert later.status is (ShotStatus.ERROR if reason is Stop.BOT_REVOKED else ShotStatus.PENDING)
    if reason in (Stop.SHOT_ERROR, Stop.BOT_REVOKED):
        assert shot.last_error == "what went wrong"
    unknown = [d for d in store.shot_deliveries(shot_id) if d.status is DeliveryStatus.UNKNOWN]
    assert {d.reason for d in unknown} <= {Reason.UNACCOUNTED.value}


async def test_a_database_away_leaves_the_shot_to_the_rescue(clock: FakeClock) -> None:
    """Outcomes that cannot be written after every retry (0.25 s doubling) keep the shot as it
    is: nothing is settled, so nothing sent is turned `unknown`; the recorder keeps them."""
    store, claimed_shot, settler = await mid_shot(clock)
    store.failing.add("record_outcomes")
    start = clock.monotonic()
    done = ending(claimed_shot, Stop.DONE, unsent=[])
    assert await finalize(settler, done) is Stop.DONE
    waited = sum(FIRST_RETRY_S * 2**n for n in range(SETTLE_TRIES - 1))
    assert clock.monotonic() - start == pytest.approx(waited)
    assert store.calls["record_outcomes"] == SETTLE_TRIES
    assert store.calls["finish_shot"] == 0
    shot = store.shots[claimed_shot.id]
    assert (shot.status, shot.locked_by) == (ShotStatus.RUNNING, WORKER)
    assert settler.recorder.buffered == 2


async def test_a_database_back_within_the_retries_settles_the_shot(clock: FakeClock) -> None:
    """A finish that fails twice (the database away) is tried again and ends the shot."""
    store, claimed_shot, settler = await mid_shot(clock)
    original = store.finish_shot
    tries = []

    async def flaky_finish(*args: Any, **kwargs: Any) -> dict[str, int] | None:
        tries.append(clock.monotonic())
        if len(tries) <= 2:
            raise ConnectionRefusedError("the database is away")
        return await original(*args, **kwargs)

    store.finish_shot = flaky_finish  # type: ignore[method-assign]
    await finalize(settler, ending(claimed_shot, Stop.SHOT_ERROR, unsent=[3, 4]))
    assert [b - a for a, b in itertools.pairwise(tries)] == [FIRST_RETRY_S, 2 * FIRST_RETRY_S]
    assert store.shots[claimed_shot.id].status is ShotStatus.ERROR


async def test_a_finished_shot_accounts_for_every_recipient(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """Sent, skipped (blocked, deactivated, chat not found), error (5xx three times) and
    unknown (no answer) add up to the audience; unreachable contacts are pruned; last_error
    sums up the failures; the end's log line gives the stored counts."""
    caplog.set_level(logging.INFO, logger="disparo.engine")
    store, shot_id = stocked_store(clock, contacts=20)
    answers = {3: blocked, 4: deactivated, 5: chat_not_found, 6: server_error, 7: no_answer}

    def rule(request: Request) -> Exception | None:
        answer = answers.get(request.chat_id)
        return answer() if answer is not None else None

    await send_shot(store, clock, FakeBot(clock, rule=rule))
    stored = store.counts(shot_id)
    assert stored == {"sent": 15, "skipped": 3, "error": 1, "unknown": 1}
    shot = store.shots[shot_id]
    assert shot.status is ShotStatus.SENT
    assert (
        shot.last_error
        == "1 deliveries failed; most often: Bad Gateway (gave up after 3 tries) (1)"
    )
    reasons = {d.telegram_id: d.reason for d in store.shot_deliveries(shot_id) if d.reason}
    assert reasons == {
        3: "blocked",
        4: "deactivated",
        5: "chat_not_found",
        6: "server_error",
        7: "timeout",
    }
    states = {tid: store.contacts["loja", tid].chat_state for tid in (3, 4, 5)}
    assert states == {3: ChatState.BLOCKED, 4: ChatState.DEACTIVATED, 5: ChatState.ACTIVE}
    (end,) = [r for r in caplog.records if r.getMessage() == "[SHOTS][WORKER] job completed"]
    logged = {
        key: getattr(end, key)
        for key in ("total", "sent", "skipped", "errors", "unknown", "pending")
    }
    assert logged == {
        "total": 20,
        "sent": 15,
        "skipped": 3,
        "errors": 1,
        "unknown": 1,
        "pending": 0,
    }
    assert all(d.status is not DeliveryStatus.SENDING for d in store.shot_deliveries(shot_id))
    assert TOKEN not in caplog.text
