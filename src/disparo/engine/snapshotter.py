"""Writes a claimed shot's audience: its first recipients before the first send, the rest in
chunks while the shot sends.

A million-recipient audience takes many seconds to write; the first message does not wait for
it. The first `first` recipients in send order are written (with the first batch reserved) in
one short transaction; if there may be more, a task writes the rest through
`ShotStore.continue_snapshot`, in chunks doubling from twice `first` up to `chunk` rows, and
each chunk lets the reserver take more. The shot is exhausted only once the audience is
complete. A shot resumed with its audience incomplete (after a crash, a pause or a lost lease)
continues the writing where the committed chunks end.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from disparo.db.deliveries import ReservationState, Snapshot
from disparo.db.leases import ClaimedShot
from disparo.engine.finalize import Settler
from disparo.engine.items import stop_for
from disparo.engine.limiter import wait_any
from disparo.engine.outage import Outage
from disparo.engine.progress import Progress
from disparo.engine.reserver import Reserver

SNAPSHOT_FIRST = 2_000  # recipients written before the first send
# Then chunks doubling from twice that up to this many a transaction (SQLite's write lock:
# ~0.5–1 s for the largest).
SNAPSHOT_CHUNK = 50_000
# Audiences a worker writes at once in the background: each holds two pooled connections (its
# read and a chunk's write) for as long as it takes; the others wait, their first recipients
# being sent meanwhile.
SNAPSHOTS_AT_ONCE = 4


class SnapshotSlots:
    """How many audiences a worker's senders may write in the background at once."""

    def __init__(self, size: int = SNAPSHOTS_AT_ONCE) -> None:
        self.free = size
        self._freed = asyncio.Event()

    async def take(self, stop: asyncio.Event) -> bool:
        """Wait for a free slot and take it; False (nothing taken) once `stop` is set."""
        while self.free == 0:
            self._freed.clear()
            await wait_any(stop, self._freed, within_s=None)
            if stop.is_set():
                return False
        self.free -= 1
        return True

    def give_back(self) -> None:
        """Free a slot taken."""
        self.free += 1
        self._freed.set()


@dataclass(frozen=True, slots=True)
class SnapshotPlan:
    """How a worker's senders write their audiences: the first `first` recipients before the
    first send, then chunks growing up to `chunk` rows, at most `slots` audiences at once in
    the background."""

    first: int = SNAPSHOT_FIRST
    chunk: int = SNAPSHOT_CHUNK
    slots: SnapshotSlots = field(default_factory=SnapshotSlots)


class Snapshotter:
    """The audience writing of one sender's shot."""

    def __init__(
        self,
        settler: Settler,
        shot: ClaimedShot,
        reserver: Reserver,
        progress: Progress,
        plan: SnapshotPlan,
    ) -> None:
        self.store, self.clock, self.worker_id = settler.store, settler.clock, settler.worker_id
        self.shot, self.reserver, self.progress = shot, reserver, progress
        self.first, self.chunk, self.slots = plan.first, plan.chunk, plan.slots
        self._task: asyncio.Task[None] | None = None
        self._outage = Outage("write the audience", self.clock)

    async def start(self, *, reserve: int) -> Snapshot | None:
        """Write the first recipients, reserving the first `reserve`; None if the lease is
        lost. A complete audience is logged as selected at once."""
        shot = self.shot
        snapshot = await self.store.snapshot_audience(
            shot.id,
            bot_slug=shot.bot_slug,
            target=shot.target,
            recency_days=shot.recency_days,
            worker_id=self.worker_id,
            now=self.clock.now(),
            reserve=reserve,
            first=self.first,
        )
        if snapshot is not None and snapshot.complete:
            self.progress.selected(snapshot.total)
        return snapshot

    def continue_in_background(self) -> None:
        """Write the rest of the audience while the shot sends."""
        self.reserver.complete = False
        self._task = asyncio.create_task(self._continue(), name=f"snapshot-{self.shot.id}")

    async def drain(self) -> None:
        """Wait for the writing to stop (it stops after its chunk once the sender stops)."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def _continue(self) -> None:
        if not await self.slots.take(self.reserver.stop):
            return
        try:
            await self._write_rest()
        finally:
            self.slots.give_back()

    async def _write_rest(self) -> None:
        shot, stop = self.shot, self.reserver.stop
        while not stop.is_set():
            try:
                state, status = await self.store.continue_snapshot(
                    shot.id,
                    bot_slug=shot.bot_slug,
                    target=shot.target,
                    recency_days=shot.recency_days,
                    worker_id=self.worker_id,
                    now=self.clock.now(),
                    chunk=self.chunk,
                    written=self._written,
                    grow_from=self.first,
                )
            except Exception as exc:  # the database is away: go on after a pause
                self._outage.failed(exc, shot_id=shot.id)
                await wait_any(stop, within_s=1.0)
                continue
            self._outage.succeeded()
            if state is not ReservationState.OK:
                self.reserver.request_stop(stop_for(status))
            elif not stop.is_set():
                self.progress.selected(self.progress.total)
                self.reserver.completed()
            return

    def _written(self, total: int) -> bool:
        """A chunk is written: the reserver may take from it; False once the sender stops."""
        self.progress.started(total)
        self.reserver.more()
        return not self.reserver.stop.is_set()
