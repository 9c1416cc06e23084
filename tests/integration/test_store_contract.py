"""The engine's storage contract, held by both implementations: each case runs on the SQL store
(SQLite and PostgreSQL) and on the in-memory store the engine's unit tests use, so the fake
cannot drift from the database it stands for. One clock: the fixed NOW."""

from __future__ import annotations

from datetime import timedelta

import pytest
from store_scene import BACKENDS, HOUR, LEASE, Scene, make_scene, shop
from worker_support import NOW

from disparo.db.deliveries import (
    ContactChange,
    DeliveryOutcome,
    ReservationState,
    Reserved,
    Snapshot,
)
from disparo.domain.statuses import ChatState, ShotStatus


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each case runs on both databases and on the memory store."""
    return str(request.param)


@pytest.fixture
def scene(backend: str, request: pytest.FixtureRequest) -> Scene:
    """A store of the case's kind over an empty database (or memory)."""
    return make_scene(backend, request)


async def test_claims_take_the_oldest_shot_of_each_free_bot(scene: Scene) -> None:
    """One shot per bot, oldest first, none of a bot with a running shot; the due summary
    counts what is due and when the next one is."""
    for slug in ("a", "b", "c"):
        await scene.bot(slug)
    busy = await scene.shot("c")
    assert await scene.claim("w0") == busy
    await scene.shot("c")
    a_old = await scene.shot("a", scheduled_at=NOW - HOUR)
    await scene.shot("a")
    b_old = await scene.shot("b")
    await scene.shot("b", scheduled_at=NOW + HOUR)
    assert await scene.store.due_summary(now=NOW) == (4, NOW + HOUR)
    claimed = await scene.store.claim_due_shots(
        worker_id="w1", now=NOW, lease_expires_at=LEASE, limit=10
    )
    assert [(s.id, s.attempt_count) for s in claimed] == [(a_old, 1), (b_old, 1)]
    assert await scene.claim("w2") is None
    assert (await scene.row(busy))["locked_by"] == "w0"


async def test_the_snapshot_writes_the_audience_once_in_send_order(scene: Scene) -> None:
    """Hot leads first, never-interacted last, unreachable left out; the first batch goes out
    reserved; a second snapshot reserves nothing; another worker's writes nothing."""
    await scene.bot("loja")
    await scene.contacts("loja", [1, 2], last_interaction_at=NOW - HOUR)
    await scene.contacts("loja", [3], last_interaction_at=NOW)
    await scene.contacts("loja", [4], last_interaction_at=None)
    await scene.contacts("loja", [5], chat_state=ChatState.BLOCKED)
    shot_id = await scene.shot("loja")
    await scene.claim()
    assert await scene.snapshot(shot_id, worker_id="w2", reserve=2) is None
    assert await scene.snapshot(shot_id, reserve=2) == Snapshot(4, [Reserved(3, 1), Reserved(1, 2)])
    assert await scene.snapshot(shot_id, reserve=2) == Snapshot(4, [])
    assert await scene.deliveries(shot_id) == {
        3: ("sending", None),
        1: ("sending", None),
        2: ("pending", None),
        4: ("pending", None),
    }
    assert (await scene.row(shot_id))["audience_total"] == 4


async def test_an_empty_audience_ends_the_shot_as_skipped(scene: Scene) -> None:
    """No reachable contact: the shot ends `skipped` at once, freed."""
    await scene.bot("loja")
    await scene.contacts("loja", [1], chat_state=ChatState.DEACTIVATED)
    shot_id = await scene.shot("loja")
    await scene.claim()
    assert await scene.snapshot(shot_id, reserve=3) == Snapshot(0, [])
    row = await scene.row(shot_id)
    assert (row["status"], row["locked_by"]) == ("skipped", None)


async def test_a_reservation_is_fenced_and_rechecks_eligibility(scene: Scene) -> None:
    """Reserved in send order; a contact blocked since the snapshot is skipped (blocked), one
    gone is skipped (ineligible); another worker, an expired lease or a paused shot reserves
    nothing and says why."""
    shot_id = await shop(scene)
    await scene.snapshot(shot_id)
    await scene.block("loja", 4)
    await scene.forget_contact("loja", 3)
    store = scene.store
    lost = await store.reserve_batch(shot_id, worker_id="w2", now=NOW, limit=3)
    assert (lost.state, lost.rows, lost.shot_status) == (ReservationState.LOST, [], None)
    late = await store.reserve_batch(shot_id, worker_id="w1", now=LEASE, limit=3)
    assert late.state is ReservationState.LOST
    taken = await store.reserve_batch(shot_id, worker_id="w1", now=NOW, limit=3)
    assert taken.state is ReservationState.OK
    assert (taken.rows, taken.skipped) == ([Reserved(5, 1)], {"blocked": 1, "ineligible": 1})
    await scene.change(shot_id, status="paused")
    paused = await store.reserve_batch(shot_id, worker_id="w1", now=NOW, limit=3)
    assert (paused.state, paused.shot_status) == (ReservationState.STOPPED, ShotStatus.PAUSED)
    assert await scene.deliveries(shot_id) == {
        5: ("sending", None),
        4: ("skipped", "blocked"),
        3: ("skipped", "ineligible"),
        2: ("pending", None),
        1: ("pending", None),
    }


