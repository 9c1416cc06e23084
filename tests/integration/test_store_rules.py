"""The send-time rules in the engine's storage, held by SQLite, PostgreSQL and the memory store
alike: a reservation skips whom a frequency cap or a stop-on-conversion leaves out (and nobody
else), an expired shot ends `expired`, and the sweep expires the shots nobody holds. One clock:
the fixed NOW."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from store_scene import BACKENDS, HOUR, Scene, make_scene, shop
from worker_support import NOW

from disparo.db.deliveries import DeliveryOutcome, ReservationState
from disparo.db.reservation import ReservationRules
from disparo.domain.statuses import PaymentStatus, StopOn

DAY = timedelta(hours=24)
CREATED = NOW - HOUR  # the created_at of the shots that stop on conversion
MINUTE = timedelta(minutes=1)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each case runs on both databases and on the memory store."""
    return str(request.param)


@pytest.fixture
def scene(backend: str, request: pytest.FixtureRequest) -> Scene:
    """A store of the case's kind over an empty database (or memory)."""
    return make_scene(backend, request)


async def sent_earlier(
    scene: Scene, slug: str, outcomes: dict[int, tuple[str, datetime | None]]
) -> None:
    """A shot of `slug` claimed, its whole audience reserved, `outcomes` (telegram_id →
    status, sent_at) recorded, then finished."""
    shot_id = await scene.shot(slug)
    assert await scene.claim() == shot_id
    await scene.snapshot(shot_id, reserve=100, slug=slug)
    await scene.store.record_outcomes(
        [
            DeliveryOutcome(shot_id, tid, status, message_id=tid, sent_at=at)
            for tid, (status, at) in outcomes.items()
        ],
        now=NOW,
    )
    await scene.store.finish_shot(shot_id, worker_id="w1", now=NOW)


async def claimed_with_audience(scene: Scene, slug: str = "loja", **values: object) -> int:
    """A shot of `slug` claimed by w1, its audience written, nothing reserved."""
    shot_id = await scene.shot(slug, **values)
    assert await scene.claim() == shot_id
    await scene.snapshot(shot_id, slug=slug)
    return shot_id


async def reserve(
    scene: Scene, shot_id: int, rules: ReservationRules
) -> tuple[list[int], dict[str, int]]:
    """Reserve up to 10 deliveries under `rules`; the reserved ids and the skips by reason."""
    taken = await scene.store.reserve_batch(shot_id, worker_id="w1", now=NOW, limit=10, rules=rules)
    assert taken.state is ReservationState.OK
    return [r.telegram_id for r in taken.rows], taken.skipped


async def test_the_frequency_cap_counts_sent_deliveries_of_the_bot_in_the_window(
    scene: Scene,
) -> None:
    """Counted: deliveries of any shot of the bot sent at or after the window's start; not
    counted: one sent just before it, a failed one, another bot's. A contact under the cap is
    reserved; one at it is skipped (frequency_cap) and stays so."""
    await scene.bot("loja")
    await scene.bot("outra")
    await scene.contacts("loja", [1, 2, 3, 4, 5])
    await scene.contacts("outra", [5])
    await sent_earlier(
        scene,
        "loja",
        {
            1: ("sent", NOW - 2 * HOUR),
            2: ("sent", NOW - DAY),  # the window's first instant: counted
            3: ("sent", NOW - DAY - MINUTE),
            4: ("error", None),
        },
    )
    await sent_earlier(scene, "outra", {5: ("sent", NOW - HOUR)})
    capped = await claimed_with_audience(scene)
    rules = ReservationRules(cap_max=1, cap_since=NOW - DAY)
    assert await reserve(scene, capped, rules) == ([3, 4, 5], {"frequency_cap": 2})
    assert (await scene.deliveries(capped))[1] == ("skipped", "frequency_cap")
    await scene.store.finish_shot(capped, worker_id="w1", now=NOW)
    roomier = await claimed_with_audience(scene)
    rules = ReservationRules(cap_max=2, cap_since=NOW - DAY)
    assert await reserve(scene, roomier, rules) == ([1, 2, 3, 4, 5], {})


