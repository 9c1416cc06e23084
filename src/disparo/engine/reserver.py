"""Keeps a sender's reservations ahead of its sends: the next batch whenever half of the queue
is left (so the limiter never waits for the database), each only once the shot's send-time
rules allow it (quiet hours waited out; an expired shot stops instead), and each checking the
recipients against the rules that screen them (frequency cap, stop on conversion).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from disparo.db.deliveries import Reservation, ReservationState, Reserved
from disparo.db.leases import ClaimedShot
from disparo.domain.variables import ContactValues
from disparo.engine.finalize import Settler
from disparo.engine.items import Item, Stop, stop_for
from disparo.engine.limiter import wait_any
from disparo.engine.outage import Outage
from disparo.engine.progress import Progress
from disparo.engine.send_rules import RuleGate, ShotRules


class Reserver:
    """The reserved deliveries of one sender (`queue`, in send order) and the reservation that
    refills it; it wakes the sender through `changed` and stops it through `request_stop`."""

    def __init__(
        self,
        settler: Settler,
        shot: ClaimedShot,
        *,
        rules: ShotRules,
        batch_size: int,
        progress: Progress,
        stop: asyncio.Event,
        changed: asyncio.Event,
        request_stop: Callable[[Stop], None],
        variables: tuple[str, ...] = (),
    ) -> None:
        self.store, self.clock, self.worker_id = settler.store, settler.clock, settler.worker_id
        self.shot, self.batch_size, self.progress = shot, batch_size, progress
        self.gate = RuleGate(rules, self.clock, shot_id=shot.id, bot_slug=shot.bot_slug)
        self.queue: deque[Item] = deque()
        self.exhausted = False  # a reservation found nothing pending: every delivery is taken
        # False while the audience is still being written (`Snapshotter`): finding nothing then
        # means waiting for the next chunk, not the end.
        self.complete = True
        self._chunks = 0  # chunks written since the sender started
        self._starved_at: int | None = None  # `_chunks` when a reservation last found nothing
        self.stop, self._changed, self.request_stop = stop, changed, request_stop
        self._task: asyncio.Task[None] | None = None
        self._outage = Outage("reserve a batch", self.clock)
        # A shot with personal variables: each reserved recipient's values are read with it.
        self.variables = variables

    @property
    def busy(self) -> bool:
        """True while a reservation runs (or waits for quiet hours to end)."""
        return self._task is not None

    async def cleared(self) -> bool:
        """Wait until the rules allow reserving (quiet hours over); False, with the sender told
        to stop, when the shot expired; False too when a stop came meanwhile."""
        if not await self.gate.clear(self.stop):
            self.request_stop(Stop.EXPIRED)
        return not self.stop.is_set()

    def maybe_reserve(self) -> None:
        """Start the next reservation when half of the queue is left (one at a time)."""
        if (
            self.exhausted
            or self._task is not None
            or self.stop.is_set()
            or len(self.queue) > self.batch_size // 2
            or self._starved_at == self._chunks
        ):
            return
        self._task = asyncio.create_task(self._reserve())

    def more(self) -> None:
        """Another chunk of the audience is written: reserve from it."""
        self._chunks += 1
        self._changed.set()

    def completed(self) -> None:
        """The audience is complete: the next reservation that finds nothing ends the shot."""
        self.complete = True
        self.more()

    async def drain(self) -> None:
        """Wait for the running reservation, if any (the sender is stopping)."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    def accept(self, rows: list[Reserved], skipped_by_reason: dict[str, int]) -> None:
        """Queue reserved rows; a reservation that found nothing left exhausts the shot."""
        self.queue.extend(self._items(rows, skipped_by_reason))

    def _items(
        self,
        rows: list[Reserved],
        skipped_by_reason: dict[str, int],
        held: int = 0,
        began: tuple[bool, int] = (True, 0),
    ) -> list[Item]:
        """The reserved rows as items; `began` is (complete, chunks) when the reservation
        began: finding nothing ends the shot only if the audience was complete by then, else
        the reservations wait for a chunk written after it."""
        skipped = sum(skipped_by_reason.values())
        if not rows and not skipped and not held:
            complete, chunks = began
            if complete:
                self.exhausted = True
            else:
                self._starved_at = chunks
            return []
        batch = self.progress.reserved(len(rows), skipped, held)
        return [Item(r.telegram_id, r.seq, batch, variant=r.variant) for r in rows]

    async def _reserve(self) -> None:
        began = (self.complete, self._chunks)
        try:
            reservation = await self._reservation()
            if reservation is None:
                return
            if reservation.state is not ReservationState.OK:
                self.request_stop(stop_for(reservation.shot_status))
                return
            items = self._items(reservation.rows, reservation.skipped, reservation.held, began)
            if self.variables and items:
                await self._read_values(items)
            self.queue.extend(items)
        finally:
            self._task = None
            self._changed.set()

    async def _reservation(self) -> Reservation | None:
        """The next reservation once the rules allow it; None when they do not (or a stop
        came), or when the database is away (after a pause: the sender asks again)."""
        try:
            if not await self.cleared():
                return None
            now = self.clock.now()
            reservation = await self.store.reserve_batch(
                self.shot.id,
                worker_id=self.worker_id,
                now=now,
                limit=self.batch_size,
                rules=self.gate.rules.reservation(now),
            )
        except Exception as exc:  # the database is away: try again after a pause
            self._outage.failed(exc, shot_id=self.shot.id)
            await wait_any(self.stop, within_s=1.0)
            return None
        self._outage.succeeded()
        return reservation

    async def _read_values(self, items: list[Item]) -> None:
        """Read the reserved recipients' values; the rows are reserved already, so this
        retries while the database is away (a stop leaves them unsent: they go back to
        pending)."""
        ids = [item.telegram_id for item in items]
        while not self.stop.is_set():
            try:
                found = await self.store.contact_values(self.shot.bot_slug, ids, self.variables)
            except Exception as exc:
                self._outage.failed(exc, shot_id=self.shot.id)
                await wait_any(self.stop, within_s=1.0)
                continue
            self._outage.succeeded()
            for item in items:
                item.values = found.get(item.telegram_id, ContactValues())
            return