async def test_outcomes_land_only_over_sending_and_prune_contacts(scene: Scene) -> None:
    """An outcome for a delivery never reserved changes nothing; a blocked contact is marked."""
    shot_id = await shop(scene, contacts=3)
    await scene.snapshot(shot_id, reserve=2)  # 3 and 2 reserved; 1 pending
    await scene.store.record_outcomes(
        [
            DeliveryOutcome(shot_id, 3, "sent", message_id=7),
            DeliveryOutcome(shot_id, 2, "skipped", reason="blocked", error="blocked"),
            DeliveryOutcome(shot_id, 1, "sent", message_id=8),
        ],
        [ContactChange("loja", 2, ChatState.BLOCKED.value)],
        now=NOW,
    )
    assert await scene.deliveries(shot_id) == {
        3: ("sent", None),
        2: ("skipped", "blocked"),
        1: ("pending", None),
    }
    assert await scene.chat_state("loja", 2) == "blocked"


async def test_a_release_hands_back_only_what_is_ours(scene: Scene) -> None:
    """Released: pending, unlocked, the attempt not counted, the unsent back to pending; a
    lost lease keeps the attempt; another worker's release changes nothing."""
    shot_id = await shop(scene)
    await scene.snapshot(shot_id, reserve=3)
    store = scene.store
    assert not await store.release_shot(shot_id, worker_id="w2", now=NOW, unsent=[5])
    assert await store.release_shot(shot_id, worker_id="w1", now=NOW, unsent=[5, 4])
    row = await scene.row(shot_id)
    assert (row["status"], row["locked_by"], row["attempt_count"]) == ("pending", None, 0)
    assert [status for status, _ in (await scene.deliveries(shot_id)).values()] == [
        "pending",
        "pending",
        "sending",
        "pending",
        "pending",
    ]
    assert await scene.claim() == shot_id
    assert await store.release_shot(shot_id, worker_id="w1", now=NOW, count_attempt=True)
    assert (await scene.row(shot_id))["attempt_count"] == 1


async def test_finishing_counts_sums_up_failures_and_keeps_a_cancel(scene: Scene) -> None:
    """Finished: the counts by status, what is still reserved becomes unknown (unaccounted),
    last_error sums up the errors; a shot cancelled meanwhile stays cancelled; not ours: None."""
    shot_id = await shop(scene)
    await scene.snapshot(shot_id, reserve=4)
    await scene.store.record_outcomes(
        [
            DeliveryOutcome(shot_id, 5, "sent", message_id=1),
            DeliveryOutcome(shot_id, 4, "error", error="Bad Gateway"),
            DeliveryOutcome(shot_id, 3, "error", error="Bad Gateway"),
        ],
        now=NOW,
    )
    store = scene.store
    assert await store.finish_shot(shot_id, worker_id="w2", now=NOW) is None
    await scene.change(shot_id, status="cancelled")
    counts = await store.finish_shot(shot_id, worker_id="w1", now=NOW)
    assert counts == {"sent": 1, "error": 2, "unknown": 1, "pending": 1}
    assert await store.delivery_counts(shot_id) == counts
    row = await scene.row(shot_id)
    assert (row["status"], row["locked_by"]) == ("cancelled", None)
    assert row["last_error"] == "2 deliveries failed; most often: Bad Gateway (2)"
    assert (await scene.deliveries(shot_id))[2] == ("unknown", "unaccounted")


async def test_an_error_end_keeps_the_never_sent_pending(scene: Scene) -> None:
    """Ending in error with a message: the reserved-unsent go back to pending, nothing else."""
    shot_id = await shop(scene)
    await scene.snapshot(shot_id, reserve=2)
    counts = await scene.store.finish_shot(
        shot_id,
        worker_id="w1",
        now=NOW,
        status=ShotStatus.ERROR,
        last_error="fix it",
        unsent=[5, 4],
    )
    assert counts == {"pending": 5}
    row = await scene.row(shot_id)
    assert (row["status"], row["last_error"]) == ("error", "fix it")