async def test_stop_on_pix_created_skips_who_made_a_pix_since_the_shot_was_created(
    scene: Scene,
) -> None:
    """A PIX event or a payment of any status at or after created_at: skipped (converted). One
    before it, or another event, is no conversion."""
    await scene.bot("loja")
    await scene.contacts("loja", [1, 2, 3, 4, 5, 6])
    await scene.event("loja", 1, "pix_created", at=CREATED)
    await scene.event("loja", 2, "checkout_pix_created", at=CREATED - MINUTE)
    await scene.payment("loja", 3, PaymentStatus.EXPIRED, created_at=CREATED + MINUTE)
    await scene.payment(
        "loja", 4, PaymentStatus.PAID, created_at=CREATED - MINUTE, paid_at=CREATED + MINUTE
    )
    await scene.event("loja", 5, "quiz_done", at=CREATED + MINUTE)
    await scene.event("loja", 6, "checkout_pix_created", at=CREATED + MINUTE)
    shot_id = await claimed_with_audience(scene, created_at=CREATED, stop_on="pix_created")
    rules = ReservationRules(stop_on=StopOn.PIX_CREATED, converted_since=CREATED)
    assert await reserve(scene, shot_id, rules) == ([2, 4, 5], {"converted": 3})
    assert (await scene.deliveries(shot_id))[6] == ("skipped", "converted")


async def test_stop_on_paid_skips_who_paid_since_and_names_conversion_before_the_cap(
    scene: Scene,
) -> None:
    """A paid payment whose paid_at (or, without one, created_at) is at or after created_at:
    skipped (converted), even when the cap would skip it too. Paid before, or created and not
    paid, is no conversion; the cap still skips who reached it."""
    await scene.bot("loja")
    await scene.contacts("loja", [1, 2, 3, 4, 5])
    await sent_earlier(scene, "loja", {1: ("sent", NOW - HOUR), 5: ("sent", NOW - HOUR)})
    await scene.payment(
        "loja", 1, PaymentStatus.PAID, created_at=CREATED - HOUR, paid_at=CREATED + MINUTE
    )
    await scene.payment("loja", 2, PaymentStatus.PAID, created_at=CREATED)
    await scene.payment(
        "loja", 3, PaymentStatus.PAID, created_at=CREATED - HOUR, paid_at=CREATED - MINUTE
    )
    await scene.payment("loja", 4, PaymentStatus.CREATED, created_at=CREATED + MINUTE)
    shot_id = await claimed_with_audience(scene, created_at=CREATED, stop_on="paid")
    rules = ReservationRules(
        cap_max=1, cap_since=NOW - DAY, stop_on=StopOn.PAID, converted_since=CREATED
    )
    assert await reserve(scene, shot_id, rules) == ([3, 4], {"converted": 2, "frequency_cap": 1})
    assert await scene.deliveries(shot_id) == {
        1: ("skipped", "converted"),
        2: ("skipped", "converted"),
        3: ("sending", None),
        4: ("sending", None),
        5: ("skipped", "frequency_cap"),
    }


async def test_an_expired_shot_skips_everything_never_sent(scene: Scene) -> None:
    """Ended as expired: never-sent deliveries, reserved or not, end skipped (expired); the
    shot is expired, finished and free, and says when it expired; not ours: None."""
    shot_id = await shop(scene)
    await scene.snapshot(shot_id, reserve=2)
    await scene.change(shot_id, expires_at=NOW - MINUTE)
    await scene.store.record_outcomes([DeliveryOutcome(shot_id, 5, "sent", message_id=1)], now=NOW)
    store = scene.store
    assert await store.finish_expired(shot_id, worker_id="w2", now=NOW) is None
    counts = await store.finish_expired(shot_id, worker_id="w1", now=NOW, unsent=[4])
    assert counts == {"sent": 1, "skipped": 4}
    assert {r for s, r in (await scene.deliveries(shot_id)).values() if s == "skipped"} == {
        "expired"
    }
    row = await scene.row(shot_id)
    assert (row["status"], row["locked_by"], row["finished_at"]) == ("expired", None, NOW)
    assert row["last_error"] == (
        "the shot expired at 2026-11-30 11:59:00 UTC; "
        "4 deliveries never sent were skipped (expired)"
    )


