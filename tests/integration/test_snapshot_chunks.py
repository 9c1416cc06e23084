"""The audience written in chunks while a shot sends, on both databases and the memory store:
the first recipients at once, the rest in send order with `seq` going on (those already written
left out), each member once, resumable after an interruption, fenced like a reservation. One
clock: the fixed NOW."""

from __future__ import annotations

import pytest
from store_scene import BACKENDS, Scene, make_scene, shop
from worker_support import NOW

from disparo.db import snapshot_chunks
from disparo.db.deliveries import ReservationState, Reserved, Snapshot
from disparo.db.snapshot_chunks import chunk_sizes
from disparo.domain.statuses import ChatState, ShotStatus

OK = (ReservationState.OK, ShotStatus.RUNNING)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each case runs on both databases and on the memory store."""
    return str(request.param)


@pytest.fixture
def scene(backend: str, request: pytest.FixtureRequest) -> Scene:
    """A store of the case's kind over an empty database (or memory)."""
    return make_scene(backend, request)


def hottest_first(n: int) -> list[int]:
    """`shop`'s send order: contact n is the hottest lead."""
    return list(range(n, 0, -1))


async def test_the_first_recipients_go_out_at_once_and_the_rest_follows_in_chunks(
    scene: Scene,
) -> None:
    """`first` writes the head of the send order (the first batch reserved) and leaves the
    snapshot incomplete; the rest comes in chunks told as they land, numbered on."""
    shot_id = await shop(scene, contacts=11)
    head = await scene.snapshot(shot_id, reserve=2, first=4)
    assert head == Snapshot(4, [Reserved(11, 1), Reserved(10, 2)], complete=False)
    row = await scene.row(shot_id)
    assert (row["audience_total"], row["audience_complete"]) == (4, False)
    assert await scene.snapshot(shot_id, reserve=2, first=4) == Snapshot(4, [], complete=False)
    # Read again from the top: 11, 10, 9 | 8, 7, 6 | 5, 4, 3 | 2, 1, the first four left out.
    assert await scene.continue_snapshot(shot_id, chunk=3) == (OK, [6, 9, 11])
    assert await scene.sequence(shot_id) == list(enumerate(hottest_first(11), 1))
    row = await scene.row(shot_id)
    assert (row["audience_total"], row["audience_complete"]) == (11, True)
    assert await scene.snapshot(shot_id, first=4) == Snapshot(11, [])


async def test_an_audience_no_larger_than_first_is_complete_at_once(scene: Scene) -> None:
    """Fewer members than `first`: written whole, nothing left to continue."""
    shot_id = await shop(scene, contacts=3)
    assert await scene.snapshot(shot_id, first=4) == Snapshot(3, [])
    assert (await scene.row(shot_id))["audience_complete"] is True


async def test_an_interrupted_snapshot_resumes_without_duplicates_or_gaps(scene: Scene) -> None:
    """Stopped after one chunk (a crash, a pause), the writing resumes where the committed rows
    end: whoever joined the audience meanwhile is in (after those written), whoever left it is
    not, nobody twice, `seq` unique and in send order."""
    shot_id = await shop(scene, contacts=10)
    await scene.snapshot(shot_id, first=3)
    assert await scene.continue_snapshot(shot_id, chunk=4, chunks=1) == (OK, [4])
    assert (await scene.row(shot_id))["audience_complete"] is False
    await scene.block("loja", 2)
    await scene.contacts("loja", [50], last_interaction_at=NOW)  # now the hottest lead
    # 50, 10, 9, 8 | 7, 6, 5, 4 | 3, 1: those written left out, numbered on from 5.
    assert await scene.continue_snapshot(shot_id, chunk=4) == (OK, [5, 8, 10])
    written = await scene.sequence(shot_id)
    assert [seq for seq, _ in written] == list(range(1, 11))
    assert [tid for _, tid in written] == [10, 9, 8, 7, 50, 6, 5, 4, 3, 1]
    row = await scene.row(shot_id)
    assert (row["audience_total"], row["audience_complete"]) == (10, True)


async def test_the_writing_is_fenced_by_the_lease_and_the_status(scene: Scene) -> None:
    """Another worker writes nothing (LOST); a paused shot writes nothing (STOPPED, paused);
    resumed and claimed again, its owner completes it."""
    shot_id = await shop(scene, contacts=6)
    await scene.snapshot(shot_id, first=2)
    assert await scene.continue_snapshot(shot_id, chunk=2, worker_id="w2") == (
        (ReservationState.LOST, None),
        [],
    )
    await scene.change(shot_id, status=ShotStatus.PAUSED.value)
    stopped = (ReservationState.STOPPED, ShotStatus.PAUSED)
    assert await scene.continue_snapshot(shot_id, chunk=2) == (stopped, [])
    assert [tid for _, tid in await scene.sequence(shot_id)] == [6, 5]
    await scene.change(shot_id, status=ShotStatus.RUNNING.value)
    assert await scene.continue_snapshot(shot_id, chunk=10) == (OK, [6])
    assert [tid for _, tid in await scene.sequence(shot_id)] == hottest_first(6)


async def test_unreachable_contacts_are_never_written(scene: Scene) -> None:
    """The rest of the audience is the target's reachable contacts, as the head's."""
    shot_id = await shop(scene, contacts=5)
    await scene.block("loja", 1)
    await scene.contacts("loja", [7], chat_state=ChatState.DEACTIVATED)
    await scene.snapshot(shot_id, first=2)
    assert await scene.continue_snapshot(shot_id, chunk=5) == (OK, [4])
    assert [tid for _, tid in await scene.sequence(shot_id)] == [5, 4, 3, 2]


async def test_chunks_grow_from_the_head_up_to_the_largest(scene: Scene) -> None:
    """After a head of 2, chunks of 4, 8, then 10 (the largest) members read."""
    shot_id = await shop(scene, contacts=30)
    await scene.snapshot(shot_id, first=2)
    told = await scene.continue_snapshot(shot_id, chunk=10, grow_from=2)
    assert told == (OK, [4, 12, 22, 30])  # 4 read (2 new), then 8, 10, and the last 8
    assert await scene.sequence(shot_id) == list(enumerate(hottest_first(30), 1))


def test_chunk_sizes_double_up_to_the_largest() -> None:
    """Doubling from twice the head; a fixed size without one."""
    sizes = chunk_sizes(2_000, 50_000)
    assert [next(sizes) for _ in range(7)] == [4_000, 8_000, 16_000, 32_000, 50_000, 50_000, 50_000]
    fixed = chunk_sizes(None, 100)
    assert [next(fixed) for _ in range(3)] == [100, 100, 100]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_a_snapshot_resumed_late_passes_over_what_it_has_in_the_database(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More rows written than the writing remembers: the inserts pass over the written ones
    themselves (a skipped member keeps its number): each member once, `seq` unique and in
    send order."""
    monkeypatch.setattr(snapshot_chunks, "REMEMBERED_IDS", 2)
    shot_id = await shop(scene, contacts=9)
    await scene.snapshot(shot_id, first=3)
    assert await scene.continue_snapshot(shot_id, chunk=4) == (OK, [4, 8, 9])
    written = await scene.sequence(shot_id)
    assert [tid for _, tid in written] == hottest_first(9)
    assert [seq for seq, _ in written] == [1, 2, 3, 7, 8, 9, 10, 11, 12]