async def test_a_cancelled_shot_skips_everything_never_sent(scene: Scene) -> None:
    """Closing a cancelled shot: never-sent deliveries, reserved or not, end skipped
    (cancelled); the sweep does the same for a cancelled shot nobody holds."""
    shot_id = await shop(scene)
    await scene.snapshot(shot_id, reserve=2)
    await scene.change(shot_id, status="cancelled")
    counts = await scene.store.finish_cancelled(shot_id, worker_id="w1", now=NOW, unsent=[5, 4])
    assert counts == {"skipped": 5}
    assert {reason for _, reason in (await scene.deliveries(shot_id)).values()} == {"cancelled"}
    await scene.bot("outra")
    await scene.contacts("outra", [1, 2])
    other = await scene.shot("outra")
    await scene.claim()
    await scene.snapshot(other, slug="outra")
    await scene.change(other, status="cancelled", locked_by=None)
    assert await scene.store.settle_cancelled(now=NOW) == 2
    assert await scene.store.settle_cancelled(now=NOW) == 0


async def test_a_revoked_bot_stops_its_unfinished_shots(scene: Scene) -> None:
    """Every unfinished shot of the bot that nobody else holds ends in error; the caller's own
    unsent go back to pending; other bots' shots are untouched."""
    shot_id = await shop(scene)
    await scene.snapshot(shot_id, reserve=2)
    later = await scene.shot("loja", scheduled_at=NOW + HOUR)
    await scene.bot("outra")
    other = await scene.shot("outra")
    stopped = await scene.store.stop_bot_shots(
        "loja", message="revoked", now=NOW, worker_id="w1", shot_id=shot_id, unsent=[5, 4]
    )
    assert sorted(stopped) == [shot_id, later]
    for stopped_id in (shot_id, later):
        row = await scene.row(stopped_id)
        assert (row["status"], row["last_error"], row["locked_by"]) == ("error", "revoked", None)
    assert (await scene.row(other))["status"] == "pending"
    assert await scene.store.delivery_counts(shot_id) == {"pending": 5}


async def test_leases_are_renewed_for_their_holder_and_read_back(scene: Scene) -> None:
    """Only the holder's leases are renewed; the states read back carry status and holder."""
    shot_id = await shop(scene)
    store = scene.store
    assert (
        await store.renew_leases(worker_id="w2", shot_ids=[shot_id], lease_expires_at=LEASE) == {}
    )
    renewed = await store.renew_leases(worker_id="w1", shot_ids=[shot_id], lease_expires_at=LEASE)
    assert renewed == {shot_id: ShotStatus.RUNNING}
    await scene.change(shot_id, status="paused")
    assert await store.shot_states([shot_id, 999]) == {shot_id: (ShotStatus.PAUSED, "w1")}


async def test_the_rescue_frees_expired_leases_and_judges_the_attempt(scene: Scene) -> None:
    """An expired lease: the reserved become unknown (worker_lost), the shot pending again
    with the attempt counted; a shot its worker still keeps is left alone; a paused one stays
    paused; dying before reserving anything is not counted."""
    shot_id = await shop(scene)
    await scene.snapshot(shot_id, reserve=2)
    later = NOW + timedelta(seconds=31)
    store = scene.store
    assert await store.rescue_expired(now=later, worker_id="w1", keeping=[shot_id]) == []
    (rescued,) = await store.rescue_expired(now=later, worker_id="w2")
    assert (rescued.id, rescued.status, rescued.unknown) == (shot_id, ShotStatus.PENDING, 2)
    assert (await scene.row(shot_id))["attempt_count"] == 1
    assert {
        reason
        for status, reason in (await scene.deliveries(shot_id)).values()
        if status == "unknown"
    } == {"worker_lost"}
    assert await scene.claim(now=later) == shot_id  # dies again, holding nothing reserved
    (rescued,) = await store.rescue_expired(now=later + timedelta(seconds=31))
    assert (rescued.status, (await scene.row(shot_id))["attempt_count"]) == (ShotStatus.PENDING, 1)
    assert await scene.claim(now=later) == shot_id
    await scene.change(shot_id, status="paused")
    (rescued,) = await store.rescue_expired(now=later + timedelta(seconds=31))
    assert rescued.status is ShotStatus.PAUSED


async def test_bots_are_looked_up_with_their_tokens_open(scene: Scene) -> None:
    """Registered bots come back by slug with their settings; unknown slugs are absent."""
    await scene.bot("loja")
    found = await scene.store.bots(["loja", "ghost"])
    assert set(found) == {"loja"}
    record = found["loja"]
    assert not isinstance(record, Exception)
    assert record.slug == "loja"
    assert record.token