async def test_a_shot_expired_before_its_snapshot_writes_no_delivery(scene: Scene) -> None:
    """Expired between its claim and its snapshot: no delivery is written, and last_error says
    it expired before it started; a shot cancelled meanwhile ends as a cancel."""
    await scene.bot("loja")
    await scene.contacts("loja", [1, 2])
    shot_id = await scene.shot("loja", expires_at=NOW + MINUTE)
    assert await scene.claim() == shot_id
    later = NOW + MINUTE
    assert await scene.store.finish_expired(shot_id, worker_id="w1", now=later) == {}
    row = await scene.row(shot_id)
    assert (row["status"], row["audience_total"], row["locked_by"]) == ("expired", None, None)
    assert row["finished_at"] == later
    assert row["last_error"] == (
        "the shot expired at 2026-11-30 12:01:00 UTC before it started; nothing was sent"
    )
    assert await scene.deliveries(shot_id) == {}
    cancelled = await claimed_with_audience(scene, expires_at=NOW + MINUTE)
    await scene.change(cancelled, status="cancelled")
    assert await scene.store.finish_expired(cancelled, worker_id="w1", now=later) == {"skipped": 2}
    assert (await scene.row(cancelled))["status"] == "cancelled"
    assert {r for _, r in (await scene.deliveries(cancelled)).values()} == {"cancelled"}


async def test_the_sweep_expires_pending_and_paused_shots_nobody_holds(scene: Scene) -> None:
    """Pending (never claimed) and paused unlocked shots past expires_at end expired, their
    pending deliveries skipped (expired); a locked, a final or a not yet expired shot is left
    alone; a second sweep finds nothing."""
    for slug in ("a", "b", "c", "d", "e"):
        await scene.bot(slug)
        await scene.contacts(slug, [1, 2, 3])
    paused = await claimed_with_audience(scene, "b")
    await scene.store.reserve_batch(paused, worker_id="w1", now=NOW, limit=1)
    await scene.store.record_outcomes([DeliveryOutcome(paused, 1, "sent", message_id=1)], now=NOW)
    await scene.change(paused, status="paused", locked_by=None, expires_at=NOW)
    draining = await claimed_with_audience(scene, "c")
    await scene.change(draining, status="paused", expires_at=NOW - HOUR)
    never_claimed = await scene.shot("a", expires_at=NOW - HOUR)
    later = await scene.shot("d", expires_at=NOW + MINUTE)
    cancelled = await scene.shot("e", expires_at=NOW - HOUR, status="cancelled")
    assert sorted(await scene.store.expire_shots(now=NOW)) == sorted([paused, never_claimed])
    assert await scene.store.expire_shots(now=NOW) == []
    row = await scene.row(paused)
    assert (row["status"], row["finished_at"]) == ("expired", NOW)
    assert row["last_error"] == (
        "the shot expired at 2026-11-30 12:00:00 UTC; "
        "2 deliveries never sent were skipped (expired)"
    )
    assert await scene.deliveries(paused) == {
        1: ("sent", None),
        2: ("skipped", "expired"),
        3: ("skipped", "expired"),
    }
    row = await scene.row(never_claimed)
    assert (row["status"], row["attempt_count"], row["finished_at"]) == ("expired", 0, NOW)
    assert "before it started" in row["last_error"]
    assert (await scene.row(draining))["status"] == "paused"
    assert (await scene.row(later))["status"] == "pending"
    assert (await scene.row(cancelled))["status"] == "cancelled"


async def test_an_expired_pending_shot_is_not_due_and_the_sweep_ends_it(scene: Scene) -> None:
    """A pending shot past its expires_at is neither counted due nor claimed (the claim takes
    the next shot of its bot instead); the sweep ends it expired, never started, no attempt."""
    await scene.bot("loja")
    await scene.contacts("loja", [1, 2])
    expired = await scene.shot("loja", scheduled_at=NOW - HOUR, expires_at=NOW)
    await scene.shot("loja", scheduled_at=NOW - HOUR, expires_at=NOW - MINUTE)
    due = await scene.shot("loja", expires_at=NOW + MINUTE)
    assert await scene.store.due_summary(now=NOW) == (1, None)
    assert await scene.claim() == due
    await scene.store.finish_shot(due, worker_id="w1", now=NOW)
    assert await scene.claim() is None
    assert expired in await scene.store.expire_shots(now=NOW)
    row = await scene.row(expired)
    assert (row["status"], row["attempt_count"], row["locked_by"]) == ("expired", 0, None)
    assert await scene.deliveries(expired) == {}
